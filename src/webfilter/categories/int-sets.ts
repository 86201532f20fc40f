// Interned sets of small integers (category ids, URL rule ids). Most names carry one category,
// and the distinct combinations are few, so a name stores the id of its set, and every lookup
// that ends on the same set returns the same frozen array.

const PAIR = 0x1000000; // ids stay below 2^24 (three bytes in the host table)

export class IntSetInterner {
  private readonly ids = new Map<string, number>();
  private readonly sets: (readonly number[])[] = [[]];
  private readonly unions = new Map<number, number>();
  private readonly singles = new Map<number, number>();

  /** Number of distinct sets, the empty set (id 0) included. */
  get size(): number {
    return this.sets.length;
  }

  members(id: number): readonly number[] {
    return this.sets[id]!;
  }

  /** The id of the set holding exactly `values` (any order, duplicates ignored). */
  intern(values: readonly number[]): number {
    const sorted = [...new Set(values)].sort((a, b) => a - b);
    const key = sorted.join(',');
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const id = this.sets.length;
    if (id >= PAIR) throw new RangeError('too many distinct sets');
    this.sets.push(Object.freeze(sorted));
    this.ids.set(key, id);
    return id;
  }

  /** The id of the set `{ value }`. */
  single(value: number): number {
    let id = this.singles.get(value);
    if (id === undefined) {
      id = this.intern([value]);
      this.singles.set(value, id);
    }
    return id;
  }

  /** The id of the union of two sets; cached, so steady-state calls allocate nothing. */
  union(a: number, b: number): number {
    if (a === b || b === 0) return a;
    if (a === 0) return b;
    const key = a < b ? a * PAIR + b : b * PAIR + a;
    const known = this.unions.get(key);
    if (known !== undefined) return known;
    const id = this.intern([...this.sets[a]!, ...this.sets[b]!]);
    this.unions.set(key, id);
    return id;
  }
}
