// The mail gateway under load, beside a plain pass-through relay measured in the same run.
//
//   npx tsx bench/mail.ts [--runs 3] [--duration 10] [--warmup 3] [--clients 2] [--connections 16]
//                         [--no-clamd] [--no-mixed] [--no-memory] [--memory-runs 3] [--no-pin]
//                         [--profile DIR]
//
// Needs clamd (Debian: apt-get install -y clamav-daemon); it is started here with the test
// signature database of test/support/clamd.ts (EICAR only), not the system one, so the scans
// cost less than with ClamAV's full database. --no-clamd leaves it out.
//
// Servers, each a child process pinned to CPU 0 (`taskset -c 0`):
// - Custos, no clamd: the parts of startMailService (src/mail/service.ts: the relay, checks,
//   pipeline, records in SQLite, next hop) put together with no scanner (`scan: null`), which
//   production cannot be configured to do; mail.clamd.failOpen would log and tag every message.
// - Custos + clamd: startMailService as `custos serve` runs it; clamd (StreamMaxLength 40M, and
//   mail.clamd.maxStreamBytes likewise) pinned to CPU 0 as well, its CPU counted with Custos's.
// - the plain relay: smtp-server receiving whole messages and nodemailer handing them on over the
//   same pooled connections (five, as deliver.ts), no checks, no records: the libraries' floor.
// Custos runs on SQLite in a temporary folder on the disk, with the shipped pack; the mail is
// inbound (the MX path): from 127.0.0.1, not a trusted network, to office@palfreyinfant.co.uk,
// and passes the rules, so that it is delivered (the records it wrote are printed to show it).
//
// On CPU 1: the sink every server delivers to (bench/mail-smtp.ts: SMTP that discards the data)
// and the load generator (--clients processes sending over --connections connections in all,
// back to back, each message with its SIZE declared as mail servers do; latency is from MAIL
// FROM to the reply after the data). Their CPU is printed, with each CPU's total, to show whether
// the load side limits a run and how much other work the machine had.
// Corpora (bench/mail-corpus.ts): "50 KB" (text, HTML and a PDF, 50 KB on the wire) and "mixed"
// (20 messages from 7 KB to 13.7 MB on the wire: text only, PDFs, pictures, Word documents, zips
// with zips inside). The servers run at once and the passes alternate between them; the median
// of --runs passes is printed, as msg/s and as CPU time per message, each as a ratio to the
// plain relay. --profile DIR writes a V8 CPU profile of each server process (--cpu-prof), one folder each.
//
// Memory: a fresh process of each server gets 200 messages of 50 KB, then one with a 25 MiB PDF
// (34.2 MiB on the wire); printed are its resident memory before, at the peak (VmHWM, reset
// before the message, and samples every 2 ms) and after, with the rise as a multiple of the
// attachment's size and of the message's. Custos is measured with and without SIZE declared.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/ports.ts';
import { nodeFlags as benchNodeFlags, ROOT } from './baseline.ts';
import {
  fiftyKb,
  MIB,
  MIXED_KINDS,
  message,
  mixedCorpus,
  onTheWire,
  pdf,
  SCHOOL_ADDRESS,
} from './mail-corpus.ts';
import { SmtpClient, startSink } from './mail-smtp.ts';

const STREAM_MAX = 40 * MIB;
const BIG_ATTACHMENT = 25 * MIB;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    clients: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    'no-clamd': { type: 'boolean', default: false },
    'no-mixed': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'memory-runs': { type: 'string', default: '3' },
    'no-pin': { type: 'boolean', default: false },
    profile: { type: 'string' },
    // internal: the role of a child process (custos | plain | sink | load) and its ports
    role: { type: 'string' },
    port: { type: 'string' },
    'sink-port': { type: 'string' },
    'clamd-port': { type: 'string' },
  },
});

// --- the load generator (a child on CPU 1) -------------------------------------------------------

interface LoadSpec {
  port: number;
  files: string[];
  connections: number;
  index: number;
  clients: number;
  warmupMs: number;
  durationMs: number;
}

interface LoadResult {
  ok: number;
  bytes: number;
  failures: Record<string, number>;
  latencies: number[];
  /** The latencies of each message of the corpus, by its place in it. */
  byFile: number[][];
}

async function runLoad(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_LOAD!) as LoadSpec;
  const corpus = spec.files.map((f) => readFileSync(f));
  const clients = await Promise.all(
    Array.from({ length: spec.connections }, () => SmtpClient.open(spec.port)),
  );
  process.send?.('ready');
  const startAt = await new Promise<number>((resolve) =>
    process.once('message', (m) => resolve(m as number)),
  );
  const from = startAt + spec.warmupMs;
  const until = from + spec.durationMs;
  const result: LoadResult = {
    ok: 0,
    bytes: 0,
    failures: {},
    latencies: [],
    byFile: corpus.map(() => []),
  };
  let turn = 0;
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  await Promise.all(
    clients.map(async (initial, c) => {
      let client = initial;
      let n = c;
      while (Date.now() < until) {
        if (client.closed) {
          client = await SmtpClient.open(spec.port).catch(() => client);
          if (client.closed) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
        }
        const file = (turn++ + spec.index * 7) % corpus.length;
        const wire = corpus[file]!;
        n++;
        const t0 = performance.now();
        const reply = await client.send(`parent${n % 500}@example.org`, SCHOOL_ADDRESS, wire);
        const done = Date.now();
        if (done < from || done > until) continue;
        if (reply.code === 250) {
          result.ok++;
          result.bytes += wire.length;
          const latency = performance.now() - t0;
          result.latencies.push(latency);
          result.byFile[file]!.push(latency);
        } else {
          const key = String(reply.code || 'closed');
          result.failures[key] = (result.failures[key] ?? 0) + 1;
        }
      }
      client.close();
    }),
  );
  process.send?.(result, undefined, {}, () => process.exit(0));
}

// --- the plain relay (a child on CPU 0): smtp-server to nodemailer, nothing in between -----------

async function runPlain(port: number, sinkPort: number): Promise<void> {
  const { SMTPServer } = await import('smtp-server');
  const nodemailer = (await import('nodemailer')).default;
  // As the gateway's next hop (src/mail/relay/deliver.ts): pooled, five connections.
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: sinkPort,
    secure: false,
    name: 'relay.bench.test',
    pool: true,
    maxConnections: 5,
  });
  const server = new SMTPServer({
    name: 'relay.bench.test',
    size: 35 * MIB,
    hideSTARTTLS: true,
    authOptional: true,
    disabledCommands: ['AUTH'],
    maxClients: 200,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
      });
      stream.on('error', callback);
      stream.on('end', () => {
        const raw = Buffer.concat(chunks, size);
        chunks.length = 0;
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        transport.sendMail({ envelope, raw }).then(
          () => callback(null, '2.0.0 Accepted'),
          (err: Error) =>
            callback(Object.assign(new Error(`4.4.1 ${err.message}`), { responseCode: 451 })),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  serveControl(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    transport.close();
  });
}

// --- Custos (a child on CPU 0) -------------------------------------------------------------------

async function runCustos(port: number, sinkPort: number, clamdPort: number | null): Promise<void> {
  const pino = (await import('pino')).default;
  const { loadConfig } = await import('../src/config/config.ts');
  const { openRuntime } = await import('../src/cli/runtime.ts');
  const { startMailService, relayOptionsOf, vaultKeyFileOf } = await import(
    '../src/mail/service.ts'
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-mail-custos-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      'policy.pack': path.join(ROOT, 'policy-packs/palfrey-infant'),
      'mail.relay.host': '127.0.0.1',
      'mail.relay.port': port,
      'mail.relay.hostname': 'gateway.bench.test',
      'mail.inbound.host': '127.0.0.1',
      'mail.inbound.port': sinkPort,
      'mail.outbound.host': '127.0.0.1',
      'mail.outbound.port': sinkPort,
      'mail.clamd.host': '127.0.0.1',
      'mail.clamd.port': clamdPort ?? 1,
      'mail.clamd.maxStreamBytes': STREAM_MAX,
    },
  });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const runtime = await openRuntime({ config, log });
  let stop: () => Promise<void>;
  if (clamdPort !== null) {
    stop = (await startMailService(runtime)).stop;
  } else {
    // startMailService's parts without the scanner: production has no way to leave it out.
    const { createVault, loadOrCreateMasterKey } = await import('../src/vault/vault.ts');
    const { mailChecks } = await import('../src/mail/checks.ts');
    const { createDeliverer } = await import('../src/mail/relay/deliver.ts');
    const { createMailPipeline } = await import('../src/mail/relay/pipeline.ts');
    const { startRelay } = await import('../src/mail/relay/server.ts');
    const options = relayOptionsOf(config);
    const timing = { hostname: options.hostname, timeoutMs: config.mail.relay.nextHopTimeoutMs };
    const hop = (h: typeof config.mail.inbound) => ({
      host: h.host,
      port: h.port,
      secure: h.secure,
      requireTls: h.requireTls,
      verifyCertificate: h.verifyCertificate,
    });
    const deliver = {
      inbound: createDeliverer(hop(config.mail.inbound), timing),
      outbound: createDeliverer(hop(config.mail.outbound), timing),
    };
    const checks = mailChecks();
    const mailLog = log.child({ service: 'mail' });
    const pipeline = createMailPipeline({
      store: runtime.store,
      audit: runtime.audit,
      log: mailLog,
      policy: () => runtime.policy.current(),
      vault: createVault(loadOrCreateMasterKey(vaultKeyFileOf(config))),
      inspect: checks.inspect,
      scan: null,
      evaluate: checks.evaluate,
      addDisclaimer: checks.addDisclaimer,
      deliver,
      failOpen: false,
      clock: runtime.clock,
    });
    const listener = await startRelay(
      {
        log: mailLog,
        localDomains: () => runtime.policy.current().mail.domains,
        handle: pipeline.handle,
      },
      options,
    );
    stop = async () => {
      await listener.stop();
      deliver.inbound.close();
      deliver.outbound.close();
    };
  }
  serveControl(
    async () => {
      await stop();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async () => {
      const rows = await runtime.store.db
        .selectFrom('mail_messages')
        .select(['status', 'action', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy(['status', 'action'])
        .execute();
      return Object.fromEntries(rows.map((r) => [`${r.status}/${r.action}`, Number(r.n)]));
    },
  );
}

/** The parent's controls: 'gc', 'loop-reset', 'loop' (event-loop delay), 'report', 'stop'. */
function serveControl(stop: () => Promise<void>, report?: () => Promise<unknown>): void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on('message', async (m) => {
    if (m === 'loop-reset') delay.reset();
    else if (m === 'loop') {
      // The time between ticks of a 10 ms timer: what is past 10 ms is how late the loop ran.
      const late = (ns: number) => Math.max(0, ns / 1e6 - 10);
      process.send?.({ loop: { p99: late(delay.percentile(99)), max: late(delay.max) } });
    } else if (m === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      process.send?.('gc-done');
    } else if (m === 'report') {
      process.send?.({ report: report ? await report() : null });
    } else if (m === 'stop') {
      await stop();
      process.exit(0);
    }
  });
  process.send?.('ready');
}

// --- the parent ----------------------------------------------------------------------------------

const pinned = !args['no-pin'];
const onCpu = (cpu: number, cmd: string[]) =>
  pinned ? ['taskset', '-c', String(cpu), ...cmd] : cmd;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

/** CPU time of a process so far (all threads), in ms. */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

/** Busy and total time of each CPU so far, in ticks. */
function cpuTimes(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d/.test(l))
    .map((l) => {
      const v = l.split(/\s+/).slice(1).map(Number);
      const total = v.reduce((a, b) => a + b, 0);
      return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
    });
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

interface Child {
  proc: ChildProcess;
  pid: number;
  exited: Promise<unknown>;
  request<T>(message: unknown, isAnswer?: (m: unknown) => boolean): Promise<T>;
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function spawnRole(
  cpu: number,
  roleArgs: string[],
  options: { env?: Record<string, string>; nodeFlags?: string[] } = {},
): Promise<Child> {
  const cmd = onCpu(cpu, [
    process.execPath,
    ...(options.nodeFlags ?? []),
    '--import',
    'tsx',
    path.join(ROOT, 'bench/mail.ts'),
    ...roleArgs,
  ]);
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...options.env },
  });
  children.push(proc);
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  let failed: (code: number | null) => void = () => undefined;
  const onExit = (code: number | null) => failed(code);
  proc.once('exit', onExit);
  await new Promise<void>((resolve, reject) => {
    failed = (code) => reject(new Error(`${roleArgs.join(' ')} exited (${code})`));
    proc.once('message', () => resolve());
  });
  proc.off('exit', onExit);
  return {
    proc,
    pid: proc.pid!,
    exited,
    request: <T>(m: unknown, isAnswer: (a: unknown) => boolean = () => true) =>
      new Promise<T>((resolve) => {
        const on = (a: unknown) => {
          if (!isAnswer(a)) return;
          proc.off('message', on);
          resolve(a as T);
        };
        proc.on('message', on);
        proc.send(m as string);
      }),
  };
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null) return;
  c.proc.send('stop');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(t);
}

type Kind = 'plain' | 'custos' | 'custos-clamd';

const NAMES: Record<Kind, string> = {
  plain: 'plain relay (smtp-server + nodemailer)',
  custos: 'Custos, no clamd',
  'custos-clamd': 'Custos + clamd (clamd CPU included)',
};

interface Server {
  kind: Kind;
  name: string;
  child: Child;
  port: number;
  extraPids: number[];
}

interface Pass {
  byFile: number[][];
  loopP99: number;
  loopMax: number;
  rate: number;
  mbps: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
  serverCpu: number;
  loadCpu: number;
  sinkCpu: number;
  cpu0: number;
  cpu1: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

async function measure(server: Server, files: string[], sink: Child): Promise<Pass> {
  const clients = Number(args.clients);
  const connections = Number(args.connections);
  const warmupMs = Number(args.warmup) * 1000;
  const durationMs = Number(args.duration) * 1000;
  const loads = await Promise.all(
    Array.from({ length: clients }, (_, index) => {
      const spec: LoadSpec = {
        port: server.port,
        files,
        connections: Math.ceil(connections / clients),
        index,
        clients,
        warmupMs,
        durationMs,
      };
      return spawnRole(1, ['--role', 'load'], { env: { BENCH_LOAD: JSON.stringify(spec) } });
    }),
  );
  const startAt = Date.now() + 100;
  const results = Promise.all(
    loads.map(
      (l) => new Promise<LoadResult>((resolve) => l.proc.once('message', resolve as never)),
    ),
  );
  for (const l of loads) l.proc.send(startAt);
  const serverPids = [server.child.pid, ...server.extraPids];
  const sample = () => ({
    server: serverPids.reduce((a, p) => a + cpuMsOf(p), 0),
    load: loads.reduce((a, l) => a + cpuMsOf(l.pid), 0),
    sink: cpuMsOf(sink.pid),
    cpus: cpuTimes(),
  });
  await new Promise((r) => setTimeout(r, startAt + warmupMs - Date.now()));
  const a = sample();
  server.child.proc.send('loop-reset');
  await new Promise((r) => setTimeout(r, startAt + warmupMs + durationMs - Date.now()));
  const b = sample();
  const { loop } = await server.child.request<{ loop: { p99: number; max: number } }>(
    'loop',
    (m) => typeof m === 'object' && m !== null && 'loop' in m,
  );
  const done = await results;
  await Promise.all(loads.map((l) => l.exited));
  const latencies = done.flatMap((d) => d.latencies).sort((x, y) => x - y);
  const failures: Record<string, number> = {};
  for (const d of done) {
    for (const [k, v] of Object.entries(d.failures)) failures[k] = (failures[k] ?? 0) + v;
  }
  const seconds = durationMs / 1000;
  const busy = (i: number) =>
    (b.cpus[i]!.busy - a.cpus[i]!.busy) / Math.max(1, b.cpus[i]!.total - a.cpus[i]!.total);
  return {
    byFile: files.map((_, i) => done.flatMap((d) => d.byFile[i] ?? [])),
    loopP99: loop.p99,
    loopMax: loop.max,
    rate: done.reduce((s, d) => s + d.ok, 0) / seconds,
    mbps: done.reduce((s, d) => s + d.bytes, 0) / seconds / 1e6,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    failures,
    serverCpu: (b.server - a.server) / durationMs,
    loadCpu: (b.load - a.load) / durationMs,
    sinkCpu: (b.sink - a.sink) / durationMs,
    cpu0: busy(0),
    cpu1: busy(1),
  };
}

async function startServer(
  kind: Kind,
  sinkPort: number,
  clamd: { port: number; pid: number } | null,
  nodeFlags: string[] = [],
): Promise<Server> {
  const port = await freePort();
  const roleArgs = ['--role', kind === 'plain' ? 'plain' : 'custos', '--port', String(port)];
  roleArgs.push('--sink-port', String(sinkPort));
  if (kind === 'custos-clamd' && clamd) roleArgs.push('--clamd-port', String(clamd.port));
  const profile = args.profile
    ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(args.profile, kind)]
    : [];
  // Custos with the flags `custos serve` runs with; the plain relay with V8's defaults.
  const serveFlags = kind === 'plain' ? [] : benchNodeFlags();
  const child = await spawnRole(0, roleArgs, {
    nodeFlags: [...serveFlags, ...nodeFlags, ...profile],
    env: {},
  });
  const extraPids = kind === 'custos-clamd' && clamd ? [clamd.pid] : [];
  return { kind, name: NAMES[kind], child, port, extraPids };
}

interface Memory {
  beforeMiB: number;
  peakMiB: number;
  afterMiB: number;
  reply: string;
  seconds: number;
}

async function memoryTest(
  server: Server,
  big: Buffer,
  small: Buffer,
  declareSize: boolean,
): Promise<Memory> {
  const client = await SmtpClient.open(server.port);
  for (let i = 0; i < 200; i++) await client.send('parent@example.org', SCHOOL_ADDRESS, small);
  await server.child.request('gc', (m) => m === 'gc-done');
  await new Promise((r) => setTimeout(r, 500));
  const pid = server.child.pid;
  const before = statusKiB(pid, 'VmRSS');
  let hwmReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  let polled = before;
  const timer = setInterval(() => {
    polled = Math.max(polled, statusKiB(pid, 'VmRSS'));
  }, 2);
  const t0 = performance.now();
  const reply = await client.send('parent@example.org', SCHOOL_ADDRESS, big, declareSize);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(timer);
  const peak = Math.max(polled, hwmReset ? statusKiB(pid, 'VmHWM') : 0);
  await server.child.request('gc', (m) => m === 'gc-done');
  await new Promise((r) => setTimeout(r, 500));
  const after = statusKiB(pid, 'VmRSS');
  client.close();
  return {
    beforeMiB: before / 1024,
    peakMiB: peak / 1024,
    afterMiB: after / 1024,
    reply: `${reply.code} ${reply.text.slice(4, 60)}`,
    seconds,
  };
}

const cores = (x: number) => x.toFixed(2);
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const failuresText = (f: Record<string, number>) =>
  Object.entries(f)
    .map(([k, v]) => `${v}x ${k}`)
    .join(', ') || '0';

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'bench-mail-'));
  const withClamd = !args['no-clamd'];
  const runs = Number(args.runs);
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));

  // The corpora, written once for the load generators to read.
  const write = (name: string, wire: Buffer) => {
    const file = path.join(work, name);
    writeFileSync(file, wire);
    return file;
  };
  const small = await Promise.all(Array.from({ length: 8 }, (_, i) => fiftyKb(i)));
  const corpora: { name: string; files: string[]; sizes: number[]; kinds: string[] | null }[] = [
    {
      name: '50 KB',
      files: small.map((w, i) => write(`50k-${i}.eml`, w)),
      sizes: small.map((w) => w.length),
      kinds: null,
    },
  ];
  if (!args['no-mixed']) {
    const mixed = await mixedCorpus();
    corpora.push({
      name: 'mixed',
      files: mixed.map((m, i) => write(`mixed-${i}.eml`, m.wire)),
      sizes: mixed.map((m) => m.wire.length),
      kinds: mixed.map((m) => m.kind),
    });
  }

  const sinkPort = await freePort();
  const sink = await spawnRole(1, ['--role', 'sink', '--port', String(sinkPort)]);
  let clamd: { port: number; pid: number; stop(): Promise<void>; kill(): void } | null = null;
  if (withClamd) {
    const { startClamd, clamdProblem } = await import('../test/support/clamd.ts');
    if (clamdProblem) throw new Error(`${clamdProblem}; or run with --no-clamd`);
    clamd = await startClamd({ streamMaxBytes: STREAM_MAX });
    process.on('exit', () => clamd?.kill());
    // All of clamd's threads, and those it starts later (they inherit the mask).
    if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '0', String(clamd.pid)]);
  }
  const kinds: Kind[] = ['plain', 'custos'];
  if (withClamd) kinds.push('custos-clamd');
  const servers: Server[] = [];
  for (const kind of kinds) servers.push(await startServer(kind, sinkPort, clamd));

  const passes = new Map<string, Pass[]>();
  const key = (corpus: string, server: string) => `${corpus}\u0000${server}`;
  for (let run = 1; run <= runs; run++) {
    for (const corpus of corpora) {
      for (const server of servers) {
        const pass = await measure(server, corpus.files, sink);
        const list = passes.get(key(corpus.name, server.name)) ?? [];
        list.push(pass);
        passes.set(key(corpus.name, server.name), list);
        process.stderr.write(
          `pass ${run}/${runs}, ${corpus.name}, ${server.name}: ${pass.rate.toFixed(0)} msg/s, p99 ${ms(pass.p99)} ms, not 250: ${failuresText(pass.failures)}\n`,
        );
      }
    }
  }
  const records: Record<string, unknown> = {};
  for (const server of servers) {
    if (server.kind !== 'plain') {
      const { report } = await server.child.request<{ report: unknown }>(
        'report',
        (m) => typeof m === 'object' && m !== null && 'report' in m,
      );
      records[server.name] = report;
    }
  }
  const sunk = await sink.request<{ messages: number; bytes: number }>('report');
  for (const server of servers) await stopChild(server.child);

  const memory: { name: string; runs: Memory[] }[] = [];
  let bigSize = 0;
  if (!args['no-memory']) {
    const big = onTheWire(
      await message(9999, 2000, [
        { filename: 'scans.pdf', content: pdf(BIG_ATTACHMENT), contentType: 'application/pdf' },
      ]),
    );
    bigSize = big.length - 3;
    const cases: [Kind, boolean][] = [
      ['plain', true],
      ['custos', true],
      ['custos', false],
    ];
    if (withClamd) cases.push(['custos-clamd', true]);
    for (const [kind, declareSize] of cases) {
      const name = `${kind === 'custos-clamd' ? 'Custos + clamd (the Custos process)' : NAMES[kind]}${declareSize ? '' : ', no SIZE declared'}`;
      const runs: Memory[] = [];
      for (let i = 0; i < Number(args['memory-runs']); i++) {
        const server = await startServer(kind, sinkPort, clamd, ['--expose-gc']);
        runs.push(await memoryTest(server, big, small[0]!, declareSize));
        await stopChild(server.child);
      }
      memory.push({ name, runs });
    }
  }
  await stopChild(sink);
  await clamd?.stop();

  const connections = Number(args.connections);
  const clients = Number(args.clients);
  console.log(
    `\nMail benchmark: inbound mail to ${SCHOOL_ADDRESS} through each server to a discarding sink; ${clients} load processes, ${Math.ceil(connections / clients) * clients} connections in all, sending back to back; ${args.duration} s per pass after ${args.warmup} s warm-up; median of ${runs} passes; ${pinned ? 'servers (and clamd) on CPU 0, sink and load generator on CPU 1' : 'not pinned'}.\n`,
  );
  for (const corpus of corpora) {
    const total = corpus.sizes.reduce((a, b) => a + b, 0);
    console.log(
      `${corpus.name}: ${corpus.sizes.length} messages, ${(Math.min(...corpus.sizes) / 1024).toFixed(1)} KB to ${(Math.max(...corpus.sizes) / 1024).toFixed(1)} KB on the wire, ${(total / corpus.sizes.length / 1024).toFixed(1)} KB on average`,
    );
  }
  const summary = (list: Pass[]) => {
    const m = (f: (p: Pass) => number) => median(list.map(f));
    return {
      rate: m((p) => p.rate),
      mbps: m((p) => p.mbps),
      p50: m((p) => p.p50),
      p99: m((p) => p.p99),
      serverCpu: m((p) => p.serverCpu),
      loopP99: m((p) => p.loopP99),
      loopMax: m((p) => p.loopMax),
      cpuPerMessage: m((p) => (p.serverCpu * 1000) / p.rate),
      loadCpu: m((p) => p.loadCpu),
      sinkCpu: m((p) => p.sinkCpu),
      cpu0: m((p) => p.cpu0),
      cpu1: m((p) => p.cpu1),
    };
  };
  const byKind = (corpus: string, kind: Kind) => {
    const server = servers.find((s) => s.kind === kind);
    const list = server && passes.get(key(corpus, server.name));
    return list?.length ? summary(list) : null;
  };
  if (runs > 0) {
    console.log(
      '\n| corpus | server | msg/s | ratio to plain relay | MB/s | p50 | p99 | not 250 | server CPU | server CPU per message | ratio to plain relay, per CPU ms | how late the server event loop ran, p99 / max | load generator CPU | sink CPU | CPU 0 busy | CPU 1 busy | msg/s per pass |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const corpus of corpora) {
      const plain = byKind(corpus.name, 'plain')!;
      for (const server of servers) {
        const list = passes.get(key(corpus.name, server.name))!;
        const s = summary(list);
        const failures: Record<string, number> = {};
        for (const p of list) {
          for (const [k, v] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + v;
        }
        console.log(
          `| ${corpus.name} | ${server.name} | ${s.rate.toFixed(0)} | ${(s.rate / plain.rate).toFixed(2)}x | ${s.mbps.toFixed(1)} | ${ms(s.p50)} ms | ${ms(s.p99)} ms | ${failuresText(failures)} | ${cores(s.serverCpu)} | ${s.cpuPerMessage.toFixed(2)} ms | ${(plain.cpuPerMessage / s.cpuPerMessage).toFixed(2)}x | ${ms(s.loopP99)} / ${ms(s.loopMax)} ms | ${cores(s.loadCpu)} | ${cores(s.sinkCpu)} | ${(s.cpu0 * 100).toFixed(0)}% | ${(s.cpu1 * 100).toFixed(0)}% | ${list.map((p) => p.rate.toFixed(0)).join(', ')} |`,
        );
      }
    }
    for (const corpus of corpora) {
      if (!corpus.kinds) continue;
      console.log(
        `\n${corpus.name}: latency by kind of message, p50 / p99 over all passes\n\n| server | ${MIXED_KINDS.join(' | ')} |\n|---|${MIXED_KINDS.map(() => '---|').join('')}`,
      );
      for (const server of servers) {
        const list = passes.get(key(corpus.name, server.name))!;
        const cells = MIXED_KINDS.map((kind) => {
          const all = list
            .flatMap((p) => p.byFile.filter((_, i) => corpus.kinds![i] === kind).flat())
            .sort((a, b) => a - b);
          return `${ms(quantile(all, 0.5))} / ${ms(quantile(all, 0.99))} ms`;
        });
        console.log(`| ${server.name} | ${cells.join(' | ')} |`);
      }
    }
    console.log(
      "\nCPU columns are cores used during the pass (1.00 = one CPU), from /proc; CPU 0 and CPU 1 busy include the machine's other work. The CPU time per message is disturbed less by other work than msg/s. The records' commits (synchronous = FULL) wait for the disk in a thread of their own, which the event loop does not wait for.",
    );
    console.log(`\nRecords written by Custos (status/action: count): ${JSON.stringify(records)}`);
    console.log(`The sink took ${sunk.messages} messages (${(sunk.bytes / 1e6).toFixed(0)} MB).`);
  }

  if (memory.length) {
    console.log(
      `\nMemory: one message with a ${BIG_ATTACHMENT / MIB} MiB attachment (${(bigSize / MIB).toFixed(1)} MiB on the wire), after 200 of 50 KB, in a fresh process of each server, ${args['memory-runs']} times (resident memory in MiB, of the run with the median rise; the peak from VmHWM and 2 ms samples)\n`,
    );
    console.log(
      '| server | before | peak | after | peak rise | rise / attachment size | rise / message size | rise per run | reply | seconds |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const m of memory) {
      const rises = m.runs.map((r) => r.peakMiB - r.beforeMiB);
      const r = m.runs[rises.indexOf(median(rises))]!;
      const rise = r.peakMiB - r.beforeMiB;
      console.log(
        `| ${m.name} | ${r.beforeMiB.toFixed(0)} | ${r.peakMiB.toFixed(0)} | ${r.afterMiB.toFixed(0)} | ${rise.toFixed(0)} | ${((rise * MIB) / BIG_ATTACHMENT).toFixed(2)}x | ${((rise * MIB) / bigSize).toFixed(2)}x | ${rises.map((x) => x.toFixed(0)).join(', ')} | ${r.reply} | ${r.seconds.toFixed(2)} |`,
      );
    }
  }

  const headline = byKind('50 KB', 'custos');
  const plainHeadline = byKind('50 KB', 'plain');
  const custosMemory = memory.find((m) => m.name === NAMES.custos);
  const memoryRatio = custosMemory
    ? (median(custosMemory.runs.map((r) => r.peakMiB - r.beforeMiB)) * MIB) / BIG_ATTACHMENT
    : Number.NaN;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(
    [
      '\nGoals, Custos without clamd:',
      headline && plainHeadline
        ? `>= 1,000 msg/s of 50 KB: ${headline.rate.toFixed(0)} (${verdict(headline.rate >= 1000)}); >= 0.5x the plain relay: ${(headline.rate / plainHeadline.rate).toFixed(2)}x (${verdict(headline.rate >= 0.5 * plainHeadline.rate)});`
        : '(throughput not measured);',
      Number.isNaN(memoryRatio)
        ? '(memory not measured).'
        : `a 25 MiB attachment raising memory by <= 2x its size: ${memoryRatio.toFixed(2)}x (${verdict(memoryRatio <= 2)}).`,
    ].join(' '),
  );
}

if (args.role === 'load') await runLoad();
else if (args.role === 'sink') {
  const sink = await startSink(Number(args.port));
  process.on('message', (m) => {
    if (m === 'report') process.send?.(sink.stats());
  });
  process.send?.('ready');
} else if (args.role === 'plain') await runPlain(Number(args.port), Number(args['sink-port']));
else if (args.role === 'custos') {
  const clamdPort = args['clamd-port'];
  await runCustos(
    Number(args.port),
    Number(args['sink-port']),
    clamdPort ? Number(clamdPort) : null,
  );
} else await main();
