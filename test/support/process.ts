// Runs the real `custos` command (through tsx, from source) as a child process.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `custos ARGS` to completion. */
export function custos(
  args: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, CUSTOS_LOG__LEVEL: 'warn', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`custos ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `custos serve` and resolves once it logs that it listens. */
export function serve(env: Record<string, string>, args: string[] = []): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        CUSTOS_SERVER__HOST: '127.0.0.1',
        CUSTOS_SERVER__PORT: '0',
        CUSTOS_PROXY__HOST: '127.0.0.1',
        CUSTOS_PROXY__PORT: '0',
        CUSTOS_DNS__HOST: '127.0.0.1',
        CUSTOS_DNS__PORT: '0',
        CUSTOS_DNS__UPSTREAMS: '["127.0.0.1:9"]',
        CUSTOS_MAIL__RELAY__HOST: '127.0.0.1',
        CUSTOS_MAIL__RELAY__PORT: '0',
        CUSTOS_MAIL__CLAMD__PORT: '9',
        CUSTOS_WEBFILTER__LISTS: path.join(ROOT, 'test/fixtures/lists/ut1-mini'),
        ...env,
      },
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`custos serve did not start:\n${out}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      out += d;
      const match = out.match(/"url":"(http:\/\/[^"]+)"/);
      if (match && /listening/.test(out)) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1]!,
          output: () => out,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`custos serve exited with ${code}:\n${out}`));
    });
  });
}
