// Numbered slots for records held in columns (typed arrays and plain arrays indexed by slot) rather
// than one object each. The activity recorder keeps every decision waiting to be written and every
// open visit this way: a school's lookups of new names make hundreds of thousands of them a minute,
// and as objects they all outlived the young generation, so that each scavenge copied them (see
// docs/decisions/013-activity-in-columns.md). A slot is a small integer; columns hold numbers
// without boxes and strings by reference.

/** `a` grown (doubling) to hold at least `n` entries, its contents kept; `a` itself when it does. */
export function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, n: number): A {
  if (n <= a.length) return a;
  let size = Math.max(16, a.length);
  while (size < n) size *= 2;
  const b = new (a.constructor as new (size: number) => A)(size);
  b.set(a);
  return b;
}

/** Slot numbers handed out and given back; a released slot is handed out again first. */
export class SlotPool {
  private readonly free: number[] = [];
  /** Slots ever handed out: every slot is below this. */
  size = 0;
  /** Slots handed out now. */
  used = 0;

  take(): number {
    this.used++;
    return this.free.length > 0 ? this.free.pop()! : this.size++;
  }

  release(slot: number): void {
    this.used--;
    this.free.push(slot);
  }
}

/**
 * Slots in the order they were placed, oldest first. Removing one only marks it; the marks are
 * cleared when the list compacts (when it would otherwise grow, or on compact()).
 */
export class SlotOrder {
  private order = new Int32Array(1024);
  /** Per slot: where in `order` it is, or -1. */
  private at = new Int32Array(1024).fill(-1);
  private head = 0;
  private length = 0;
  /** Slots placed and not removed. */
  live = 0;

  place(slot: number): void {
    if (slot >= this.at.length) {
      const before = this.at.length;
      this.at = grown(this.at, slot + 1);
      this.at.fill(-1, before);
    }
    if (this.length === this.order.length) {
      if (this.live < this.length / 2) this.compact();
      else this.order = grown(this.order, this.length + 1);
    }
    this.order[this.length] = slot;
    this.at[slot] = this.length++;
    this.live++;
  }

  remove(slot: number): void {
    if (slot < this.at.length && this.at[slot]! >= 0) {
      this.at[slot] = -1;
      this.live--;
    }
  }

  has(slot: number): boolean {
    return slot < this.at.length && this.at[slot]! >= 0;
  }

  /** The oldest slot still placed, or -1. */
  oldest(): number {
    while (this.head < this.length) {
      const slot = this.order[this.head]!;
      if (this.at[slot] === this.head) return slot;
      this.head++;
    }
    return -1;
  }

  /** The slots placed, oldest first, as they are now (a copy: the caller may remove them). */
  slots(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.length; i++) {
      const slot = this.order[i]!;
      if (this.at[slot] === i) out.push(slot);
    }
    return out;
  }

  /**
   * The slots placed, oldest first, as long as `include` holds (a copy, like slots()): the scan
   * stops at the first slot for which it does not.
   */
  leading(include: (slot: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.length; i++) {
      const slot = this.order[i]!;
      if (this.at[slot] !== i) continue;
      if (!include(slot)) break;
      out.push(slot);
    }
    return out;
  }

  /** Drops the marks of removed slots, keeping the order. */
  compact(): void {
    let n = 0;
    for (let i = this.head; i < this.length; i++) {
      const slot = this.order[i]!;
      if (this.at[slot] !== i) continue;
      this.order[n] = slot;
      this.at[slot] = n++;
    }
    this.head = 0;
    this.length = n;
  }
}
