// Where each MIME entity of a raw message lies in its bytes: header fields, body, children.
// The disclaimer rewrite uses this map to change one body (and, when it must, one header
// field) and copy every other byte of the message as it came.

/** Thrown when the message's structure cannot be read with confidence; the caller leaves the
 *  message as it is and reports the reason. */
export class Unreadable extends Error {}

export interface HeaderField {
  /** Lower case, without the colon. */
  readonly name: string;
  /** Offsets of the whole field, folded lines and final line break included. */
  readonly start: number;
  readonly end: number;
  /** Unfolded value, bytes read one to one (header values that matter here are ASCII). */
  readonly value: string;
}

export interface Entity {
  readonly start: number;
  readonly fields: readonly HeaderField[];
  /** Where a new header field can go: the start of the empty line that ends the header. */
  readonly headerEnd: number;
  /** False when no empty line ends the header block: the entity has no body at all. */
  readonly hasBody: boolean;
  readonly bodyStart: number;
  /** The line break in front of the next delimiter line belongs to the delimiter. */
  readonly bodyEnd: number;
  /** 'text/plain', lower case; the RFC 2045 default when the field is missing. */
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  /** Lower case; '7bit' when the field is missing. */
  readonly encoding: string;
  /** Lower case, or null when the field is missing. */
  readonly disposition: string | null;
  /** A file name in Content-Disposition or Content-Type, in any of its forms. */
  readonly hasFilename: boolean;
  /** Parsed children of a multipart; message/rfc822 bodies are never opened. */
  readonly children: readonly Entity[];
  /** For a multipart: the first delimiter line, line break and transport padding included. */
  readonly firstDelimiter?: { readonly start: number; readonly end: number };
  /** The line break this entity's header uses. */
  readonly eol: '\r\n' | '\n';
}

const MAX_DEPTH = 40;
const MAX_ENTITIES = 2000;

/** Reads the message's MIME structure. Throws Unreadable for what it cannot read surely. */
export function parseMessage(raw: Buffer): Entity {
  const budget = { entities: 0 };
  return parseEntity(raw, 0, raw.length, 'text/plain', 0, budget);
}

function parseEntity(
  raw: Buffer,
  start: number,
  end: number,
  defaultType: string,
  depth: number,
  budget: { entities: number },
): Entity {
  if (depth > MAX_DEPTH) throw new Unreadable(`MIME parts are nested more than ${MAX_DEPTH} deep`);
  if (++budget.entities > MAX_ENTITIES) {
    throw new Unreadable(`the message has more than ${MAX_ENTITIES} MIME parts`);
  }

  const fields: HeaderField[] = [];
  let pos = start;
  let headerEnd = end;
  let bodyStart = end;
  let hasBody = false;
  let eol: '\r\n' | '\n' | null = null;
  let current: { name: string; start: number; lines: string[] } | null = null;
  const close = (at: number) => {
    if (current) {
      fields.push({
        name: current.name,
        start: current.start,
        end: at,
        value: current.lines.join('').trim(),
      });
    }
    current = null;
  };

  while (pos < end) {
    const lf = raw.indexOf(0x0a, pos);
    const lineEnd = lf < 0 || lf >= end ? end : lf + 1;
    let contentEnd = lineEnd;
    if (raw[contentEnd - 1] === 0x0a) contentEnd--;
    if (contentEnd > pos && raw[contentEnd - 1] === 0x0d && lineEnd > contentEnd) contentEnd--;
    if (eol === null && lineEnd > contentEnd) eol = lineEnd - contentEnd === 2 ? '\r\n' : '\n';

    if (contentEnd === pos && lineEnd > contentEnd) {
      close(pos);
      headerEnd = pos;
      bodyStart = lineEnd;
      hasBody = true;
      break;
    }
    const line = raw.toString('latin1', pos, contentEnd);
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
      current.lines.push(line);
    } else {
      close(pos);
      const colon = line.indexOf(':');
      // A line that is neither a field nor a continuation (an mbox "From " line, debris) is
      // skipped, as mail readers skip it.
      if (colon > 0) {
        current = {
          name: line.slice(0, colon).trim().toLowerCase(),
          start: pos,
          lines: [line.slice(colon + 1)],
        };
      }
    }
    pos = lineEnd;
  }
  if (!hasBody) {
    close(end);
    headerEnd = end;
  }

  const first = (name: string) => fields.find((f) => f.name === name)?.value;
  const contentType = first('content-type');
  const parsedType = contentType === undefined ? null : parseParams(contentType);
  let type = parsedType?.value.toLowerCase() ?? defaultType;
  // A value with no subtype is no media type; readers fall back to the default.
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) type = defaultType;
  const params = parsedType?.params ?? new Map<string, string>();
  const cte = first('content-transfer-encoding');
  const encoding =
    stripComments(cte ?? '')
      .trim()
      .toLowerCase() || '7bit';
  const dispositionField = first('content-disposition');
  const parsedDisposition = dispositionField === undefined ? null : parseParams(dispositionField);
  const disposition = parsedDisposition ? parsedDisposition.value.toLowerCase() || null : null;
  const hasFilename =
    [...(parsedDisposition?.params.keys() ?? [])].some((k) => /^filename(\*|$)/.test(k)) ||
    [...params.keys()].some((k) => /^name(\*|$)/.test(k));

  const base = {
    start,
    fields,
    headerEnd,
    hasBody,
    bodyStart,
    bodyEnd: end,
    type,
    params,
    encoding,
    disposition,
    hasFilename,
    eol: eol ?? '\r\n',
  };
  if (!type.startsWith('multipart/')) return { ...base, children: [] };

  const boundary = params.get('boundary')?.replace(/[ \t]+$/, '');
  if (!boundary) throw new Unreadable(`a ${type} part has no boundary`);
  if (!hasBody) throw new Unreadable(`a ${type} part has no body`);
  const childDefault = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
  const split = splitMultipart(raw, bodyStart, end, Buffer.from(boundary, 'latin1'));
  if (split.parts.length === 0) throw new Unreadable(`a ${type} part has no delimiter lines`);
  const children = split.parts.map((p) =>
    parseEntity(raw, p.start, p.end, childDefault, depth + 1, budget),
  );
  return { ...base, children, firstDelimiter: split.firstDelimiter };
}

/**
 * The parts between the delimiter lines of a multipart body (RFC 2046 5.1.1): a line that is
 * `--boundary`, optionally `--`, then optional white space. The line break in front of a
 * delimiter belongs to it, not to the part before. A multipart that is never closed ends
 * where its enclosing range ends, as the common readers (mailsplit, Python) read it.
 */
function splitMultipart(
  raw: Buffer,
  start: number,
  end: number,
  boundary: Buffer,
): {
  parts: { start: number; end: number }[];
  firstDelimiter?: { start: number; end: number };
} {
  const parts: { start: number; end: number }[] = [];
  let firstDelimiter: { start: number; end: number } | undefined;
  let partStart = -1;
  let pos = start;
  while (pos < end) {
    const lf = raw.indexOf(0x0a, pos);
    const lineEnd = lf < 0 || lf >= end ? end : lf + 1;
    const kind = delimiterKind(raw, pos, lineEnd, boundary);
    if (kind) {
      if (partStart >= 0)
        parts.push({ start: partStart, end: lineBreakStart(raw, partStart, pos) });
      else firstDelimiter = { start: pos, end: lineEnd };
      if (kind === 'close') return { parts, firstDelimiter };
      partStart = lineEnd;
    }
    pos = lineEnd;
  }
  if (partStart >= 0) parts.push({ start: partStart, end });
  return { parts, firstDelimiter };
}

function delimiterKind(
  raw: Buffer,
  start: number,
  end: number,
  boundary: Buffer,
): 'next' | 'close' | null {
  if (end - start < boundary.length + 2) return null;
  if (raw[start] !== 0x2d || raw[start + 1] !== 0x2d) return null;
  if (raw.compare(boundary, 0, boundary.length, start + 2, start + 2 + boundary.length) !== 0) {
    return null;
  }
  let i = start + 2 + boundary.length;
  let kind: 'next' | 'close' = 'next';
  if (raw[i] === 0x2d && raw[i + 1] === 0x2d && i + 1 < end) {
    kind = 'close';
    i += 2;
  }
  while (i < end && (raw[i] === 0x20 || raw[i] === 0x09)) i++;
  if (i < end && raw[i] === 0x0d) i++;
  if (i < end && raw[i] === 0x0a) i++;
  else if (kind === 'next') return null; // only the closing delimiter may end the input bare
  return i === end ? kind : null;
}

/** The start of the line break in front of a delimiter line (none when the part is empty). */
function lineBreakStart(raw: Buffer, partStart: number, delimiter: number): number {
  let at = delimiter;
  if (at > partStart && raw[at - 1] === 0x0a) at--;
  if (at > partStart && raw[at - 1] === 0x0d) at--;
  return at;
}

function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      out += c;
      if (c === '\\' && i + 1 < value.length) out += value[++i];
      else if (c === '"') quoted = false;
    } else if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '(') depth++;
    else {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}

/** `value; name=token; other="quoted string"` with comments removed; names in lower case. */
export function parseParams(header: string): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const pieces: string[] = [];
  let piece = '';
  let quoted = false;
  const text = stripComments(header);
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < text.length) piece += text[++i];
      else if (c === '"') quoted = false;
      else piece += c;
    } else if (c === '"') quoted = true;
    else if (c === ';') {
      pieces.push(piece);
      piece = '';
    } else piece += c;
  }
  pieces.push(piece);
  for (const p of pieces.slice(1)) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    if (!params.has(name)) params.set(name, p.slice(eq + 1).trim());
  }
  return { value: (pieces[0] ?? '').trim(), params };
}
