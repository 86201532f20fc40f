import * as packet from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { toEntry } from './cache.ts';
import { cnameAnswer, nameWire } from './safe-answer.ts';
import { inspectResponse } from './wire.ts';

const NOW = 1_700_000_000_000;
/** A question's cache key: its wire name, type A, class IN and DO off. */
const keyOf = (name: string, type = 1) =>
  `${nameWire(name)}${String.fromCharCode(0, type, 0, 1)}\0`;

/** A response as resolvers write it, with compressed names (dns-packet writes none). */
function compressedChain(): Buffer {
  const header = Buffer.from([0, 0, 0x81, 0xa0, 0, 1, 0, 2, 0, 0, 0, 0]); // QR RD RA AD
  const question = Buffer.concat([
    Buffer.from(nameWire('strict.bing.com'), 'latin1'),
    Buffer.from([0, 1, 0, 1]),
  ]);
  // strict.bing.com CNAME edge.bing.com: owner -> the question; target "edge" + -> "bing.com".
  const cnameRdata = Buffer.from([4, ...Buffer.from('edge'), 0xc0, 12 + 7]);
  const cname = Buffer.concat([
    Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, cnameRdata.length]),
    cnameRdata,
  ]);
  const cnameTarget = 12 + question.length + 12; // where "edge" starts
  const a = Buffer.from([0xc0, cnameTarget, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 7]);
  return Buffer.concat([header, question, cname, a]);
}

const entryOf = (response: Buffer, ttl: number) =>
  toEntry(response, inspectResponse(response)!, ttl, NOW);

describe('SafeSearch answers', () => {
  it('answers the name asked with a CNAME to the safe name and the safe answer, names expanded', () => {
    const safe = entryOf(compressedChain(), 300);
    const made = cnameAnswer(keyOf('www.bing.com'), nameWire('strict.bing.com'), safe, NOW + 2000);
    expect(made).not.toBeNull();
    expect(made!.expiresAt).toBe(safe.expiresAt);
    const decoded = packet.decode(made!.wire);
    expect(decoded.questions).toMatchObject([{ name: 'www.bing.com', type: 'A' }]);
    expect(decoded.flags! & 0x0420).toBe(0); // neither AA nor AD
    expect(decoded.answers).toMatchObject([
      { type: 'CNAME', name: 'www.bing.com', data: 'strict.bing.com', ttl: 298 },
      { type: 'CNAME', name: 'strict.bing.com', data: 'edge.bing.com', ttl: 3598 },
      { type: 'A', name: 'edge.bing.com', data: '192.0.2.7', ttl: 298 },
    ]);
    expect(made!.ttls.length).toBe(6); // three TTLs, each with its stored value
  });

  it('keeps NXDOMAIN and its SOA; refuses a failure or a malformed answer', () => {
    const nx = packet.encode({
      type: 'response',
      id: 0,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | 3,
      questions: [{ type: 'A', name: 'safe.example' }],
      authorities: [
        {
          type: 'SOA',
          name: 'example',
          ttl: 60,
          data: {
            mname: 'ns.example',
            rname: 'hostmaster.example',
            serial: 1,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 60,
          },
        },
      ],
    });
    const made = cnameAnswer(keyOf('www.example'), nameWire('safe.example'), entryOf(nx, 60), NOW);
    const decoded = packet.decode(made!.wire);
    expect(decoded.flags! & 0xf).toBe(3);
    expect(decoded.answers).toMatchObject([{ type: 'CNAME', data: 'safe.example' }]);
    expect(decoded.authorities).toMatchObject([{ type: 'SOA', data: { mname: 'ns.example' } }]);

    const servfail = Buffer.from(nx);
    servfail[3] = (servfail[3]! & 0xf0) | 2;
    expect(
      cnameAnswer(keyOf('www.example'), nameWire('safe.example'), entryOf(servfail, 0), NOW),
    ).toBeNull();

    const loop = compressedChain();
    loop[loop.length - 16 + 1] = loop.length - 16; // the A record's owner points at itself
    expect(
      cnameAnswer(keyOf('www.bing.com'), nameWire('strict.bing.com'), entryOf(loop, 300), NOW),
    ).toBeNull();
  });

  it('writes names in lower-case wire form', () => {
    expect(nameWire('Strict.Bing.com')).toBe('\x06strict\x04bing\x03com\0');
    expect(nameWire('strict.bing.com.')).toBe('\x06strict\x04bing\x03com\0');
  });
});
