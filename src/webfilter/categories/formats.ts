// Parsers for the list formats a school meets: squidGuard/UT1 `domains` and `urls`, plain domain
// lists (the school's own allow and deny lists use this one), hosts files and AdBlock-style
// `||name^` rules. Text in, entries out; a line that cannot be used is skipped with its number
// and the reason, never thrown, so that one bad line never stops a list from loading.

import type { UrlEntry } from './matcher.ts';
import { type HostKind, isStoredName, normaliseHost, normaliseUrl } from './normalise.ts';

export type ListFormat = 'domains' | 'urls' | 'hosts' | 'adblock';

export const LIST_FORMATS: readonly ListFormat[] = ['domains', 'urls', 'hosts', 'adblock'];

export interface SkippedLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The line, cut to 200 characters. */
  readonly text: string;
  readonly reason: string;
}

/** Receives entries as they are parsed (the loader feeds an index builder without arrays). */
export interface ListSink {
  domain(host: string, kind: HostKind): void;
  url(host: string, kind: HostKind, path: string): void;
  /**
   * Optional fast path for a clean name line: the name is `text[start, end)`, already in stored
   * form (see isStoredName). Saves a string per line on large lists.
   */
  domainRange?(text: string, start: number, end: number): void;
}

export interface ParseOptions {
  /** The format; detected from `fileName` and the content when absent. */
  readonly format?: ListFormat;
  /** Helps detection: a squidGuard file is named `domains` or `urls`. */
  readonly fileName?: string;
  /** How many skipped lines to keep with their text (all are counted). Default 1000. */
  readonly maxSkipped?: number;
}

export interface ParseSummary {
  readonly format: ListFormat;
  /** Lines read, blank lines and comments included. */
  readonly lines: number;
  /** Entries accepted (a hosts line with three names counts three). */
  readonly accepted: number;
  readonly skipped: readonly SkippedLine[];
  readonly skippedCount: number;
}

export interface ParsedList extends ParseSummary {
  readonly domains: readonly string[];
  readonly urls: readonly UrlEntry[];
}

export interface CategoryUsage {
  /** `black` (entries to block), `white` (entries to allow), or both. */
  readonly lists: readonly ('black' | 'white')[];
  /** Other names upstream gives the category (e.g. porn for adult). */
  readonly aliases: readonly string[];
  /** Comment lines, such as "This list is no longer maintained." */
  readonly notes: readonly string[];
}

export const MAX_LINE_LENGTH = 4096;
/** Characters looked at to detect a format. */
const DETECT_SAMPLE = 64 * 1024;
const TEXT_CUT = 200;

const HOUSEKEEPING = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

const WHITESPACE = /[ \t\f\v]+/;

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12;
}

/** Strips an inline `# comment` preceded by whitespace. */
function stripInlineComment(line: string): string {
  for (let i = 1; i < line.length; i++) {
    if (line.charCodeAt(i) === 35 && isBlank(line.charCodeAt(i - 1)))
      return line.slice(0, i).trimEnd();
  }
  return line;
}

/** Guesses the format from the file name, then from up to 500 meaningful lines. */
export function detectFormat(text: string, fileName?: string): ListFormat {
  const base = fileName?.split(/[\\/]/).pop()?.toLowerCase();
  if (base === 'domains' || base === 'urls' || base === 'hosts') return base;
  let hosts = 0;
  let adblock = 0;
  let urls = 0;
  let seen = 0;
  let start = 0;
  while (start < text.length && seen < 500) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, Math.min(end, start + 512)).trim();
    start = end + 1;
    if (line.startsWith('[Adblock')) return 'adblock';
    if (line.length === 0) continue;
    if (
      line.startsWith('!') ||
      line.startsWith('||') ||
      line.startsWith('@@') ||
      line.startsWith('##')
    ) {
      adblock++;
      seen++;
      continue;
    }
    if (line.startsWith('#')) continue;
    seen++;
    const first = line.split(WHITESPACE, 1)[0]!;
    if (first !== line) {
      const address = normaliseHost(first);
      if (address.ok && address.kind !== 'name') hosts++;
    } else if (line.includes('/')) {
      urls++;
    }
  }
  if (seen === 0) return 'domains';
  if (adblock * 2 >= seen) return 'adblock';
  if (hosts * 2 >= seen) return 'hosts';
  if (urls * 2 >= seen) return 'urls';
  return 'domains';
}

class LineReader {
  readonly skipped: SkippedLine[] = [];
  skippedCount = 0;
  accepted = 0;
  constructor(private readonly maxSkipped: number) {}

  skip(line: number, text: string, reason: string): void {
    this.skippedCount++;
    if (this.skipped.length < this.maxSkipped) {
      this.skipped.push({
        line,
        text: text.length > TEXT_CUT ? `${text.slice(0, TEXT_CUT)}…` : text,
        reason,
      });
    }
  }
}

type LineHandler = (line: string, number: number, sink: ListSink, reader: LineReader) => void;

function parseDomainLine(raw: string, n: number, sink: ListSink, r: LineReader): void {
  let line = raw;
  if (isStoredName(line)) {
    r.accepted++;
    sink.domain(line, 'name');
    return;
  }
  line = stripInlineComment(line);
  if (WHITESPACE.test(line)) {
    r.skip(n, raw, 'more than one field on the line (is this a hosts file?)');
    return;
  }
  if (line.startsWith('*.')) line = line.slice(2);
  else if (line.startsWith('.')) line = line.slice(1);
  if (line.includes('/')) {
    const u = normaliseUrl(line);
    if (u.ok && u.path === '/') {
      r.accepted++;
      sink.domain(u.host, u.kind);
    } else {
      r.skip(n, raw, u.ok ? 'a URL with a path: put it in a urls list' : u.reason);
    }
    return;
  }
  const h = normaliseHost(line);
  if (h.ok) {
    r.accepted++;
    sink.domain(h.host, h.kind);
  } else {
    r.skip(n, raw, h.reason);
  }
}

function parseUrlLine(raw: string, n: number, sink: ListSink, r: LineReader): void {
  const line = stripInlineComment(raw);
  if (WHITESPACE.test(line)) {
    r.skip(n, raw, 'a URL cannot contain spaces');
    return;
  }
  const u = normaliseUrl(line);
  if (u.ok) {
    r.accepted++;
    sink.url(u.host, u.kind, u.path);
  } else {
    r.skip(n, raw, u.reason);
  }
}

function parseHostsLine(raw: string, n: number, sink: ListSink, r: LineReader): void {
  const fields = stripInlineComment(raw).split(WHITESPACE);
  const address = normaliseHost(fields[0]!);
  if (!address.ok || address.kind === 'name') {
    r.skip(n, raw, 'expected an address (such as 0.0.0.0) before the names');
    return;
  }
  if (fields.length < 2) {
    r.skip(n, raw, 'no name after the address');
    return;
  }
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i]!;
    if (HOUSEKEEPING.has(field.toLowerCase())) {
      r.skip(n, raw, `"${field}" is a hosts file housekeeping name, not a site`);
      continue;
    }
    const h = normaliseHost(field);
    if (h.ok) {
      r.accepted++;
      sink.domain(h.host, h.kind);
    } else {
      r.skip(n, raw, `${field}: ${h.reason}`);
    }
  }
}

const ADBLOCK_RULE = /^\|\|([^^$|/*]+)\^(?:\$(.*))?$/;

function parseAdblockLine(raw: string, n: number, sink: ListSink, r: LineReader): void {
  const line = raw;
  if (line.startsWith('@@')) {
    r.skip(n, raw, 'AdBlock exception rules are not supported: put the name in the allow list');
    return;
  }
  if (line.includes('##') || line.includes('#@#') || line.includes('#?#')) {
    r.skip(n, raw, 'AdBlock element-hiding rules do not apply to a web filter');
    return;
  }
  const m = ADBLOCK_RULE.exec(line);
  if (!m) {
    const reason = line.startsWith('||')
      ? 'only ||name^ rules are supported (no paths, wildcards or regular expressions)'
      : 'AdBlock syntax other than ||name^ is not supported';
    r.skip(n, raw, reason);
    return;
  }
  const options = m[2] ?? '';
  if (/(^|,)badfilter($|,)/.test(options)) {
    r.skip(n, raw, 'AdBlock $badfilter rules are not supported');
    return;
  }
  // Other options ($third-party, $important, ...) narrow or widen where a browser applies the
  // rule; a network filter blocks the name either way.
  const h = normaliseHost(m[1]!);
  if (h.ok) {
    r.accepted++;
    sink.domain(h.host, h.kind);
  } else {
    r.skip(n, raw, h.reason);
  }
}

const HANDLERS: Record<ListFormat, LineHandler> = {
  domains: parseDomainLine,
  urls: parseUrlLine,
  hosts: parseHostsLine,
  adblock: parseAdblockLine,
};

function isComment(line: string, format: ListFormat): boolean {
  const c = line.charCodeAt(0);
  if (format === 'adblock')
    return c === 33 /* ! */ || c === 91 /* [ */ || (c === 35 && line.charCodeAt(1) !== 35);
  return c === 35; // #
}

/**
 * An incremental parser: `push` pieces of a list (lines may span pieces), then `end`. Large files
 * are read in chunks through it, so a list never has to be held whole in memory.
 */
export class ListParser {
  private format: ListFormat | undefined;
  private readonly reader: LineReader;
  private carry = '';
  private pending = '';
  private discarding = false;
  private first = true;
  private number = 0;
  private fast: ((text: string, start: number, end: number) => void) | undefined;

  constructor(
    private readonly sink: ListSink,
    private readonly options: ParseOptions = {},
  ) {
    this.format = options.format;
    this.reader = new LineReader(options.maxSkipped ?? 1000);
  }

  push(piece: string): void {
    let chunk = piece;
    let pos = 0;
    if (this.first) {
      if (chunk.length === 0) return;
      if (this.format === undefined) {
        // Detect the format from a good sample, not from whatever the first piece held.
        this.pending += chunk;
        if (this.pending.length < DETECT_SAMPLE) return;
        chunk = this.pending;
        this.pending = '';
      }
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) pos = 1;
      this.format ??= detectFormat(chunk.slice(pos, pos + DETECT_SAMPLE), this.options.fileName);
      if (this.format === 'domains') this.fast = this.sink.domainRange?.bind(this.sink);
    }
    if (this.discarding) {
      const nl = chunk.indexOf('\n', pos);
      if (nl < 0) return;
      this.discarding = false;
      pos = nl + 1;
    }
    if (this.carry.length > 0) {
      const nl = chunk.indexOf('\n', pos);
      if (nl < 0) {
        this.carry += chunk.slice(pos);
        if (this.carry.length > MAX_LINE_LENGTH + 1) this.overlong();
        return;
      }
      const line = this.carry + chunk.slice(pos, nl + 1);
      this.carry = '';
      this.scan(line, 0, line.length);
      pos = nl + 1;
    }
    const last = chunk.lastIndexOf('\n');
    if (last >= pos) {
      this.scan(chunk, pos, last + 1);
      pos = last + 1;
    }
    if (pos < chunk.length) {
      this.carry = chunk.slice(pos);
      if (this.carry.length > MAX_LINE_LENGTH + 1) this.overlong();
    }
  }

  end(): ParseSummary {
    if (this.first) {
      const sample = this.pending;
      this.pending = '';
      this.format ??= detectFormat(sample.replace(/^\uFEFF/, ''), this.options.fileName);
      if (sample.length > 0) this.push(sample);
    }
    if (this.carry.length > 0) {
      const line = this.carry;
      this.carry = '';
      this.scan(line, 0, line.length);
    }
    const r = this.reader;
    return {
      format: this.format!,
      lines: this.number,
      accepted: r.accepted,
      skipped: r.skipped,
      skippedCount: r.skippedCount,
    };
  }

  private overlong(): void {
    this.number++;
    const text = this.carry.slice(0, TEXT_CUT);
    this.reader.skip(this.number, text, `line longer than ${MAX_LINE_LENGTH} characters`);
    this.carry = '';
    this.discarding = true;
  }

  /** Handles the lines of `text[from, to)`; `to` is just after a newline or the end of input. */
  private scan(text: string, from: number, to: number): void {
    const format = this.format!;
    const handle = HANDLERS[format];
    const reader = this.reader;
    const sink = this.sink;
    const fast = this.fast;
    let start = from;
    while (start < to) {
      let end = text.indexOf('\n', start);
      if (end < 0 || end > to) end = to;
      const number = ++this.number;
      const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      const length = lineEnd - start;
      if (fast !== undefined && isStoredName(text, start, lineEnd)) {
        reader.accepted++;
        fast(text, start, lineEnd);
      } else if (length > MAX_LINE_LENGTH) {
        reader.skip(
          number,
          text.slice(start, start + TEXT_CUT),
          `line longer than ${MAX_LINE_LENGTH} characters`,
        );
      } else if (length > 0) {
        let line = text.slice(start, lineEnd);
        if (isBlank(line.charCodeAt(0)) || isBlank(line.charCodeAt(length - 1))) line = line.trim();
        if (line.length > 0 && !isComment(line, format)) handle(line, number, sink, reader);
      }
      start = end + 1;
    }
  }
}

/** Parses `text`, handing each entry to `sink`. Blank lines and comments are not skips. */
export function parseListInto(
  text: string,
  sink: ListSink,
  options: ParseOptions = {},
): ParseSummary {
  const parser = new ListParser(sink, options);
  parser.push(text);
  return parser.end();
}

/** Parses `text` into arrays of entries (see `parseListInto` for large lists). */
export function parseList(text: string, options: ParseOptions = {}): ParsedList {
  const domains: string[] = [];
  const urls: UrlEntry[] = [];
  const summary = parseListInto(
    text,
    {
      domain: (host) => domains.push(host),
      url: (host, _kind, path) => urls.push({ host, path }),
    },
    options,
  );
  return { ...summary, domains, urls };
}

/** Reads a squidGuard/UT1 `usage` file. */
export function parseUsage(text: string): CategoryUsage {
  const lists: ('black' | 'white')[] = [];
  const aliases: string[] = [];
  const notes: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.trim();
    if (line.length === 0) continue;
    if (line.startsWith('#')) {
      const note = line.replace(/^#+\s*/, '').trim();
      if (note.length > 0) notes.push(note);
    } else if (line === 'black' || line === 'white') {
      if (!lists.includes(line)) lists.push(line);
    } else if (!aliases.includes(line)) {
      aliases.push(line);
    }
  }
  return { lists, aliases, notes };
}
