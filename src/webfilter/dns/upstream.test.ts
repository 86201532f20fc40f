import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder, type Forwarder, type ForwardResult } from './upstream.ts';
import { RCODE } from './wire.ts';

/** A UDP upstream that answers every query with the given rcode (and counts them). */
async function upstream(
  rcode: number,
  options: {
    silent?: boolean;
    wrongQuestion?: boolean;
    /** Answer from another port of the same address: what an off-path spoofer would do. */
    otherPort?: boolean;
    host?: '127.0.0.1' | '::1';
  } = {},
) {
  const host = options.host ?? '127.0.0.1';
  const type = host === '::1' ? 'udp6' : 'udp4';
  const socket = dgram.createSocket(type);
  const other = dgram.createSocket(type);
  let queries = 0;
  socket.on('message', (query, rinfo) => {
    queries++;
    if (options.silent) return;
    const reply = Buffer.from(query);
    reply[2] = 0x81; // QR, RD
    reply[3] = 0x80 | rcode; // RA
    if (options.wrongQuestion) reply[13] = 0x7a; // 'zxample': an answer to another question
    (options.otherPort ? other : socket).send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  await new Promise<void>((resolve) => other.bind(0, host, () => resolve()));
  const port = socket.address().port;
  return {
    address: host === '::1' ? `[::1]:${port}` : `${host}:${port}`,
    queries: () => queries,
    close: async () => {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await new Promise<void>((resolve) => other.close(() => resolve()));
    },
  };
}

const forwarders: Forwarder[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(forwarders.splice(0).map((f) => f.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

describe.each(['batched', 'dgram'] as const)(
  'DNS forwarding to the upstreams, UDP read by %s',
  (udpTransport) => {
    /** A forwarder to `addresses`; attempts wait 150 ms, or 1 s when none is meant to time out. */
    async function forwarderTo(addresses: string[], attempts = 3, attemptTimeoutMs = 1000) {
      const f = await createForwarder({
        upstreams: addresses,
        attemptTimeoutMs,
        attempts,
        queryTimeoutMs: 3 * attemptTimeoutMs,
        ednsBufferSize: 1232,
        udpTransport,
      });
      forwarders.push(f);
      return f;
    }

    const name = '\x07example\x04test\x00';

    function ask(
      f: Forwarder,
    ): Promise<{ result: ForwardResult; calls: number; syncCall: boolean }> {
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

    it('RFC 5452: ignores an answer from another port of the upstream, with the right id and question', async () => {
      const spoofing = await upstream(RCODE.NOERROR, { otherPort: true });
      closers.push(spoofing.close);
      const f = await forwarderTo([spoofing.address], 1, 150);
      const { result } = await ask(f);
      expect(result).toMatchObject({ ok: false, problem: `${spoofing.address} did not answer` });
      expect(f.stats()).toMatchObject({ ignored: 1, timeouts: 1 });
    });

    it('forwards to an IPv6 upstream ([::1]) and takes its answer', async () => {
      const good = await upstream(RCODE.NOERROR, { host: '::1' });
      closers.push(good.close);
      const { result } = await ask(await forwarderTo([good.address]));
      expect(result).toMatchObject({ ok: true, upstream: good.address });
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
        udpTransport,
      });
      const pending = ask(f);
      await new Promise((r) => setTimeout(r, 50));
      await f.close();
      const { result, calls } = await pending;
      expect(result.ok).toBe(false);
      expect(calls).toBe(1);
    });
  },
);
