// The README's promise: `custos serve` on the embedded defaults answers /healthz, prints the
// one-time setup link when no account exists, and stops cleanly on SIGTERM.
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { custos, serve } from '../support/process.ts';

describe('custos serve', () => {
  it('starts on SQLite with the shipped pack, answers health checks and drains on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'custos-serve-'));
    const served = await serve({ CUSTOS_DATA_DIR: dataDir });
    try {
      const health = await fetch(`${served.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${served.url}/readyz`);
      // No clamd here (the tests point it at a closed port): ready, with the scanner's warning.
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        store: 'sqlite',
        policy: 'palfrey-infant',
        mail: { scanner: 'not answering', failOpen: false },
        warnings: [expect.stringMatching(/virus scanner does not answer: mail is deferred/)],
      });
      expect(served.output()).toMatch(/one-time link[\s\S]*\/setup#token=[A-Za-z0-9_-]{20,}/);
      const openapi = await fetch(`${served.url}/api/openapi.json`);
      expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\./);
      // The server answers 413 from the declared length alone: only the head is sent, so no
      // write can race the server closing the connection.
      const tooBig = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${served.url}/api/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': 11 * 1024 * 1024 },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text });
            req.destroy();
          });
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(tooBig.status).toBe(413);
      expect(JSON.parse(tooBig.body)).toMatchObject({ error: { code: 'payload_too_large' } });
      // The mail gateway comes up with the rest and greets over SMTP.
      await expect.poll(() => /mail gateway listening/.test(served.output())).toBe(true);
      const smtp = /"url":"smtp:\/\/([^":]+):(\d+)"/.exec(served.output())!;
      const greeting = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(smtp[2]), smtp[1]!);
        socket.once('data', (d) => {
          socket.end('QUIT\r\n');
          resolve(d.toString());
        });
        socket.once('error', reject);
      });
      expect(greeting).toMatch(/^220 .*Custos mail gateway/);
    } finally {
      expect(await served.stop()).toBe(0);
    }
    expect(served.output()).toMatch(/stopped/);
  });

  it('refuses to start with an invalid configuration and says which setting', async () => {
    const run = await custos(['serve'], { env: { CUSTOS_SERVER__PORT: 'eighty' } });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/server\.port/);
  });

  it('config prints the effective configuration with secrets redacted', async () => {
    const run = await custos(['config', '--json'], {
      env: { DATABASE_URL: 'postgres://custos:hunter2@db/custos' },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('hunter2');
    expect(JSON.parse(run.stdout)).toMatchObject({ server: { port: 8080 } });
  });

  it('migrate brings a new database up to date, then reports nothing to do', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'custos-migrate-'));
    const first = await custos(['migrate'], { env: { CUSTOS_DATA_DIR: dataDir } });
    expect(first.stdout).toMatch(/Applied \d+ migration/);
    const second = await custos(['migrate'], { env: { CUSTOS_DATA_DIR: dataDir } });
    expect(second.stdout).toMatch(/up to date/);
  });

  it('--help lists the commands and exits 0; an unknown command exits 2', async () => {
    const help = await custos(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'migrate', 'config', 'audit'])
      expect(help.stdout).toContain(command);
    const unknown = await custos(['frobnicate']);
    expect(unknown.code).toBe(2);
  });
});
