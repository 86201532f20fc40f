// An open-addressing hash table from host names to small integers, built for the suffix walk of
// every web request and DNS query. Keys live in one byte buffer; a slot is two int32s (the key's
// hash and its offset). The hash runs over the name from right to left, so walking a query from
// its last character gives the hash of every parent suffix on the way, without substrings. Each
// proper suffix of a listed name is stored as a marker (value 0), which lets a walk stop at the
// first suffix that is not in the table, and each key records whether longer keys end with it,
// which lets a walk stop at a listed name with nothing listed under it (most of them).
// Decisions: docs/decisions/003-category-matcher.md.

import { type HostKind, isCanonicalIPv4, lookupForm } from './normalise.ts';

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const GOLDEN = 0x9e3779b1 | 0;
/** Key header in the buffer: length (1 byte), then 3 bytes little-endian: value (23 bits) and
 * the "longer keys end with this one" flag (top bit). */
const HEADER = 4;
/** Largest value a key can carry. */
export const MAX_VALUE = 0x7fffff;
const PARENT = 0x800000;
const ABSENT = -1;
const SLOW = -2;
/** Slots are 8 bytes, so even the longer probe runs of a fuller table stay in a cache line. */
const MAX_LOAD = 0.75;

/** The 32-bit hash a key is stored under (FNV-1a over the name read right to left). */
export function hostHash(name: string): number {
  let h = FNV_OFFSET;
  for (let i = name.length - 1; i >= 0; i--) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
  return h;
}

function capacityFor(keys: number): number {
  let cap = 1024;
  while (cap * MAX_LOAD < keys) cap *= 2;
  return cap;
}

function isIpKey(buf: Uint8Array, from: number, end: number): boolean {
  for (let i = end - 1; i >= from; i--) {
    const c = buf[i]!;
    if (c === 58) return true; // ':' only in IPv6 keys
    if (c === 46) return i < end - 1; // last label was all digits
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Mutable stage: add keys, merge their values, then `freeze()` into a `HostTable`. */
export class HostTableBuilder {
  private slots: Int32Array;
  private shift: number;
  private mask: number;
  private count = 0;
  private buf: Uint8Array;
  private used = 1; // offset 0 means an empty slot

  constructor(expectedKeys = 0) {
    const cap = capacityFor(expectedKeys);
    this.slots = new Int32Array(cap * 2);
    this.shift = 32 - Math.log2(cap);
    this.mask = cap - 1;
    this.buf = new Uint8Array(Math.max(4096, expectedKeys * 20));
  }

  /**
   * The buffer offset of `name`'s key, adding it (value 0) if absent, and adding every proper
   * suffix of a name as a marker. `name` must already be normalised (see normaliseHost).
   */
  upsert(name: string, kind: HostKind): number {
    return this.upsertRange(name, 0, name.length, kind);
  }

  /** `upsert` for `text[start, end)`: a list parser hands lines over without slicing them. */
  upsertRange(name: string, start: number, end: number, kind: HostKind): number {
    let h = FNV_OFFSET;
    for (let i = end - 1; i >= start; i--) {
      const c = name.charCodeAt(i);
      if (c === 46 && kind === 'name') {
        const found = this.find(h, name, i + 1, end);
        const suffix = found !== 0 ? found : this.insert(h, name, i + 1, end);
        this.buf[suffix + 3] = this.buf[suffix + 3]! | (PARENT >>> 16);
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const found = this.find(h, name, start, end);
    return found !== 0 ? found : this.insert(h, name, start, end);
  }

  valueAt(offset: number): number {
    const b = this.buf;
    return (b[offset + 1]! | (b[offset + 2]! << 8) | (b[offset + 3]! << 16)) & MAX_VALUE;
  }

  setValueAt(offset: number, value: number): void {
    if (value < 0 || value > MAX_VALUE) throw new RangeError('host table value out of range');
    const b = this.buf;
    b[offset + 1] = value & 0xff;
    b[offset + 2] = (value >>> 8) & 0xff;
    b[offset + 3] = (b[offset + 3]! & (PARENT >>> 16)) | (value >>> 16);
  }

  /**
   * Give each listed name the merge of its own value and those of its listed parents, so that a
   * lookup needs only the longest listed suffix. `merge` must be associative, commutative and
   * idempotent (a set union).
   */
  propagate(merge: (a: number, b: number) => number): void {
    const b = this.buf;
    // Listed keys that other keys end with are few; a bitmap of their hashes (small enough to
    // stay in cache) lets the pass below skip the table for every other suffix.
    const bits = new Int32Array(1 << 15); // 2^20 bits
    let parents = 0;
    for (let off = 1; off < this.used; off += HEADER + b[off]!) {
      if (b[off + 3]! & (PARENT >>> 16) && this.valueAt(off) !== 0) {
        const h = Math.imul(this.hashAt(off), GOLDEN) >>> 12;
        bits[h >>> 5] = bits[h >>> 5]! | (1 << (h & 31));
        parents++;
      }
    }
    if (parents === 0) return;
    for (let off = 1; off < this.used; off += HEADER + b[off]!) {
      let value = this.valueAt(off);
      const from = off + HEADER;
      const end = from + b[off]!;
      if (value === 0 || isIpKey(b, from, end)) continue;
      let h = FNV_OFFSET;
      let changed = false;
      for (let i = end - 1; i > from; i--) {
        const c = b[i]!;
        if (c === 46) {
          const bit = Math.imul(h, GOLDEN) >>> 12;
          if (bits[bit >>> 5]! & (1 << (bit & 31))) {
            const parent = this.findBytes(h, i + 1, end);
            const pv = parent === 0 ? 0 : this.valueAt(parent);
            if (pv !== 0) {
              const merged = merge(value, pv);
              if (merged !== value) {
                value = merged;
                changed = true;
              }
            }
          }
        }
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      if (changed) this.setValueAt(off, value);
    }
  }

  private hashAt(off: number): number {
    const b = this.buf;
    let h = FNV_OFFSET;
    for (let i = off + HEADER + b[off]! - 1; i >= off + HEADER; i--)
      h = Math.imul(h ^ b[i]!, FNV_PRIME);
    return h;
  }

  freeze(): HostTable {
    let listed = 0;
    const b = this.buf;
    for (let off = 1; off < this.used; off += HEADER + b[off]!) {
      if (this.valueAt(off) !== 0) listed++;
    }
    // Copy to the exact size only when that saves much: the copy doubles the memory for a moment.
    const buf =
      this.used < this.buf.length * 0.75
        ? this.buf.slice(0, this.used)
        : this.buf.subarray(0, this.used);
    const table = new HostTable(this.slots, buf, this.shift, this.mask, listed, this.count);
    this.slots = new Int32Array(0);
    this.buf = new Uint8Array(0);
    return table;
  }

  private find(h: number, s: string, from: number, end: number): number {
    const slots = this.slots;
    const b = this.buf;
    const len = end - from;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      const off = slots[2 * i + 1]!;
      if (off === 0) return 0;
      if (slots[2 * i] === h && b[off] === len) {
        let k = 0;
        const p = off + HEADER - from;
        while (k < len && b[p + from + k] === s.charCodeAt(from + k)) k++;
        if (k === len) return off;
      }
      i = (i + 1) & this.mask;
    }
  }

  private findBytes(h: number, from: number, end: number): number {
    const slots = this.slots;
    const b = this.buf;
    const len = end - from;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      const off = slots[2 * i + 1]!;
      if (off === 0) return 0;
      if (slots[2 * i] === h && b[off] === len) {
        let k = 0;
        while (k < len && b[off + HEADER + k] === b[from + k]) k++;
        if (k === len) return off;
      }
      i = (i + 1) & this.mask;
    }
  }

  private insert(h: number, s: string, from: number, end: number): number {
    const len = end - from;
    if (len > 255) throw new RangeError('host name too long for the table');
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow();
    if (this.used + HEADER + len > this.buf.length) {
      const bigger = new Uint8Array(
        Math.max(Math.ceil(this.buf.length * 1.5), this.used + HEADER + len),
      );
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    const off = this.used;
    const b = this.buf;
    b[off] = len;
    b[off + 1] = 0;
    b[off + 2] = 0;
    b[off + 3] = 0;
    for (let k = 0; k < len; k++) b[off + HEADER + k] = s.charCodeAt(from + k);
    this.used += HEADER + len;
    this.place(h, off);
    this.count++;
    return off;
  }

  private place(h: number, off: number): void {
    const slots = this.slots;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = off;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = new Int32Array(cap * 2);
    this.shift = 32 - Math.log2(cap);
    this.mask = cap - 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
    }
  }
}

/** Immutable stage: the longest listed suffix of a host, in a few probes and no allocation. */
export class HostTable {
  constructor(
    private readonly slots: Int32Array,
    private readonly buf: Uint8Array,
    private readonly shift: number,
    private readonly mask: number,
    /** Keys with a non-zero value (listed names and addresses). */
    readonly listed: number,
    /** All keys, markers included. */
    readonly keys: number,
  ) {}

  /** Bytes held by the table (slots and key buffer). */
  get byteLength(): number {
    return this.slots.byteLength + this.buf.byteLength;
  }

  /**
   * The value of the longest listed suffix of `host` (the host itself or a parent domain), or 0.
   * Accepts any spelling (case, trailing dot, IDN, IP literals, a port); see lookupForm.
   */
  get(host: string): number {
    let end = host.length;
    if (end > 0 && host.charCodeAt(end - 1) === 46) end--;
    if (end === 0) return 0;
    const last = host.charCodeAt(end - 1);
    if (last < 48 || last > 57) {
      const v = this.walk(host, end);
      if (v !== SLOW) return v;
    } else if (isCanonicalIPv4(host, end)) {
      return this.exact(host, end);
    }
    const form = lookupForm(host);
    if (form === null) return 0;
    if (form.kind !== 'name') return this.exact(form.host, form.host.length);
    const v = this.walk(form.host, form.host.length);
    return v === SLOW ? 0 : v;
  }

  private exact(s: string, end: number): number {
    let h = FNV_OFFSET;
    for (let i = end - 1; i >= 0; i--) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
    const raw = this.probe(h, s, 0, end);
    return raw === ABSENT ? 0 : raw & MAX_VALUE;
  }

  /** Right-to-left walk; SLOW when the name holds characters only `lookupForm` can handle. */
  private walk(s: string, end: number): number {
    let h = FNV_OFFSET;
    let best = 0;
    for (let i = end - 1; i >= 0; i--) {
      let c = s.charCodeAt(i);
      if (c === 46) {
        if (i === end - 1) return SLOW;
        const raw = this.probe(h, s, i + 1, end);
        if (raw === ABSENT) return best;
        const v = raw & MAX_VALUE;
        if (v !== 0) best = v;
        if (raw < PARENT) return best; // nothing longer is listed
      } else if (c >= 97 ? c > 122 : (c < 48 || c > 57) && c !== 45 && c !== 95) {
        if (c >= 65 && c <= 90) c |= 32;
        else return SLOW;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const raw = this.probe(h, s, 0, end);
    return raw > 0 && (raw & MAX_VALUE) !== 0 ? raw & MAX_VALUE : best;
  }

  /** The key's value and flag, or ABSENT. `s[from, end)` holds only name characters and A-Z. */
  private probe(h: number, s: string, from: number, end: number): number {
    const slots = this.slots;
    const b = this.buf;
    const len = end - from;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      const off = slots[2 * i + 1]!;
      if (off === 0) return ABSENT;
      if (slots[2 * i] === h && b[off] === len) {
        const p = off + HEADER;
        let k = 0;
        for (; k < len; k++) {
          const q = s.charCodeAt(from + k);
          const c = b[p + k]!;
          if (q !== c && (q | 32) !== c) break;
        }
        if (k === len) return b[off + 1]! | (b[off + 2]! << 8) | (b[off + 3]! << 16);
      }
      i = (i + 1) & this.mask;
    }
  }
}
