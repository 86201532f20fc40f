// Splits a multipart body at its boundary (RFC 2046 section 5.1.1) into views of the message's
// own bytes: no copies, one linear pass. A delimiter counts only at the start of a line and when
// the rest of its line is white space, so a boundary that prefixes a longer line is not taken.

export interface MultipartSplit {
  /** The body parts, headers included, without the line break before each delimiter. */
  readonly parts: readonly Buffer[];
  /** At least one delimiter was found. */
  readonly found: boolean;
  /** The close delimiter (`--boundary--`) was found. */
  readonly closed: boolean;
  /** There were more parts than `max`; the rest were not split out. */
  readonly more: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

function boundaryBytes(boundary: string): Buffer {
  // The header was read as UTF-8 or Latin-1; either way a boundary of 7-bit characters is the same.
  const latin1 = [...boundary].every((c) => c.charCodeAt(0) <= 0xff);
  return Buffer.from(`--${boundary}`, latin1 ? 'latin1' : 'utf8');
}

export function splitMultipart(body: Buffer, boundary: string, max: number): MultipartSplit {
  const delimiter = boundaryBytes(boundary);
  const n = body.length;
  const parts: Buffer[] = [];
  let search = 0;
  let partStart = -1;
  let found = false;
  let closed = false;
  let more = false;
  for (;;) {
    const at = body.indexOf(delimiter, search);
    if (at < 0) break;
    if (at > 0 && body[at - 1] !== LF) {
      search = at + 1;
      continue;
    }
    const after = at + delimiter.length;
    const isClose = body[after] === DASH && body[after + 1] === DASH;
    let q = isClose ? after + 2 : after;
    while (q < n && (body[q] === 0x20 || body[q] === 0x09)) q++;
    if (!isClose && q < n && body[q] !== CR && body[q] !== LF) {
      search = at + 1;
      continue;
    }
    if (partStart >= 0) {
      if (parts.length >= max) {
        more = true;
        break;
      }
      let end = at;
      if (end > partStart && body[end - 1] === LF) end--;
      if (end > partStart && body[end - 1] === CR) end--;
      parts.push(body.subarray(partStart, end));
    }
    found = true;
    if (isClose) {
      closed = true;
      break;
    }
    const eol = body.indexOf(LF, q);
    partStart = eol < 0 ? n : eol + 1;
    search = partStart;
  }
  if (found && !closed && !more && partStart >= 0 && partStart < n) {
    // No close delimiter: the last part runs to the end of the body (a truncated message).
    if (parts.length >= max) more = true;
    else parts.push(body.subarray(partStart));
  }
  return { parts, found, closed, more };
}
