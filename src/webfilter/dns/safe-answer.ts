// The answer for a name SafeSearch sends elsewhere (../safesearch.ts): a CNAME from the name asked
// to the provider's safe name, followed by the safe name's own records as the resolver gave them.
// It is made from the safe name's cached answer once per TTL and cached in turn, so a repeated
// lookup costs what any cache hit costs. Names are written uncompressed: the records come from
// another message, whose compression pointers mean nothing here.
import type { CacheEntry } from './cache.ts';
import { HEADER_LENGTH, RCODE, TYPE } from './wire.ts';

/** A dotted name in lower-case wire form, one character per octet (as cache keys spell names). */
export function nameWire(name: string): string {
  let out = '';
  for (const label of name.toLowerCase().split('.')) {
    if (label.length === 0) continue;
    out += String.fromCharCode(label.length) + label;
  }
  return `${out}\0`;
}

/**
 * Appends the (possibly compressed) name at `p` of `buf`, expanded, to `out`; returns the offset
 * after the name in the record, or -1 when it is malformed.
 */
function copyName(buf: Buffer, p: number, end: number, out: number[]): number {
  let next = -1;
  let length = 0;
  for (let hops = 0; hops < 128; hops++) {
    if (p >= end) return -1;
    const l = buf[p]!;
    if (l === 0) {
      out.push(0);
      return next < 0 ? p + 1 : next;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 2 > end) return -1;
      if (next < 0) next = p + 2;
      p = ((l & 0x3f) << 8) | buf[p + 1]!;
      continue;
    }
    if (l > 63 || p + 1 + l > end) return -1;
    length += 1 + l;
    if (length > 254) return -1;
    for (let i = p; i <= p + l; i++) out.push(buf[i]!);
    p += 1 + l;
  }
  return -1;
}

const put16 = (out: number[], v: number) => out.push(v >>> 8, v & 0xff);
const put32 = (out: number[], v: number) =>
  out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);

/**
 * Copies one resource record at `p` into `out` with every name expanded and its TTL lowered by
 * `elapsed` seconds; pushes the TTL's offset onto `ttlAt`. Returns the offset after the record, or
 * -1 when it is malformed.
 */
function copyRecord(
  wire: Buffer,
  p: number,
  elapsed: number,
  out: number[],
  ttlAt: number[],
): number {
  const end = wire.length;
  p = copyName(wire, p, end, out);
  if (p < 0 || p + 10 > end) return -1;
  const type = wire.readUInt16BE(p);
  const rdlength = wire.readUInt16BE(p + 8);
  const rdata = p + 10;
  const rdEnd = rdata + rdlength;
  if (rdEnd > end) return -1;
  put16(out, type);
  put16(out, wire.readUInt16BE(p + 2));
  ttlAt.push(out.length);
  put32(out, Math.max((wire.readUInt32BE(p + 4) & 0x7fffffff) - elapsed, 0));
  const lengthAt = out.length;
  put16(out, 0);
  const start = out.length;
  let r = rdata;
  if (type === TYPE.MX) {
    for (; r < rdata + 2 && r < rdEnd; r++) out.push(wire[r]!);
  }
  if (type === TYPE.CNAME || type === TYPE.NS || type === TYPE.PTR || type === TYPE.MX) {
    r = copyName(wire, r, rdEnd, out);
  } else if (type === TYPE.SOA) {
    r = copyName(wire, r, rdEnd, out);
    if (r >= 0) r = copyName(wire, r, rdEnd, out);
  }
  if (r < 0) return -1;
  for (; r < rdEnd; r++) out.push(wire[r]!);
  const written = out.length - start;
  out[lengthAt] = written >>> 8;
  out[lengthAt + 1] = written & 0xff;
  return rdEnd;
}

/**
 * The answer to the question `askedKey` (a cache key: lower-case wire name, type, class, DO) from
 * `safe`, the cached answer for the same type of `safeName` (in wire form): a CNAME to the safe
 * name with the safe answer's records after it, valid as long as `safe` is. Null when the safe
 * answer is a failure (anything but NOERROR or NXDOMAIN) or cannot be read.
 */
export function cnameAnswer(
  askedKey: string,
  safeName: string,
  safe: CacheEntry,
  now: number,
): CacheEntry | null {
  const wire = safe.wire;
  if (wire.length < HEADER_LENGTH) return null;
  const rcode = wire[3]! & 0xf;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return null;
  const elapsed = Math.max(0, Math.floor((now - safe.storedAt) / 1000));
  const left = Math.max(0, Math.floor((safe.expiresAt - now) / 1000));
  const answers = wire.readUInt16BE(6);
  const authorities = wire.readUInt16BE(8);
  if (wire.readUInt16BE(4) !== 1) return null;

  const out: number[] = [];
  const ttlAt: number[] = [];
  // Header: the resolver's flags less AA (not authoritative) and AD (the CNAME is not signed).
  put16(out, 0);
  put16(out, wire.readUInt16BE(2) & ~0x0420);
  put16(out, 1);
  put16(out, 1 + answers);
  put16(out, authorities);
  put16(out, 0);
  // The question asked (the client's spelling goes over it when replying): the key less its DO.
  for (let i = 0; i < askedKey.length - 1; i++) out.push(askedKey.charCodeAt(i));
  // The CNAME, owned by the question's name.
  put16(out, 0xc000 | HEADER_LENGTH);
  put16(out, TYPE.CNAME);
  put16(out, 1);
  ttlAt.push(out.length);
  put32(out, left);
  put16(out, safeName.length);
  for (let i = 0; i < safeName.length; i++) out.push(safeName.charCodeAt(i));

  // The safe answer's question is skipped; its answer and authority records follow.
  let p = HEADER_LENGTH;
  while (p < wire.length && wire[p] !== 0) {
    if (wire[p]! > 63) return null;
    p += 1 + wire[p]!;
  }
  p += 5;
  for (let i = 0; i < answers + authorities; i++) {
    if (p > wire.length) return null;
    p = copyRecord(wire, p, elapsed, out, ttlAt);
    if (p < 0) return null;
  }

  const bytes = Buffer.from(out);
  const ttls = new Uint32Array(ttlAt.length * 2);
  for (let i = 0; i < ttlAt.length; i++) {
    ttls[2 * i] = ttlAt[i]!;
    ttls[2 * i + 1] = bytes.readUInt32BE(ttlAt[i]!);
  }
  return { wire: bytes, ttls, storedAt: now, expiresAt: safe.expiresAt };
}
