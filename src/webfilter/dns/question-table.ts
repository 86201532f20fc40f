// A table keyed by (client, question octets) for the DNS filter's hot path, kept in typed arrays:
// a look-up reads one slot and one record that holds the key's octets beside its value, where a
// Map of strings would read its bucket, its entry, the stored key string and the value object, and
// would want a string made from every query first. Under load the processor's caches hold little
// of a large table, so what a look-up costs is mostly how many places in memory it touches.
//
// Entries are never deleted one by one. The bound works by generations: new entries go into the
// current generation; when that holds half the bound it becomes the previous one (the one before
// is dropped), and an entry found only in the previous generation is copied into the current one.
// So an entry asked for again before maxEntries/2 others were added is still there, and no more
// than maxEntries are held. A probe run is cut short after MAX_PROBES slots: names crafted to
// collide cost a bounded amount (the hash is seeded per process besides, see wire.ts).

const MAX_PROBES = 32;
/** Record layout, in 32-bit words: client, value, key length, entry number; then the key octets. */
const CLIENT = 0;
const VALUE = 1;
const LENGTH = 2;
const NUMBER = 3;
const HEADER_WORDS = 4;

class Generation<T> {
  /** Pairs of (hash, record offset + 1); 0 marks an empty slot. */
  readonly slots: Int32Array;
  readonly mask: number;
  words: Int32Array;
  octets: Uint8Array;
  /** Words used in the record store. */
  used = 0;
  count = 0;
  /** Per entry number: an object and a number the caller keeps with the entry. */
  readonly refs: (T | undefined)[] = [];
  readonly stamps: Float64Array;

  constructor(readonly capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.slots = new Int32Array(size * 2);
    this.mask = size - 1;
    this.words = new Int32Array(1024);
    this.octets = new Uint8Array(this.words.buffer);
    this.stamps = new Float64Array(capacity);
  }

  /** Room for a record of `length` key octets (the store grown when needed); its offset. */
  reserve(length: number): number {
    const need = HEADER_WORDS + ((length + 3) >> 2);
    if (this.used + need > this.words.length) {
      const words = new Int32Array(Math.max(this.words.length * 2, this.used + need));
      words.set(this.words.subarray(0, this.used));
      this.words = words;
      this.octets = new Uint8Array(words.buffer);
    }
    const at = this.used;
    this.used += need;
    return at;
  }

  /** The record offset of (client, key), or -1. */
  locate(client: number, hash: number, key: Uint8Array, length: number): number {
    const slots = this.slots;
    const words = this.words;
    let slot = hash & this.mask;
    for (let probes = 0; probes < MAX_PROBES; probes++) {
      const stored = slots[slot * 2 + 1]!;
      if (stored === 0) return -1;
      if (slots[slot * 2] === hash) {
        const at = stored - 1;
        if (words[at + CLIENT] === client && words[at + LENGTH] === length) {
          const octets = this.octets;
          const base = (at + HEADER_WORDS) * 4;
          let i = 0;
          while (i < length && octets[base + i] === key[i]) i++;
          if (i === length) return at;
        }
      }
      slot = (slot + 1) & this.mask;
    }
    return -1;
  }
}

/**
 * 32-bit values by client number and question key (its octets and a 32-bit hash of them), each entry with an object and a number
 * the caller may keep beside it. An entry is a handle valid until the next add() (which may start
 * a new generation): take what is needed from it at once.
 */
export class QuestionTable<T> {
  private current: Generation<T>;
  private previous: Generation<T> | null = null;
  private readonly generation: number;

  constructor(readonly maxEntries: number) {
    this.generation = Math.max(1, Math.floor(maxEntries / 2));
    this.current = new Generation(this.generation);
  }

  /**
   * The entry for `client` asking the question whose key is `key[0, length)` (hash `hash`), or -1.
   * An entry found in the previous generation is copied into the current one first.
   */
  find(client: number, hash: number, key: Uint8Array, length: number): number {
    hash |= 0;
    const at = this.current.locate(client, hash, key, length);
    if (at >= 0) return at;
    const previous = this.previous;
    if (previous === null) return -1;
    const old = previous.locate(client, hash, key, length);
    if (old < 0) return -1;
    const entry = this.add(client, hash, key, length, previous.words[old + VALUE]!);
    if (entry >= 0) {
      const number = previous.words[old + NUMBER]!;
      this.setRef(entry, previous.refs[number]);
      this.setStamp(entry, previous.stamps[number]!);
    }
    return entry;
  }

  /** Adds an entry (call after find() missed); its handle, or -1 when it was not kept. */
  add(client: number, hash: number, key: Uint8Array, length: number, value: number): number {
    if (this.maxEntries <= 0) return -1;
    hash |= 0;
    if (this.current.count >= this.generation) {
      this.previous = this.current;
      this.current = new Generation(this.generation);
    }
    const g = this.current;
    let slot = hash & g.mask;
    for (let probes = 0; g.slots[slot * 2 + 1] !== 0; probes++) {
      if (probes >= MAX_PROBES) return -1;
      slot = (slot + 1) & g.mask;
    }
    const at = g.reserve(length);
    const number = g.count++;
    g.words[at + CLIENT] = client;
    g.words[at + VALUE] = value;
    g.words[at + LENGTH] = length;
    g.words[at + NUMBER] = number;
    const octets = g.octets;
    const base = (at + HEADER_WORDS) * 4;
    for (let i = 0; i < length; i++) octets[base + i] = key[i]!;
    g.slots[slot * 2] = hash;
    g.slots[slot * 2 + 1] = at + 1;
    g.refs[number] = undefined;
    g.stamps[number] = Number.NEGATIVE_INFINITY;
    return at;
  }

  value(entry: number): number {
    return this.current.words[entry + VALUE]!;
  }

  setValue(entry: number, value: number): void {
    this.current.words[entry + VALUE] = value;
  }

  ref(entry: number): T | undefined {
    return this.current.refs[this.current.words[entry + NUMBER]!];
  }

  setRef(entry: number, ref: T | undefined): void {
    this.current.refs[this.current.words[entry + NUMBER]!] = ref;
  }

  stamp(entry: number): number {
    return this.current.stamps[this.current.words[entry + NUMBER]!]!;
  }

  setStamp(entry: number, stamp: number): void {
    this.current.stamps[this.current.words[entry + NUMBER]!] = stamp;
  }

  clear(): void {
    if (this.previous === null && this.current.count === 0) return;
    this.previous = null;
    this.current = new Generation(this.generation);
  }

  /** Entries held (both generations; one copied forward counts twice). */
  get size(): number {
    return this.current.count + (this.previous?.count ?? 0);
  }
}
