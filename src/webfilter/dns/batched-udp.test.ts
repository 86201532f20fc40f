// The batched UDP socket (the native module) on its own: what it says of a datagram's source,
// and sends to an address in any spelling.
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { batchedUdpSupport, bindBatchedUdp, sourceName } from './batched-udp.ts';

describe('batched UDP', () => {
  it('is built here (npm ci builds it on Linux)', () => {
    expect(batchedUdpSupport()).toEqual({ available: true, problem: null });
  });

  it('spells an address one way whatever its spelling, IPv4-mapped as IPv4', () => {
    expect(sourceName('2001:DB8::1')).toBe(sourceName('2001:db8:0:0:0:0:0:1'));
    expect(sourceName('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sourceName('10.0.0.5')).toBe('10.0.0.5');
    expect(sourceName('localhost')).toBeNull();
  });

  it('names a datagram by its source address and port, and sends to an IPv6 address', async () => {
    const seen: { source: string; port: number; text: string }[] = [];
    const server = bindBatchedUdp('::', 0, (query, source, reply, port) => {
      seen.push({ source, port, text: query.toString() });
      reply(Buffer.from(`re:${query.toString()}`));
    });
    const v4 = dgram.createSocket('udp4');
    const v6 = dgram.createSocket('udp6');
    try {
      await new Promise<void>((r) => v4.bind(0, '127.0.0.1', () => r()));
      await new Promise<void>((r) => v6.bind(0, '::1', () => r()));
      const answer = (socket: dgram.Socket) =>
        new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
      const fromV4 = answer(v4);
      v4.send('one', server.port, '127.0.0.1');
      expect(await fromV4).toBe('re:one');
      const fromV6 = answer(v6);
      v6.send('two', server.port, '::1');
      expect(await fromV6).toBe('re:two');
      expect(seen).toEqual([
        { source: '127.0.0.1', port: v4.address().port, text: 'one' },
        { source: sourceName('::1'), port: v6.address().port, text: 'two' },
      ]);
      // Outside a batch: a send of its own, to an address in its short spelling.
      const pushed = answer(v6);
      expect(server.send(Buffer.from('three'), v6.address().port, '::1')).toBe(true);
      expect(await pushed).toBe('three');
      expect(server.stats()).toMatchObject({ received: 2, sent: 3, sendErrors: 0, oversized: 0 });
    } finally {
      server.close();
      v4.close();
      v6.close();
    }
  });

  it('sends what one callback queues together, more than a batch of it, each to its own destination, and late replies to their senders', async () => {
    // The server answers every datagram 20 ms later, from a timer (as the DNS filter answers a
    // forwarded question when the upstream's answer comes).
    const server = bindBatchedUdp('127.0.0.1', 0, (query, _source, reply) => {
      const text = query.toString();
      setTimeout(() => reply(Buffer.from(`late:${text}`)), 20);
    });
    const clients = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    const sink = dgram.createSocket('udp4');
    try {
      for (const s of [...clients, sink])
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const heard = (s: dgram.Socket, n: number) =>
        new Promise<string[]>((resolve) => {
          const got: string[] = [];
          s.on('message', (m) => {
            got.push(m.toString());
            if (got.length === n) resolve(got);
          });
        });
      // 150 datagrams queued in one timer callback: two full batches and a microtask's worth.
      const pushed = heard(sink, 150);
      setTimeout(() => {
        for (let i = 0; i < 150; i++)
          server.send(Buffer.from(`push:${i}`), sink.address().port, '127.0.0.1');
      }, 0);
      expect((await pushed).sort()).toEqual(
        Array.from({ length: 150 }, (_, i) => `push:${i}`).sort(),
      );
      const answers = clients.map((c) => heard(c, 40));
      for (let i = 0; i < 40; i++)
        for (const [k, c] of clients.entries()) c.send(`q${k}:${i}`, server.port, '127.0.0.1');
      const [first, second] = await Promise.all(answers);
      expect(first!.every((a) => a.startsWith('late:q0:'))).toBe(true);
      expect(second!.every((a) => a.startsWith('late:q1:'))).toBe(true);
      expect(server.stats()).toMatchObject({ received: 80, sent: 230, sendErrors: 0 });
    } finally {
      server.close();
      for (const s of [...clients, sink]) s.close();
    }
  });
});
