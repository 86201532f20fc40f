// Benchmark: the DNS filter (src/webfilter/dns) beside Unbound and dnsmasq, measured in the same
// run with the same block list, all three forwarding to the same local upstream stand-in (dnsmasq
// answering every name with one address), so that only the filtering resolvers differ.
//
// Needs Debian's packages (no network is used otherwise):
//   apt-get install -y unbound dnsmasq dnsperf
// Run it (about two minutes):
//   npx tsx bench/dns.ts
//   npx tsx bench/dns.ts --runs 5 --queries 100000 --no-pin
//   npx tsx bench/dns.ts --blocked-pool 0
//
// Block list: the 18 UT1 categories of the peer baselines from lists/ut1 (about 199,600 names),
// given to Unbound as `local-zone: "name" always_nxdomain` (num-threads: 1), to dnsmasq as
// `address=/name/` and to Custos as category lists, with the shipped pack extended so that all 18
// are blocked for a staff member's registered device (127.0.0.1, where dnsperf sends from).
// Custos runs as it does in production: the web engine per query, block answers from the pack
// (the block-page address), activity recorded to SQLite.
// Queries (A): half blocked (listed names, with www. or another subdomain), half allowed. Steady
// state: 100,000 queries whose blocked half comes from 5,000 listed names and whose allowed half
// repeats 5,000 names, a school's working set, after a warm-up pass (median of --runs passes);
// --blocked-pool 0 draws the blocked half from the whole list instead, so that nearly every
// blocked query is a name new to the pass (each a new activity record for Custos). Empty cache:
// passes over 100,000 queries whose allowed half are names the server was never asked (about
// 39,000 distinct), each forwarded once, and whose blocked half is drawn from the whole list
// (median of --runs passes, each with names of its own). "custos-no-activity" is the
// same filter without activity records, to show what recording every decision costs. All servers
// run at once and the passes alternate between them, so that the machine's load falls on each.
// Last, the floor: a Node.js UDP echo server (no filtering), pinned alike, in steady passes, on
// node:dgram and on the batched UDP of Custos's native module (what the filter uses where built).
// Pinned (the default): each server on CPU 0 (`taskset -c 0`), dnsperf (`-c 10 -T 1 -q 200`) and the
// stand-in on CPU 1. Printed: q/s, mean latency, lost queries, start-up time, memory, and each
// figure as a ratio to dnsmasq and to Unbound; then the CPU time (user and system) each query cost
// the server, which other work on the machine disturbs far less than the q/s. Compare the ratios:
// machines differ and are noisy.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { batchedUdpSupport, bindBatchedUdp } from '../src/webfilter/dns/batched-udp.ts';
import { nodeFlags, ROOT } from './baseline.ts';
import {
  ALLOWED_ADDRESS,
  CATEGORIES,
  listedNames,
  queryFile,
  startBenchFilter,
} from './dns-setup.ts';

const PORTS = {
  upstream: 15390,
  custos: 15391,
  unbound: 15392,
  dnsmasq: 15393,
  'custos-no-activity': 15394,
  echo: 15395,
  'echo-batched': 15396,
};

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    runs: { type: 'string', default: '3' },
    queries: { type: 'string', default: '100000' },
    // Steady state's blocked half comes from this many listed names (0: the whole list, so
    // nearly every blocked query is a name not asked for before in the pass).
    'blocked-pool': { type: 'string', default: '5000' },
    'no-pin': { type: 'boolean', default: false },
  },
});

// --- the Custos server, run as a child so that it can be pinned --------------------------------
async function runCustos(dir: string): Promise<void> {
  // BENCH_ACTIVITY=off: the filter alone, to show what recording every query costs.
  const { filter, activity, stop } = await startBenchFilter({
    dir,
    port: Number(process.env.BENCH_PORT),
    upstream: `127.0.0.1:${PORTS.upstream}`,
    recorded: process.env.BENCH_ACTIVITY !== 'off',
  });
  // Time in garbage collection by kind (ms), reported with the stats at the end.
  const gc: Record<string, number> = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = String((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? '?');
      gc[kind] = (gc[kind] ?? 0) + e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.stdout.write('ready\n');
  process.on('SIGTERM', async () => {
    process.stderr.write(
      `custos: garbage collection, ms by kind (1 scavenge, 2 mark-compact, 4 incremental marking, 8 weak callbacks): ${JSON.stringify(gc)}\n`,
    );
    const s = filter.stats();
    await stop();
    process.stderr.write(`custos: ${JSON.stringify({ ...s, activity: activity.stats() })}\n`);
    process.exit(0);
  });
}

// --- the floor: Node's UDP sockets doing nothing else -------------------------------------------
/**
 * Every query sent back as its own answer (QR set, no records), on a socket set up as the DNS
 * filter's (the lookup that hands IP literals back, 8 MB buffers): what a query costs a Node.js
 * process before any filtering.
 */
function runEcho(port: number, batched: boolean): void {
  if (batched) {
    bindBatchedUdp('127.0.0.1', port, (query, _source, reply) => {
      const answer = Buffer.from(query);
      answer[2]! |= 0x80;
      reply(answer);
    });
    process.stdout.write('ready\n');
    return;
  }
  const socket = dgram.createSocket({
    type: 'udp4',
    lookup: (hostname, _options, callback) => callback(null, hostname, 4),
  });
  socket.on('message', (query, rinfo) => {
    query[2]! |= 0x80;
    socket.send(query, rinfo.port, rinfo.address);
  });
  socket.bind(port, '127.0.0.1', () => {
    socket.setRecvBufferSize(8 << 20);
    socket.setSendBufferSize(8 << 20);
    process.stdout.write('ready\n');
  });
}

// --- the parent: lists, query files, servers, dnsperf -------------------------------------------
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

/** The answer to one A query for `name` (null after 1 s without one). */
function resolveOnce(port: number, name: string): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const labels = name
      .split('.')
      .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const q = Buffer.concat([
      Buffer.from([0x43, 0x21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      ...labels,
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, 1000);
    s.on('message', (reply) => {
      clearTimeout(t);
      s.close();
      resolve(reply);
    });
    s.send(q, port, '127.0.0.1');
  });
}

/** Fails unless the server forwards an allowed name and returns the stand-in's address. */
async function checkForwards(port: number, what: string): Promise<void> {
  const reply = await resolveOnce(port, `check-${port}.allowed-bench.test`);
  const address = Buffer.from(ALLOWED_ADDRESS.split('.').map(Number));
  const answers = reply ? reply.readUInt16BE(6) : 0;
  if (!reply || (reply[3]! & 0xf) !== 0 || answers < 1 || !reply.subarray(-4).equals(address)) {
    throw new Error(
      `${what} does not answer allowed names from the stand-in: the run would not compare like with like`,
    );
  }
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
  /** The server's CPU time (user and system) per query answered, in microseconds. */
  cpuUs: number;
}

/** A process's CPU time so far (user and system), in microseconds. */
function cpuTimeUs(pid: number): number {
  try {
    // The fields after the command name (which may hold spaces): utime and stime are 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / CLOCK_TICKS);
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS =
  Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * One dnsperf pass against `port`. The server's CPU time per query is printed beside the q/s: on
 * a machine shared with other work the q/s wobble with the load, the CPU a query costs much less.
 */
/**
 * Waits (at most 60 s) until the server has been idle for 100 ms: work a pass left behind (the
 * activity records of its queries, written after the answers) is charged to that pass, not to the
 * next one.
 */
function settle(pid: number): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 60_000;
  let last = cpuTimeUs(pid);
  while (Date.now() < until) {
    Atomics.wait(tick, 0, 0, 100);
    const now = cpuTimeUs(pid);
    if (now - last < 3_000) return; // under 3% of a CPU
    last = now;
  }
}

function dnsperf(port: number, file: string, pid?: number): Perf {
  const before = pid === undefined ? Number.NaN : cpuTimeUs(pid);
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
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (pid !== undefined) settle(pid);
  const cpuUs = pid === undefined ? Number.NaN : (cpuTimeUs(pid) - before) / completed;
  return { qps, latencyMs: latency * 1000, lost, cpuUs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (args.child === 'custos') {
    await runCustos(process.env.BENCH_DIR!);
    return;
  }
  if (args.child === 'echo' || args.child === 'echo-batched') {
    runEcho(Number(process.env.BENCH_PORT), args.child === 'echo-batched');
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
    const blockedPool = Number(args['blocked-pool']);
    writeFileSync(join(dir, 'steady.txt'), queryFile(names, total, 5000, 'warm', blockedPool));
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
        // The allowed names end in .test, which Unbound answers NXDOMAIN itself by default
        // (RFC 6761): without this it would forward none of them and do half the work.
        '  local-zone: "test." nodefault',
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

    // This script as a child on CPU 0, with the V8 flags `custos serve` runs with
    // (BENCH_NODE_FLAGS to try others).
    const nodeChild = (role: 'custos' | 'echo' | 'echo-batched') =>
      pin(0, [
        process.execPath,
        ...nodeFlags(),
        '--import',
        'tsx',
        join(ROOT, 'bench/dns.ts'),
        '--child',
        role,
      ]);
    const custosChild = () => nodeChild('custos');
    const servers: Record<string, () => string[]> = {
      custos: custosChild,
      'custos-no-activity': custosChild,
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
      await checkForwards(port, name);
    }
    const results: Record<string, { steady: Perf; cold: Perf; startMs: number; rss: number }> = {};
    for (const name of order) {
      const port = PORTS[name as keyof typeof PORTS];
      dnsperf(port, join(dir, 'steady.txt')); // warm-up: caches filled, code compiled
    }
    // Each round: an empty-cache pass for every server (names none of them was asked before),
    // then a steady pass for every server.
    const steadyRuns: Record<string, Perf[]> = Object.fromEntries(order.map((n) => [n, []]));
    const coldRuns: Record<string, Perf[]> = Object.fromEntries(order.map((n) => [n, []]));
    for (let i = 0; i < runs; i++) {
      for (const name of order) {
        const port = PORTS[name as keyof typeof PORTS];
        const file = join(dir, `cold-${name}-${i}.txt`);
        writeFileSync(file, queryFile(names, total, total, `cold-${name}-${i}`));
        coldRuns[name]!.push(dnsperf(port, file, pidOf(started[name]!.child)));
      }
      for (const name of order) {
        const port = PORTS[name as keyof typeof PORTS];
        steadyRuns[name]!.push(dnsperf(port, join(dir, 'steady.txt'), pidOf(started[name]!.child)));
      }
    }
    const medianOf = (list: Perf[]): Perf => ({
      qps: median(list.map((r) => r.qps)),
      latencyMs: median(list.map((r) => r.latencyMs)),
      lost: median(list.map((r) => r.lost)),
      cpuUs: median(list.map((r) => r.cpuUs)),
    });
    for (const name of order) {
      const { child, startMs } = started[name]!;
      results[name] = {
        steady: medianOf(steadyRuns[name]!),
        cold: medianOf(coldRuns[name]!),
        startMs,
        rss: rssMiB(pidOf(child)),
      };
      const show = (list: Perf[]) => list.map((r) => r.qps.toFixed(0)).join(', ');
      console.log(
        `${name}: steady ${show(steadyRuns[name]!)} q/s; empty cache ${show(coldRuns[name]!)} q/s`,
      );
    }
    const upstreamAlone = dnsperf(PORTS.upstream, join(dir, 'steady.txt'));
    // The floor of Node's UDP sockets, pinned alike and measured after the rest.
    const floors: { label: string; qps: number; cpuUs: number }[] = [];
    for (const role of ['echo', 'echo-batched'] as const) {
      if (role === 'echo-batched' && !batchedUdpSupport().available) continue;
      const echo = spawnWith(nodeChild(role), role, { BENCH_PORT: String(PORTS[role]) });
      children.push(echo);
      await waitFor(PORTS[role], `the ${role} server`, echo);
      dnsperf(PORTS[role], join(dir, 'steady.txt'));
      const echoRuns = Array.from({ length: runs }, () =>
        dnsperf(PORTS[role], join(dir, 'steady.txt'), pidOf(echo)),
      );
      floors.push({
        label: role === 'echo' ? 'node:dgram' : 'batched (the native module)',
        qps: median(echoRuns.map((r) => r.qps)),
        cpuUs: median(echoRuns.map((r) => r.cpuUs)),
      });
    }

    const row = (label: string, r: (typeof results)[string]) => {
      const vs = (a: number, b: number) => (b > 0 ? `${((a / b) * 100).toFixed(0)}%` : '-');
      return `| ${label} | ${r.steady.qps.toFixed(0)} | ${r.steady.latencyMs.toFixed(3)} | ${r.steady.lost} | ${vs(r.steady.qps, results.dnsmasq!.steady.qps)} | ${vs(r.steady.qps, results.unbound!.steady.qps)} | ${r.cold.qps.toFixed(0)} | ${r.cold.latencyMs.toFixed(3)} | ${vs(r.cold.qps, results.dnsmasq!.cold.qps)} | ${vs(r.cold.qps, results.unbound!.cold.qps)} | ${r.startMs} ms / ${r.rss.toFixed(0)} MiB |`;
    };
    console.log(
      `\n${pinned ? 'pinned: server on CPU 0, dnsperf and the stand-in on CPU 1' : 'not pinned'}; ${total} queries per pass, steady and empty cache = median of ${runs} passes each\n`,
    );
    console.log(
      '| server | steady q/s | mean latency ms | lost | vs dnsmasq | vs Unbound | empty-cache q/s | latency ms | vs dnsmasq | vs Unbound | first answer / RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const name of order) console.log(row(name, results[name]!));
    console.log(
      `| upstream stand-in alone | ${upstreamAlone.qps.toFixed(0)} | ${upstreamAlone.latencyMs.toFixed(3)} | ${upstreamAlone.lost} | | | | | | | |`,
    );
    // Queries one CPU answers per second when busy, from the CPU time each query cost.
    const capacity = (cpuUs: number) => (cpuUs > 0 ? 1_000_000 / cpuUs : Number.NaN);
    const cpuRow = (label: string, r: (typeof results)[string]) => {
      const vs = (a: number, b: number) => (b > 0 ? `${((a / b) * 100).toFixed(0)}%` : '-');
      const [s, c] = [capacity(r.steady.cpuUs), capacity(r.cold.cpuUs)];
      const [us, uc] = [
        capacity(results.unbound!.steady.cpuUs),
        capacity(results.unbound!.cold.cpuUs),
      ];
      const [ds, dc] = [
        capacity(results.dnsmasq!.steady.cpuUs),
        capacity(results.dnsmasq!.cold.cpuUs),
      ];
      return `| ${label} | ${r.steady.cpuUs.toFixed(1)} | ${s.toFixed(0)} | ${vs(s, ds)} | ${vs(s, us)} | ${r.cold.cpuUs.toFixed(1)} | ${c.toFixed(0)} | ${vs(c, dc)} | ${vs(c, uc)} |`;
    };
    console.log(
      "\nThe server's CPU time (user and system) per query, the work it finished after the pass included (activity records written after the answers), and the q/s one busy CPU would answer at that cost (dnsmasq's empty-cache rate is bound by its limit on queries forwarded at once, not by its CPU):\n",
    );
    console.log(
      '| server | steady CPU µs/query | steady q/s per CPU | vs dnsmasq | vs Unbound | empty-cache CPU µs/query | q/s per CPU | vs dnsmasq | vs Unbound |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const name of order) console.log(cpuRow(name, results[name]!));
    const unboundCpu = results.unbound!.steady.cpuUs;
    for (const floor of floors) {
      console.log(
        `\nThe floor on ${floor.label}: a Node.js UDP echo server (each query sent back as its answer, nothing else), pinned alike, steady queries: ${floor.qps.toFixed(0)} q/s (${((floor.qps / results.unbound!.steady.qps) * 100).toFixed(0)}% of Unbound), ${floor.cpuUs.toFixed(1)} µs CPU a query (${((unboundCpu / floor.cpuUs) * 100).toFixed(0)}% of Unbound's q/s per CPU).`,
      );
    }
  } finally {
    stopAll();
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
