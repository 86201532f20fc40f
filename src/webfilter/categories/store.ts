// Holds the index the gateways read, so that new lists can be loaded beside the old ones and
// swapped in at once: a request sees either the old index or the new one, never a mix.

import { buildIndex, type CategoryIndex } from './matcher.ts';

export class CategoryStore<T extends CategoryIndex = CategoryIndex> {
  #current: T;
  #version = 1;

  constructor(initial: T) {
    this.#current = initial;
  }

  /** The index to use for one request; keep it for the whole request. */
  current(): T {
    return this.#current;
  }

  /** Counts swaps, starting at 1, so a gateway can tell that the lists changed. */
  get version(): number {
    return this.#version;
  }

  /** Puts `next` in place and returns the index it replaces. */
  swap(next: T): T {
    const previous = this.#current;
    this.#current = next;
    this.#version++;
    return previous;
  }
}

/** An index with no categories, for a gateway that starts before its lists are loaded. */
export function emptyIndex(): CategoryIndex {
  return buildIndex([]);
}
