// The `urls` entries: for a host (covering its subdomains), path prefixes with their category
// set. A request path is checked at its `/` and `?` boundaries against a map of the host's
// prefixes, so a host with a thousand entries (docs.google.com in the malware lists) costs a
// few map reads, not a thousand comparisons. Prefixes holding a query match as plain prefixes.

import { type HostTable, HostTableBuilder } from './host-table.ts';
import type { IntSetInterner } from './int-sets.ts';
import type { HostKind } from './normalise.ts';

interface HostRules {
  /** Prefix without a query -> category set id. */
  readonly boundary: ReadonlyMap<string, number>;
  /** Prefixes holding a `?`, matched as plain prefixes. */
  readonly query: readonly { readonly path: string; readonly set: number }[];
}

export class UrlRulesBuilder {
  private readonly hosts = new HostTableBuilder();
  /** Per host (value - 1 in the host table): path -> category set id. */
  private readonly paths: Map<string, number>[] = [];
  /** Distinct (host, path, category) entries. */
  entries = 0;

  constructor(private readonly sets: IntSetInterner) {}

  add(host: string, kind: HostKind, path: string, category: number): void {
    const off = this.hosts.upsert(host, kind);
    let slot = this.hosts.valueAt(off);
    if (slot === 0) {
      slot = this.paths.push(new Map());
      this.hosts.setValueAt(off, slot);
    }
    const paths = this.paths[slot - 1]!;
    const old = paths.get(path) ?? 0;
    const next = this.sets.union(old, this.sets.single(category));
    if (next !== old) {
      paths.set(path, next);
      this.entries++;
    }
  }

  build(): UrlRules {
    // A host also carries its listed parents' entries, so a lookup reads one host's rules.
    this.hosts.propagate((a, b) => {
      const merged = new Map(this.paths[a - 1]!);
      for (const [path, set] of this.paths[b - 1]!) {
        merged.set(path, this.sets.union(merged.get(path) ?? 0, set));
      }
      return this.paths.push(merged);
    });
    const rules: (HostRules | undefined)[] = [undefined];
    for (const paths of this.paths) {
      const boundary = new Map<string, number>();
      const query: { path: string; set: number }[] = [];
      for (const [path, set] of paths) {
        if (path.includes('?')) query.push({ path, set });
        else boundary.set(path, set);
      }
      rules.push({ boundary, query });
    }
    return new UrlRules(this.hosts.freeze(), rules, this.sets, this.entries);
  }
}

export class UrlRules {
  constructor(
    private readonly hosts: HostTable,
    private readonly rules: readonly (HostRules | undefined)[],
    private readonly sets: IntSetInterner,
    readonly entries: number,
  ) {}

  get byteLength(): number {
    return this.hosts.byteLength;
  }

  get keys(): number {
    return this.hosts.keys;
  }

  /**
   * Adds to category set `set` the categories of the entries matching `host` and `path`
   * (normalised: starts with `/`, no fragment). A prefix matches at a boundary: `/webmail` covers
   * `/webmail`, `/webmail/x` and `/webmail?x` but not `/webmailer`; `/webmail/` also covers
   * `/webmail`.
   */
  match(host: string, path: string, set: number): number {
    const slot = this.hosts.get(host);
    if (slot === 0) return set;
    const rules = this.rules[slot]!;
    let result = set;
    const boundary = rules.boundary;
    if (boundary.size > 0) {
      const add = (candidate: string) => {
        const s = boundary.get(candidate);
        if (s !== undefined) result = this.sets.union(result, s);
      };
      let end = path.length;
      for (let k = 0; k < path.length; k++) {
        const c = path.charCodeAt(k);
        if (c === 47) {
          if (k > 0) add(path.slice(0, k));
          add(path.slice(0, k + 1));
        } else if (c === 63) {
          end = k;
          break;
        }
      }
      if (end === path.length) {
        add(path);
        add(`${path}/`);
      } else {
        add(path.slice(0, end));
      }
    }
    for (const rule of rules.query) {
      if (path.startsWith(rule.path)) result = this.sets.union(result, rule.set);
    }
    return result;
  }
}
