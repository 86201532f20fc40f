// MAIL-4: the school's standard disclaimer, once, at the end of every outbound message's own
// body, in its plain-text and its HTML form. Works on the raw bytes: only the body parts that
// take the disclaimer change; every other byte of the message is copied as it came.
//
// Decisions, each with its test in disclaimer.test.ts:
// - Where. The message's own body: a text/plain or text/html root; each alternative of a
//   multipart/alternative; the root part of a multipart/related; in a multipart/mixed, the
//   inline parts before the first attachment, taking the last plain and the last HTML part
//   among them (Apple Mail's text, image, text layout ends in the second text). Never a part
//   with a file name or an attachment disposition, never anything inside a message/rfc822.
// - Once. A part is left alone when the disclaimer is already the last text before the point
//   where it would go (the end of the text; in HTML, the closing </body>). That covers a
//   message passing the gateway twice and a top-posted reply whose quoted thread already ends
//   with it: adding it again there would print two copies one after the other. A copy quoted
//   higher up (an inline reply that continues below the quote) is history, not this message's
//   disclaimer, so the message still gets its own at its end. The test is on normalised text
//   (white space collapsed, "> " quote prefixes and HTML tags and entities removed), so a copy
//   re-wrapped or re-quoted by a mail client still counts; in HTML, our own block, recognised by
//   its data-custos-disclaimer marker, counts even when the pack's wording has changed since.
// - No text body. A multipart/mixed of attachments only gets a new text/plain part at its
//   start: the first part of a mixed message is the one clients show as its body, while a text
//   part after the attachments is shown by Outlook as one more attachment. Any other message
//   without a text body (a single attachment, an alternative of calendar parts) is left alone
//   with added: false.
// - Signed and encrypted messages (multipart/signed, multipart/encrypted, application/pkcs7-mime
//   on the body's path) are left alone: changing the content would break the signature.
// - Transfer encodings. 7bit, 8bit and binary bodies keep every byte and get the disclaimer
//   spliced in; quoted-printable and base64 bodies are decoded and encoded again in the same
//   encoding (base64 in 76-character lines). A 7bit part that would gain 8-bit bytes, or a
//   7bit or 8bit part that would gain a line over 998 octets, becomes quoted-printable.
// - Charsets. The disclaimer goes into the part's own charset, which keeps the sender's bytes
//   and the part's headers as they were: HTML carries any character as a character reference,
//   so the HTML block is plain ASCII and fits every ASCII-compatible charset. Only when a plain
//   part's charset lacks a character of the disclaimer, or the charset is not one text can be
//   appended to byte for byte (utf-16, iso-2022-jp, shift_jis...), is the part converted to
//   UTF-8 and its charset parameter rewritten. An unknown charset leaves the message alone.
// - DKIM. A disclaimer changes the body, so a DKIM-Signature the sender's client or server
//   added no longer verifies. The header is kept as it is; outbound signing belongs after the
//   gateway, as with Microsoft 365 and Google Workspace when a gateway is their smart host.
// - Malformed input never throws: the message comes back unchanged, added: false, with the
//   reason.
//
// Why not mailsplit's Rewriter (the splitter under mailparser): it is a stream, so the result
// would come back later, not from a pure function; it re-encodes every 7bit and 8bit part it
// rewrites as quoted-printable and strips format=flowed; and it is not a dependency of ours, only
// of mailparser. The structure it reads and the one read here agree: a delimiter only at the
// start of a line, the line break before it belongs to it, an unclosed multipart runs to the end.

import type { MailPolicy } from '../policy/compiled.ts';
import {
  charsetOf,
  decodeTransfer,
  type Eol,
  encodeQuotedPrintable,
  encodeTransfer,
  UTF_8,
} from './disclaimer-codec.ts';
import { type Entity, type HeaderField, parseMessage, Unreadable } from './disclaimer-mime.ts';

export interface DisclaimerResult {
  /** The message with the disclaimer, or the input itself when nothing was added. */
  readonly raw: Buffer;
  readonly added: boolean;
  /** Why nothing was added; absent when the disclaimer went in. */
  readonly reason?: string;
}

/** The attribute that marks the HTML block, for people and for the next pass. */
export const DISCLAIMER_MARKER = 'data-custos-disclaimer';

/** The line that opens the plain-text disclaimer (the usual signature separator). */
export const PLAIN_SEPARATOR = '-- ';

class Declined extends Error {}

type Kind = 'plain' | 'html';

interface Target {
  readonly entity: Entity;
  readonly kind: Kind;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly bytes: Buffer;
}

/**
 * Adds the pack's disclaimer (`mail.disclaimer`) to a raw RFC 5322 message, once, in each of
 * its plain-text and HTML bodies. Pure: no I/O; never throws.
 */
export function addDisclaimer(
  raw: Buffer,
  disclaimer: Pick<MailPolicy['disclaimer'], 'text'>,
): DisclaimerResult {
  const unchanged = (reason: string): DisclaimerResult => ({ raw, added: false, reason });
  if (!Buffer.isBuffer(raw)) return unchanged('the message is not a byte buffer');
  const lines = disclaimerLines(typeof disclaimer?.text === 'string' ? disclaimer.text : '');
  if (lines.length === 0) return unchanged('the policy pack has no disclaimer text');
  if (raw.length === 0) return unchanged('the message is empty');
  try {
    return rewrite(raw, lines);
  } catch (error) {
    if (error instanceof Declined) return unchanged(error.message);
    if (error instanceof Unreadable)
      return unchanged(`the message cannot be read: ${error.message}`);
    const message = error instanceof Error ? error.message : String(error);
    return unchanged(`the disclaimer could not be added: ${message}`);
  }
}

/** The pack's text as lines: line breaks of any kind, no trailing blanks, no blank ends. */
function disclaimerLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/).map((l) => l.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function rewrite(raw: Buffer, lines: readonly string[]): DisclaimerResult {
  const root = parseMessage(raw);
  if (!root.hasBody) throw new Unreadable('no empty line ends the message header');
  const targets = bodyTargets(root);
  const edits: Edit[] = [];
  if (targets.length === 0) {
    if (root.type !== 'multipart/mixed' || !root.firstDelimiter) {
      return {
        raw,
        added: false,
        reason: `the message (${root.type}) has no plain-text or HTML body to carry the disclaimer`,
      };
    }
    edits.push(newFirstPart(raw, root, lines));
  } else {
    for (const target of targets) edits.push(...rewritePart(raw, root, target, lines));
    if (edits.length === 0) {
      return { raw, added: false, reason: 'the message already ends with the disclaimer' };
    }
  }
  return { raw: applyEdits(raw, edits), added: true };
}

// --- where the disclaimer goes ----------------------------------------------------------------

const SECURED = new Set([
  'multipart/signed',
  'multipart/encrypted',
  'application/pkcs7-mime',
  'application/x-pkcs7-mime',
]);

function isAttachment(e: Entity): boolean {
  return (e.disposition !== null && e.disposition !== 'inline') || e.hasFilename;
}

/** The plain-text and HTML parts that make up the message's own body (see the header). */
function bodyTargets(e: Entity): Target[] {
  if (SECURED.has(e.type)) {
    throw new Declined(
      `the message is signed or encrypted (${e.type}); a disclaimer would break it`,
    );
  }
  if (e.type === 'text/plain' || e.type === 'text/html') {
    return isAttachment(e) ? [] : [{ entity: e, kind: e.type === 'text/plain' ? 'plain' : 'html' }];
  }
  if (!e.type.startsWith('multipart/')) return [];
  if (e.type === 'multipart/alternative') return e.children.flatMap(bodyTargets);
  if (e.type === 'multipart/related') {
    const start = e.params.get('start')?.trim();
    const root =
      (start && e.children.find((c) => field(c, 'content-id')?.value.trim() === start)) ||
      e.children[0];
    return root ? bodyTargets(root) : [];
  }
  // multipart/mixed, and any other multipart read as mixed: the inline parts before the
  // first attachment are the body, and its end is in the last of them.
  const run: Entity[] = [];
  for (const child of e.children) {
    if (child.disposition !== null && child.disposition !== 'inline') break;
    run.push(child);
  }
  const found = run.flatMap(bodyTargets);
  const last = (kind: Kind) => found.filter((t) => t.kind === kind).at(-1);
  return [last('plain'), last('html')].filter((t): t is Target => t !== undefined);
}

function field(e: Entity, name: string): HeaderField | undefined {
  return e.fields.find((f) => f.name === name);
}

// --- rewriting one part ---------------------------------------------------------------------

function rewritePart(raw: Buffer, root: Entity, target: Target, lines: readonly string[]): Edit[] {
  const e = target.entity;
  if (!e.hasBody) throw new Unreadable(`a ${e.type} part has no empty line after its header`);
  const content = decodeTransfer(e.encoding, raw.subarray(e.bodyStart, e.bodyEnd));
  const charset = charsetOf(e.params.get('charset'));
  const text = charset.decode(content);
  // New lines follow the message's own line breaks; inside base64 nothing is seen on the wire,
  // so there they follow the content's.
  const eol: Eol =
    e.encoding !== 'base64'
      ? e.eol
      : text.includes('\r\n')
        ? '\r\n'
        : text.includes('\n')
          ? '\n'
          : e.eol;

  let newContent: Buffer;
  let inserted: Buffer;
  let toUtf8 = false;
  if (target.kind === 'html') {
    if (htmlHasDisclaimer(text, lines)) return [];
    const block = htmlBlock(lines, eol);
    inserted = Buffer.from(block, 'latin1');
    if (charset.asciiCompatible) {
      const at = htmlInsertionPoint(content.toString('latin1'));
      newContent = Buffer.concat([content.subarray(0, at), inserted, content.subarray(at)]);
    } else {
      const at = htmlInsertionPoint(text);
      newContent = UTF_8.encode(text.slice(0, at) + block + text.slice(at))!;
      toUtf8 = true;
    }
  } else {
    if (plainHasDisclaimer(text, lines)) return [];
    const flowed = /^flowed$/i.test(e.params.get('format') ?? '');
    const addition = plainAddition(text, lines, eol, flowed);
    const encoded = charset.asciiCompatible ? charset.encode(addition) : null;
    if (encoded) {
      inserted = encoded;
      newContent = Buffer.concat([content, encoded]);
    } else {
      inserted = UTF_8.encode(addition)!;
      newContent = UTF_8.encode(text + addition)!;
      toUtf8 = true;
    }
  }

  let encoding = e.encoding;
  const sevenBit = encoding === '7bit';
  const changed = toUtf8 ? newContent : inserted;
  if (
    (sevenBit && hasEightBit(changed)) ||
    ((sevenBit || encoding === '8bit') && hasLongLine(changed))
  ) {
    encoding = 'quoted-printable';
  }

  const edits: Edit[] = [
    {
      start: e.bodyStart,
      end: e.bodyEnd,
      bytes: reencodeBody(raw, e, encoding, newContent),
    },
  ];
  const added: string[] = [];
  if (toUtf8) setCharset(raw, e, edits, added);
  if (encoding !== e.encoding)
    setField(raw, e, 'Content-Transfer-Encoding', encoding, edits, added);
  if (added.length > 0 && e === root && !field(root, 'mime-version'))
    added.unshift('MIME-Version: 1.0');
  if (added.length > 0) {
    edits.push({
      start: e.headerEnd,
      end: e.headerEnd,
      bytes: Buffer.from(added.map((f) => f + e.eol).join(''), 'latin1'),
    });
  }
  return edits;
}

function reencodeBody(raw: Buffer, e: Entity, encoding: string, content: Buffer): Buffer {
  const body = encodeTransfer(encoding, content, e.eol);
  if (encoding !== 'base64') return body;
  // A root body may end with line breaks of its own; base64 ignores them, so they stay.
  let from = e.bodyEnd;
  while (from > e.bodyStart && (raw[from - 1] === 0x0a || raw[from - 1] === 0x0d)) from--;
  return Buffer.concat([body, raw.subarray(from, e.bodyEnd)]);
}

function hasEightBit(bytes: Buffer): boolean {
  for (const b of bytes) if (b >= 0x80) return true;
  return false;
}

/** RFC 5322 2.1.1: no line over 998 octets without its line break. */
function hasLongLine(bytes: Buffer): boolean {
  let length = 0;
  for (const b of bytes) {
    if (b === 0x0a || b === 0x0d) length = 0;
    else if (++length > 998) return true;
  }
  return false;
}

/** Sets the charset parameter of the part's Content-Type to utf-8. */
function setCharset(raw: Buffer, e: Entity, edits: Edit[], added: string[]): void {
  const f = field(e, 'content-type');
  if (!f) {
    added.push('Content-Type: text/plain; charset=utf-8');
    return;
  }
  const text = raw.toString('latin1', f.start, f.end);
  const param = /(;\s*charset\s*=\s*)(?:"[^"]*"|[^\s;()"]+)/i;
  const rewritten = param.test(text)
    ? text.replace(param, '$1utf-8')
    : text.replace(/(\r?\n)?$/, '; charset=utf-8$1');
  edits.push({ start: f.start, end: f.end, bytes: Buffer.from(rewritten, 'latin1') });
}

/** Replaces a header field's value (keeping its name as written), or adds the field. */
function setField(
  raw: Buffer,
  e: Entity,
  name: string,
  value: string,
  edits: Edit[],
  added: string[],
): void {
  const f = field(e, name.toLowerCase());
  if (!f) {
    added.push(`${name}: ${value}`);
    return;
  }
  const text = raw.toString('latin1', f.start, f.end);
  const written = text.slice(0, text.indexOf(':'));
  const lineBreak = /\r?\n$/.exec(text)?.[0] ?? '';
  edits.push({
    start: f.start,
    end: f.end,
    bytes: Buffer.from(`${written}: ${value}${lineBreak}`, 'latin1'),
  });
}

/** A text/plain part at the start of a multipart/mixed that has no text body. */
function newFirstPart(raw: Buffer, root: Entity, lines: readonly string[]): Edit {
  const eol = root.eol;
  const delimiter = root.firstDelimiter!;
  const text = [PLAIN_SEPARATOR, ...lines].join(eol) + eol;
  const content = Buffer.from(text, 'utf8');
  const qp = hasEightBit(content) || hasLongLine(content);
  const head = [
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${qp ? 'quoted-printable' : '7bit'}`,
  ];
  const bytes = Buffer.concat([
    Buffer.from(head.join(eol) + eol + eol, 'latin1'),
    qp ? encodeQuotedPrintable(content, eol) : content,
    Buffer.from(eol, 'latin1'),
    raw.subarray(delimiter.start, delimiter.end),
  ]);
  return { start: delimiter.end, end: delimiter.end, bytes };
}

function applyEdits(raw: Buffer, edits: Edit[]): Buffer {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  const pieces: Buffer[] = [];
  let pos = 0;
  for (const edit of sorted) {
    if (edit.start < pos) throw new Error('overlapping edits');
    pieces.push(raw.subarray(pos, edit.start), edit.bytes);
    pos = edit.end;
  }
  pieces.push(raw.subarray(pos));
  return Buffer.concat(pieces);
}

// --- the plain-text disclaimer ----------------------------------------------------------------

function plainAddition(
  existing: string,
  lines: readonly string[],
  eol: Eol,
  flowed: boolean,
): string {
  const body = (flowed ? lines.map(flowedLine) : lines).join(eol);
  const lead = existing.length === 0 ? '' : /\n$/.test(existing) ? eol : eol + eol;
  return `${lead}${PLAIN_SEPARATOR}${eol}${body}${eol}`;
}

/** RFC 3676 4.4: a line that starts with a space, ">" or "From " is space-stuffed. */
function flowedLine(line: string): string {
  return /^(?: |>|From )/.test(line) ? ` ${line}` : line;
}

/** Text as a reader compares it: quote prefixes gone, white space collapsed. */
function normalisePlain(text: string): string {
  return collapse(
    text
      .split(/\r\n|\r|\n/)
      .map((l) => l.replace(/^[ \t]*(?:>[ \t]?)+/, ''))
      .join(' '),
  );
}

function collapse(text: string): string {
  return text.replace(/[\s\u00a0]+/g, ' ').trim();
}

function plainHasDisclaimer(text: string, lines: readonly string[]): boolean {
  return normalisePlain(text).endsWith(normalisePlain(lines.join('\n')));
}

// --- the HTML disclaimer ----------------------------------------------------------------------

function escapeHtml(text: string): string {
  let out = '';
  for (const c of text) {
    if (c === '&') out += '&amp;';
    else if (c === '<') out += '&lt;';
    else if (c === '>') out += '&gt;';
    else if (c === '"') out += '&quot;';
    else if (c === "'") out += '&#39;';
    else if (c.codePointAt(0)! > 0x7e) out += `&#x${c.codePointAt(0)!.toString(16)};`;
    else out += c;
  }
  return out;
}

/** ASCII only, so it fits the part's charset whatever that is. */
function htmlBlock(lines: readonly string[], eol: Eol): string {
  const style =
    'margin-top:1em;padding-top:0.5em;border-top:1px solid #ccc;color:#555;font-size:small';
  const body = lines.map(escapeHtml).join(`<br>${eol}`);
  return `${eol}<div ${DISCLAIMER_MARKER} style="${style}">${eol}${body}${eol}</div>${eol}`;
}

function lastMatch(text: string, pattern: RegExp): RegExpExecArray | undefined {
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(pattern)) last = m;
  return last;
}

/** Before the last </body>, else before the last </html>, else at the end. */
function htmlInsertionPoint(html: string): number {
  return (
    lastMatch(html, /<\/body\s*>/gi)?.index ??
    lastMatch(html, /<\/html\s*>/gi)?.index ??
    html.length
  );
}

function htmlHasDisclaimer(html: string, lines: readonly string[]): boolean {
  const head = html.slice(0, htmlInsertionPoint(html));
  // Our own block with nothing visible after it: the message has been here before.
  const marker = head.lastIndexOf(DISCLAIMER_MARKER);
  if (marker >= 0) {
    const close = /<\/div\s*>/gi;
    close.lastIndex = marker;
    const end = close.exec(head);
    if (end && collapse(visibleText(head.slice(end.index + end[0].length))) === '') return true;
  }
  return collapse(visibleText(head)).endsWith(collapse(lines.join(' ')));
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?/gi, (all, name: string) => {
    if (name.startsWith('#')) {
      const code =
        name[1] === 'x' || name[1] === 'X'
          ? Number.parseInt(name.slice(2), 16)
          : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[name.toLowerCase()] ?? all;
  });
}

/** The text a reader sees, roughly: tags, comments, scripts and styles gone. Linear time. */
function visibleText(html: string): string {
  let out = '';
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? html.length : end + 3;
      out += ' ';
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) {
      out += html.slice(lt);
      break;
    }
    out += ' ';
    i = gt + 1;
    const name = /^<([a-z]+)/i.exec(html.slice(lt, Math.min(gt, lt + 12)))?.[1]?.toLowerCase();
    if (name === 'script' || name === 'style' || name === 'title') {
      const close = new RegExp(`</${name}\\s*>`, 'gi');
      close.lastIndex = i;
      const end = close.exec(html);
      if (end) i = end.index + end[0].length;
    }
  }
  return decodeEntities(out);
}
