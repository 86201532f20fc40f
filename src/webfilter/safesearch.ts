// SafeSearch as UK school filters enforce it: the search and video sites publish a "safe" host name
// each (Google forcesafesearch.google.com, Bing strict.bing.com, DuckDuckGo safe.duckduckgo.com,
// YouTube restrict / restrictmoderate.youtube.com) whose addresses serve only filtered results,
// whatever the browser's own setting. The DNS filter answers the usual names with a CNAME to the
// safe one and the proxy connects to the safe one's address. Pure: a name and a policy in, the
// safe name out, from one Map built once per policy.
import type { ClauseRefs, CompiledPolicy } from '../policy/compiled.ts';
import type { WebDecision } from './engine.ts';

export type SafeSearchProvider = 'google' | 'bing' | 'duckduckgo' | 'youtube';

export interface SafeSearchTarget {
  readonly provider: SafeSearchProvider;
  /** The name whose addresses answer instead of the one asked for. */
  readonly safeHost: string;
  readonly clauseIds: ClauseRefs;
}

export const SAFE_HOSTS = {
  google: 'forcesafesearch.google.com',
  bing: 'strict.bing.com',
  duckduckgo: 'safe.duckduckgo.com',
  youtubeStrict: 'restrict.youtube.com',
  youtubeModerate: 'restrictmoderate.youtube.com',
} as const;

/**
 * Google's search domains, as https://www.google.com/supported_domains lists them (without the
 * leading dot). Each is mapped with and without "www.". The list changes rarely; a domain missing
 * here is not rewritten, so keep it in step with Google's.
 */
export const GOOGLE_SEARCH_DOMAINS: readonly string[] = Object.freeze(
  `google.com google.ad google.ae google.com.af google.com.ag google.al google.am google.co.ao
  google.com.ar google.as google.at google.com.au google.az google.ba google.com.bd google.be
  google.bf google.bg google.com.bh google.bi google.bj google.com.bn google.com.bo google.com.br
  google.bs google.bt google.co.bw google.by google.com.bz google.ca google.cd google.cf google.cg
  google.ch google.ci google.co.ck google.cl google.cm google.cn google.com.co google.co.cr
  google.com.cu google.cv google.com.cy google.cz google.de google.dj google.dk google.dm
  google.com.do google.dz google.com.ec google.ee google.com.eg google.es google.com.et google.fi
  google.com.fj google.fm google.fr google.ga google.ge google.gg google.com.gh google.com.gi
  google.gl google.gm google.gr google.com.gt google.gy google.com.hk google.hn google.hr
  google.ht google.hu google.co.id google.ie google.co.il google.im google.co.in google.iq
  google.is google.it google.je google.com.jm google.jo google.co.jp google.co.ke google.com.kh
  google.ki google.kg google.co.kr google.com.kw google.kz google.la google.com.lb google.li
  google.lk google.co.ls google.lt google.lu google.lv google.com.ly google.co.ma google.md
  google.me google.mg google.mk google.ml google.com.mm google.mn google.com.mt google.mu
  google.mv google.mw google.com.mx google.com.my google.co.mz google.com.na google.com.ng
  google.com.ni google.ne google.nl google.no google.com.np google.nr google.nu google.co.nz
  google.com.om google.com.pa google.com.pe google.com.pg google.com.ph google.com.pk google.pl
  google.pn google.com.pr google.ps google.pt google.com.py google.com.qa google.ro google.ru
  google.rw google.com.sa google.com.sb google.sc google.se google.com.sg google.sh google.si
  google.sk google.com.sl google.sn google.so google.sm google.sr google.st google.com.sv
  google.td google.tg google.co.th google.com.tj google.tl google.tm google.tn google.to
  google.com.tr google.tt google.com.tw google.co.tz google.com.ua google.co.ug google.co.uk
  google.com.uy google.co.uz google.com.vc google.co.ve google.co.vi google.com.vn google.vu
  google.ws google.rs google.co.za google.co.zm google.co.zw google.cat`
    .split(/\s+/)
    .filter((d) => d.length > 0),
);

/** Microsoft's guidance: www.bing.com (and the bare name) to strict.bing.com. */
export const BING_NAMES: readonly string[] = Object.freeze(['www.bing.com', 'bing.com']);

/** DuckDuckGo's: the search names to safe.duckduckgo.com. */
export const DUCKDUCKGO_NAMES: readonly string[] = Object.freeze([
  'duckduckgo.com',
  'www.duckduckgo.com',
  'start.duckduckgo.com',
]);

/** Google's "Restrict YouTube content on your network": these five, no more. */
export const YOUTUBE_NAMES: readonly string[] = Object.freeze([
  'www.youtube.com',
  'm.youtube.com',
  'youtubei.googleapis.com',
  'youtube.googleapis.com',
  'www.youtube-nocookie.com',
]);

const EMPTY: ReadonlyMap<string, SafeSearchTarget> = new Map();
const tables = new WeakMap<CompiledPolicy, ReadonlyMap<string, SafeSearchTarget>>();

/** Every name the policy rewrites, with its target (one target object per provider). */
export function safeSearchTable(policy: CompiledPolicy): ReadonlyMap<string, SafeSearchTarget> {
  let table = tables.get(policy);
  if (table !== undefined) return table;
  const s = policy.web.safeSearch;
  const out = new Map<string, SafeSearchTarget>();
  const add = (provider: SafeSearchProvider, safeHost: string, names: readonly string[]) => {
    const target: SafeSearchTarget = Object.freeze({
      provider,
      safeHost,
      clauseIds: s.clauseIds,
    });
    for (const name of names) out.set(name, target);
  };
  if (s.google) {
    add('google', SAFE_HOSTS.google, [
      ...GOOGLE_SEARCH_DOMAINS,
      ...GOOGLE_SEARCH_DOMAINS.map((d) => `www.${d}`),
    ]);
  }
  if (s.bing) add('bing', SAFE_HOSTS.bing, BING_NAMES);
  if (s.duckduckgo) add('duckduckgo', SAFE_HOSTS.duckduckgo, DUCKDUCKGO_NAMES);
  if (s.youtube !== 'off') {
    const host = s.youtube === 'strict' ? SAFE_HOSTS.youtubeStrict : SAFE_HOSTS.youtubeModerate;
    add('youtube', host, YOUTUBE_NAMES);
  }
  table = out.size > 0 ? out : EMPTY;
  tables.set(policy, table);
  return table;
}

/**
 * The safe name to answer `host` with under `policy`, or null when the name is not rewritten.
 * `host` is normalised (lower case, no final dot), as the filters hand it to the engine.
 */
export function safeSearchTarget(host: string, policy: CompiledPolicy): SafeSearchTarget | null {
  return safeSearchTable(policy).get(host) ?? null;
}

/** The name to resolve for `host`: its SafeSearch name, or itself. For the proxy's look-ups. */
export function safeSearchHost(host: string, policy: CompiledPolicy): string {
  return safeSearchTable(policy).get(host)?.safeHost ?? host;
}

// Per engine-shared clause array, the same merged array for each target: decisions that are equal
// stay equal (the DNS filter shares its kept outcomes by comparing them).
const merged = new WeakMap<readonly string[], Map<SafeSearchTarget, readonly string[]>>();

/** An allowed decision as recorded when the name went to its safe host: reason 'safe-search'. */
export function withSafeSearch(decision: WebDecision, target: SafeSearchTarget): WebDecision {
  let byTarget = merged.get(decision.clauseIds);
  if (byTarget === undefined || byTarget.size > 64) {
    // Targets are made per policy: a long-lived array would collect one per policy loaded.
    byTarget = new Map();
    merged.set(decision.clauseIds, byTarget);
  }
  let clauseIds = byTarget.get(target);
  if (clauseIds === undefined) {
    clauseIds = Object.freeze([...new Set([...decision.clauseIds, ...target.clauseIds])]);
    byTarget.set(target, clauseIds);
  }
  return { ...decision, reason: 'safe-search', clauseIds };
}
