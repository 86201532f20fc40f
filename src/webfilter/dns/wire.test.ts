import * as packet from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnswerCache, cacheTtl, replyFromEntry, toEntry } from './cache.ts';
import {
  inspectResponse,
  ipBytes,
  newParsedQuery,
  PARSE_DROP,
  PARSE_FORMERR,
  PARSE_OK,
  parseQuery,
  questionKey,
  questionName,
} from './wire.ts';

const opt = (udpPayloadSize: number, flags: number): packet.Answer => ({
  type: 'OPT',
  name: '.',
  udpPayloadSize,
  extendedRcode: 0,
  ednsVersion: 0,
  flags,
  flag_do: flags !== 0,
  options: [],
});

const query = (name: string, extra: Partial<packet.Packet> = {}) =>
  packet.encode({
    type: 'query',
    id: 42,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: 'A', class: 'IN', name }],
    ...extra,
  });

describe('DNS wire format', () => {
  it('reads the question in lower case and the EDNS size and DO bit', () => {
    const q = newParsedQuery();
    const buf = query('WWW.Example.COM', {
      additionals: [opt(4096, packet.DNSSEC_OK)],
    });
    expect(parseQuery(buf, q)).toBe(PARSE_OK);
    expect(q).toMatchObject({ id: 42, qtype: 1, qclass: 1 });
    expect(questionName(questionKey(q))).toBe('www.example.com');
    expect(q).toMatchObject({ edns: true, udpSize: 4096, dnssecOk: true, plainName: true });
  });

  it('gives a question the same key and hash whatever its case, and another question others', () => {
    const q = newParsedQuery();
    parseQuery(query('WWW.Example.COM'), q);
    const upper = { key: questionKey(q), hash: q.keyHash, length: q.keyLength };
    parseQuery(query('www.example.com'), q);
    expect({ key: questionKey(q), hash: q.keyHash, length: q.keyLength }).toEqual(upper);
    parseQuery(
      query('www.example.com', { questions: [{ type: 'AAAA', name: 'www.example.com' }] }),
      q,
    );
    expect(q.keyHash).not.toBe(upper.hash);
    expect(questionKey(q)).not.toBe(upper.key);
  });

  it('drops responses and fragments; FORMERR for pointers, two questions, answers in a query', () => {
    const q = newParsedQuery();
    expect(parseQuery(Buffer.alloc(5), q)).toBe(PARSE_DROP);
    const response = query('a.example');
    response[2] = response[2]! | 0x80;
    expect(parseQuery(response, q)).toBe(PARSE_DROP);
    const pointer = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseQuery(pointer, q)).toBe(PARSE_FORMERR);
    const counts = query('a.example');
    counts.writeUInt16BE(3, 6);
    expect(parseQuery(counts, q)).toBe(PARSE_FORMERR);
    expect(parseQuery(query('a.example').subarray(0, 20), q)).toBe(PARSE_FORMERR);
  });

  it('never throws on hostile bytes, and any name it accepts is at most 253 characters', () => {
    const q = newParsedQuery();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const buf = Buffer.from(bytes);
        if (buf.length >= 6) buf.writeUInt16BE(1, 4); // often a single question
        const status = parseQuery(buf, q);
        if (status === PARSE_OK)
          expect(questionName(questionKey(q)).length).toBeLessThanOrEqual(254);
        inspectResponse(buf);
      }),
      { numRuns: 5000 },
    );
  });

  it('inspectResponse survives compression loops and pointers out of range', () => {
    // Answer whose name points at itself (offset 12 -> 12), and one pointing past the end.
    const loop = Buffer.from([0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(inspectResponse(loop)).toBeNull();
    const far = Buffer.from([0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0xff]);
    expect(inspectResponse(far)).toBeNull();
  });
});

describe('DNS answer cache', () => {
  const limits = { maxEntries: 2, minTtl: 0, maxTtl: 86_400, maxNegativeTtl: 3600 };
  const response = (name: string, ttl: number) =>
    packet.encode({
      type: 'response',
      id: 9,
      flags: packet.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name }],
      answers: [
        { type: 'A', name, ttl, data: '192.0.2.1' },
        { type: 'A', name, ttl: ttl + 100, data: '192.0.2.2' },
      ],
      additionals: [opt(1232, 0)],
    });

  it('keeps an answer for its smallest TTL and counts the TTLs down when serving it', () => {
    const buf = response('a.example', 300);
    const info = inspectResponse(buf)!;
    expect(cacheTtl(info, limits)).toBe(300);
    const entry = toEntry(buf, info, 300, 1_000_000);
    const q = newParsedQuery();
    const client = query('A.EXAMPLE');
    parseQuery(client, q);
    const reply = packet.decode(replyFromEntry(client, q, entry, 1_000_000 + 61_500, null));
    expect(reply.id).toBe(42);
    expect(reply.questions?.[0]?.name).toBe('A.EXAMPLE');
    expect(reply.answers?.map((a) => (a as { ttl?: number }).ttl)).toEqual([239, 339]);
    expect(reply.additionals).toEqual([]);
  });

  it('evicts the least recently used entry beyond its size', () => {
    const cache = new AnswerCache(limits);
    const put = (key: string) => {
      const buf = response(`${key}.example`, 60);
      cache.put(key, toEntry(Buffer.from(buf), inspectResponse(buf)!, 60, 0));
    };
    put('a');
    put('b');
    expect(cache.get('a', 1)).toBeDefined(); // a is now the most recent
    put('c');
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('a', 1)).toBeDefined();
    expect(cache.get('c', 60_000)).toBeUndefined(); // expired
  });

  it('goes on evicting the least recently used first through many evictions and re-stores', () => {
    const cache = new AnswerCache({ ...limits, maxEntries: 50 });
    const buf = response('x.example', 60);
    const entry = () => toEntry(Buffer.from(buf), inspectResponse(buf)!, 60, 0);
    // A model of the order: stored or moved to the end, evicted from the front.
    let order: string[] = [];
    const store = (key: string) => {
      cache.put(key, entry());
      order = [...order.filter((k) => k !== key), key];
      if (order.length > 50) order = order.slice(order.length - 50);
    };
    for (let i = 0; i < 2000; i++) {
      store(`k${i}`);
      if (i % 7 === 0) store(`k${i - 30}`); // stored again: moves to the recent end
    }
    expect(cache.stats().entries).toBe(50);
    for (const key of order) expect(cache.get(key, 1)).toBeDefined();
    expect(cache.get('k1949', 1)).toBeUndefined();
  });

  it('a hit moves an answer from the older half to the recent end, and leaves a recent one be', () => {
    const cache = new AnswerCache({ ...limits, maxEntries: 4 });
    const buf = response('x.example', 60);
    const put = (key: string) =>
      cache.put(key, toEntry(Buffer.from(buf), inspectResponse(buf)!, 60, 0));
    put('a');
    put('b');
    put('c');
    expect(cache.get('a', 1)).toBeDefined(); // two stores ago: the older half, moved to the end
    put('d');
    put('e'); // evicts b, the oldest now
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('a', 1)).toBeDefined();
    put('f'); // evicts c
    expect(cache.get('c', 1)).toBeUndefined();
    expect(cache.get('a', 1)).toBeDefined();
  });

  it('RFC 2308: caches NXDOMAIN for min(SOA TTL, SOA MINIMUM); not without an SOA', () => {
    const nx = (authorities: packet.Answer[]) =>
      inspectResponse(
        packet.encode({
          type: 'response',
          flags: 3,
          questions: [{ type: 'A', name: 'x.example' }],
          authorities,
        }),
      )!;
    const soa = {
      type: 'SOA' as const,
      name: 'example',
      ttl: 900,
      data: {
        mname: 'ns.example',
        rname: 'h.example',
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: 120,
      },
    };
    expect(cacheTtl(nx([soa]), limits)).toBe(120);
    expect(cacheTtl(nx([]), limits)).toBe(0);
  });
});

describe('IP literals to octets (ipBytes)', () => {
  it('an IPv4 address gives its four octets', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect([...ipBytes(ip)!].join('.')).toBe(ip);
      }),
    );
  });

  it('an IPv6 address in any spelling gives the octets the URL parser reads from it', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const bytes = ipBytes(ip)!;
        expect(bytes.length).toBe(16);
        const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
        const canonical = (text: string) => new URL(`http://[${text}]/`).hostname;
        expect(canonical(groups.join(':'))).toBe(canonical(ip));
      }),
    );
    expect([...ipBytes('::ffff:192.0.2.1')!].slice(10)).toEqual([0xff, 0xff, 192, 0, 2, 1]);
    expect(ipBytes('fe80::1%eth0')![15]).toBe(1);
  });

  it('anything else is not an IP literal', () => {
    for (const text of ['', 'localhost', '1.2.3', '1.2.3.4.5', ':::', '2001:db8::1::2'])
      expect(ipBytes(text)).toBeNull();
  });
});
