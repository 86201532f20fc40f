// The DNS wire format on the hot path, read and written by hand: a query's header, question and
// OPT record are parsed straight from the packet into a reused object, and every answer the filter
// makes itself (block answers, FORMERR, SERVFAIL, truncation) is written byte by byte. dns-packet
// stays for the tests and the rare slow path; per query it would allocate a whole object tree.
// Names are bounded (255 octets), compression pointers in a query are refused (a query's only
// name has nothing before it to point at), and every read is checked against the packet's length.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  SVCB: 64,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (OPT) rcode 16: the query's EDNS version is not supported (RFC 6891). */
  BADVERS: 16,
} as const;

/** Extended DNS Error INFO-CODEs (RFC 8914) the filter sends. */
export const EDE = {
  BLOCKED: 15,
  FILTERED: 17,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
} as const;

export const OPT_EDE_CODE = 15;
export const HEADER_LENGTH = 12;
const MAX_NAME_WIRE = 255;

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
export const typeName = (type: number): string => TYPE_NAMES.get(type) ?? `TYPE${type}`;

/** What parseQuery found; the fields are valid only when it returned PARSE_OK. */
export interface ParsedQuery {
  id: number;
  /** The header's second 16 bits (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  qtype: number;
  qclass: number;
  /** Offset just past the question. */
  questionEnd: number;
  /** True when every octet of the name is a-z 0-9 - _ (the name needs no further normalising). */
  plainName: boolean;
  /**
   * Cache key: the question in lower-case wire form and the DO bit. A parse leaves its octets in
   * `questionOctets` (keyLength of them, with a seeded hash) and makes no string: questionKey()
   * makes this one when it is needed, before the next parse.
   */
  key: string;
  keyLength: number;
  keyHash: number;
  edns: boolean;
  /** The client's UDP payload size (512 without EDNS). */
  udpSize: number;
  ednsVersion: number;
  dnssecOk: boolean;
}

export const newParsedQuery = (): ParsedQuery => ({
  id: 0,
  flags: 0,
  qtype: 0,
  qclass: 0,
  questionEnd: 0,
  plainName: true,
  key: '',
  keyLength: 0,
  keyHash: 0,
  edns: false,
  udpSize: 512,
  ednsVersion: 0,
  dnssecOk: false,
});

export const PARSE_OK = 0;
/** Not answerable (shorter than a header, or a response): drop without a word. */
export const PARSE_DROP = 1;
export const PARSE_FORMERR = 2;
export const PARSE_NOTIMP = 3;

// Scratch space reused by every parse: the lower-cased question (key).
const keyScratch = Buffer.alloc(MAX_NAME_WIRE + 8);

/** The key octets of the last parse (read only; overwritten by the next parse). */
export const questionOctets: Uint8Array = keyScratch;

// FNV-1a over the key octets, from a per-process random start: names cannot be made to collide
// in the filter's tables without knowing it.
const HASH_SEED = randomBytes(4).readInt32LE(0);
const FNV_PRIME = 0x01000193;

/**
 * Parses a query: exactly one question, no answer or authority records, at most one additional
 * record which must be OPT. Returns PARSE_OK and fills `out`, or a PARSE_* code; `out.id` and
 * `out.flags` are set whenever the header could be read, so that FORMERR can be sent.
 */
export function parseQuery(buf: Buffer, out: ParsedQuery): number {
  const len = buf.length;
  if (len < HEADER_LENGTH) return PARSE_DROP;
  out.id = buf.readUInt16BE(0);
  out.flags = buf.readUInt16BE(2);
  out.edns = false;
  out.udpSize = 512;
  out.ednsVersion = 0;
  out.dnssecOk = false;
  out.questionEnd = HEADER_LENGTH;
  if (out.flags & 0x8000) return PARSE_DROP; // a response: never answer one (no reflection loops)
  if ((out.flags >> 11) & 0xf) return PARSE_NOTIMP; // only standard queries
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd !== 1 || an !== 0 || ns !== 0 || ar > 1) return PARSE_FORMERR;

  let p = HEADER_LENGTH;
  let k = 0;
  let h = HASH_SEED;
  let plain = true;
  for (;;) {
    if (p >= len) return PARSE_FORMERR;
    const l = buf[p]!;
    if (l === 0) {
      keyScratch[k++] = 0;
      h = Math.imul(h, FNV_PRIME);
      p++;
      break;
    }
    if (l > 63) return PARSE_FORMERR; // a compression pointer, or a reserved label type
    if (p + 1 + l > len || k + 1 + l + 1 > MAX_NAME_WIRE) return PARSE_FORMERR;
    keyScratch[k++] = l;
    h = Math.imul(h ^ l, FNV_PRIME);
    for (let i = p + 1, end = p + 1 + l; i < end; i++) {
      let c = buf[i]!;
      if (c >= 65 && c <= 90) c += 32;
      else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95))
        plain = false;
      keyScratch[k++] = c;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    p += 1 + l;
  }
  if (p + 4 > len) return PARSE_FORMERR;
  out.qtype = buf.readUInt16BE(p);
  out.qclass = buf.readUInt16BE(p + 2);
  p += 4;
  out.questionEnd = p;

  if (ar === 1) {
    // The OPT pseudo-record: root name, type 41, class = UDP size, ttl = ext-rcode/version/flags.
    if (p + 11 > len || buf[p] !== 0 || buf.readUInt16BE(p + 1) !== TYPE.OPT) return PARSE_FORMERR;
    const rdlen = buf.readUInt16BE(p + 9);
    if (p + 11 + rdlen > len) return PARSE_FORMERR;
    out.edns = true;
    out.udpSize = Math.max(512, buf.readUInt16BE(p + 3));
    out.ednsVersion = buf[p + 6]!;
    out.dnssecOk = (buf[p + 7]! & 0x80) !== 0;
  }
  for (let i = out.questionEnd - 4; i < out.questionEnd; i++) {
    const c = buf[i]!;
    keyScratch[k++] = c;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  const dnssecOk = out.dnssecOk ? 1 : 0;
  keyScratch[k++] = dnssecOk;
  out.keyHash = Math.imul(h ^ dnssecOk, FNV_PRIME);
  out.keyLength = k;
  out.key = '';
  out.plainName = plain;
  return PARSE_OK;
}

/**
 * The question's key as a string, made on first use: call it before the next parse overwrites the
 * octets (a copy of `q` made afterwards keeps the string).
 */
export function questionKey(q: ParsedQuery): string {
  if (q.key === '') q.key = keyScratch.toString('latin1', 0, q.keyLength);
  return q.key;
}

/**
 * The question's name from a parse's key: lower case, dotted, without the final dot ('' for the
 * root). The labels' octets are kept as they are (one character per octet).
 */
export function questionName(key: string): string {
  let name = '';
  let p = 0;
  for (let l = key.charCodeAt(0); l > 0 && p + 1 + l <= key.length; l = key.charCodeAt(p)) {
    const label = key.slice(p + 1, p + 1 + l);
    name = p === 0 ? label : `${name}.${label}`;
    p += 1 + l;
  }
  return name;
}

// Plain octet writes: the hot path builds a reply per query, and Buffer's checked writers and
// copy() (which makes a view per call) cost more than the writing itself. Offsets are always
// within a buffer sized for them.
const put16 = (out: Uint8Array, p: number, v: number) => {
  out[p] = v >>> 8;
  out[p + 1] = v & 0xff;
};

/** Copies src[from, to) into out at p; for the few dozen octets of a question a loop is fastest. */
export const copyRange = (
  src: Uint8Array,
  from: number,
  to: number,
  out: Uint8Array,
  p: number,
) => {
  for (let i = from; i < to; i++) out[p++] = src[i]!;
  return p;
};

/** Length of the OPT record the filter adds (with an EDE option of `textBytes` octets, or none). */
export const optLength = (ede: boolean, textBytes: number) => 11 + (ede ? 6 + textBytes : 0);

/** Writes an OPT record at `p`; returns the offset after it. */
export function writeOpt(
  out: Buffer,
  p: number,
  udpSize: number,
  dnssecOk: boolean,
  extendedRcode: number,
  ede: number | null,
  text: Buffer | null,
): number {
  out[p] = 0;
  put16(out, p + 1, TYPE.OPT);
  put16(out, p + 3, udpSize);
  out[p + 5] = extendedRcode;
  out[p + 6] = 0; // version 0
  out[p + 7] = dnssecOk ? 0x80 : 0;
  out[p + 8] = 0;
  if (ede === null) {
    put16(out, p + 9, 0);
    return p + 11;
  }
  const textLength = text ? text.length : 0;
  put16(out, p + 9, 6 + textLength);
  put16(out, p + 11, OPT_EDE_CODE);
  put16(out, p + 13, 2 + textLength);
  put16(out, p + 15, ede);
  if (text) out.set(text, p + 17);
  return p + 17 + textLength;
}

export interface ReplyShape {
  /** RCODE (0-15, or BADVERS which goes into the OPT record). */
  rcode: number;
  /** The answer's RDATA for A (4 octets) or AAAA (16); null for no answer record. */
  address: Buffer | null;
  ttl: number;
  ede: number | null;
  edeText: Buffer | null;
  /** Our advertised UDP size in the OPT record. */
  udpSize: number;
}

/**
 * A reply the filter makes itself, echoing the query's id, RD and CD bits and its question (as
 * the client spelled it). An OPT record goes in only when the query carried one.
 */
export function buildReply(query: Buffer, q: ParsedQuery, shape: ReplyShape): Buffer {
  const withQuestion = q.questionEnd > HEADER_LENGTH;
  const qLen = withQuestion ? q.questionEnd - HEADER_LENGTH : 0;
  const answerLen = shape.address ? 12 + shape.address.length : 0;
  const opt = q.edns || shape.rcode > 15;
  const textBytes = shape.edeText ? shape.edeText.length : 0;
  const len =
    HEADER_LENGTH + qLen + answerLen + (opt ? optLength(shape.ede !== null, textBytes) : 0);
  const out = Buffer.allocUnsafe(len);
  put16(out, 0, q.id);
  // QR=1, opcode copied, RD copied, RA=1, CD copied, rcode low bits.
  const flags = 0x8000 | (q.flags & 0x7800) | (q.flags & 0x0100) | 0x0080 | (q.flags & 0x0010);
  put16(out, 2, flags | (shape.rcode & 0xf));
  put16(out, 4, withQuestion ? 1 : 0);
  put16(out, 6, shape.address ? 1 : 0);
  put16(out, 8, 0);
  put16(out, 10, opt ? 1 : 0);
  let p = HEADER_LENGTH;
  if (withQuestion) p = copyRange(query, HEADER_LENGTH, q.questionEnd, out, p);
  const address = shape.address;
  if (address) {
    put16(out, p, 0xc00c); // the question's name
    put16(out, p + 2, address.length === 4 ? TYPE.A : TYPE.AAAA);
    put16(out, p + 4, 1);
    put16(out, p + 6, shape.ttl >>> 16);
    put16(out, p + 8, shape.ttl & 0xffff);
    put16(out, p + 10, address.length);
    p = copyRange(address, 0, address.length, out, p + 12);
  }
  if (opt) writeOpt(out, p, shape.udpSize, q.dnssecOk, shape.rcode >> 4, shape.ede, shape.edeText);
  return out;
}

/** The reply to a packet that could not be parsed as far as its question: header only. */
export function headerOnlyReply(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  const flags = query.readUInt16BE(2);
  out.writeUInt16BE(0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | (rcode & 0xf), 2);
  return out;
}

/** Skips a (possibly compressed) name at `p`; returns the offset after it, or -1. */
export function skipName(buf: Buffer, p: number, end: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (p >= end) return -1;
    const l = buf[p]!;
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2 <= end ? p + 2 : -1;
    if (l > 63) return -1;
    p += 1 + l;
  }
  return -1;
}

/** What the forwarder needs from an upstream response, found in one walk over its records. */
export interface ResponseInfo {
  rcode: number;
  truncated: boolean;
  answers: number;
  /** Offsets of every TTL field (answer, authority, additional; OPT excluded). */
  ttlOffsets: number[];
  /** Smallest TTL of the answer section (or -1 without answers). */
  minAnswerTtl: number;
  /** RFC 2308: min(SOA TTL, SOA MINIMUM) of an authority SOA, or -1. */
  negativeTtl: number;
  /** Start and end of the OPT record, when there is one. */
  optStart: number;
  optEnd: number;
  /** Extended rcode bits from the OPT record. */
  extendedRcode: number;
}

/** Walks a response's records; null when it is malformed. */
export function inspectResponse(buf: Buffer): ResponseInfo | null {
  const len = buf.length;
  if (len < HEADER_LENGTH) return null;
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  const info: ResponseInfo = {
    rcode: flags & 0xf,
    truncated: (flags & 0x0200) !== 0,
    answers: an,
    ttlOffsets: [],
    minAnswerTtl: -1,
    negativeTtl: -1,
    optStart: -1,
    optEnd: -1,
    extendedRcode: 0,
  };
  let p = HEADER_LENGTH;
  for (let i = 0; i < qd; i++) {
    p = skipName(buf, p, len);
    if (p < 0 || p + 4 > len) return null;
    p += 4;
  }
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const start = p;
    p = skipName(buf, p, len);
    if (p < 0 || p + 10 > len) return null;
    const type = buf.readUInt16BE(p);
    const ttl = buf.readUInt32BE(p + 4) & 0x7fffffff;
    const rdlen = buf.readUInt16BE(p + 8);
    const rdata = p + 10;
    if (rdata + rdlen > len) return null;
    if (type === TYPE.OPT && i >= an + ns) {
      info.optStart = start;
      info.optEnd = rdata + rdlen;
      info.extendedRcode = buf[p + 4]!;
    } else {
      info.ttlOffsets.push(p + 4);
      if (i < an) {
        if (info.minAnswerTtl < 0 || ttl < info.minAnswerTtl) info.minAnswerTtl = ttl;
      } else if (i < an + ns && type === TYPE.SOA) {
        // SOA RDATA: mname, rname, serial, refresh, retry, expire, minimum.
        let r = skipName(buf, rdata, rdata + rdlen);
        if (r >= 0) r = skipName(buf, r, rdata + rdlen);
        if (r >= 0 && r + 20 <= rdata + rdlen) {
          const minimum = buf.readUInt32BE(r + 16) & 0x7fffffff;
          info.negativeTtl = Math.min(ttl, minimum);
        }
      }
    }
    p = rdata + rdlen;
  }
  return info;
}

/** True when the response's question equals the one sent (octet for octet, ignoring case). */
export function sameQuestion(sent: Buffer, sentEnd: number, got: Buffer): boolean {
  if (got.length < sentEnd || got.readUInt16BE(4) !== 1) return false;
  for (let i = HEADER_LENGTH; i < sentEnd; i++) {
    let a = sent[i]!;
    let b = got[i]!;
    if (a >= 65 && a <= 90) a += 32;
    if (b >= 65 && b <= 90) b += 32;
    if (a !== b) return false;
  }
  return true;
}

/** A minimal truncated reply (TC=1): header, question and, for an EDNS query, OPT. */
export function truncatedReply(query: Buffer, q: ParsedQuery, rcode: number, udpSize: number) {
  const reply = buildReply(query, q, {
    rcode,
    address: null,
    ttl: 0,
    ede: null,
    edeText: null,
    udpSize,
  });
  reply[2] = reply[2]! | 0x02;
  return reply;
}

/** Parses "1.2.3.4", "1.2.3.4:5353", "[::1]:53" or "::1" into host and port. */
export function parseHostPort(value: string, defaultPort = 53): { host: string; port: number } {
  const v = value.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : defaultPort };
  const colons = v.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = v.split(':');
    return { host: host!, port: Number(port) };
  }
  return { host: v, port: defaultPort };
}

/**
 * An IP literal's octets in network order (4 or 16), or null when it is not one. IPv6 may be
 * written in any form RFC 4291 allows, an embedded IPv4 tail and a zone (ignored) included.
 */
export function ipBytes(address: string): Buffer | null {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!net.isIPv6(address)) return null;
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail = ''] = text.split('::');
  const parse = (s: string) => (s ? s.split(':') : []);
  const a = parse(head);
  const b = parse(tail);
  const groups = text.includes('::')
    ? [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b]
    : a;
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}
