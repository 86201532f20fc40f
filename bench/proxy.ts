// The filtering proxy under load, beside Squid and Squid + squidGuard in the same run.
//
//   apt-get install -y nginx squid squidguard wrk      (Debian 12 packages; run as root)
//   npx tsx bench/proxy.ts [--duration 20] [--connections 50] [--warmup 3] [--no-pin]
//
// nginx serves a 1 KiB page on 127.0.0.1; wrk (-t1 -c50, a Lua script setting wrk.path to the
// absolute URI, as a browser talks to a proxy) measures requests/s and p50/p99 for: nginx direct,
// Custos (allowed URL, blocked URL), Squid alone (cache deny all, one worker) and Squid +
// squidGuard (8 helpers) allowed and blocked, all with the same 18 UT1 categories
// (bench/README.md, ../shared/design/BASELINES.md). Pinned mode (the default): the server under
// test on CPU 0 (`taskset -c 0`), wrk and nginx on CPU 1. Custos runs as `custos serve` would:
// activity recorded to SQLite, the engine over the lists, the shipped policy pack.
// Squid runs first; then nginx direct and Custos are also measured paced: the same 50
// connections, each waiting between requests so that together they ask for 1.5 times Squid
// alone's most (wrk's delay()), which is the goal's load. At full load every connection asks again
// the moment it is answered, so p99 there is mostly time spent queueing (50 / req/s on average);
// paced, it is the time a request takes at that load, pauses included.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/ports.ts';
import { BASELINE_CATEGORIES, LISTS, nodeFlags, ROOT } from './baseline.ts';

const CATEGORIES = BASELINE_CATEGORIES;
const ALLOWED_HOST = 'www.allowed-site.test';
const BLOCKED_HOST = 'www.facebook.com';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    'no-pin': { type: 'boolean', default: false },
    // internal and for tuning: only the Custos variant(s) named (on, off, node-http), no Squid
    only: { type: 'string' },
    // for tuning with --only: the paced load, in requests a second (else 1.5x Squid alone's)
    rate: { type: 'string' },
    serve: { type: 'string' }, // internal: run the Custos proxy in this process on this port
    nginx: { type: 'string' },
  },
});

// --- the Custos side, run in a child process pinned to CPU 0 ------------------------------------
async function serveCustos(port: number): Promise<void> {
  const pino = (await import('pino')).default;
  const { openStore } = await import('../src/store/database.ts');
  const { migrate } = await import('../src/store/migrations/index.ts');
  const { loadPolicyPack } = await import('../src/policy/loader.ts');
  const { createPolicyHolder } = await import('../src/policy/holder.ts');
  const { createAuditLog } = await import('../src/audit/service.ts');
  const { loadCategoryFolder } = await import('../src/webfilter/categories/index.ts');
  const { createWebFilterState } = await import('../src/webfilter/state.ts');
  const { createActivityRecorder } = await import('../src/webfilter/activity.ts');
  const { startProxy } = await import('../src/webfilter/proxy/server.ts');
  const { loadConfig } = await import('../src/config/config.ts');
  const { addDevice, addPerson } = await import('../test/support/seed.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'custos-bench-proxy-'));
  const store = await openStore({ sqlitePath: path.join(dir, 'custos.db') });
  await migrate(store);
  const pack = await loadPolicyPack(path.join(ROOT, 'policy-packs/palfrey-infant'));
  if (!pack.ok) throw new Error('the shipped pack does not load');
  const policy = createPolicyHolder(pack.policy);
  const personId = await addPerson(store, { id: 'p1', email: 'amy@school.test', familyName: 'T' });
  await addDevice(store, personId, { id: 'd1' });
  const { index } = await loadCategoryFolder(LISTS, { only: CATEGORIES });
  const state = await createWebFilterState({ store, policy, lists: index });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const recorder = createActivityRecorder(store, { log });
  // --activity off measures the proxy without its activity records (for comparison only).
  const activity = process.env.BENCH_ACTIVITY === 'off' ? { ...recorder, record() {} } : recorder;
  const config = loadConfig({ env: {} });
  const proxy = await startProxy(
    {
      engine: state.engine,
      activity,
      store,
      audit: createAuditLog(store),
      log,
      resolve: async () => ({ address: '127.0.0.1', family: 4 }),
    },
    {
      ...config.proxy,
      host: '127.0.0.1',
      port,
      fastPath: process.env.BENCH_FAST !== 'off',
      publicUrl: 'http://custos.school.test:8080',
      allowedTargets: ['127.0.0.1'],
    },
  );
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let gcMs = 0;
  let gcCount = 0;
  let gcMax = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount++;
      gcMax = Math.max(gcMax, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  // BENCH_HEAP_PROFILE=FILE: a sampling profile of every allocation during the measured run,
  // including what the young generation collects (what drives scavenges and their pauses).
  const heapProfile = process.env.BENCH_HEAP_PROFILE;
  const inspector = heapProfile ? new (await import('node:inspector')).Session() : null;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((res, rej) =>
      inspector?.post(method, params ?? {}, (err, result) => (err ? rej(err) : res(result))),
    );
  inspector?.connect();
  const onMessage = async (m: unknown) => {
    if (m === 'reset') {
      if (inspector) {
        await post('HeapProfiler.startSampling', {
          samplingInterval: 4096,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      }
      delay.reset();
      delay.enable();
      gcMs = 0;
      gcCount = 0;
      gcMax = 0;
    } else if (m === 'report') {
      delay.disable();
      if (inspector && heapProfile) {
        const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
        writeFileSync(`${heapProfile}.${Date.now()}.heapprofile`, JSON.stringify(profile));
      }
      process.send?.({
        // The histogram holds the time between ticks of a 10 ms timer: what is past 10 ms is
        // how late the loop was.
        loopLateP99Ms: Math.max(0, delay.percentile(99) / 1e6 - 10),
        loopLateMaxMs: Math.max(0, delay.max / 1e6 - 10),
        gcMs,
        gcCount,
        gcMaxMs: gcMax,
        activity: activity.stats(),
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      });
    } else if (m === 'stop') {
      await proxy.stop();
      await activity.stop();
      state.stop();
      await store.destroy();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  };
  process.on('message', onMessage);
  process.once('SIGTERM', () => void onMessage('stop'));
  process.send?.('ready');
}

if (args.serve) {
  await serveCustos(Number(args.serve));
} else {
  await main();
}

// --- the harness ---------------------------------------------------------------------------------
async function waitForPort(port: number, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

function need(cmd: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  throw new Error(`${cmd} is missing: apt-get install -y nginx squid squidguard wrk`);
}

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: string;
}

function toMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function main(): Promise<void> {
  const pin = !args['no-pin'];
  const server = (cmd: string[]) => (pin ? ['taskset', '-c', '0', ...cmd] : cmd);
  const client = (cmd: string[]) => (pin ? ['taskset', '-c', '1', ...cmd] : cmd);
  const nginxBin = need('nginx');
  const squidBin = need('squid');
  const squidGuardBin = need('squidGuard');
  const wrkBin = need('wrk');
  const work = mkdtempSync(path.join(tmpdir(), 'bench-proxy-'));
  chmodSync(work, 0o777);
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  process.on('exit', cleanup);

  // nginx: a 1 KiB page.
  const nginxPort = await freePort();
  mkdirSync(path.join(work, 'www'));
  writeFileSync(path.join(work, 'www/page.html'), `${'x'.repeat(1023)}\n`);
  writeFileSync(
    path.join(work, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server { listen 127.0.0.1:${nginxPort} default_server; server_name _; root ${work}/www;
    location /blocked { return 200 "blocked\\n"; } } }\n`,
  );
  const nginxCmd = client([nginxBin, '-c', path.join(work, 'nginx.conf'), '-p', work]);
  const nginx = spawn(nginxCmd[0]!, nginxCmd.slice(1), { stdio: 'inherit' });
  children.push(nginx);
  await waitForPort(nginxPort);

  const allowedUrl = `http://${ALLOWED_HOST}:${nginxPort}/page.html`;
  const blockedUrl = `http://${BLOCKED_HOST}:${nginxPort}/page.html`;

  const duration = Number(args.duration);
  const warmup = Number(args.warmup);
  const conns = Number(args.connections);

  async function wrk(
    name: string,
    port: number,
    absoluteUrl: string | null,
    distinct = false,
    rate: number | null = null,
  ): Promise<Result> {
    const script = path.join(work, `wrk-${port}.lua`);
    // distinct: every request a different URL (a query string counting up), so that no two
    // activity records can be folded together.
    const requests = !absoluteUrl
      ? ''
      : distinct
        ? `local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, "${absoluteUrl}?n=" .. n)\nend\n`
        : `wrk.path = "${absoluteUrl}"\n`;
    // rate: each connection waits before its next request, so that all of them together ask for
    // about `rate` requests a second (wrk's delay() is in whole milliseconds: the fraction is
    // drawn at random). The wait is set from the warm-up's rate, which shows the latency.
    const paced = (waitMs: number) =>
      `${requests}local wait = ${waitMs.toFixed(4)}\nfunction delay()\n  local base = math.floor(wait)\n  if math.random() < wait - base then return base + 1 end\n  return base\nend\n`;
    let waitMs = rate === null ? 0 : Math.max(0, (conns / rate) * 1000 - 0.3);
    writeFileSync(script, rate === null ? requests : paced(waitMs));
    const run = (seconds: number) =>
      new Promise<string>((resolve, reject) => {
        const cmd = client([
          wrkBin,
          '-t1',
          `-c${conns}`,
          `-d${seconds}s`,
          '--latency',
          '-s',
          script,
          `http://127.0.0.1:${port}/page.html`,
        ]);
        const p = spawn(cmd[0]!, cmd.slice(1));
        let out = '';
        p.stdout.on('data', (d) => {
          out += d;
        });
        p.stderr.on('data', (d) => {
          out += d;
        });
        p.on('error', reject);
        p.on('close', () => resolve(out));
      });
    if (warmup > 0) {
      // Paced: the latency grows with the rate, and wrk's timers fire in whole milliseconds, so
      // the wait is set again from each warm-up (five at most) until the pace is within 1% of the
      // rate asked for; failing that, the wait whose pace came closest at or above it is used.
      const tried: { waitMs: number; achieved: number }[] = [];
      for (let round = 0; round < (rate === null ? 1 : 5); round++) {
        const first = await run(warmup);
        if (rate === null) break;
        const achieved = Number(/Requests\/sec:\s+([\d.]+)/.exec(first)?.[1] ?? rate);
        tried.push({ waitMs, achieved });
        if (Math.abs(achieved - rate) <= 0.01 * rate) break;
        const latencyMs = (conns / achieved) * 1000 - waitMs;
        waitMs = Math.max(0, (conns / rate) * 1000 - latencyMs);
        writeFileSync(script, paced(waitMs));
      }
      if (rate !== null) {
        const above = tried.filter((t) => t.achieved >= 0.99 * rate);
        const best = above.length
          ? above.reduce((a, b) => (b.achieved < a.achieved ? b : a))
          : tried.reduce((a, b) => (b.achieved > a.achieved ? b : a));
        waitMs = best.waitMs;
        writeFileSync(script, paced(waitMs));
      }
    }
    const out = await run(duration);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
    const p50 = toMs(/\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '');
    const p99 = toMs(/\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '');
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const errors = /Socket errors:[^\n]*/.exec(out)?.[0] ?? '';
    return { name, rps, p50, p99, non2xx, errors };
  }

  const results: Result[] = [];
  results.push(await wrk('nginx direct', nginxPort, null));
  const only = args.only?.split(',');
  let buildMs = 0;
  // The load of the goal: 1.5 times what Squid alone answers at most, asked for at a steady pace.
  let target = Number(args.rate ?? 0);
  if (!only) await squids();

  async function squids(): Promise<void> {
    // Squid alone, then Squid + squidGuard.
    const hosts = path.join(work, 'hosts');
    writeFileSync(hosts, `127.0.0.1 ${ALLOWED_HOST} ${BLOCKED_HOST} localhost\n`);
    const sgDir = path.join(work, 'sg');
    mkdirSync(path.join(sgDir, 'db'), { recursive: true });
    mkdirSync(path.join(sgDir, 'log'), { recursive: true });
    for (const c of CATEGORIES) {
      mkdirSync(path.join(sgDir, 'db', c));
      for (const f of ['domains', 'urls']) {
        const from = path.join(LISTS, c, f);
        if (existsSync(from)) copyFileSync(from, path.join(sgDir, 'db', c, f));
      }
    }
    const dests = CATEGORIES.map((c) => {
      const urls = existsSync(path.join(LISTS, c, 'urls')) ? `\n  urllist ${c}/urls` : '';
      return `dest ${c.replace(/-/g, '_')} {\n  domainlist ${c}/domains${urls}\n}`;
    }).join('\n');
    const sgConf = path.join(sgDir, 'squidGuard.conf');
    writeFileSync(
      sgConf,
      `dbhome ${sgDir}/db\nlogdir ${sgDir}/log\n${dests}\nacl {\n  default {\n    pass ${CATEGORIES.map((c) => `!${c.replace(/-/g, '_')}`).join(' ')} all\n    redirect http://127.0.0.1:${nginxPort}/blocked\n  }\n}\n`,
    );
    const t0 = Date.now();
    execFileSync(squidGuardBin, ['-c', sgConf, '-C', 'all'], { stdio: 'ignore' });
    buildMs = Date.now() - t0;
    execFileSync('chown', ['-R', 'proxy:proxy', sgDir]);

    async function squid(
      name: string,
      withGuard: boolean,
      urls: [string, string][],
    ): Promise<void> {
      const port = await freePort();
      const conf = path.join(work, `squid-${port}.conf`);
      writeFileSync(
        conf,
        [
          `http_port 127.0.0.1:${port}`,
          'http_access allow all',
          'cache deny all',
          'cache_mem 0 MB',
          'workers 1',
          `hosts_file ${hosts}`,
          `pid_filename ${work}/squid-${port}.pid`,
          `cache_log ${work}/squid-${port}-cache.log`,
          `access_log stdio:${work}/squid-${port}-access.log`,
          `coredump_dir ${work}`,
          'shutdown_lifetime 0 seconds',
          'max_filedescriptors 16384',
          'cache_effective_user proxy',
          ...(withGuard
            ? [
                `url_rewrite_program ${squidGuardBin} -c ${sgConf}`,
                'url_rewrite_children 8 startup=8 idle=8 concurrency=0',
              ]
            : []),
          '',
        ].join('\n'),
      );
      const c = server([squidBin, '-N', '-f', conf]);
      const proc = spawn(c[0]!, c.slice(1), { stdio: 'ignore' });
      children.push(proc);
      await waitForPort(port);
      await new Promise((r) => setTimeout(r, 1000));
      for (const [label, url] of urls) results.push(await wrk(`${name}${label}`, port, url));
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(t);
          r(null);
        });
      });
    }
    await squid('Squid alone', false, [['', allowedUrl]]);
    // A little above, as the pace of 50 connections is set only roughly.
    target = 1.52 * results.find((r) => r.name === 'Squid alone')!.rps;
    await squid('Squid + squidGuard', true, [
      [', allowed URL', allowedUrl],
      [', blocked URL (302)', blockedUrl],
    ]);
  }
  if (target > 0) {
    results.push(
      await wrk(
        `nginx direct, paced at ${Math.round(target).toLocaleString('en-GB')} req/s`,
        nginxPort,
        null,
        false,
        target,
      ),
    );
  }

  // Custos.
  const custosRuntime: Record<string, unknown>[] = [];
  for (const variant of ['on', 'off', 'node-http'] as const) {
    if (only && !only.includes(variant)) continue;
    const custosPort = await freePort();
    const me = path.join(ROOT, 'bench/proxy.ts');
    const flags = nodeFlags();
    const cmd = server([
      process.execPath,
      ...flags,
      '--import',
      'tsx',
      me,
      '--serve',
      String(custosPort),
    ]);
    const custos = spawn(cmd[0]!, cmd.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_ACTIVITY: variant === 'off' ? 'off' : 'on',
        BENCH_FAST: variant === 'node-http' ? 'off' : 'on',
      },
    });
    children.push(custos);
    await new Promise<void>((resolve, reject) => {
      custos.once('message', () => resolve());
      custos.once('exit', (code) => reject(new Error(`the Custos proxy exited (${code})`)));
    });
    const measureCustos = async (name: string, url: string, distinct = false, rate = 0) => {
      custos.send('reset');
      const r = await wrk(name, custosPort, url, distinct, rate > 0 ? rate : null);
      custos.send('report');
      custosRuntime.push({
        name,
        ...(await new Promise<Record<string, unknown>>((res) =>
          custos.once('message', (m) => res(m as Record<string, unknown>)),
        )),
      });
      results.push(r);
    };
    if (variant === 'on') {
      await measureCustos('Custos, allowed URL', allowedUrl);
      if (target > 0) {
        await measureCustos(
          `Custos, allowed URL, paced at ${Math.round(target).toLocaleString('en-GB')} req/s`,
          allowedUrl,
          false,
          target,
        );
      }
      await measureCustos('Custos, blocked URL (403 block page)', blockedUrl);
      await measureCustos('Custos, allowed, every URL different', allowedUrl, true);
    } else if (variant === 'node-http') {
      await measureCustos('Custos, allowed URL, node:http path only (comparison only)', allowedUrl);
    } else {
      await measureCustos(
        'Custos, allowed URL, activity records off (comparison only)',
        allowedUrl,
      );
    }
    custos.removeAllListeners('exit');
    custos.send('stop');
    await new Promise((r) => custos.once('exit', r));
  }

  if (only) {
    console.log(results.map((r) => JSON.stringify(r)).join('\n'));
    for (const r of custosRuntime) console.log(JSON.stringify(r));
    cleanup();
    rmSync(work, { recursive: true, force: true });
    return;
  }

  nginx.kill('SIGTERM');

  const squidAlone = results.find((r) => r.name === 'Squid alone')!;
  console.log(
    `\nProxy benchmark: wrk -t1 -c${conns} -d${duration}s (after ${warmup}s warm-up), 1 KiB nginx page, ${pin ? 'server on CPU 0, wrk and nginx on CPU 1' : 'not pinned'}; squidGuard -C all built its db in ${buildMs} ms\n`,
  );
  console.log('| path | req/s | ratio to Squid alone | p50 | p99 | non-2xx/3xx | socket errors |');
  console.log('|---|---|---|---|---|---|---|');
  const rank = (r: Result) =>
    r.name.startsWith('nginx') ? 0 : r.name.startsWith('Custos') ? 1 : 2;
  for (const r of [...results].sort((x, y) => rank(x) - rank(y))) {
    console.log(
      `| ${r.name} | ${Math.round(r.rps).toLocaleString('en-GB')} | ${(r.rps / squidAlone.rps).toFixed(2)}x | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.non2xx} | ${r.errors.replace('Socket errors: ', '') || '-'} |`,
    );
  }
  console.log(
    '\nCustos process during each run (how late its event loop ran, GC pauses, activity queue):',
  );
  for (const r of custosRuntime) console.log(JSON.stringify(r));
  const goal = results.find((r) => r.name === 'Custos, allowed URL')!;
  const paced = results.find((r) => r.name.startsWith('Custos, allowed URL, paced'));
  console.log(
    `\nGoal: >= 1.5x Squid alone, p99 <= 2 ms at 50 connections. At full load (every connection asking again at once, so p99 is mostly queueing: ${conns} / req/s = ${((conns / goal.rps) * 1000).toFixed(2)} ms on average): ${(goal.rps / squidAlone.rps).toFixed(2)}x, p99 ${goal.p99.toFixed(2)} ms.`,
  );
  if (paced) {
    console.log(
      `At 1.5x Squid alone's most, asked for at a steady pace: ${Math.round(paced.rps).toLocaleString('en-GB')} req/s answered (${(paced.rps / squidAlone.rps).toFixed(2)}x), p99 ${paced.p99.toFixed(2)} ms: ${paced.rps >= 1.5 * squidAlone.rps && paced.p99 <= 2 ? 'met' : 'NOT met'}.`,
    );
  }
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
