// A site's response head, read from its bytes and rewritten for the client into one Buffer. This
// runs for every answer the fast path passes on, so it makes no string per header: header names
// are compared byte by byte, kept lines are copied as they came, and only what the proxy adds
// (framing, Via, Connection) is written out. A head it cannot read exactly is refused (null).
import { HOP_BY_HOP, VIA } from './request-line.ts';

export enum BodyMode {
  None,
  Length,
  Chunked,
  Close,
}

export interface ResponseHead {
  status: number;
  /** The head to send to the client, CRLFCRLF included. */
  out: Buffer;
  mode: BodyMode;
  length: number;
  /** The site keeps the connection open for another request. */
  reusable: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Bytes allowed in a header name (RFC 9110 5.6.2, tchar). */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

enum Name {
  Other,
  ContentLength,
  TransferEncoding,
  Connection,
  Via,
  HopByHop,
}

const NAMES: { bytes: Buffer; name: Name }[] = [
  { bytes: Buffer.from('content-length'), name: Name.ContentLength },
  { bytes: Buffer.from('transfer-encoding'), name: Name.TransferEncoding },
  { bytes: Buffer.from('connection'), name: Name.Connection },
  { bytes: Buffer.from('via'), name: Name.Via },
  ...[...HOP_BY_HOP]
    .filter((n) => n !== 'connection' && n !== 'transfer-encoding')
    .map((n) => ({ bytes: Buffer.from(n), name: Name.HopByHop })),
];

const HTTP_1_1 = Buffer.from('HTTP/1.1 ', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const CHUNKED = Buffer.from('chunked', 'latin1');
const CLOSE = Buffer.from('close', 'latin1');
const KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');
const TE_CHUNKED_LINE = 'Transfer-Encoding: chunked\r\n';
const CONNECTION_CLOSE_LINE = 'Connection: close\r\n';
const VIA_LINE = `Via: ${VIA}\r\n`;

/** The ranges [start, end) of the header lines passed on, reused from one head to the next. */
let kept = new Int32Array(64);
let keptCount = 0;

function keep(start: number, end: number): void {
  if (keptCount + 2 > kept.length) {
    const more = new Int32Array(kept.length * 2);
    more.set(kept);
    kept = more;
  }
  kept[keptCount++] = start;
  kept[keptCount++] = end;
}

/** Whether buf[start, end) is `lower` in any letter case (`lower` holds no upper-case letter). */
function equalsLower(buf: Buffer, start: number, end: number, lower: Buffer): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let b = buf[start + i]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower[i]) return false;
  }
  return true;
}

function nameOf(buf: Buffer, start: number, end: number): Name {
  for (const n of NAMES) if (equalsLower(buf, start, end, n.bytes)) return n.name;
  return Name.Other;
}

const isOws = (b: number) => b === SP || b === HTAB;

/** The comma-separated element of a header value that begins at `from`: [start, end), trimmed. */
let elementStart = 0;
let elementEnd = 0;

/** Finds the element from `from` up to `end`; returns where the next one begins. */
function element(buf: Buffer, from: number, end: number): number {
  let stop = from;
  while (stop < end && buf[stop] !== COMMA) stop++;
  let a = from;
  let b = stop;
  while (a < b && isOws(buf[a]!)) a++;
  while (b > a && isOws(buf[b - 1]!)) b--;
  elementStart = a;
  elementEnd = b;
  return stop + 1;
}

/**
 * Parses the response head in buf[0, end) (end is where its final CRLFCRLF begins) and writes
 * the head for the client; null when it is not a usable one.
 */
export function parseResponseHead(
  buf: Buffer,
  end: number,
  requestMethod: string,
  clientClose: boolean,
): ResponseHead | null {
  // The status line: HTTP/1.x NNN[ reason] (RFC 9112 4).
  let lineEnd = 0;
  while (lineEnd < end && !(buf[lineEnd] === CR && buf[lineEnd + 1] === LF)) lineEnd++;
  if (lineEnd < 12) return null;
  for (let i = 0; i < 7; i++) if (buf[i] !== HTTP_1_1[i]) return null;
  const minor = buf[7]!;
  if ((minor !== 0x30 && minor !== 0x31) || buf[8] !== SP) return null;
  const d0 = buf[9]! - 0x30;
  const d1 = buf[10]! - 0x30;
  const d2 = buf[11]! - 0x30;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  if (lineEnd > 12 && buf[12] !== SP) return null;
  for (let i = 13; i < lineEnd; i++) if (buf[i] === CR || buf[i] === LF) return null;
  const status = d0 * 100 + d1 * 10 + d2;

  let reusable = minor === 0x31;
  let via: string | null = null;
  let length = -1;
  let chunked = false;
  let encoded = false;
  let named: Set<string> | null = null;
  keptCount = 0;
  let start = lineEnd + 2;
  while (start < end) {
    let lineStop = start;
    while (lineStop < end && !(buf[lineStop] === CR && buf[lineStop + 1] === LF)) lineStop++;
    const line = start;
    start = lineStop + 2;
    let colon = line;
    while (colon < lineStop && buf[colon] !== COLON) {
      if (TCHAR[buf[colon]!] === 0) return null; // also refuses obs-fold, space before colon
      colon++;
    }
    if (colon === line || colon === lineStop) return null;
    let vs = colon + 1;
    let ve = lineStop;
    for (let i = vs; i < ve; i++) {
      const b = buf[i]!;
      if ((b < 0x20 && b !== HTAB) || b === 0x7f) return null;
    }
    while (vs < ve && isOws(buf[vs]!)) vs++;
    while (ve > vs && isOws(buf[ve - 1]!)) ve--;
    switch (nameOf(buf, line, colon)) {
      case Name.ContentLength: {
        if (ve - vs < 1 || ve - vs > 15) return null;
        let n = 0;
        for (let i = vs; i < ve; i++) {
          const d = buf[i]! - 0x30;
          if (d < 0 || d > 9) return null;
          n = n * 10 + d;
        }
        if (length >= 0 && length !== n) return null;
        length = n;
        break;
      }
      case Name.TransferEncoding: {
        encoded = true;
        // The last coding decides the framing (RFC 9112 6.1).
        for (let at = vs; at <= ve; ) {
          at = element(buf, at, ve);
          chunked = equalsLower(buf, elementStart, elementEnd, CHUNKED);
        }
        if (!chunked) keep(line, lineStop); // passed on as it is, close-delimited
        break;
      }
      case Name.Connection:
        for (let at = vs; at <= ve; ) {
          at = element(buf, at, ve);
          const s = elementStart;
          const e = elementEnd;
          if (equalsLower(buf, s, e, CLOSE)) reusable = false;
          else if (s < e && !equalsLower(buf, s, e, KEEP_ALIVE)) {
            named ??= new Set();
            named.add(buf.toString('latin1', s, e).toLowerCase());
          }
        }
        break;
      case Name.Via: {
        const value = buf.toString('latin1', vs, ve);
        via = via === null ? value : `${via}, ${value}`;
        break;
      }
      case Name.HopByHop:
        break;
      default:
        keep(line, lineStop);
    }
  }

  // Headers the Connection header names are hop-by-hop as well (RFC 9110 7.6.1).
  if (named !== null) {
    const drop: Set<string> = named;
    let w = 0;
    for (let r = 0; r < keptCount; r += 2) {
      const s = kept[r]!;
      const e = kept[r + 1]!;
      const colon = buf.indexOf(COLON, s);
      if (drop.has(buf.toString('latin1', s, colon).toLowerCase())) continue;
      kept[w++] = s;
      kept[w++] = e;
    }
    keptCount = w;
  }

  let mode: BodyMode;
  if (status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD')
    mode = BodyMode.None;
  else if (chunked) mode = BodyMode.Chunked;
  else if (encoded) mode = BodyMode.Close;
  else if (length >= 0) mode = BodyMode.Length;
  else mode = BodyMode.Close;
  if (encoded && length >= 0) reusable = false; // both framings: never reuse (RFC 9112 6.3)
  if (mode === BodyMode.Close) reusable = false;

  // What the proxy adds, after the lines it keeps.
  let added = '';
  if (status >= 200) {
    if (mode === BodyMode.Length || (mode === BodyMode.None && length >= 0))
      added += `Content-Length: ${length}\r\n`;
    if (mode === BodyMode.Chunked) added += TE_CHUNKED_LINE;
    added += via === null ? VIA_LINE : `Via: ${via}, ${VIA}\r\n`;
    if (clientClose || mode === BodyMode.Close) added += CONNECTION_CLOSE_LINE;
  }
  // 1xx heads go out with their own status line; final ones as HTTP/1.1 NNN reason.
  const statusLine = status < 200 ? lineEnd : 13 + Math.max(0, lineEnd - 13);
  let size = statusLine + 2 + added.length + 2;
  for (let r = 0; r < keptCount; r += 2) size += kept[r + 1]! - kept[r]! + 2;
  const out = Buffer.allocUnsafe(size);
  let at: number;
  if (status < 200) at = buf.copy(out, 0, 0, lineEnd);
  else {
    at = HTTP_1_1.copy(out, 0);
    at += buf.copy(out, at, 9, 12);
    out[at++] = SP;
    if (lineEnd > 13) at += buf.copy(out, at, 13, lineEnd);
  }
  at += CRLF.copy(out, at);
  for (let r = 0; r < keptCount; r += 2) {
    at += buf.copy(out, at, kept[r]!, kept[r + 1]!);
    at += CRLF.copy(out, at);
  }
  at += out.write(added, at, 'latin1');
  CRLF.copy(out, at);
  return { status, out, mode, length: status < 200 ? 0 : Math.max(0, length), reusable };
}
