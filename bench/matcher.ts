// Benchmark: the category matcher (src/webfilter/categories) beside two plain-JavaScript
// alternatives measured in the same run on the same lists and queries:
//   reference  the naive matcher the tests use: a Map from name to a Set of categories, walked
//              over every parent suffix with substrings, collecting a new array per lookup;
//   js-map     a tuned JS Map: each name maps to a shared frozen array holding its own and its
//              parents' categories, and the walk stops at the longest listed suffix.
//
// Run it (--expose-gc makes the memory figures settle):
//   node --expose-gc --import tsx bench/matcher.ts                  # 200,000 and 2,000,000 names
//   node --expose-gc --import tsx bench/matcher.ts --domains 2000000 --queries 1000000
//   npx tsx bench/matcher.ts --pin                                  # each run on CPU 0 (taskset)
//
// The 200,000 case loads the 18 UT1 categories of the peer baselines (about 199,600 names), the
// 2,000,000 case loads every shipped list in lists/ut1 plus generated names. Each implementation
// loads and answers in its own child process, so its memory figures are its own. Queries: half
// listed (as listed, with www., or with another subdomain), half not listed. Figures printed:
// load time, heap + typed arrays and RSS after load, peak RSS, lookups per second on one core,
// and the per-lookup cost of batches of 1,000 (p50, p99). Compare the ratios, not the absolute
// numbers: machines differ and are noisy.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseList } from '../src/webfilter/categories/formats.ts';
import { loadCategoryFolder } from '../src/webfilter/categories/loader.ts';
import { indexStats } from '../src/webfilter/categories/matcher.ts';
import { normaliseHost } from '../src/webfilter/categories/normalise.ts';
import { ReferenceMatcher } from '../src/webfilter/categories/reference.ts';
import { BASELINE_CATEGORIES } from './baseline.ts';

const SHIPPED = join(import.meta.dirname, '../lists/ut1');
const BATCH = 1000;

const { values: args } = parseArgs({
  options: {
    domains: { type: 'string' },
    queries: { type: 'string', default: '1000000' },
    passes: { type: 'string', default: '3' },
    pin: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    impl: { type: 'string', default: 'custos,js-map,reference' },
    child: { type: 'string' },
    dir: { type: 'string' },
    only: { type: 'string' },
    'query-file': { type: 'string' },
  },
});

type Impl = 'custos' | 'js-map' | 'reference';

interface ChildResult {
  impl: Impl;
  names: number;
  loadMs: number;
  heapMb: number;
  rssMb: number;
  peakRssMb: number;
  /** RSS of the process with its code loaded, before the lists (Node, tsx, the modules). */
  baseRssMb: number;
  lookupsPerSecond: number;
  /** Lookups per second of CPU time: what one core gives when the machine is shared. */
  lookupsPerCpuSecond: number;
  loadCpuMs: number;
  p50Ns: number;
  p99Ns: number;
  checksum: number;
  tableMb?: number;
}

// ---------------------------------------------------------------------------------------------
// Child: load with one implementation, then time lookups.

interface Matcher {
  lookup(host: string): readonly string[];
}

/** The tuned JS Map alternative (see the header). */
class JsMapMatcher implements Matcher {
  private readonly map = new Map<string, readonly string[]>();
  private static readonly EMPTY: readonly string[] = Object.freeze([]);

  constructor(raw: Map<string, Set<string>>) {
    const sets = new Map<string, readonly string[]>();
    for (const [name, own] of raw) {
      const all = new Set(own);
      if (!/^[0-9.]+$/.test(name) && !name.includes(':')) {
        for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
          for (const c of raw.get(name.slice(dot + 1)) ?? []) all.add(c);
        }
      }
      const sorted = [...all].sort();
      const key = sorted.join(',');
      let shared = sets.get(key);
      if (shared === undefined) {
        shared = Object.freeze(sorted);
        sets.set(key, shared);
      }
      this.map.set(name, shared);
    }
  }

  lookup(host: string): readonly string[] {
    let name = host;
    // Same spelling rules as the others, on the slow path only.
    if (/[^a-z0-9._-]|\.$/.test(name)) {
      const n = normaliseHost(host);
      if (!n.ok) return JsMapMatcher.EMPTY;
      name = n.host;
    }
    for (;;) {
      const found = this.map.get(name);
      if (found !== undefined) return found;
      const dot = name.indexOf('.');
      if (dot < 0) return JsMapMatcher.EMPTY;
      name = name.slice(dot + 1);
    }
  }
}

async function loadReferenceData(
  dir: string,
  only: string[] | null,
): Promise<Map<string, Set<string>>> {
  const raw = new Map<string, Set<string>>();
  for (const category of readdirSync(dir).sort()) {
    if (only !== null && !only.includes(category)) continue;
    let text: string;
    try {
      text = readFileSync(join(dir, category, 'domains'), 'utf8');
    } catch {
      continue;
    }
    for (const name of parseList(text, { format: 'domains' }).domains) {
      let set = raw.get(name);
      if (set === undefined) {
        set = new Set();
        raw.set(name, set);
      }
      set.add(category);
    }
  }
  return raw;
}

function flatStrings(text: string): string[] {
  // Buffer round trips give flat strings, as a DNS or HTTP parser would.
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Buffer.from(l, 'latin1').toString('latin1'));
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

async function child(impl: Impl): Promise<void> {
  const dir = args.dir!;
  const only = args.only ? args.only.split(',') : null;
  settle();
  const baseRssMb = process.memoryUsage().rss / 1e6;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let matcher: Matcher;
  let names: number;
  let tableMb: number | undefined;
  if (impl === 'custos') {
    const { index } = await loadCategoryFolder(dir, only ? { only } : {});
    matcher = index;
    names = index.size;
    tableMb = (indexStats(index)?.tableBytes ?? 0) / 1e6;
  } else {
    const raw = await loadReferenceData(dir, only);
    names = raw.size;
    if (impl === 'js-map') {
      matcher = new JsMapMatcher(raw);
    } else {
      const ref = new ReferenceMatcher();
      for (const [name, set] of raw) for (const c of set) ref.add(c, name);
      matcher = ref;
    }
  }
  const loadMs = performance.now() - t0;
  const loadCpu = process.cpuUsage(c0);
  settle();
  const mem = process.memoryUsage();
  const heapMb = (mem.heapUsed + mem.arrayBuffers) / 1e6;
  const rssMb = mem.rss / 1e6;
  const peakRssMb = (process.resourceUsage().maxRSS * 1024) / 1e6;

  const queries = flatStrings(readFileSync(args['query-file']!, 'utf8'));
  let checksum = 0;
  for (const q of queries) checksum += matcher.lookup(q).length; // warm-up and check
  const passes = Number(args.passes);
  const batches: number[] = [];
  let total = 0n;
  let sink = 0;
  const cpu0 = process.cpuUsage();
  for (let pass = 0; pass < passes; pass++) {
    for (let i = 0; i + BATCH <= queries.length; i += BATCH) {
      const start = process.hrtime.bigint();
      for (let j = i; j < i + BATCH; j++) sink += matcher.lookup(queries[j]!).length;
      const ns = process.hrtime.bigint() - start;
      total += ns;
      batches.push(Number(ns) / BATCH);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  if (sink < 0) console.error(sink);
  batches.sort((a, b) => a - b);
  const pct = (p: number) => batches[Math.min(batches.length - 1, Math.floor(batches.length * p))]!;
  const result: ChildResult = {
    impl,
    names,
    loadMs,
    heapMb,
    rssMb,
    peakRssMb,
    baseRssMb,
    lookupsPerSecond: (batches.length * BATCH) / (Number(total) / 1e9),
    lookupsPerCpuSecond: (batches.length * BATCH) / ((cpu.user + cpu.system) / 1e6),
    loadCpuMs: (loadCpu.user + loadCpu.system) / 1000,
    p50Ns: pct(0.5),
    p99Ns: pct(0.99),
    checksum,
    ...(tableMb === undefined ? {} : { tableMb }),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent: prepare lists and queries, run each implementation in a child, print the table.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TLDS = [
  'com',
  'com',
  'com',
  'com',
  'net',
  'org',
  'fr',
  'de',
  'co.uk',
  'info',
  'ru',
  'xyz',
  'io',
  'nl',
  'it',
];
const SYLLABLES =
  'ba be bi bo bu ca ce co da de di do fa fe fi ga go ha he ho ka ke ki ko la le li lo ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi vo za ze zo'.split(
    ' ',
  );

function randomName(rand: () => number): string {
  let label = '';
  const syllables = 2 + Math.floor(rand() * 4);
  for (let i = 0; i < syllables; i++) label += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
  if (rand() < 0.5) label += Math.floor(rand() * 1000);
  if (rand() < 0.15) label += `-${SYLLABLES[Math.floor(rand() * SYLLABLES.length)]}`;
  const tld = TLDS[Math.floor(rand() * TLDS.length)];
  return rand() < 0.2
    ? `${SYLLABLES[Math.floor(rand() * SYLLABLES.length)]}${Math.floor(rand() * 10)}.${label}.${tld}`
    : `${label}.${tld}`;
}

function covered(listed: Set<string>, host: string): boolean {
  for (let name = host; ; ) {
    if (listed.has(name)) return true;
    const dot = name.indexOf('.');
    if (dot < 0) return false;
    name = name.slice(dot + 1);
  }
}

function prepare(
  target: number,
  work: string,
  queryCount: number,
): { dir: string; only: string[] | null; names: number } {
  const dir = join(work, `lists-${target}`);
  mkdirSync(dir, { recursive: true });
  const only = target <= 250_000 ? [...BASELINE_CATEGORIES] : null;
  const listed = new Set<string>();
  for (const category of readdirSync(SHIPPED)) {
    if (only !== null && !only.includes(category)) continue;
    try {
      cpSync(join(SHIPPED, category), join(dir, category), { recursive: true });
      const text = readFileSync(join(SHIPPED, category, 'domains'), 'utf8');
      for (const name of parseList(text, { format: 'domains' }).domains) listed.add(name);
    } catch {
      // a category with urls only
    }
  }
  const rand = mulberry32(target);
  const generated: string[] = [];
  while (listed.size < target) {
    const name = randomName(rand);
    if (!listed.has(name)) {
      listed.add(name);
      generated.push(name);
    }
  }
  if (generated.length > 0) {
    mkdirSync(join(dir, 'generated'));
    writeFileSync(join(dir, 'generated', 'domains'), `${generated.join('\n')}\n`);
  }
  const all = [...listed];
  const queries: string[] = [];
  const prefixes = ['www', 'm', 'api', 'cdn', 'mail', 'img'];
  while (queries.length < queryCount) {
    if (queries.length % 2 === 0) {
      const name = all[Math.floor(rand() * all.length)]!;
      const ip = /^[0-9.]+$/.test(name) || name.includes(':');
      const r = rand();
      queries.push(
        ip || r < 0.34
          ? name
          : r < 0.67
            ? `www.${name}`
            : `${prefixes[Math.floor(rand() * prefixes.length)]}.${name}`,
      );
    } else {
      const name = rand() < 0.5 ? `www.${randomName(rand)}` : randomName(rand);
      if (!covered(listed, name)) queries.push(name);
    }
  }
  const file = join(work, `queries-${target}.txt`);
  writeFileSync(file, `${queries.join('\n')}\n`);
  return { dir, only, names: listed.size };
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runChild(impl: Impl, dir: string, only: string[] | null, queryFile: string): ChildResult {
  const nodeArgs = [
    '--expose-gc',
    '--max-old-space-size=8192',
    '--import',
    'tsx',
    import.meta.filename,
  ];
  const childArgs = [
    '--child',
    impl,
    '--dir',
    dir,
    '--query-file',
    queryFile,
    '--passes',
    args.passes!,
  ];
  if (only !== null) childArgs.push('--only', only.join(','));
  const pin = args.pin && hasTaskset();
  const [cmd, cmdArgs] = pin
    ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs, ...childArgs]]
    : [process.execPath, [...nodeArgs, ...childArgs]];
  const out = spawnSync(cmd, cmdArgs as string[], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (out.status !== 0) throw new Error(`${impl} failed:\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as ChildResult;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function main(): void {
  const sizes = args.domains ? [Number(args.domains)] : [200_000, 2_000_000];
  const queryCount = Number(args.queries);
  const work = mkdtempSync(join(tmpdir(), 'custos-bench-matcher-'));
  console.log(
    `Category matcher: ${queryCount.toLocaleString('en-GB')} queries (half listed), ${args.passes} timed passes, node ${process.version}${args.pin ? ', pinned to CPU 0' : ''}`,
  );
  try {
    for (const target of sizes) {
      const { dir, only, names } = prepare(target, work, queryCount);
      const queryFile = join(work, `queries-${target}.txt`);
      console.log(
        `\n${fmt(names)} names (${only ? `${only.length} UT1 categories of the peer baselines` : 'every shipped UT1 list + generated names'})`,
      );
      const impls = args.impl!.split(',') as Impl[];
      const results = impls.map((impl) => runChild(impl, dir, only, queryFile));
      const ref = results.find((r) => r.impl === 'reference') ?? results[0]!;
      console.log(
        '| matcher | names | load (wall / CPU) | heap + typed arrays | RSS after load | peak RSS (before load) | lookups/s (wall / per CPU second) | p50 / p99 per lookup | vs reference: lookups per CPU s, load CPU, peak RSS |',
      );
      console.log('|---|---|---|---|---|---|---|---|---|');
      for (const r of results) {
        const ratio = `${fmt(r.lookupsPerCpuSecond / ref.lookupsPerCpuSecond, 2)}x, ${fmt(r.loadCpuMs / ref.loadCpuMs, 2)}x, ${fmt(r.peakRssMb / ref.peakRssMb, 2)}x`;
        console.log(
          `| ${r.impl} | ${fmt(r.names)} | ${fmt(r.loadMs)} / ${fmt(r.loadCpuMs)} ms | ${fmt(r.heapMb)} MB${r.tableMb ? ` (tables ${fmt(r.tableMb)} MB)` : ''} | ${fmt(r.rssMb)} MB | ${fmt(r.peakRssMb)} MB (${fmt(r.baseRssMb)}) | ${fmt(r.lookupsPerSecond / 1e6, 2)} M / ${fmt(r.lookupsPerCpuSecond / 1e6, 2)} M | ${fmt(r.p50Ns)} / ${fmt(r.p99Ns)} ns | ${ratio} |`,
        );
        if (r.checksum !== ref.checksum) {
          console.log(
            `  !! ${r.impl} disagrees with the reference: ${r.checksum} categories returned, reference ${ref.checksum}`,
          );
        }
      }
    }
  } finally {
    if (args.keep) console.log(`\nLists and queries kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

if (args.child) await child(args.child as Impl);
else main();
