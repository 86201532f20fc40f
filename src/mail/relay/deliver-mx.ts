// Outbound delivery without a smart host (mail.outbound.delivery: mx): the recipients are grouped
// by domain, and each domain's mail servers (mx.ts) are tried in order of preference until one
// takes the message, at most MAX_ADDRESSES addresses per domain (Postfix's smtp_mx_address_limit)
// so that the sender is answered well within its own time-out. A server that does not answer, or
// answers 4xx, passes the message on to the next; a 5xx is final. TLS is opportunistic, as on the
// internet at large (Postfix's smtp_tls_security_level = may): STARTTLS whenever offered, the
// certificate not checked, since an MX name is not authenticated without DANE or MTA-STS; with
// requireTls (Postfix's "encrypt") a server without STARTTLS is not given the message.
import { domainToASCII } from 'node:url';
import nodemailer from 'nodemailer';
import {
  attempt,
  type Deliverer,
  type Envelope,
  type Message,
  outcome,
  type Refusal,
} from './deliver.ts';
import { type DnsLookups, routeFor } from './mx.ts';
import { addressLiteral } from './received.ts';

export interface MxDelivery {
  /** Port of every MX (25; another only for testing). */
  port: number;
  requireTls: boolean;
  /** Our name in EHLO. */
  hostname: string;
  timeoutMs: number;
  dns: DnsLookups;
}

/** Addresses tried per domain before the sender is told to try again later. */
export const MAX_ADDRESSES = 5;
/** Domains delivered to at once for one message. */
const PARALLEL_DOMAINS = 8;

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The recipients by domain, in the order they came. */
export function byDomain(recipients: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of recipients) {
    const d = domainOf(r);
    groups.set(d, [...(groups.get(d) ?? []), r]);
  }
  return groups;
}

const everyone = (to: readonly string[], r: Omit<Refusal, 'recipient'>): Refusal[] =>
  to.map((recipient) => ({ recipient, ...r }));

interface DomainResult {
  refused: Refusal[];
  reply: string;
}

export function createMxDeliverer(options: MxDelivery): Deliverer {
  async function tryHost(
    host: string,
    address: string,
    envelope: Envelope,
    raw: Message,
  ): Promise<DomainResult & { accepted: number }> {
    const transport = nodemailer.createTransport({
      host: address,
      port: options.port,
      secure: false,
      requireTLS: options.requireTls,
      opportunisticTLS: !options.requireTls,
      tls: { rejectUnauthorized: false, ...(host === address ? {} : { servername: host }) },
      name: options.hostname,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
    try {
      const result = await attempt(transport, envelope, raw, `${host} ${addressLiteral(address)}`);
      return {
        refused: result.refused,
        reply: result.reply,
        accepted: result.accepted.length,
      };
    } finally {
      transport.close();
    }
  }

  /** One domain's recipients: its mail servers in turn until one answers for good. */
  async function toDomain(domain: string, envelope: Envelope, raw: Message): Promise<DomainResult> {
    const route = await routeFor(domainToASCII(domain) || domain, options.dns);
    if (route.kind === 'refuse') {
      return {
        refused: everyone(envelope.to, {
          temporary: false,
          code: route.code,
          enhanced: route.enhanced,
          reply: route.reason,
        }),
        reply: '',
      };
    }
    if (route.kind === 'defer') {
      return {
        refused: everyone(envelope.to, {
          temporary: true,
          code: 0,
          enhanced: route.enhanced,
          reply: route.reason,
        }),
        reply: '',
      };
    }
    let tried = 0;
    let lookupFailed: string | null = null;
    let best: DomainResult | null = null;
    for (const host of route.hosts) {
      if (tried >= MAX_ADDRESSES) break;
      let addresses: string[];
      try {
        addresses = await options.dns.addresses(host);
      } catch (err) {
        lookupFailed = `the address of ${host} could not be looked up (${(err as { code?: string }).code ?? 'error'})`;
        continue;
      }
      for (const address of addresses) {
        if (tried >= MAX_ADDRESSES) break;
        tried++;
        const result = await tryHost(host, address, envelope, raw);
        // Taken (by all or some), or refused for good: this server's answer is final.
        if (result.accepted > 0 || result.refused.some((r) => !r.temporary)) return result;
        // Refused for now or not reached: the next server may take it. A server's own words
        // tell the sender more than a connection that failed at the next.
        if (!best || best.refused[0]?.code === 0) best = result;
      }
    }
    if (best) return best;
    if (lookupFailed) {
      return {
        refused: everyone(envelope.to, {
          temporary: true,
          code: 0,
          enhanced: '4.4.3',
          reply: lookupFailed,
        }),
        reply: '',
      };
    }
    return {
      refused: everyone(envelope.to, {
        temporary: false,
        code: 550,
        enhanced: '5.4.4',
        reply: `no mail server of ${domain} has an address (${route.hosts.join(', ')})`,
      }),
      reply: '',
    };
  }

  return {
    async send(envelope, raw) {
      const groups = [...byDomain(envelope.to)];
      const results: DomainResult[] = [];
      for (let i = 0; i < groups.length; i += PARALLEL_DOMAINS) {
        results.push(
          ...(await Promise.all(
            groups
              .slice(i, i + PARALLEL_DOMAINS)
              .map(([domain, to]) => toDomain(domain, { from: envelope.from, to }, raw)),
          )),
        );
      }
      return outcome(
        envelope.to,
        results.flatMap((r) => r.refused),
        results.map((r) => r.reply).filter(Boolean),
      );
    },
    close() {},
  };
}
