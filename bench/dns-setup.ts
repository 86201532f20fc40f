// What the DNS benchmarks share: the Custos DNS filter as they run it (the shipped pack with all
// 18 UT1 categories of the peer baselines blocked, a staff member's registered device at
// 127.0.0.1, activity recorded to SQLite or not), and the deterministic query mix.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { createPolicyHolder } from '../src/policy/holder.ts';
import { formatPackError, loadPolicyPackFromText } from '../src/policy/loader.ts';
import { openStore } from '../src/store/database.ts';
import { migrate } from '../src/store/migrations/index.ts';
import { type ActivityRecorder, createActivityRecorder } from '../src/webfilter/activity.ts';
import { loadCategoryFolder, normaliseHost } from '../src/webfilter/categories/index.ts';
import { type DnsFilter, startDnsFilter } from '../src/webfilter/dns/server.ts';
import { createWebFilterState } from '../src/webfilter/state.ts';
import { addDevice, addPerson } from '../test/support/seed.ts';
import { BASELINE_CATEGORIES, LISTS, ROOT } from './baseline.ts';

const PACK = join(ROOT, 'policy-packs/palfrey-infant/policy.yaml');
export const CATEGORIES = BASELINE_CATEGORIES;
/** What the upstream stand-in answers for every name. */
export const ALLOWED_ADDRESS = '192.0.2.1';

/** The bench pack: the shipped one with the three missing UT1 categories blocked for everyone. */
function benchPolicy() {
  let text = readFileSync(PACK, 'utf8');
  const extra = ['shortener', 'filehosting', 'remote-control'];
  text = text.replace(
    /\n {2}categories:\n/,
    `\n  categories:\n${extra.map((c) => `    ${c}:\n      name: ${c}\n      clauseIds: [WEB-1]\n`).join('')}`,
  );
  text = text.replace(
    /(\n {2}everyone:\n {4}block:\n {6}\[\n)/,
    `$1        ${extra.join(', ')},\n`,
  );
  const loaded = loadPolicyPackFromText(text, 'policy.yaml');
  if (!loaded.ok) throw new Error(loaded.errors.map(formatPackError).join('\n'));
  return loaded.policy;
}

export interface BenchFilter {
  filter: DnsFilter;
  activity: ActivityRecorder;
  stop(): Promise<void>;
}

/**
 * The filter as it runs in production: the web engine per query, block answers from the pack (the
 * block-page address), activity recorded to SQLite in `dir` unless `recorded` is false.
 */
export async function startBenchFilter(options: {
  dir: string;
  port: number;
  upstream: string;
  recorded: boolean;
}): Promise<BenchFilter> {
  const store = await openStore({ sqlitePath: join(options.dir, `custos-${process.pid}.db`) });
  await migrate(store);
  const personId = await addPerson(store, {
    email: 'bench@school.test',
    givenName: 'Bench',
    familyName: 'Mark',
  });
  await addDevice(store, personId, { label: 'bench' });
  const { index } = await loadCategoryFolder(LISTS, { only: CATEGORIES });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const state = await createWebFilterState({
    store,
    policy: createPolicyHolder(benchPolicy()),
    lists: index,
    log,
  });
  const activity = createActivityRecorder(store, { log });
  const filter = await startDnsFilter(
    { state, activity: options.recorded ? activity : null, log },
    {
      ...loadConfig({ env: {} }).dns,
      host: '127.0.0.1',
      port: options.port,
      upstreams: [options.upstream],
    },
  );
  return {
    filter,
    activity,
    async stop() {
      await filter.stop();
      await activity.stop();
      state.stop();
      await store.destroy();
    },
  };
}

/** The DNS names of the baseline categories' lists. */
export function listedNames(): string[] {
  const names = new Set<string>();
  for (const category of CATEGORIES) {
    const text = readFileSync(join(LISTS, category, 'domains'), 'utf8');
    for (const line of text.split('\n')) {
      const raw = line.trim();
      if (!raw || raw.startsWith('#')) continue;
      const n = normaliseHost(raw);
      if (n.ok && n.kind === 'name' && n.host.includes('.')) names.add(n.host);
    }
  }
  return [...names];
}

/** A deterministic generator, so that every run asks the same queries. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * `total` queries (A), as lines of a dnsperf file ("name A"): half listed names (as they are, with
 * www. or another subdomain) drawn from `blockedPool` of them (0: from the whole list), half
 * allowed names drawn from a pool of `allowedPool`.
 */
export function queryFile(
  names: string[],
  total: number,
  allowedPool: number,
  salt: string,
  blockedPool = 0,
): string {
  // The salt also seeds the draw, so that each empty-cache pass asks other listed names too.
  let seed = total + allowedPool;
  for (let i = 0; i < salt.length; i++) seed = (seed * 31 + salt.charCodeAt(i)) >>> 0;
  const random = rng(seed);
  const listed =
    blockedPool > 0
      ? Array.from({ length: blockedPool }, () => names[Math.floor(random() * names.length)]!)
      : names;
  const lines: string[] = [];
  for (let i = 0; i < total; i++) {
    if (i % 2 === 0) {
      const name = listed[Math.floor(random() * listed.length)]!;
      const r = random();
      lines.push(`${r < 0.34 ? name : r < 0.67 ? `www.${name}` : `cdn${i % 97}.${name}`} A`);
    } else {
      lines.push(`n${Math.floor(random() * allowedPool)}-${salt}.allowed-bench.test A`);
    }
  }
  return `${lines.join('\n')}\n`;
}
