// What every web-filter benchmark shares with the peer baselines: the 18 UT1 categories that
// Unbound, dnsmasq and Squid with squidGuard were measured with, from the shipped lists.
import path from 'node:path';
import { SERVE_NODE_FLAGS } from '../src/cli/serve-flags.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const LISTS = path.join(ROOT, 'lists/ut1');

export const BASELINE_CATEGORIES: readonly string[] = [
  'audio-video',
  'chat',
  'social_networks',
  'webmail',
  'gambling',
  'games',
  'dating',
  'drogue',
  'warez',
  'hacking',
  'agressif',
  'redirector',
  'vpn',
  'shortener',
  'filehosting',
  'radio',
  'mixed_adult',
  'remote-control',
];

/**
 * The node flags a benchmarked Custos process starts with: those `custos serve` runs with
 * (src/cli/serve-flags.ts), or BENCH_NODE_FLAGS to try others ("" for V8's defaults).
 */
export function nodeFlags(): string[] {
  const given = process.env.BENCH_NODE_FLAGS;
  return given === undefined ? [...SERVE_NODE_FLAGS] : given.split(' ').filter(Boolean);
}
