// Where mail for a domain goes (RFC 5321 section 5.1): its MX records in order of preference,
// equal preferences in random order; a domain without MX records takes mail at its own address
// (the "implicit MX"); a null MX (RFC 7505, "MX 0 .") says the domain takes no mail at all. The
// look-ups are the only I/O, behind DnsLookups, so that what they mean is decided in one place.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface DnsLookups {
  mx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  /** IPv4 then IPv6 addresses of a name. */
  addresses(name: string): Promise<string[]>;
}

/** The answers that mean "no such record", as opposed to a server that could not answer. */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND']);
const codeOf = (err: unknown) => (err as { code?: string }).code ?? 'error';

/**
 * Look-ups through node's resolver: the given DNS servers ("192.0.2.53", "127.0.0.1:5353",
 * "[::1]:5353"), or this machine's when none are given.
 */
export function dnsLookups(options: { servers: readonly string[]; timeoutMs: number }): DnsLookups {
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: 2 });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  const family = async (lookup: () => Promise<string[]>) => {
    try {
      return { list: await lookup(), error: null };
    } catch (err) {
      return { list: [] as string[], error: NO_RECORD.has(codeOf(err)) ? null : err };
    }
  };
  return {
    mx: (domain) => resolver.resolveMx(domain),
    async addresses(name) {
      if (isIP(name)) return [name];
      const [v4, v6] = await Promise.all([
        family(() => resolver.resolve4(name)),
        family(() => resolver.resolve6(name)),
      ]);
      const list = [...v4.list, ...v6.list];
      // An answer from one family is enough; only when neither answered is the look-up a failure.
      if (list.length === 0 && (v4.error || v6.error)) throw v4.error ?? v6.error;
      return list;
    },
  };
}

export type Route =
  /** The mail servers to try, best first. */
  | { kind: 'hosts'; hosts: string[] }
  /** The domain takes no mail: refuse for good. */
  | { kind: 'refuse'; code: number; enhanced: string; reason: string }
  /** DNS could not answer now: the sender should try again. */
  | { kind: 'defer'; enhanced: string; reason: string };

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** The MX records in the order to try them: by preference, equal ones shuffled (RFC 5321 5.1). */
export function orderMx(records: readonly { exchange: string; priority: number }[]): string[] {
  const byPreference = new Map<number, string[]>();
  for (const r of records) {
    const name = r.exchange.replace(/\.$/, '').toLowerCase();
    if (name === '') continue; // a null MX among others is ignored (RFC 7505 section 3)
    byPreference.set(r.priority, [...(byPreference.get(r.priority) ?? []), name]);
  }
  return [...byPreference.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, names]) => shuffle([...new Set(names)]));
}

/** Where mail for `domain` goes. */
export async function routeFor(domain: string, dns: DnsLookups): Promise<Route> {
  let records: { exchange: string; priority: number }[];
  try {
    records = await dns.mx(domain);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOTFOUND') {
      return {
        kind: 'refuse',
        code: 550,
        enhanced: '5.1.2',
        reason: `the domain ${domain} does not exist`,
      };
    }
    // No MX records: the domain's own address takes its mail (RFC 5321 5.1).
    if (code === 'ENODATA') return { kind: 'hosts', hosts: [domain] };
    return {
      kind: 'defer',
      enhanced: '4.4.3',
      reason: `the mail servers of ${domain} could not be looked up (${code})`,
    };
  }
  if (records.length === 0) return { kind: 'hosts', hosts: [domain] };
  const hosts = orderMx(records);
  if (hosts.length === 0) {
    return {
      kind: 'refuse',
      code: 556,
      enhanced: '5.1.10',
      reason: `${domain} takes no e-mail (its MX record is the null MX of RFC 7505)`,
    };
  }
  return { kind: 'hosts', hosts };
}
