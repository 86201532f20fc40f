// What a sign-in costs: argon2id hash and verify per attempt (median, p95), the peak memory of a
// process doing them, and the verifications per second one core can serve, for the configured
// parameters and alternatives, beside Node's crypto.scrypt at N=2^15 (the common alternative) in
// the same run. Then the whole POST /api/auth/sign-in over real HTTP against an app started here
// on a temporary SQLite database. Run: npx tsx bench/sign-in.ts [--runs 30] [--requests 60]
import { fork } from 'node:child_process';
import { randomBytes, scrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import pino from 'pino';
import { testPolicy } from '../test/factories.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    requests: { type: 'string', default: '60' },
    child: { type: 'string' },
  },
});
const RUNS = Number.parseInt(args.runs, 10);
const PASSWORD = 'Tortoise-lantern-47';

interface Variant {
  name: string;
  kind: 'argon2id' | 'scrypt';
  memoryKiB: number;
  timeCost: number;
  parallelism: number;
}

interface Measured {
  hashMs: number[];
  verifyMs: number[];
  baselineRssMiB: number;
  peakRssMiB: number;
}

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const scryptAsync = (password: string, salt: Buffer) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, key) =>
      e ? reject(e) : resolve(key),
    ),
  );

/** Runs in a child process per variant, so that each peak memory figure is its own. */
async function measure(variant: Variant): Promise<Measured> {
  const baselineRssMiB = process.resourceUsage().maxRSS / 1024;
  const hashMs: number[] = [];
  const verifyMs: number[] = [];
  const options = {
    algorithm: 2 as Algorithm,
    memoryCost: variant.memoryKiB,
    timeCost: variant.timeCost,
    parallelism: variant.parallelism,
  };
  let stored = '';
  const salt = randomBytes(16);
  let key: Buffer = Buffer.alloc(0);
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    if (variant.kind === 'argon2id') stored = await hash(PASSWORD, options);
    else key = await scryptAsync(PASSWORD, salt);
    const t1 = performance.now();
    if (variant.kind === 'argon2id') {
      if (!(await verify(stored, PASSWORD))) throw new Error('verify failed');
    } else if (!(await scryptAsync(PASSWORD, salt)).equals(key)) throw new Error('verify failed');
    const t2 = performance.now();
    if (i >= 2) {
      // The first two runs warm up the thread pool and allocator.
      hashMs.push(t1 - t0);
      verifyMs.push(t2 - t1);
    }
  }
  return { hashMs, verifyMs, baselineRssMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function inChild(variant: Variant): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = fork(
      import.meta.filename,
      ['--child', JSON.stringify(variant), '--runs', String(RUNS)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    child.once('message', (m) => resolve(m as Measured));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`measurement of ${variant.name} exited ${code}`));
    });
  });
}

async function httpSignIn(requests: number) {
  const { buildApp } = await import('../src/api/app.ts');
  const { createAuditLog } = await import('../src/audit/service.ts');
  const { createAccountsService } = await import('../src/auth/accounts.service.ts');
  const { createSessionService } = await import('../src/auth/session.service.ts');
  const { loadConfig } = await import('../src/config/config.ts');
  const { createDirectoryService } = await import('../src/directory/service.ts');
  const { createPolicyHolder } = await import('../src/policy/holder.ts');
  const { openStore } = await import('../src/store/database.ts');
  const { migrate } = await import('../src/store/migrations/index.ts');

  const dir = mkdtempSync(path.join(tmpdir(), 'custos-bench-'));
  const store = await openStore({ sqlitePath: path.join(dir, 'custos.db') });
  try {
    await migrate(store);
    const config = loadConfig({
      env: {},
      overrides: { 'auth.signInRatePerMinute': 1_000_000, 'auth.maxFailedSignIns': 1_000_000 },
    });
    const clock = () => new Date();
    const policy = createPolicyHolder(testPolicy());
    const audit = createAuditLog(store, clock);
    const sessions = createSessionService({ store, config, policy, audit, clock });
    const ctx = { config, store, audit, policy, sessions, log: pino({ level: 'silent' }), clock };
    const person = await createDirectoryService(ctx).createPerson(
      {
        email: 'bench@school.test',
        givenName: 'Bench',
        familyName: 'Mark',
        kind: 'employee',
        roles: ['staff'],
      },
      { id: null, label: 'bench' },
    );
    await createAccountsService(ctx).createAccount(person, PASSWORD, { id: null, label: 'bench' });
    const { app } = await buildApp(ctx);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    const url = `http://127.0.0.1:${address.port}/api/auth/sign-in`;
    const one = async (password: string) => {
      const t0 = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bench@school.test', password }),
      });
      await res.arrayBuffer();
      return { ms: performance.now() - t0, status: res.status };
    };
    await one(PASSWORD);
    const right: number[] = [];
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < requests; i++) {
      right.push((await one(PASSWORD)).ms);
      wrong.push((await one('Not-the-password-1')).ms);
    }
    for (let i = 0; i < Math.min(requests, 30); i++) {
      const t0 = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `nobody${i}@school.test`, password: PASSWORD }),
      });
      await res.arrayBuffer();
      unknown.push(performance.now() - t0);
    }
    // Throughput with as many clients as the machine has cores.
    const clients = availableParallelism();
    const t0 = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (done < requests) {
          done++;
          await one(PASSWORD);
        }
      }),
    );
    const perSecond = (done / (performance.now() - t0)) * 1000;
    await app.close();
    return { right, wrong, unknown, clients, perSecond, argon2: config.auth.argon2 };
  } finally {
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const { loadConfig } = await import('../src/config/config.ts');
  const defaults = loadConfig({ env: {} }).auth.argon2;
  const variants: Variant[] = [
    {
      name: `configured default (${defaults.memoryKiB} KiB, t=${defaults.timeCost}, p=${defaults.parallelism})`,
      kind: 'argon2id',
      ...defaults,
    },
    { name: 'OWASP 19 MiB, t=2', kind: 'argon2id', memoryKiB: 19456, timeCost: 2, parallelism: 1 },
    { name: 'OWASP 46 MiB, t=1', kind: 'argon2id', memoryKiB: 47104, timeCost: 1, parallelism: 1 },
    { name: '64 MiB, t=3', kind: 'argon2id', memoryKiB: 65536, timeCost: 3, parallelism: 1 },
    {
      name: 'peer: scrypt N=2^15, r=8, p=1 (32 MiB)',
      kind: 'scrypt',
      memoryKiB: 32768,
      timeCost: 1,
      parallelism: 1,
    },
  ];
  console.log(
    `Sign-in cost on ${cpus()[0]?.model ?? 'unknown CPU'} (${availableParallelism()} cores), ${RUNS} runs each, Node ${process.version}\n`,
  );
  const rows: { v: Variant; m: Measured }[] = [];
  for (const v of variants) rows.push({ v, m: await inChild(v) });
  const peer = rows.find((r) => r.v.kind === 'scrypt')!;
  const peerVerify = median(peer.m.verifyMs);
  const header = [
    'variant',
    'hash med',
    'hash p95',
    'verify med',
    'verify p95',
    'peak RSS',
    'verify/s/core',
    'x scrypt',
  ];
  const table = rows.map(({ v, m }) => [
    v.name,
    `${median(m.hashMs).toFixed(1)} ms`,
    `${quantile(m.hashMs, 0.95).toFixed(1)} ms`,
    `${median(m.verifyMs).toFixed(1)} ms`,
    `${quantile(m.verifyMs, 0.95).toFixed(1)} ms`,
    `${m.peakRssMiB.toFixed(0)} MiB (+${(m.peakRssMiB - m.baselineRssMiB).toFixed(0)})`,
    (1000 / median(m.verifyMs)).toFixed(1),
    (median(m.verifyMs) / peerVerify).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
  console.log(
    '\nverify/s/core = 1000 / median verify: sequential sign-in checks one core can make. "x scrypt" is the verify time as a multiple of scrypt N=2^15 measured in this run.',
  );

  const requests = Number.parseInt(args.requests, 10);
  const http = await httpSignIn(requests);
  console.log(
    `\nPOST /api/auth/sign-in over HTTP (SQLite, argon2id ${http.argon2.memoryKiB} KiB t=${http.argon2.timeCost}), ${requests} requests each, one client:`,
  );
  const show = (label: string, xs: number[]) =>
    console.log(
      `  ${label.padEnd(22)} median ${median(xs).toFixed(1)} ms, p95 ${quantile(xs, 0.95).toFixed(1)} ms`,
    );
  show('right password', http.right);
  show('wrong password', http.wrong);
  show('unknown e-mail', http.unknown);
  console.log(
    `  ${http.clients} concurrent clients: ${http.perSecond.toFixed(1)} successful sign-ins/s (argon2 runs on the libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4} threads)`,
  );
}

if (args.child) {
  const result = await measure(JSON.parse(args.child) as Variant);
  process.send!(result, undefined, {}, () => process.exit(0));
} else {
  await main();
}
