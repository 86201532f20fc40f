import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder, type Forwarder, type ForwardResult } from './upstream.ts';
import { RCODE } from './wire.ts';

/** A UDP upstream that answers every query with the given rcode (and counts them). */
async function upstream(
  rcode: number,
  options: { silent?: boolean; wrongQuestion?: boolean } = {},
) {
  const socket = dgram.createSocket('udp4');
  let queries = 0;
  socket.on('message', (query, rinfo) => {
    queries++;
    if (options.silent) return;
    const reply = Buffer.from(query);
    reply[2] = 0x81; // QR, RD
    reply[3] = 0x80 | rcode; // RA
    if (options.wrongQuestion) reply[13] = 0x7a; // 'zxample': an answer to another question
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries: () => queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const forwarders: Forwarder[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(forwarders.splice(0).map((f) => f.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A forwarder to `addresses`; attempts wait 150 ms, or 1 s when none is meant to time out. */
async function forwarderTo(addresses: string[], attempts = 3, attemptTimeoutMs = 1000) {
  const f = await createForwarder({
    upstreams: addresses,
    attemptTimeoutMs,
    attempts,
    queryTimeoutMs: 3 * attemptTimeoutMs,
    ednsBufferSize: 1232,
  });
  forwarders.push(f);
  return f;
}

const name = '\x07example\x04test\x00';

function ask(f: Forwarder): Promise<{ result: ForwardResult; calls: number; syncCall: boolean }> {
  return new Promise((resolve) => {
    let calls = 0;
    let returned = false;
    let syncCall = false;
    f.forward(name, 1, 1, false, false, (result) => {
      calls++;
      if (!returned) syncCall = true;
      // Give a duplicate call the chance to show before resolving.
      setTimeout(() => resolve({ result, calls, syncCall }), 300);
    });
    returned = true;
  });
}

describe('DNS forwarding to the upstreams', () => {
  it('asks the next upstream after SERVFAIL and gives its answer, once and never before returning', async () => {
    const failing = await upstream(RCODE.SERVFAIL);
    const good = await upstream(RCODE.NOERROR);
    closers.push(failing.close, good.close);
    const { result, calls, syncCall } = await ask(
      await forwarderTo([failing.address, good.address]),
    );
    expect(result).toMatchObject({ ok: true, upstream: good.address });
    expect(calls).toBe(1);
    expect(syncCall).toBe(false);
    expect(failing.queries()).toBe(1);
  });

  it('gives the last SERVFAIL or REFUSED when no upstream does better', async () => {
    const failing = await upstream(RCODE.SERVFAIL);
    const refusing = await upstream(RCODE.REFUSED);
    closers.push(failing.close, refusing.close);
    const { result } = await ask(await forwarderTo([failing.address, refusing.address], 2));
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.response[3]! & 0xf).toBe(RCODE.REFUSED);
  });

  it('RFC 5452: ignores an answer to another question, then moves on when nobody answers', async () => {
    const spoofing = await upstream(RCODE.NOERROR, { wrongQuestion: true });
    const silent = await upstream(RCODE.NOERROR, { silent: true });
    closers.push(spoofing.close, silent.close);
    const f = await forwarderTo([spoofing.address, silent.address], 2, 150);
    const { result, calls } = await ask(f);
    expect(result).toMatchObject({ ok: false, problem: `${silent.address} did not answer` });
    expect(calls).toBe(1);
    expect(f.stats()).toMatchObject({ ignored: 1, timeouts: 2, failures: 1 });
  });

  it('answers every query waiting when it closes', async () => {
    const silent = await upstream(RCODE.NOERROR, { silent: true });
    closers.push(silent.close);
    const f = await createForwarder({
      upstreams: [silent.address],
      attemptTimeoutMs: 10_000,
      attempts: 1,
      queryTimeoutMs: 10_000,
      ednsBufferSize: 1232,
    });
    const pending = ask(f);
    await new Promise((r) => setTimeout(r, 50));
    await f.close();
    const { result, calls } = await pending;
    expect(result.ok).toBe(false);
    expect(calls).toBe(1);
  });
});
