// A real clamd for tests, with a signature database made here: the EICAR test file as an MD5
// signature (.hdb, the whole file, so also an archive member) and as a body signature (.ndb, at
// any offset). Nothing comes from the internet. Without clamd installed the suites that need it
// are skipped with a printed reason; under CI=true they fail instead, as for PostgreSQL.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eicar } from './mail-samples.ts';
import { freePort } from './ports.ts';

/** The 68-byte EICAR test file (test/support/mail-samples.ts). */
export const EICAR = eicar();

/** The names the test database reports (clamd adds ".UNOFFICIAL" to signatures of its own). */
export const EICAR_HDB_NAME = 'Custos.Test.EICAR-HDB';
export const EICAR_NDB_NAME = 'Custos.Test.EICAR-NDB';

const CANDIDATES = [
  process.env.CLAMD_PATH,
  '/usr/sbin/clamd',
  '/usr/local/sbin/clamd',
  ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'clamd')),
].filter((p): p is string => Boolean(p));

/** The clamd program, or null when it is not installed. */
export const CLAMD_BIN = CANDIDATES.find((p) => existsSync(p)) ?? null;

/** null when clamd is installed, otherwise why the tests cannot run. */
export const clamdProblem: string | null = CLAMD_BIN
  ? null
  : 'clamd is not installed (looked at CLAMD_PATH, /usr/sbin/clamd, /usr/local/sbin/clamd and PATH; on Debian: apt-get install clamav-daemon)';

if (clamdProblem && process.env.CI === 'true') {
  throw new Error(`${clamdProblem}; CI requires it.`);
}
if (clamdProblem) console.warn(`[clamd tests] skipping: ${clamdProblem}.`);

export interface TestClamd {
  readonly socket: string;
  readonly host: string;
  readonly port: number;
  /** The StreamMaxLength it was started with, in bytes. */
  readonly streamMaxBytes: number;
  readonly pid: number;
  /** Milliseconds from spawning to the first PONG. */
  readonly startMs: number;
  log(): string;
  /** Resident memory of the clamd process in KiB (from /proc), or null when unknown. */
  rssKiB(): number | null;
  /** Kills clamd at once (SIGKILL), as a crash would. */
  kill(): void;
  /** Stops clamd and removes its folder. */
  stop(): Promise<void>;
}

function pong(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect({ path: socket });
    let reply = '';
    const done = (ok: boolean) => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(500, () => done(false));
    conn.on('connect', () => conn.write('zPING\0'));
    conn.on('data', (d) => {
      reply += d;
      if (reply.includes('\0')) done(reply.startsWith('PONG'));
    });
    conn.on('error', () => done(false));
    conn.on('close', () => done(false));
  });
}

/** Writes the test signatures into `dir`. */
export function writeTestDatabase(dir: string): void {
  const md5 = createHash('md5').update(EICAR).digest('hex');
  writeFileSync(path.join(dir, 'custos-test.hdb'), `${md5}:${EICAR.length}:${EICAR_HDB_NAME}\n`);
  // Target type 0 (any file), offset * (anywhere).
  writeFileSync(
    path.join(dir, 'custos-test.ndb'),
    `${EICAR_NDB_NAME}:0:*:${EICAR.toString('hex')}\n`,
  );
}

/** Starts clamd on a unix socket and a free TCP port; resolves once it answers PING. */
export async function startClamd(options: { streamMaxBytes?: number } = {}): Promise<TestClamd> {
  if (!CLAMD_BIN) throw new Error(clamdProblem!);
  const streamMaxBytes = options.streamMaxBytes ?? 1024 * 1024;
  // Short: a unix socket path must fit in 108 bytes.
  const dir = mkdtempSync(path.join(tmpdir(), 'clamd-'));
  const dbDir = path.join(dir, 'db');
  const socket = path.join(dir, 'clamd.sock');
  const logFile = path.join(dir, 'clamd.log');
  const port = await freePort();
  mkdirSync(dbDir);
  writeTestDatabase(dbDir);
  const conf = path.join(dir, 'clamd.conf');
  writeFileSync(
    conf,
    [
      'Foreground yes',
      `LocalSocket ${socket}`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `DatabaseDirectory ${dbDir}`,
      `TemporaryDirectory ${dir}`,
      `LogFile ${logFile}`,
      'LogTime yes',
      `StreamMaxLength ${streamMaxBytes}`,
      'ScanArchive yes',
      'ScanMail yes',
      'SelfCheck 0',
      'MaxThreads 8',
      '',
    ].join('\n'),
  );
  const started = performance.now();
  const child: ChildProcess = spawn(CLAMD_BIN, [`--config-file=${conf}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 30_000;
  while (!(await pong(socket))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`clamd did not start:\n${output}\n${readLog()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const startMs = Math.round(performance.now() - started);
  return {
    socket,
    host: '127.0.0.1',
    port,
    streamMaxBytes,
    pid: child.pid!,
    startMs,
    log: () => `${output}${readLog()}`,
    rssKiB: () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const match = /VmRSS:\s+(\d+) kB/.exec(status);
        return match ? Number(match[1]) : null;
      } catch {
        return null;
      }
    },
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
