import { describe, expect, it } from 'vitest';
import { type DnsLookups, orderMx, routeFor } from './mx.ts';

const dnsError = (code: string) => Object.assign(new Error(code), { code });

/** Look-ups from a table: an MX list, or the code of the error the resolver would give. */
function lookups(
  mx: Record<string, { exchange: string; priority: number }[] | string>,
): DnsLookups {
  return {
    async mx(domain) {
      const answer = mx[domain];
      if (answer === undefined) throw dnsError('ENOTFOUND');
      if (typeof answer === 'string') throw dnsError(answer);
      return answer;
    },
    addresses: async () => [],
  };
}

describe('where mail for a domain goes (RFC 5321 section 5.1, RFC 7505)', () => {
  it('tries the MX hosts by preference, lowest first, whatever order DNS gives them in', () => {
    expect(
      orderMx([
        { exchange: 'backup.example.net', priority: 20 },
        { exchange: 'MX1.example.net.', priority: 10 },
        { exchange: 'last.example.net', priority: 30 },
      ]),
    ).toEqual(['mx1.example.net', 'backup.example.net', 'last.example.net']);
  });

  it('shuffles hosts of equal preference, so that the load is shared', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      seen.add(
        orderMx([
          { exchange: 'a.example.net', priority: 10 },
          { exchange: 'b.example.net', priority: 10 },
          { exchange: 'c.example.net', priority: 5 },
        ]).join(' '),
      );
    }
    expect([...seen].sort()).toEqual([
      'c.example.net a.example.net b.example.net',
      'c.example.net b.example.net a.example.net',
    ]);
  });

  it('a domain without MX records takes mail at its own address (the implicit MX)', async () => {
    expect(await routeFor('example.net', lookups({ 'example.net': 'ENODATA' }))).toEqual({
      kind: 'hosts',
      hosts: ['example.net'],
    });
  });

  it('a null MX is refused for good with 556 5.1.10', async () => {
    const route = await routeFor(
      'example.net',
      lookups({ 'example.net': [{ exchange: '', priority: 0 }] }),
    );
    expect(route).toMatchObject({ kind: 'refuse', code: 556, enhanced: '5.1.10' });
  });

  it('a domain that does not exist is refused for good with 5.1.2', async () => {
    expect(await routeFor('nowhere.example', lookups({}))).toMatchObject({
      kind: 'refuse',
      code: 550,
      enhanced: '5.1.2',
    });
  });

  it('DNS that cannot answer defers with 4.4.3, so the sender tries again', async () => {
    for (const code of ['ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED']) {
      expect(await routeFor('example.net', lookups({ 'example.net': code }))).toMatchObject({
        kind: 'defer',
        enhanced: '4.4.3',
      });
    }
  });
});
