// The clamd client against a real clamd started with a test-only signature database (EICAR).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLAMD_BIN,
  clamdProblem,
  EICAR,
  EICAR_HDB_NAME,
  EICAR_NDB_NAME,
  startClamd,
  type TestClamd,
} from '../../test/support/clamd.ts';
import { freePort } from '../../test/support/ports.ts';
import { loadConfig } from '../config/config.ts';
import {
  CLAMD_DEFAULT_STREAM_MAX,
  ClamdClient,
  type ClamdOptions,
  clamdOptionsFromConfig,
  parseScanReply,
  ScannerUnavailable,
} from './clamd.ts';

const SIGNATURE = new RegExp(`^(${EICAR_HDB_NAME}|${EICAR_NDB_NAME})(\\.UNOFFICIAL)?$`);

/** A minimal zip writer: stored or deflated entries, no extras, no comment. */
function zip(entries: { name: string; data: Buffer; deflate?: boolean }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const body = entry.deflate ? deflateRawSync(entry.data) : entry.data;
    const method = entry.deflate ? 8 : 0;
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(method, 10);
    dir.writeUInt16LE(0x21, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(body.length, 20);
    dir.writeUInt32LE(entry.data.length, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(dir, name);
    offset += local.length + name.length + body.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dirBytes, end]);
}

/** `data` as an async iterable of pieces of `size` bytes, with an empty piece now and then. */
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) {
    if (at % (size * 50) === 0) yield Buffer.alloc(0);
    yield data.subarray(at, at + size);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(promise: Promise<unknown>): Promise<ScannerUnavailable> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScannerUnavailable);
    return error as ScannerUnavailable;
  }
  throw new Error('expected ScannerUnavailable, but the promise resolved');
}

describe('parseScanReply', () => {
  it('reads the four kinds of INSTREAM answer', () => {
    expect(parseScanReply('stream: OK')).toEqual({ status: 'clean' });
    expect(parseScanReply('stream: Win.Test.EICAR_HDB-1 FOUND')).toEqual({
      status: 'infected',
      signature: 'Win.Test.EICAR_HDB-1',
    });
    const big = parseScanReply('INSTREAM size limit exceeded. ERROR');
    expect(big).toMatchObject({ status: 'error', message: expect.stringMatching(/too large/) });
    expect(parseScanReply('lstat() failed: No such file or directory. ERROR')).toMatchObject({
      status: 'error',
    });
    expect(parseScanReply('what?')).toMatchObject({ status: 'error' });
  });
});

describe('mail.clamd configuration', () => {
  it('defaults to 127.0.0.1:3310, 25 MB streams and fail-closed', () => {
    const config = loadConfig({ env: {} });
    expect(config.mail.clamd).toMatchObject({
      host: '127.0.0.1',
      port: 3310,
      maxStreamBytes: CLAMD_DEFAULT_STREAM_MAX,
      failOpen: false,
    });
    const options = clamdOptionsFromConfig(
      loadConfig({ env: { CUSTOS_MAIL__CLAMD__SOCKET: '/run/clamav/clamd.ctl' } }).mail.clamd,
    );
    expect(new ClamdClient(options).address).toBe('unix:/run/clamav/clamd.ctl');
  });
});

describe.skipIf(clamdProblem !== null)(`clamd client against a real clamd (${CLAMD_BIN})`, () => {
  let clamd: TestClamd;
  const client = (options: ClamdOptions = {}) =>
    new ClamdClient({
      host: clamd.host,
      port: clamd.port,
      maxStreamBytes: clamd.streamMaxBytes,
      timeoutMs: 10_000,
      ...options,
    });

  beforeAll(async () => {
    clamd = await startClamd({ streamMaxBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await clamd?.stop();
  });

  it('SYS-4: EICAR is reported infected with its signature name', async () => {
    const overTcp = await client().scan(EICAR);
    expect(overTcp).toEqual({ status: 'infected', signature: expect.stringMatching(SIGNATURE) });
    const overSocket = await client({ socket: clamd.socket }).scan(EICAR);
    expect(overSocket).toEqual({ status: 'infected', signature: expect.stringMatching(SIGNATURE) });
  });

  it('SYS-4: clean data is clean', async () => {
    expect(await client().scan(Buffer.from('Dear parents, the trip is on Friday.\n'))).toEqual({
      status: 'clean',
    });
    expect(await client().scan(randomBytes(300_000))).toEqual({ status: 'clean' });
    expect(await client().scan(Buffer.alloc(0))).toEqual({ status: 'clean' });
  });

  it('SYS-4: EICAR inside a stored zip is found, because clamd scans archives', async () => {
    const archive = zip([
      { name: 'readme.txt', data: Buffer.from('Nothing to see.\n') },
      { name: 'tools/eicar.com', data: EICAR },
    ]);
    const result = await client().scan(archive);
    expect(result).toEqual({ status: 'infected', signature: expect.stringMatching(SIGNATURE) });
  });

  it('SYS-4: EICAR deflated inside a zip inside a zip is found only by unpacking', async () => {
    const inner = zip([{ name: 'eicar.com', data: EICAR, deflate: true }]);
    const outer = zip([
      { name: 'letter.txt', data: Buffer.from('See the attached.\n'), deflate: true },
      { name: 'inner.zip', data: inner, deflate: true },
    ]);
    // The test file's bytes appear nowhere in the archive as sent.
    expect(outer.includes(EICAR)).toBe(false);
    expect(await client().scan(outer)).toEqual({
      status: 'infected',
      signature: expect.stringMatching(SIGNATURE),
    });
  });

  it('SYS-7: a whole e-mail with EICAR as a base64 attachment is found', async () => {
    const message = Buffer.from(
      [
        'From: a@example.org',
        'To: office@palfreyinfant.co.uk',
        'Subject: invoice',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain',
        '',
        'Please see the invoice.',
        '--b1',
        'Content-Type: application/octet-stream; name="invoice.com"',
        'Content-Disposition: attachment; filename="invoice.com"',
        'Content-Transfer-Encoding: base64',
        '',
        EICAR.toString('base64'),
        '--b1--',
        '',
      ].join('\r\n'),
    );
    expect(message.includes(EICAR)).toBe(false);
    expect(await client().scan(message)).toEqual({
      status: 'infected',
      signature: expect.stringMatching(SIGNATURE),
    });
  });

  it('SYS-4: a stream in many small chunks is scanned whole, EICAR at any offset', async () => {
    const before = Buffer.alloc(40_003, 'a');
    const after = Buffer.alloc(20_000, 'z');
    const infected = Buffer.concat([before, EICAR, after]);
    expect(await client().scan(pieces(infected, 7))).toEqual({
      status: 'infected',
      signature: expect.stringMatching(SIGNATURE),
    });
    expect(await client().scan(pieces(Buffer.concat([before, after]), 7))).toEqual({
      status: 'clean',
    });
    // A single large piece is cut into INSTREAM chunks by the client.
    expect(await client({ chunkBytes: 1000 }).scan(pieces(infected, 50_000))).toMatchObject({
      status: 'infected',
    });
  });

  it('over StreamMaxLength gives an error result without streaming', async () => {
    const max = clamd.streamMaxBytes;
    // Pointed at a port where nothing listens: any attempt to stream would throw instead.
    const nowhere = client({ port: await freePort() });
    const tooBig = await nowhere.scan(Buffer.alloc(max + 1));
    expect(tooBig).toEqual({ status: 'error', message: expect.stringMatching(/larger than/) });
    expect(await nowhere.scan(pieces(Buffer.alloc(10), 5), { size: max + 1 })).toMatchObject({
      status: 'error',
    });
    // Exactly the limit is still scanned.
    expect(await client().scan(Buffer.alloc(max, 'x'))).toEqual({ status: 'clean' });
    // A stream of unknown size stops at the limit.
    expect(await client().scan(pieces(Buffer.alloc(max + 10, 'x'), 64 * 1024))).toMatchObject({
      status: 'error',
    });
  });

  it("clamd's own size limit (client configured too high) is a scanner error, not an outage", async () => {
    const result = await client({ maxStreamBytes: 8 * clamd.streamMaxBytes }).scan(
      Buffer.alloc(2 * clamd.streamMaxBytes, 'x'),
    );
    // clamd answers "size limit exceeded" and closes; either that answer is read, or the
    // close cuts a write first and a PING shows clamd is up: a scanner error either way.
    expect(result).toEqual({ status: 'error', message: expect.stringMatching(/size limit/) });
  });

  it('an unreachable clamd raises ScannerUnavailable quickly', async () => {
    const started = performance.now();
    const refused = await rejection(client({ port: await freePort() }).scan(EICAR));
    expect(refused.reason).toBe('connect');
    expect(refused.message).toMatch(/ECONNREFUSED/);
    const noSocket = path.join(tmpdir(), `no-clamd-${process.pid}.sock`);
    expect((await rejection(client({ socket: noSocket }).scan(EICAR))).reason).toBe('connect');
    expect((await rejection(client({ port: await freePort() }).ping())).reason).toBe('connect');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a clamd that accepts but never answers raises ScannerUnavailable at the timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const started = performance.now();
      const error = await rejection(client({ port, timeoutMs: 300 }).scan(EICAR));
      const took = performance.now() - started;
      expect(error.reason).toBe('timeout');
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1500);
    } finally {
      silent.close();
    }
  });

  it('a clamd that stops mid-scan raises ScannerUnavailable', async () => {
    const doomed = await startClamd({ streamMaxBytes: 4 * 1024 * 1024 });
    try {
      let sent = 0;
      async function* slow(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 200; i++) {
          sent++;
          if (i === 5) doomed.kill();
          yield Buffer.alloc(16 * 1024, 'm');
          await sleep(10);
        }
      }
      const started = performance.now();
      const error = await rejection(
        new ClamdClient({ socket: doomed.socket, maxStreamBytes: 4 * 1024 * 1024 }).scan(slow()),
      );
      expect(error.reason).toBe('reset');
      expect(sent).toBeLessThan(200);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await doomed.stop();
    }
  });

  it('a clamd that reads the whole message and closes without answering raises ScannerUnavailable', async () => {
    const mute = net.createServer((conn) => {
      let seen = Buffer.alloc(0);
      conn.on('data', (d: Buffer) => {
        seen = Buffer.concat([seen, d]);
        // The zero-length chunk that ends INSTREAM.
        if (seen.subarray(-4).equals(Buffer.alloc(4))) conn.destroy();
      });
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const { port } = mute.address() as net.AddressInfo;
      const error = await rejection(client({ port }).scan(Buffer.from('hello')));
      expect(error.reason).toBe('reset');
      expect(error.message).toMatch(/without an answer/);
    } finally {
      mute.close();
    }
  });

  it('bounded concurrency: 20 scans at once with maxConcurrent 2 all finish', async () => {
    // A counting relay in front of clamd: a scan is in flight from connection to answer.
    let inFlight = 0;
    let peak = 0;
    const relay = net.createServer((down) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      let answered = false;
      const up = net.connect({ host: clamd.host, port: clamd.port });
      down.on('data', (d) => up.write(d));
      up.on('data', (d) => {
        if (!answered && d.includes(0)) {
          answered = true;
          inFlight--;
        }
        down.write(d);
      });
      const close = () => {
        if (!answered) {
          answered = true;
          inFlight--;
        }
        down.destroy();
        up.destroy();
      };
      down.on('close', close);
      up.on('close', close);
      down.on('error', close);
      up.on('error', close);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    try {
      const { port } = relay.address() as net.AddressInfo;
      const scanner = client({ port, maxConcurrent: 2, maxQueued: 18 });
      const inputs = Array.from({ length: 20 }, (_, i) =>
        i % 4 === 0 ? Buffer.concat([randomBytes(20_000), EICAR]) : randomBytes(20_000),
      );
      const results = await Promise.all(inputs.map((input) => scanner.scan(input)));
      expect(results.map((r) => r.status)).toEqual(
        inputs.map((_, i) => (i % 4 === 0 ? 'infected' : 'clean')),
      );
      expect(peak).toBe(2);
      expect(scanner.load).toEqual({ active: 0, queued: 0 });
    } finally {
      relay.close();
    }
  });

  it('a full queue answers busy at once, as unavailable', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    async function* held(): AsyncGenerator<Buffer> {
      yield Buffer.from('first part ');
      await gate;
      yield Buffer.from('last part');
    }
    const scanner = client({ maxConcurrent: 1, maxQueued: 1 });
    const first = scanner.scan(held());
    const second = scanner.scan(Buffer.from('waits its turn'));
    const third = await rejection(scanner.scan(Buffer.from('no room')));
    expect(third.reason).toBe('busy');
    expect(scanner.load).toEqual({ active: 1, queued: 1 });
    open();
    expect(await first).toEqual({ status: 'clean' });
    expect(await second).toEqual({ status: 'clean' });
  });

  it('PING and VERSION answer for the health check', async () => {
    await expect(client().ping()).resolves.toBeUndefined();
    await expect(client({ socket: clamd.socket }).ping()).resolves.toBeUndefined();
    expect(await client().version()).toMatch(/^ClamAV \d+\.\d+\.\d+/);
  });
});
