// The answer cache: upstream responses kept as wire bytes (id zeroed, OPT removed), with the
// offsets of their TTL fields, so that a hit is one copy plus a few patched integers and never a
// decode/encode. TTLs count down from the moment of storing (RFC 1035 §7.4); negative answers live
// for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5); a size cap evicts the least recently used entry.
import { HEADER_LENGTH, type ParsedQuery, RCODE, type ResponseInfo } from './wire.ts';

export interface CacheEntry {
  readonly wire: Buffer;
  readonly ttlOffsets: Uint16Array;
  readonly ttls: Uint32Array;
  readonly storedAt: number;
  readonly expiresAt: number;
}

export interface CacheLimits {
  maxEntries: number;
  minTtl: number;
  maxTtl: number;
  maxNegativeTtl: number;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
}

/** How long a response may be kept, in seconds (0: not cached). */
export function cacheTtl(info: ResponseInfo, limits: CacheLimits): number {
  if (info.truncated || info.extendedRcode !== 0) return 0;
  let ttl: number;
  if (info.rcode === RCODE.NOERROR && info.answers > 0) {
    ttl = Math.min(Math.max(info.minAnswerTtl, limits.minTtl), limits.maxTtl);
  } else if (
    info.rcode === RCODE.NXDOMAIN ||
    (info.rcode === RCODE.NOERROR && info.answers === 0)
  ) {
    // Without an SOA a negative answer is not cached (RFC 2308 §5).
    if (info.negativeTtl < 0) return 0;
    ttl = Math.min(info.negativeTtl, limits.maxNegativeTtl);
  } else {
    return 0; // SERVFAIL, REFUSED, NOTIMP, FORMERR: ask again next time
  }
  return ttl;
}

/** A response (without its OPT record, id zeroed) ready to answer from for `ttl` seconds. */
export function toEntry(
  response: Buffer,
  info: ResponseInfo,
  ttl: number,
  now: number,
): CacheEntry {
  let wire: Buffer;
  let offsets = info.ttlOffsets;
  if (info.optStart < 0) {
    wire = Buffer.from(response);
  } else if (info.optEnd === response.length) {
    wire = Buffer.from(response.subarray(0, info.optStart));
    wire.writeUInt16BE(wire.readUInt16BE(10) - 1, 10);
  } else {
    // OPT in the middle of the additional section: cut it out and shift the offsets after it.
    const cut = info.optEnd - info.optStart;
    wire = Buffer.concat([response.subarray(0, info.optStart), response.subarray(info.optEnd)]);
    wire.writeUInt16BE(wire.readUInt16BE(10) - 1, 10);
    offsets = offsets.map((o) => (o > info.optStart ? o - cut : o));
  }
  wire.writeUInt16BE(0, 0);
  const ttls = new Uint32Array(offsets.length);
  for (let i = 0; i < offsets.length; i++) ttls[i] = wire.readUInt32BE(offsets[i]!) & 0x7fffffff;
  return {
    wire,
    ttlOffsets: Uint16Array.from(offsets),
    ttls,
    storedAt: now,
    expiresAt: now + ttl * 1000,
  };
}

export class AnswerCache {
  private readonly map = new Map<string, CacheEntry>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(readonly limits: CacheLimits) {}

  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.map.delete(key);
      this.misses++;
      return undefined;
    }
    // Move to the most recent end. Map keeps insertion order, so the oldest is the first key.
    this.map.delete(key);
    this.map.set(key, entry);
    this.hits++;
    return entry;
  }

  /** Keeps an entry made by toEntry() under `key`, evicting the least recently used. */
  put(key: string, entry: CacheEntry): void {
    if (this.limits.maxEntries <= 0) return;
    this.map.delete(key);
    this.map.set(key, entry);
    while (this.map.size > this.limits.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.evictions++;
    }
  }

  clear(): void {
    this.map.clear();
  }

  stats(): CacheStats {
    return {
      entries: this.map.size,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }
}

/**
 * The reply to `q` from a cached (or just received) response: the stored bytes with the client's
 * id, RD bit and question spelling, TTLs less the time since storing, and an OPT record when the
 * client sent one. `opt` is the OPT record to append (prebuilt by the caller), or null.
 */
export function replyFromEntry(
  query: Buffer,
  q: ParsedQuery,
  entry: CacheEntry,
  now: number,
  opt: Buffer | null,
): Buffer {
  const wire = entry.wire;
  const optLen = opt ? opt.length : 0;
  const out = Buffer.allocUnsafe(wire.length + optLen);
  wire.copy(out, 0);
  out.writeUInt16BE(q.id, 0);
  // RD as the client asked; everything else as the upstream said.
  out[2] = (out[2]! & 0xfe) | ((q.flags >> 8) & 0x01);
  // The question as the client spelled it (same length: the names are equal ignoring case).
  query.copy(out, HEADER_LENGTH, HEADER_LENGTH, q.questionEnd);
  const elapsed = Math.floor((now - entry.storedAt) / 1000);
  const { ttlOffsets, ttls } = entry;
  if (elapsed > 0) {
    for (let i = 0; i < ttlOffsets.length; i++) {
      const left = ttls[i]! - elapsed;
      out.writeUInt32BE(Math.max(left, 0), ttlOffsets[i]!);
    }
  }
  if (opt) {
    opt.copy(out, wire.length);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  return out;
}
