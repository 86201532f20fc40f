// A school's own allow and deny lists laid over the category lists. An allowed name (or a name
// under an allowed domain) has no categories at all; a denied one gets the category
// `school-deny` on top of its list categories. Between the two, the more specific entry wins
// (deny google.com, allow classroom.google.com); the same name in both is denied. Pure.

import { type HostTable, HostTableBuilder } from './host-table.ts';
import type { CategoryIndex } from './matcher.ts';
import { normaliseHost } from './normalise.ts';

export const SCHOOL_DENY = 'school-deny';

const ALLOW = 1;
const DENY = 2;

export interface SchoolLists {
  /** Names (covering their subdomains) and addresses the school allows whatever their category. */
  readonly allow?: Iterable<string>;
  /** Names and addresses the school blocks; they get the category `school-deny`. */
  readonly deny?: Iterable<string>;
}

export interface HostVerdict {
  /** Which school list decided, if one did. */
  readonly list: 'allow' | 'deny' | null;
  /** The categories to apply: none when allowed; `school-deny` added when denied. */
  readonly categories: readonly string[];
}

export interface OverlayIndex extends CategoryIndex {
  readonly base: CategoryIndex;
  readonly allowCount: number;
  readonly denyCount: number;
  classify(host: string): HostVerdict;
  classifyUrl(host: string, path: string): HostVerdict;
}

const EMPTY: readonly string[] = Object.freeze([]);

class SchoolOverlay implements OverlayIndex {
  private readonly withDeny = new Map<readonly string[], readonly string[]>();
  private readonly names: readonly string[];
  private readonly verdicts = new Map<readonly string[], HostVerdict>();
  private readonly allowed: HostVerdict = Object.freeze({ list: 'allow', categories: EMPTY });

  constructor(
    readonly base: CategoryIndex,
    private readonly table: HostTable,
    readonly allowCount: number,
    readonly denyCount: number,
  ) {
    const names = new Set(base.categories());
    names.add(SCHOOL_DENY);
    this.names = Object.freeze([...names].sort());
  }

  get size(): number {
    return this.base.size;
  }

  get urlCount(): number {
    return this.base.urlCount;
  }

  lookup(host: string): readonly string[] {
    const list = this.table.get(host);
    if (list === ALLOW) return EMPTY;
    const categories = this.base.lookup(host);
    return list & DENY ? this.denied(categories) : categories;
  }

  lookupUrl(host: string, path: string): readonly string[] {
    const list = this.table.get(host);
    if (list === ALLOW) return EMPTY;
    const categories = this.base.lookupUrl(host, path);
    return list & DENY ? this.denied(categories) : categories;
  }

  classify(host: string): HostVerdict {
    const list = this.table.get(host);
    if (list === ALLOW) return this.allowed;
    return this.verdict(list, this.base.lookup(host));
  }

  classifyUrl(host: string, path: string): HostVerdict {
    const list = this.table.get(host);
    if (list === ALLOW) return this.allowed;
    return this.verdict(list, this.base.lookupUrl(host, path));
  }

  categories(): readonly string[] {
    return this.names;
  }

  countFor(category: string): number {
    return category === SCHOOL_DENY ? this.denyCount : this.base.countFor(category);
  }

  private verdict(list: number, categories: readonly string[]): HostVerdict {
    if (list & DENY) {
      const denied = this.denied(categories);
      let v = this.verdicts.get(denied);
      if (v === undefined) {
        v = Object.freeze({ list: 'deny', categories: denied });
        this.verdicts.set(denied, v);
      }
      return v;
    }
    let v = this.verdicts.get(categories);
    if (v === undefined) {
      v = Object.freeze({ list: null, categories });
      this.verdicts.set(categories, v);
    }
    return v;
  }

  private denied(categories: readonly string[]): readonly string[] {
    let out = this.withDeny.get(categories);
    if (out === undefined) {
      out = categories.includes(SCHOOL_DENY)
        ? categories
        : Object.freeze([...categories, SCHOOL_DENY].sort());
      this.withDeny.set(categories, out);
    }
    return out;
  }
}

/**
 * Lays the school's allow and deny lists over `base`. Entries must be valid names or addresses
 * (parse the files with `parseList(text, { format: 'domains' })` first); throws RangeError
 * otherwise.
 */
export function createOverlay(base: CategoryIndex, lists: SchoolLists): OverlayIndex {
  const builder = new HostTableBuilder();
  let allowCount = 0;
  let denyCount = 0;
  const add = (host: string, mark: number, which: string) => {
    const n = normaliseHost(host);
    if (!n.ok) throw new RangeError(`invalid host "${host}" in the ${which} list: ${n.reason}`);
    const off = builder.upsert(n.host, n.kind);
    const old = builder.valueAt(off);
    if ((old & mark) === 0) {
      builder.setValueAt(off, old | mark);
      return true;
    }
    return false;
  };
  for (const host of lists.allow ?? []) if (add(host, ALLOW, 'allow')) allowCount++;
  for (const host of lists.deny ?? []) if (add(host, DENY, 'deny')) denyCount++;
  // The longest listed suffix decides; a name in both lists (value 3) is denied.
  const table = builder.freeze();
  return new SchoolOverlay(base, table, allowCount, denyCount);
}
