// Benchmark: the DNS filter (src/webfilter/dns) beside Unbound and dnsmasq, measured in the same
// run with the same block list, all three forwarding to the same local upstream stand-in (dnsmasq
// answering every name with one address), so that only the filtering resolvers differ.
//
// Needs Debian's packages (no network is used otherwise):
//   apt-get install -y unbound dnsmasq dnsperf
// Run it (about two minutes):
//   npx tsx bench/dns.ts
//   npx tsx bench/dns.ts --runs 5 --queries 100000 --no-pin
//
// Block list: the 18 UT1 categories of the peer baselines from lists/ut1 (about 199,600 names),
// given to Unbound as `local-zone: "name" always_nxdomain` (num-threads: 1), to dnsmasq as
// `address=/name/` and to Custos as category lists, with the shipped pack extended so that all 18
// are blocked for a staff member's registered device (127.0.0.1, where dnsperf sends from).
// Custos runs as it does in production: the web engine per query, block answers from the pack
// (the block-page address), activity recorded to SQLite.
// Queries (A): half blocked (listed names, with www. or another subdomain), half allowed. Steady
// state: 100,000 queries whose allowed half repeats 5,000 names, after a warm-up pass (median of
// --runs passes); empty cache: one pass over 100,000 queries whose allowed half are names the
// server was never asked (about 39,000 distinct), each forwarded once. "custos-no-activity" is the
// same filter without activity records, to show what recording every decision costs. All servers
// run at once and the passes alternate between them, so that the machine's load falls on each.
// Pinned (the default): each server on CPU 0 (`taskset -c 0`), dnsperf (`-c 10 -T 1 -q 200`) and the
// stand-in on CPU 1. Printed: q/s, mean latency, lost queries, start-up time, memory, and each
// figure as a ratio to dnsmasq and to Unbound. Compare the ratios: machines differ and are noisy.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { createPolicyHolder } from '../src/policy/holder.ts';
import { formatPackError, loadPolicyPackFromText } from '../src/policy/loader.ts';
import { newId } from '../src/store/columns.ts';
import { openStore } from '../src/store/database.ts';
import { migrate } from '../src/store/migrations/index.ts';
import { createActivityRecorder } from '../src/webfilter/activity.ts';
import { loadCategoryFolder, normaliseHost } from '../src/webfilter/categories/index.ts';
import { startDnsFilter } from '../src/webfilter/dns/server.ts';
import { createWebFilterState } from '../src/webfilter/state.ts';
import { BASELINE_CATEGORIES, LISTS, ROOT } from './baseline.ts';

const PACK = join(ROOT, 'policy-packs/palfrey-infant/policy.yaml');
const CATEGORIES = BASELINE_CATEGORIES;
const PORTS = {
  upstream: 15390,
  custos: 15391,
  unbound: 15392,
  dnsmasq: 15393,
  'custos-no-activity': 15394,
};
const ALLOWED_ADDRESS = '192.0.2.1';

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    runs: { type: 'string', default: '3' },
    queries: { type: 'string', default: '100000' },
    'no-pin': { type: 'boolean', default: false },
  },
});

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

// --- the Custos server, run as a child so that it can be pinned --------------------------------
async function runCustos(dir: string): Promise<void> {
  const store = await openStore({ sqlitePath: join(dir, `custos-${process.pid}.db`) });
  await migrate(store);
  const now = new Date().toISOString();
  const personId = newId();
  await store.db
    .insertInto('people')
    .values({
      id: personId,
      staff_id: null,
      email: 'bench@school.test',
      given_name: 'Bench',
      family_name: 'Mark',
      kind: 'employee',
      status: 'active',
      start_date: null,
      leave_date: null,
      supervised_use: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await store.db
    .insertInto('devices')
    .values({
      id: newId(),
      person_id: personId,
      kind: 'laptop',
      label: 'bench',
      mac: null,
      hostname: null,
      ip: '127.0.0.1',
      status: 'approved',
      approved_by: null,
      approved_at: now,
      created_at: now,
      updated_at: now,
    })
    .execute();
  const { index } = await loadCategoryFolder(LISTS, { only: CATEGORIES });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const state = await createWebFilterState({
    store,
    policy: createPolicyHolder(benchPolicy()),
    lists: index,
    log,
  });
  const activity = createActivityRecorder(store, { log });
  // BENCH_ACTIVITY=off: the filter alone, to show what recording every query costs.
  const recorded = process.env.BENCH_ACTIVITY !== 'off';
  const filter = await startDnsFilter(
    { state, activity: recorded ? activity : null, log },
    {
      ...loadConfig({ env: {} }).dns,
      host: '127.0.0.1',
      port: Number(process.env.BENCH_PORT),
      upstreams: [`127.0.0.1:${PORTS.upstream}`],
    },
  );
  process.stdout.write('ready\n');
  process.on('SIGTERM', async () => {
    const s = filter.stats();
    await filter.stop();
    await activity.stop();
    process.stderr.write(`custos: ${JSON.stringify({ ...s, activity: activity.stats() })}\n`);
    process.exit(0);
  });
}

// --- the parent: lists, query files, servers, dnsperf -------------------------------------------
function listedNames(): string[] {
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

function queryFile(names: string[], total: number, allowedPool: number, salt: string): string {
  const random = rng(total + allowedPool);
  const lines: string[] = [];
  for (let i = 0; i < total; i++) {
    if (i % 2 === 0) {
      const name = names[Math.floor(random() * names.length)]!;
      const r = random();
      lines.push(`${r < 0.34 ? name : r < 0.67 ? `www.${name}` : `cdn${i % 97}.${name}`} A`);
    } else {
      lines.push(`n${Math.floor(random() * allowedPool)}-${salt}.allowed-bench.test A`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function askOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const q = Buffer.from([
      0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 112, 114, 111, 98, 101, 4, 116, 101, 115, 116, 0,
      0, 1, 0, 1,
    ]);
    const t = setTimeout(() => {
      s.close();
      resolve(false);
    }, 200);
    s.on('message', () => {
      clearTimeout(t);
      s.close();
      resolve(true);
    });
    s.send(q, port, '127.0.0.1');
  });
}

async function waitFor(port: number, what: string, child: ChildProcess): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await askOnce(port)) return Date.now() - started;
  }
  throw new Error(`${what} did not answer on ${port}`);
}

const pinned = !args['no-pin'];
const pin = (cpu: number, cmd: string[]) => (pinned ? ['taskset', '-c', String(cpu), ...cmd] : cmd);

function spawnWith(cmd: string[], label: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd[0]!, cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
    if (/^custos:/m.test(err)) process.stderr.write(err);
  });
  child.on('exit', (code) => {
    if (code && code !== 0 && code !== 143) process.stderr.write(`${label} exited ${code}\n${err}`);
  });
  return child;
}

function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The server's pid (taskset execs, so the child's pid is the server's). */
const pidOf = (child: ChildProcess) => child.pid!;

interface Perf {
  qps: number;
  latencyMs: number;
  lost: number;
}

function dnsperf(port: number, file: string): Perf {
  const cmd = pin(1, ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file]).concat([
    '-c',
    '10',
    '-T',
    '1',
    '-q',
    '200',
    '-n',
    '1',
    '-t',
    '2',
  ]);
  const out = execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const latency = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { qps, latencyMs: latency * 1000, lost };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (args.child === 'custos') {
    await runCustos(process.env.BENCH_DIR!);
    return;
  }
  for (const tool of ['unbound', 'dnsmasq', 'dnsperf', ...(pinned ? ['taskset'] : [])]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      console.error(`${tool} is missing: apt-get install -y unbound dnsmasq dnsperf`);
      process.exit(2);
    }
  }
  const total = Number(args.queries);
  const runs = Number(args.runs);
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-dns-'));
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);
  try {
    const names = listedNames();
    console.log(`block list: ${CATEGORIES.length} UT1 categories, ${names.length} DNS names`);
    writeFileSync(join(dir, 'steady.txt'), queryFile(names, total, 5000, 'warm'));
    writeFileSync(
      join(dir, 'unbound.conf'),
      [
        'server:',
        '  interface: 127.0.0.1',
        `  port: ${PORTS.unbound}`,
        '  num-threads: 1',
        '  do-daemonize: no',
        '  chroot: ""',
        '  username: ""',
        `  pidfile: "${join(dir, 'unbound.pid')}"`,
        '  use-syslog: no',
        '  logfile: ""',
        '  verbosity: 0',
        '  access-control: 127.0.0.0/8 allow',
        '  do-not-query-localhost: no',
        '  module-config: "iterator"',
        '  qname-minimisation: no',
        '  so-rcvbuf: 8m',
        ...names.map((n) => `  local-zone: "${n}" always_nxdomain`),
        'forward-zone:',
        '  name: "."',
        `  forward-addr: 127.0.0.1@${PORTS.upstream}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'dnsmasq.conf'), `${names.map((n) => `address=/${n}/`).join('\n')}\n`);
    const dnsmasq = (port: number, extra: string[]) =>
      [
        'dnsmasq',
        '-k',
        '--conf-file=/dev/null',
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        `--pid-file=${join(dir, `dnsmasq-${port}.pid`)}`,
        '--user=root',
        ...extra,
      ] as string[];

    // The upstream stand-in: dnsmasq answering every name with one address, on CPU 1.
    const upstream = spawnWith(
      pin(
        1,
        dnsmasq(PORTS.upstream, [
          `--address=/#/${ALLOWED_ADDRESS}`,
          '--local-ttl=300',
          '--cache-size=0',
        ]),
      ),
      'stand-in',
    );
    children.push(upstream);
    await waitFor(PORTS.upstream, 'the stand-in', upstream);

    const servers: Record<string, () => string[]> = {
      custos: () =>
        pin(0, [
          process.execPath,
          '--import',
          'tsx',
          join(ROOT, 'bench/dns.ts'),
          '--child',
          'custos',
        ]),
      'custos-no-activity': () =>
        pin(0, [
          process.execPath,
          '--import',
          'tsx',
          join(ROOT, 'bench/dns.ts'),
          '--child',
          'custos',
        ]),
      unbound: () => pin(0, ['unbound', '-d', '-c', join(dir, 'unbound.conf')]),
      dnsmasq: () =>
        pin(
          0,
          dnsmasq(PORTS.dnsmasq, [
            `--conf-file=${join(dir, 'dnsmasq.conf')}`,
            `--server=127.0.0.1#${PORTS.upstream}`,
            '--cache-size=10000',
          ]),
        ),
    };
    // All servers start first (an idle one costs nothing); then the passes alternate between them
    // round by round, so that a change in the machine's load falls on all of them alike.
    const order = ['custos', 'custos-no-activity', 'unbound', 'dnsmasq'];
    const started: Record<string, { child: ChildProcess; startMs: number }> = {};
    for (const name of order) {
      const port = PORTS[name as keyof typeof PORTS];
      const child = spawnWith(servers[name]!(), name, {
        BENCH_DIR: dir,
        BENCH_PORT: String(port),
        BENCH_ACTIVITY: name === 'custos-no-activity' ? 'off' : 'on',
      });
      children.push(child);
      started[name] = { child, startMs: await waitFor(port, name, child) };
    }
    const results: Record<string, { steady: Perf; cold: Perf; startMs: number; rss: number }> = {};
    const cold: Record<string, Perf> = {};
    for (const name of order) {
      const port = PORTS[name as keyof typeof PORTS];
      dnsperf(port, join(dir, 'steady.txt')); // warm-up: caches filled, code compiled
      // Empty cache: one pass whose allowed names this server has never been asked.
      const file = join(dir, `cold-${name}.txt`);
      writeFileSync(file, queryFile(names, total, total, `cold-${name}`));
      cold[name] = dnsperf(port, file);
    }
    const steadyRuns: Record<string, Perf[]> = Object.fromEntries(order.map((n) => [n, []]));
    for (let i = 0; i < runs; i++) {
      for (const name of order) {
        steadyRuns[name]!.push(dnsperf(PORTS[name as keyof typeof PORTS], join(dir, 'steady.txt')));
      }
    }
    for (const name of order) {
      const list = steadyRuns[name]!;
      const steady = {
        qps: median(list.map((r) => r.qps)),
        latencyMs: median(list.map((r) => r.latencyMs)),
        lost: median(list.map((r) => r.lost)),
      };
      const { child, startMs } = started[name]!;
      results[name] = { steady, cold: cold[name]!, startMs, rss: rssMiB(pidOf(child)) };
      console.log(
        `${name}: steady ${list.map((r) => r.qps.toFixed(0)).join(', ')} q/s; empty cache ${cold[name]!.qps.toFixed(0)} q/s`,
      );
    }
    const upstreamAlone = dnsperf(PORTS.upstream, join(dir, 'steady.txt'));

    const row = (label: string, r: (typeof results)[string]) => {
      const vs = (a: number, b: number) => (b > 0 ? `${((a / b) * 100).toFixed(0)}%` : '-');
      return `| ${label} | ${r.steady.qps.toFixed(0)} | ${r.steady.latencyMs.toFixed(3)} | ${r.steady.lost} | ${vs(r.steady.qps, results.dnsmasq!.steady.qps)} | ${vs(r.steady.qps, results.unbound!.steady.qps)} | ${r.cold.qps.toFixed(0)} | ${r.cold.latencyMs.toFixed(3)} | ${vs(r.cold.qps, results.dnsmasq!.cold.qps)} | ${vs(r.cold.qps, results.unbound!.cold.qps)} | ${r.startMs} ms / ${r.rss.toFixed(0)} MiB |`;
    };
    console.log(
      `\n${pinned ? 'pinned: server on CPU 0, dnsperf and the stand-in on CPU 1' : 'not pinned'}; ${total} queries per pass, steady = median of ${runs}\n`,
    );
    console.log(
      '| server | steady q/s | mean latency ms | lost | vs dnsmasq | vs Unbound | empty-cache q/s | latency ms | vs dnsmasq | vs Unbound | first answer / RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const name of order) console.log(row(name, results[name]!));
    console.log(
      `| upstream stand-in alone | ${upstreamAlone.qps.toFixed(0)} | ${upstreamAlone.latencyMs.toFixed(3)} | ${upstreamAlone.lost} | | | | | | | |`,
    );
  } finally {
    stopAll();
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
