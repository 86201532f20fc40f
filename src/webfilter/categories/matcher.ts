// The category index: which categories a host (and a URL) belongs to. Built once from parsed
// lists, then read by every web request and DNS query. A host belongs to the categories of
// itself and of every listed parent domain; `urls` entries add categories for a host (or a
// subdomain of it) and a path prefix. Pure: no I/O.

import { type HostTable, HostTableBuilder } from './host-table.ts';
import { IntSetInterner } from './int-sets.ts';
import {
  type HostKind,
  isStoredName,
  normaliseHost,
  normalisePath,
  normaliseUrl,
} from './normalise.ts';
import { type UrlRules, UrlRulesBuilder } from './url-rules.ts';

/** A `urls` entry: a host (covering its subdomains) and a path prefix starting with `/`. */
export interface UrlEntry {
  readonly host: string;
  readonly path: string;
}

/** One category's entries, as parsed from its lists. */
export interface CategorySource {
  readonly name: string;
  readonly domains?: Iterable<string>;
  /** `host/path` strings or parsed entries. */
  readonly urls?: Iterable<string | UrlEntry>;
}

export interface CategoryIndex {
  /** Listed host names and IP addresses. */
  readonly size: number;
  /** Distinct `urls` entries (host, path, category). */
  readonly urlCount: number;
  /**
   * The categories of `host` and of its listed parent domains, sorted; an empty array when none.
   * The array is frozen and shared: compare it, never change it.
   */
  lookup(host: string): readonly string[];
  /** `lookup(host)` plus the categories of `urls` entries whose host and path prefix match. */
  lookupUrl(host: string, path: string): readonly string[];
  /** Every category name known to the index, sorted. */
  categories(): readonly string[];
  /** How many names and addresses list `category` themselves (parents not counted). */
  countFor(category: string): number;
}

export interface IndexStats {
  readonly names: number;
  readonly keys: number;
  readonly urlRules: number;
  readonly categorySets: number;
  /** Bytes held by the typed arrays of the tables. */
  readonly tableBytes: number;
}

/** Category names as the policy pack spells them (e.g. social_networks, audio-video). */
export const CATEGORY_NAME = /^[a-z][a-z0-9_-]*$/;

const EMPTY: readonly string[] = Object.freeze([]);

export class CategoryIndexBuilder {
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly domainCounts: number[] = [];
  private readonly sets = new IntSetInterner();
  private readonly domains: HostTableBuilder;
  private readonly urls = new UrlRulesBuilder(this.sets);
  private built = false;

  constructor(options: { readonly expectedDomains?: number } = {}) {
    this.domains = new HostTableBuilder(options.expectedDomains ?? 0);
  }

  /** Registers a category (it then appears in `categories()` even with no entries). */
  category(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    if (!CATEGORY_NAME.test(name)) {
      throw new RangeError(
        `invalid category name "${name}": use lower case letters, digits, - and _ (e.g. social_networks)`,
      );
    }
    const id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    this.domainCounts.push(0);
    return id;
  }

  /** Lists `host` (a name, covering its subdomains, or an IP address) under `category`. */
  addDomain(category: string, host: string): void {
    this.assertOpen();
    const cat = this.category(category);
    if (isStoredName(host)) {
      this.addNormalisedDomain(cat, host, 'name');
      return;
    }
    const n = normaliseHost(host);
    if (!n.ok) throw new RangeError(`invalid host "${host}" in ${category}: ${n.reason}`);
    this.addNormalisedDomain(cat, n.host, n.kind);
  }

  /**
   * The loader's path: `host` as `normaliseHost` (or a list parser) returned it, `category` as
   * `category()` returned it. Skips the checks `addDomain` makes.
   */
  addNormalisedDomain(cat: number, host: string, kind: HostKind): void {
    this.assertOpen();
    this.setDomain(cat, this.domains.upsert(host, kind));
  }

  private setDomain(cat: number, off: number): void {
    const old = this.domains.valueAt(off);
    const next = this.sets.union(old, this.sets.single(cat));
    if (next !== old) {
      this.domains.setValueAt(off, next);
      this.domainCounts[cat]!++;
    }
  }

  /** Lists a `urls` entry: `host/path` (a scheme is allowed), or a host and a path. */
  addUrl(category: string, hostOrUrl: string, path?: string): void {
    this.assertOpen();
    const cat = this.category(category);
    let parsed: { host: string; kind: HostKind; path: string };
    if (path === undefined) {
      const u = normaliseUrl(hostOrUrl);
      if (!u.ok)
        throw new RangeError(`invalid URL entry "${hostOrUrl}" in ${category}: ${u.reason}`);
      parsed = u;
    } else {
      const h = normaliseHost(hostOrUrl);
      if (!h.ok) throw new RangeError(`invalid host "${hostOrUrl}" in ${category}: ${h.reason}`);
      parsed = { host: h.host, kind: h.kind, path: normalisePath(path) };
    }
    this.urls.add(parsed.host, parsed.kind, parsed.path, cat);
  }

  /** `addNormalisedDomain` for a name that is `text[start, end)`, in stored form (isStoredName). */
  addNormalisedDomainRange(cat: number, text: string, start: number, end: number): void {
    this.assertOpen();
    this.setDomain(cat, this.domains.upsertRange(text, start, end, 'name'));
  }

  /** The loader's path for a `urls` entry parsed by `normaliseUrl` (see addNormalisedDomain). */
  addNormalisedUrl(cat: number, host: string, kind: HostKind, path: string): void {
    this.assertOpen();
    this.urls.add(host, kind, path, cat);
  }

  build(): CategoryIndex {
    this.assertOpen();
    this.built = true;
    this.domains.propagate((a, b) => this.sets.union(a, b));
    return new HashedCategoryIndex(
      this.names,
      this.domainCounts,
      this.sets,
      this.domains.freeze(),
      this.urls.build(),
    );
  }

  private assertOpen(): void {
    if (this.built) throw new Error('this builder has already built its index');
  }
}

class HashedCategoryIndex implements CategoryIndex {
  private readonly labels: (readonly string[] | undefined)[] = [EMPTY];
  private readonly sortedNames: readonly string[];
  readonly size: number;
  readonly urlCount: number;

  constructor(
    private readonly names: readonly string[],
    private readonly domainCounts: readonly number[],
    private readonly sets: IntSetInterner,
    private readonly domains: HostTable,
    private readonly urls: UrlRules,
  ) {
    this.size = domains.listed;
    this.urlCount = urls.entries;
    this.sortedNames = Object.freeze([...names].sort());
    for (let id = 1; id < sets.size; id++) this.labelsOf(id);
  }

  lookup(host: string): readonly string[] {
    const id = this.domains.get(host);
    return id === 0 ? EMPTY : (this.labels[id] ?? this.labelsOf(id));
  }

  lookupUrl(host: string, path: string): readonly string[] {
    const id = this.urls.match(host, normalisePath(path), this.domains.get(host));
    return id === 0 ? EMPTY : (this.labels[id] ?? this.labelsOf(id));
  }

  categories(): readonly string[] {
    return this.sortedNames;
  }

  countFor(category: string): number {
    const id = this.names.indexOf(category);
    return id < 0 ? 0 : this.domainCounts[id]!;
  }

  stats(): IndexStats {
    return {
      names: this.size,
      keys: this.domains.keys + this.urls.keys,
      urlRules: this.urls.entries,
      categorySets: this.sets.size - 1,
      tableBytes: this.domains.byteLength + this.urls.byteLength,
    };
  }

  private labelsOf(id: number): readonly string[] {
    const labels = Object.freeze(
      this.sets
        .members(id)
        .map((c) => this.names[c]!)
        .sort(),
    );
    this.labels[id] = labels;
    return labels;
  }
}

/** Builds an immutable index from parsed sources. Throws RangeError on an invalid entry. */
export function buildIndex(
  sources: Iterable<CategorySource>,
  options: { readonly expectedDomains?: number } = {},
): CategoryIndex {
  const builder = new CategoryIndexBuilder(options);
  for (const source of sources) {
    builder.category(source.name);
    for (const host of source.domains ?? []) builder.addDomain(source.name, host);
    for (const url of source.urls ?? []) {
      if (typeof url === 'string') builder.addUrl(source.name, url);
      else builder.addUrl(source.name, url.host, url.path);
    }
  }
  return builder.build();
}

/** Table statistics of an index built here (for benchmarks and `custos` diagnostics). */
export function indexStats(index: CategoryIndex): IndexStats | null {
  return index instanceof HashedCategoryIndex ? index.stats() : null;
}
