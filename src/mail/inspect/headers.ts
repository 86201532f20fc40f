// Header blocks of MIME entities: where they end, their fields unfolded, RFC 2047 encoded words
// and RFC 2231 parameters decoded. Tolerant by design: a line that is not a header ends the block
// with a note, a value that cannot be decoded is kept as it came, and nothing here throws.

/** Header bytes kept per entity; the rest of an oversized block is skipped, not parsed. */
export const MAX_HEADER_BYTES = 256 * 1024;

export interface HeaderBlock {
  /** Field values by lower-case name, in order, unfolded and trimmed (encoded words left as is). */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** Offset of the body in the entity's bytes. */
  readonly bodyStart: number;
  /** Why the block looks wrong, or null. */
  readonly problem: string | null;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Header bytes as text: UTF-8 when they are valid UTF-8 (RFC 6532), else Latin-1. */
export function headerText(bytes: Buffer): string {
  for (const b of bytes) {
    if (b >= 0x80) {
      try {
        return utf8Strict.decode(bytes);
      } catch {
        return bytes.toString('latin1');
      }
    }
  }
  return bytes.toString('latin1');
}

/** Length of the field name if `line` starts with one (`Name:`, obsolete space before the colon allowed). */
function fieldNameLength(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b === COLON) break;
    if (b <= SP || b >= 0x7f) {
      // obs-optional: WSP between the name and the colon
      let j = i;
      while (j < end && (buf[j] === SP || buf[j] === HT)) j++;
      if (j > i && j < end && buf[j] === COLON && i > start) return i - start;
      return -1;
    }
    i++;
  }
  return i < end && i > start ? i - start : -1;
}

/**
 * Reads the header block at the start of an entity. `message` allows the mbox "From " line that
 * a stored message may start with.
 */
export function readHeaderBlock(buf: Buffer, message = false): HeaderBlock {
  const fields = new Map<string, string[]>();
  const n = buf.length;
  let pos = 0;
  let kept = 0;
  let problem: string | null = null;
  let name: string | null = null;
  let value: Buffer[] = [];
  let seenField = false;

  const flush = () => {
    if (name !== null) {
      const text = headerText(value.length === 1 ? value[0]! : Buffer.concat(value)).trim();
      const list = fields.get(name);
      if (list) list.push(text);
      else fields.set(name, [text]);
    }
    name = null;
    value = [];
  };

  // An mbox "From " separator line before the header is not part of the message.
  if (message && buf.subarray(0, 5).toString('latin1') === 'From ') {
    const eol = buf.indexOf(LF);
    pos = eol < 0 ? n : eol + 1;
  }

  /** The bytes of a value that fit in what is left of MAX_HEADER_BYTES. */
  const keep = (start: number, end: number): Buffer => {
    const take = Math.max(0, Math.min(end - start, MAX_HEADER_BYTES - kept));
    kept += take;
    if (take < end - start && problem === null) {
      problem = `the header block is larger than ${MAX_HEADER_BYTES} bytes; the rest was skipped`;
    }
    return buf.subarray(start, start + take);
  };

  let bodyStart = n;
  while (pos < n) {
    const eol = buf.indexOf(LF, pos);
    const next = eol < 0 ? n : eol + 1;
    let end = eol < 0 ? n : eol;
    if (end > pos && buf[end - 1] === CR) end--;
    if (end === pos) {
      bodyStart = next;
      break;
    }
    const first = buf[pos];
    if (first === SP || first === HT) {
      // A folded continuation; leading white space before any field is ignored.
      if (name !== null) value.push(keep(pos, end));
    } else {
      const nameLength = fieldNameLength(buf, pos, end);
      if (nameLength < 0) {
        problem = seenField
          ? 'the header block is not ended by a blank line'
          : 'the entity has no header block';
        bodyStart = pos;
        break;
      }
      flush();
      seenField = true;
      if (kept < MAX_HEADER_BYTES) {
        name = buf
          .toString('latin1', pos, pos + nameLength)
          .trim()
          .toLowerCase();
        value = [keep(buf.indexOf(COLON, pos + nameLength) + 1, end)];
      } else keep(pos, end);
    }
    pos = next;
  }
  flush();
  return { fields, bodyStart, problem };
}

/** The first value of a field, or null. */
export function firstField(block: HeaderBlock, name: string): string | null {
  return block.fields.get(name)?.[0] ?? null;
}

// --- RFC 2047 encoded words ------------------------------------------------------------------

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=/g;

/** Decodes bytes in a named charset, falling back to UTF-8 for names the runtime does not know. */
export function decodeBytes(bytes: Uint8Array, charset: string | null): string {
  const label = (charset ?? 'utf-8').trim().toLowerCase() || 'utf-8';
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding === 'b' || encoding === 'B') return Buffer.from(text, 'base64');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out.push(SP);
    else if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

/**
 * Decodes the encoded words in a header value. White space between adjacent encoded words is
 * dropped, and adjacent words in one charset are decoded together so that a character split
 * between them survives.
 */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | null = null;
  const drain = () => {
    if (pending) out += decodeBytes(Buffer.concat(pending.bytes), pending.charset);
    pending = null;
  };
  for (const m of value.matchAll(ENCODED_WORD)) {
    const gap = value.slice(last, m.index);
    const charset = m[1]!.split('*')[0]!.toLowerCase();
    const bytes = wordBytes(m[2]!, m[3]!);
    if (pending !== null && /^\s*$/.test(gap)) {
      const open: { charset: string; bytes: Buffer[] } = pending;
      if (open.charset === charset) open.bytes.push(bytes);
      else {
        drain();
        pending = { charset, bytes: [bytes] };
      }
    } else {
      drain();
      out += gap;
      pending = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  drain();
  return out + value.slice(last);
}

// --- structured fields: Content-Type, Content-Disposition --------------------------------------

export interface StructuredValue {
  /** The value before the parameters, lower case ('multipart/mixed', 'attachment'). */
  readonly value: string;
  /** Parameters by lower-case name, RFC 2231 and RFC 2047 decoded. */
  readonly params: ReadonlyMap<string, string>;
}

/** Splits at `;` outside quoted strings. */
function splitParams(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < text.length) {
        current += c + text[i + 1]!;
        i++;
        continue;
      }
      if (c === '"') quoted = false;
      current += c;
    } else if (c === '"') {
      quoted = true;
      current += c;
    } else if (c === ';') {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function unquote(raw: string): string {
  const v = raw.trim();
  if (!v.startsWith('"')) return v;
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length) {
      out += v[i + 1]!;
      i++;
    } else if (c === '"') break;
    else out += c;
  }
  return out;
}

function percentBytes(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of Buffer.from(text[i]!, 'utf8')) out.push(b);
  }
  return Buffer.from(out);
}

interface Continuation {
  index: number;
  encoded: boolean;
  text: string;
}

/** Parses `value; name=param; name*0*=utf-8''...` into the value and its parameters. */
export function parseStructured(field: string | null): StructuredValue {
  if (field === null) return { value: '', params: new Map() };
  const [head = '', ...rest] = splitParams(field);
  const params = new Map<string, string>();
  const continued = new Map<string, Continuation[]>();
  for (const piece of rest) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    const key = piece.slice(0, eq).trim().toLowerCase();
    if (key === '') continue;
    const raw = unquote(piece.slice(eq + 1));
    const star = /^([^*]+)\*(?:(\d{1,3})(\*)?|)$/.exec(key);
    if (star) {
      const name = star[1]!;
      const list = continued.get(name) ?? [];
      list.push({
        index: star[2] === undefined ? 0 : Number(star[2]),
        encoded: star[2] === undefined || star[3] === '*',
        text: raw,
      });
      continued.set(name, list);
    } else if (!params.has(key)) params.set(key, decodeWords(raw));
  }
  for (const [name, pieces] of continued) {
    pieces.sort((a, b) => a.index - b.index);
    let charset: string | null = null;
    let text = '';
    let bytes: Buffer[] = [];
    // Encoded pieces are joined as bytes (a character may be split between them); plain pieces
    // are characters as they are.
    const flush = () => {
      if (bytes.length > 0) text += decodeBytes(Buffer.concat(bytes), charset);
      bytes = [];
    };
    for (const [i, piece] of pieces.entries()) {
      if (!piece.encoded) {
        flush();
        text += piece.text;
        continue;
      }
      let value = piece.text;
      if (i === 0) {
        const parts = /^([^']*)'[^']*'(.*)$/s.exec(value);
        if (parts) {
          charset = parts[1] || null;
          value = parts[2]!;
        }
      }
      bytes.push(percentBytes(value));
    }
    flush();
    // RFC 2231 values win over plain ones of the same name.
    params.set(name, decodeWords(text));
  }
  return { value: head.trim().toLowerCase(), params };
}

const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

export interface EntityInfo {
  /** The media type as declared, lower case, or null when absent or unreadable. */
  readonly declaredType: string | null;
  /** The media type the walk acts on: the declared one, else the context's default. */
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  /** Content-Transfer-Encoding, lower case, '' when absent. */
  readonly encoding: string;
  /** 'attachment', 'inline' or '' when absent. */
  readonly disposition: string;
  /** The file name: Content-Disposition filename, else Content-Type name. */
  readonly fileName: string | null;
}

/** What the walk needs from an entity's header block. */
export function entityInfo(block: HeaderBlock, defaultType: string): EntityInfo {
  const ct = parseStructured(firstField(block, 'content-type'));
  const cd = parseStructured(firstField(block, 'content-disposition'));
  const declared = MEDIA_TYPE.test(ct.value) ? ct.value : null;
  const name = cd.params.get('filename') ?? ct.params.get('name') ?? null;
  return {
    declaredType: declared,
    type: declared ?? defaultType,
    params: ct.params,
    encoding: (firstField(block, 'content-transfer-encoding') ?? '').trim().toLowerCase(),
    disposition: cd.value,
    fileName: name === null || name.trim() === '' ? null : name.trim(),
  };
}
