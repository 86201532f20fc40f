// Builds the console once when console/dist is missing or older than its sources. Several test
// files may ask at once (Vitest runs files in parallel), so a lock directory makes one build and
// the others wait for it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../support/process.ts';

export const CONSOLE_DIR = path.join(ROOT, 'console');
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');
const LOCK = path.join(
  tmpdir(),
  `custos-console-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`,
);
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'tsconfig.json'];

function newest(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(target))
    latest = Math.max(latest, newest(path.join(target, entry)));
  return latest;
}

/** True when console/dist is missing or a source file changed after the last build. */
export function consoleIsStale(): boolean {
  const index = path.join(CONSOLE_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((s) => newest(path.join(CONSOLE_DIR, s)) > built);
}

function runBuild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const vite = path.join(ROOT, 'node_modules/vite/bin/vite.js');
    const child = spawn(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`vite build failed (${code}):\n${out}`)),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function ensureConsoleBuilt(): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (consoleIsStale()) {
    let mine = false;
    try {
      mkdirSync(LOCK);
      mine = true;
    } catch {
      // Another test file is building; a lock older than three minutes is left from a crash.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 180_000) {
        rmSync(LOCK, { recursive: true, force: true });
      }
    }
    if (mine) {
      try {
        if (consoleIsStale()) await runBuild();
      } finally {
        rmSync(LOCK, { recursive: true, force: true });
      }
      return;
    }
    if (Date.now() > deadline) throw new Error('Waited three minutes for the console build.');
    await sleep(250);
  }
}
