// Where the proxy may connect. A name is resolved once, the resolved address is checked, and the
// proxy connects to that address, so a name that points into the school's own network, at
// loopback or at the proxy itself cannot be used to reach what the proxy can reach and the
// client cannot (server-side request forgery). Addresses the school lists are let through.
import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Resolves a name to one address; the test suites pass one that never leaves the machine. */
export type Resolver = (host: string) => Promise<{ address: string; family: 4 | 6 }>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { verbatim: true }, (err, address, family) => {
      if (err) reject(err);
      else resolve({ address, family: family === 6 ? 6 : 4 });
    });
  });

/** Ranges never reached unless listed: loopback, private, link-local, CGNAT, multicast, reserved. */
const FORBIDDEN_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const FORBIDDEN_V6 = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const;

export type TargetRefusal = 'private-address' | 'own-port';

export class TargetRefused extends Error {
  readonly code = 'ETARGETREFUSED';
  constructor(
    readonly why: TargetRefusal,
    readonly address: string,
  ) {
    super(
      why === 'own-port'
        ? `${address} is this proxy's own service`
        : `${address} is a private, loopback or link-local address`,
    );
    this.name = 'TargetRefused';
  }
}

export interface TargetPolicy {
  /** Throws TargetRefused when the proxy must not connect to address:port. */
  check(address: string, port: number): void;
}

function addRange(list: BlockList, entry: string): void {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw new Error(`"${entry}" is not an address or CIDR range`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (slash < 0) list.addAddress(address, type);
  else list.addSubnet(address, Number(entry.slice(slash + 1)), type);
}

/** Maps ::ffff:a.b.c.d to a.b.c.d so that v4 rules apply to mapped addresses. */
export function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function createTargetPolicy(options: {
  allowed: readonly string[];
  /** Ports of this process's own listeners (proxy, API, ...), never reached on this machine. */
  ownPorts: readonly number[];
}): TargetPolicy {
  const forbidden = new BlockList();
  for (const [a, p] of FORBIDDEN_V4) forbidden.addSubnet(a, p, 'ipv4');
  for (const [a, p] of FORBIDDEN_V6) forbidden.addSubnet(a, p, 'ipv6');
  const allowed = new BlockList();
  for (const entry of options.allowed) addRange(allowed, entry);
  const own = new Set<string>(['0.0.0.0', '::']);
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) own.add(unmapped(i.address));
  const ownPorts = new Set(options.ownPorts);
  return {
    check(raw, port) {
      const address = unmapped(raw);
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (ownPorts.has(port) && (own.has(address) || forbidden.check(address, type))) {
        throw new TargetRefused('own-port', address);
      }
      if (forbidden.check(address, type) && !allowed.check(address, type)) {
        throw new TargetRefused('private-address', address);
      }
    },
  };
}
