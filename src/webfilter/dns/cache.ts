// The answer cache: upstream responses kept as wire bytes (id zeroed, OPT removed), with the
// offsets of their TTL fields, so that a hit is one copy plus a few patched integers and never a
// decode/encode. TTLs count down from the moment of storing (RFC 1035 §7.4); negative answers live
// for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5); a size cap evicts the least recently used entry.
import { copyRange, HEADER_LENGTH, type ParsedQuery, RCODE, type ResponseInfo } from './wire.ts';

export interface CacheEntry {
  readonly wire: Buffer;
  /**
   * Each TTL field as a pair: its offset in `wire`, then the TTL it had when stored. One array
   * rather than two: a cache hit touches as few objects as can be.
   */
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

/**
 * A response (without its OPT record, id zeroed) ready to answer from for `ttl` seconds. The entry
 * takes the response's octets over (a received datagram is the filter's own): they are changed in
 * place and must not be used for anything else afterwards.
 */
export function toEntry(
  response: Buffer,
  info: ResponseInfo,
  ttl: number,
  now: number,
): CacheEntry {
  let wire: Buffer;
  let offsets = info.ttlOffsets;
  if (info.optStart < 0) {
    wire = response;
  } else if (info.optEnd === response.length) {
    wire = response.subarray(0, info.optStart);
    wire.writeUInt16BE(wire.readUInt16BE(10) - 1, 10);
  } else {
    // OPT in the middle of the additional section: cut it out and shift the offsets after it.
    const cut = info.optEnd - info.optStart;
    wire = Buffer.concat([response.subarray(0, info.optStart), response.subarray(info.optEnd)]);
    wire.writeUInt16BE(wire.readUInt16BE(10) - 1, 10);
    offsets = offsets.map((o) => (o > info.optStart ? o - cut : o));
  }
  wire.writeUInt16BE(0, 0);
  const ttls = new Uint32Array(offsets.length * 2);
  for (let i = 0; i < offsets.length; i++) {
    ttls[2 * i] = offsets[i]!;
    ttls[2 * i + 1] = wire.readUInt32BE(offsets[i]!) & 0x7fffffff;
  }
  return { wire, ttls, storedAt: now, expiresAt: now + ttl * 1000 };
}

/** A cached answer and when it last moved to the recent end of the order. */
interface Held {
  readonly entry: CacheEntry;
  stamp: number;
}

/**
 * Answers by question key, the least recently used evicted first. A hit moves an answer to the
 * recent end only when it has drifted into the older half (maxEntries/2 stores or moves ago or
 * more), so that the answers asked for all the time cost a read and nothing else; an answer used
 * again before maxEntries/2 others have been stored or moved is never the one evicted.
 */
export class AnswerCache {
  private readonly map = new Map<string, Held>();
  /**
   * Walks the keys oldest first, kept from one eviction to the next: a fresh keys() iterator would
   * step over every entry deleted since the map was last compacted, which made each store into a
   * full cache cost tens of microseconds.
   */
  private order: MapIterator<string> = this.map.keys();
  private clock = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(readonly limits: CacheLimits) {}

  get(key: string, now: number): CacheEntry | undefined {
    const held = this.map.get(key);
    if (held === undefined) {
      this.misses++;
      return undefined;
    }
    if (held.entry.expiresAt <= now) {
      this.map.delete(key);
      this.misses++;
      return undefined;
    }
    if (this.clock - held.stamp >= this.limits.maxEntries >> 1) {
      // Map keeps insertion order, so the oldest is the first key: move this one to the end.
      this.map.delete(key);
      this.map.set(key, held);
      held.stamp = ++this.clock;
    }
    this.hits++;
    return held.entry;
  }

  /** Keeps an entry made by toEntry() under `key`, evicting the least recently used. */
  put(key: string, entry: CacheEntry): void {
    if (this.limits.maxEntries <= 0) return;
    this.map.delete(key);
    this.map.set(key, { entry, stamp: ++this.clock });
    while (this.map.size > this.limits.maxEntries) {
      let oldest = this.order.next();
      if (oldest.done) {
        this.order = this.map.keys();
        oldest = this.order.next();
      }
      this.map.delete(oldest.value as string);
      this.evictions++;
    }
  }

  clear(): void {
    this.map.clear();
    this.order = this.map.keys();
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
  out.set(wire, 0);
  out[0] = q.id >>> 8;
  out[1] = q.id & 0xff;
  // RD as the client asked; everything else as the upstream said.
  out[2] = (out[2]! & 0xfe) | ((q.flags >> 8) & 0x01);
  // The question as the client spelled it (same length: the names are equal ignoring case).
  copyRange(query, HEADER_LENGTH, q.questionEnd, out, HEADER_LENGTH);
  const elapsed = Math.floor((now - entry.storedAt) / 1000);
  const ttls = entry.ttls;
  if (elapsed > 0) {
    for (let i = 0; i < ttls.length; i += 2) {
      const at = ttls[i]!;
      const left = Math.max(ttls[i + 1]! - elapsed, 0);
      out[at] = left >>> 24;
      out[at + 1] = (left >>> 16) & 0xff;
      out[at + 2] = (left >>> 8) & 0xff;
      out[at + 3] = left & 0xff;
    }
  }
  if (opt) {
    out.set(opt, wire.length);
    const additional = ((out[10]! << 8) | out[11]!) + 1;
    out[10] = additional >>> 8;
    out[11] = additional & 0xff;
  }
  return out;
}
