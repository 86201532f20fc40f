// The web decision: one pure function of (policy, lists, who, where, when) that the HTTP proxy
// and the DNS filter both call on every request, and that "test a URL" in the console calls too.
// It returns the clause ids behind the answer. Nothing here does I/O; the per-profile category
// sets are computed once per engine (an engine is rebuilt whenever the policy, the lists or the
// registers change) so the hot path is a few map look-ups.
import type { CompiledPolicy } from '../policy/compiled.ts';
import { webCategoriesBlockedFor } from '../policy/decisions/web.ts';
import type { CategoryIndex, OverlayIndex } from './categories/index.ts';
import type { PersonalUseWindow, SubjectSnapshot, WebDevice, WebPerson } from './subjects.ts';

export type DecisionReason =
  | 'category' // a category blocked for this person (SYS-5, WEB-1, MIS-2 ...)
  | 'school-deny' // the school's own deny list
  | 'allow-list' // the school's own allow list let it through
  | 'restricted' // a restriction on this person (PER-4)
  | 'withdrawn' // internet access withdrawn (BRE-2)
  | 'unregistered-device' // SYS-6
  | 'personal-use' // an authorisation lifted a PER-2 block (PER-1/2)
  | 'safe-search' // allowed through the site's SafeSearch host (WEB-1; set by the DNS filter)
  | 'none'; // nothing applies: allowed

export interface WebFacts {
  /** The client's address as the filter saw it. */
  readonly clientIp: string;
  /** A person already identified (proxy authentication); otherwise found from the device. */
  readonly personId?: string | null;
  /** Normalised host (see categories/normalise.ts). */
  readonly host: string;
  /** For HTTP requests whose path the proxy can see. */
  readonly path?: string | undefined;
  readonly now: Date;
}

export interface WebDecision {
  readonly action: 'allow' | 'block';
  readonly reason: DecisionReason;
  /** The site's categories that decided (blocked ones when blocking; all of them otherwise). */
  readonly categories: readonly string[];
  readonly clauseIds: readonly string[];
  /** Tell the alert roles at once (MIS-2(j), pornography). */
  readonly alert: boolean;
  readonly person: WebPerson | null;
  readonly device: WebDevice | null;
}

export interface WebEngine {
  readonly policy: CompiledPolicy;
  readonly subjects: SubjectSnapshot;
  decide(facts: WebFacts): WebDecision;
}

const NONE: readonly string[] = Object.freeze([]);
const SCHOOL_DENY = 'school-deny';

/** What blocks a site under one profile: its blocked categories and the clauses behind them. */
interface Hits {
  readonly categories: readonly string[];
  readonly clauseIds: readonly string[];
  readonly reason: 'school-deny' | 'category';
  /** Every one blocked only under PER-2 (an open personal-use window lifts them). */
  readonly personalUseOnly: boolean;
}
const uniq = (xs: Iterable<string>): readonly string[] => Object.freeze([...new Set(xs)]);

const isOverlay = (index: CategoryIndex | OverlayIndex): index is OverlayIndex =>
  typeof (index as OverlayIndex).classify === 'function';

/** Is the personal-use window open at `now` (server local time for the daily hours)? */
export function windowOpen(w: PersonalUseWindow, now: Date): boolean {
  const y = now.getFullYear();
  const m = String(now.getMonth() + 1).padStart(2, '0');
  const d = String(now.getDate()).padStart(2, '0');
  const today = `${y}-${m}-${d}`;
  if (today < w.startsOn || (w.endsOn !== null && today > w.endsOn)) return false;
  if (w.dailyFrom && w.dailyTo) {
    const hhmm = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
    return hhmm >= w.dailyFrom && hhmm < w.dailyTo;
  }
  return true;
}

// A module function rather than a closure made on every decision.
function block(
  reason: DecisionReason,
  categories: readonly string[],
  clauseIds: readonly string[],
  alert: boolean,
  person: WebPerson | null,
  device: WebDevice | null,
): WebDecision {
  return { action: 'block', reason, categories, clauseIds, alert, person, device };
}

function parentSuffixes(host: string): string[] {
  const out = [host];
  let i = host.indexOf('.');
  while (i >= 0) {
    out.push(host.slice(i + 1));
    i = host.indexOf('.', i + 1);
  }
  return out;
}

export function createWebEngine(
  policy: CompiledPolicy,
  index: CategoryIndex | OverlayIndex,
  subjects: SubjectSnapshot,
): WebEngine {
  const profiles = new Map<string, Map<string, string[]>>();
  // Categories whose only reason to be blocked is the personal-use prohibition (PER-2): the ones an
  // authorisation may lift. Never SYS-5, WEB-1 or MIS-2 categories.
  const personalUseOnly = new Set<string>();
  for (const [id, def] of policy.web.categories) {
    if (def.clauseIds.length > 0 && def.clauseIds.every((c) => c.startsWith('PER-'))) {
      personalUseOnly.add(id);
    }
  }
  const withdrawnClauses = uniq(['BRE-2']);
  const restrictedClauses = uniq(['PER-4']);
  const personalUseClauses = uniq(['PER-1', 'PER-2']);

  function blockedFor(kind: string | null, groups: readonly string[], registered: boolean) {
    const key = `${kind ?? ''}|${groups.join(',')}|${registered ? 1 : 0}`;
    let blocked = profiles.get(key);
    if (!blocked) {
      blocked = webCategoriesBlockedFor(policy, { kind, groups, deviceRegistered: registered });
      profiles.set(key, blocked);
    }
    return blocked;
  }

  // The blocked categories of each person, and what blocks a site's categories under each profile,
  // worked out once: the index hands out one array per combination of categories, so these stay
  // as few as the profiles times the combinations, and equal decisions share their arrays.
  const personProfiles = new WeakMap<WebPerson, Map<string, string[]>>();
  const hitsByProfile = new Map<Map<string, string[]>, Map<readonly string[], Hits>>();
  let hitsKept = 0;

  function profileOf(person: WebPerson | null, registered: boolean) {
    if (person === null) return blockedFor(null, NONE, registered);
    let blocked = personProfiles.get(person);
    if (blocked === undefined) {
      blocked = blockedFor(person.kind, person.groups, true);
      personProfiles.set(person, blocked);
    }
    return blocked;
  }

  function hitsFor(blocked: Map<string, string[]>, categories: readonly string[]): Hits {
    let forProfile = hitsByProfile.get(blocked);
    if (forProfile === undefined) {
      forProfile = new Map();
      hitsByProfile.set(blocked, forProfile);
    }
    let hits = forProfile.get(categories);
    if (hits === undefined) {
      const found = categories.filter((c) => blocked.has(c) || c === SCHOOL_DENY);
      hits = {
        categories: Object.freeze(found),
        clauseIds: uniq(
          found.flatMap((c) => (c === SCHOOL_DENY ? ['MIS-1'] : (blocked.get(c) ?? []))),
        ),
        reason: found.includes(SCHOOL_DENY) ? 'school-deny' : 'category',
        personalUseOnly: found.every((c) => personalUseOnly.has(c)),
      };
      // An index that made a new array per look-up would grow this without end: start again.
      if (++hitsKept > 100_000) {
        hitsByProfile.clear();
        hitsKept = 0;
      }
      forProfile.set(categories, hits);
    }
    return hits;
  }

  function categoriesOf(
    host: string,
    path: string | undefined,
  ): { list: 'allow' | 'deny' | null; categories: readonly string[] } {
    if (isOverlay(index))
      return path === undefined ? index.classify(host) : index.classifyUrl(host, path);
    return {
      list: null,
      categories: path === undefined ? index.lookup(host) : index.lookupUrl(host, path),
    };
  }

  return {
    policy,
    subjects,
    decide(facts) {
      const device = subjects.devicesByIp.get(facts.clientIp) ?? null;
      const personId = facts.personId ?? device?.personId ?? null;
      const person = personId ? (subjects.people.get(personId) ?? null) : null;
      const site = categoriesOf(facts.host, facts.path);
      const alert = site.categories.some((c) => policy.web.categories.get(c)?.alert === true);

      if (person?.withdrawal) {
        return block('withdrawn', site.categories, withdrawnClauses, alert, person, device);
      }
      if (person && person.restrictedHosts.size > 0) {
        for (const suffix of parentSuffixes(facts.host)) {
          if (person.restrictedHosts.has(suffix))
            return block('restricted', site.categories, restrictedClauses, alert, person, device);
        }
      }
      const registered = person !== null || device !== null;
      if (!registered && policy.web.unregisteredDevices.mode === 'block-all') {
        return block(
          'unregistered-device',
          site.categories,
          policy.web.unregisteredDevices.clauseIds,
          alert,
          person,
          device,
        );
      }
      if (site.list === 'allow') {
        return {
          action: 'allow',
          reason: 'allow-list',
          categories: NONE,
          clauseIds: NONE,
          alert: false,
          person,
          device,
        };
      }
      if (site.categories.length === 0) {
        return {
          action: 'allow',
          reason: 'none',
          categories: NONE,
          clauseIds: NONE,
          alert: false,
          person,
          device,
        };
      }
      const hits = hitsFor(profileOf(person, registered), site.categories);
      if (hits.categories.length === 0) {
        return {
          action: 'allow',
          reason: 'none',
          categories: site.categories,
          clauseIds: NONE,
          alert,
          person,
          device,
        };
      }
      // PER-1/2: an open personal-use window lifts the categories blocked only under PER-2.
      if (person && person.personalUse.length > 0 && hits.personalUseOnly) {
        const lifted = person.personalUse.some(
          (w) =>
            windowOpen(w, facts.now) &&
            hits.categories.every((c) => w.categories.length === 0 || w.categories.includes(c)),
        );
        if (lifted) {
          return {
            action: 'allow',
            reason: 'personal-use',
            categories: site.categories,
            clauseIds: personalUseClauses,
            alert,
            person,
            device,
          };
        }
      }
      return block(hits.reason, hits.categories, hits.clauseIds, alert, person, device);
    },
  };
}
