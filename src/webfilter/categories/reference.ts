// The naive matcher the tests and the benchmark compare against: a JS Map from name to its
// categories and a walk over the parent suffixes with substrings. Obviously right, slower, and
// hungrier for memory; not used by the gateways.

import { normaliseHost, normalisePath } from './normalise.ts';

/** A `urls` prefix matches at a boundary: the path's end, `/` or `?` (any continuation when the
 * prefix ends with `/` or holds a query); a prefix `/a/` also covers `/a`. */
export function referencePathMatches(prefix: string, path: string): boolean {
  if (path.startsWith(prefix)) {
    if (path.length === prefix.length || prefix.endsWith('/') || prefix.includes('?')) return true;
    const next = path[prefix.length];
    return next === '/' || next === '?';
  }
  return prefix.endsWith('/') && path === prefix.slice(0, -1);
}

export class ReferenceMatcher {
  private readonly names = new Map<string, Set<string>>();
  private readonly urls: { host: string; path: string; category: string }[] = [];

  get size(): number {
    return this.names.size;
  }

  /** `host` must be normalised (see normaliseHost). */
  add(category: string, host: string): void {
    let set = this.names.get(host);
    if (set === undefined) {
      set = new Set();
      this.names.set(host, set);
    }
    set.add(category);
  }

  /** `host` and `path` must be normalised (see normaliseUrl). */
  addUrl(category: string, host: string, path: string): void {
    this.urls.push({ host, path, category });
  }

  lookupUrl(host: string, path: string): string[] {
    const n = normaliseHost(host);
    if (!n.ok) return [];
    const p = normalisePath(path);
    const found = new Set(this.lookup(host));
    for (const u of this.urls) {
      const hostMatches = n.host === u.host || (n.kind === 'name' && n.host.endsWith(`.${u.host}`));
      if (hostMatches && referencePathMatches(u.path, p)) found.add(u.category);
    }
    return [...found].sort();
  }

  lookup(host: string): string[] {
    const n = normaliseHost(host);
    if (!n.ok) return [];
    const found = new Set<string>();
    const collect = (name: string) => {
      for (const c of this.names.get(name) ?? []) found.add(c);
    };
    if (n.kind !== 'name') {
      collect(n.host);
    } else {
      let name = n.host;
      for (;;) {
        collect(name);
        const dot = name.indexOf('.');
        if (dot < 0) break;
        name = name.slice(dot + 1);
      }
    }
    return [...found].sort();
  }
}
