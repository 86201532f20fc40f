// What every web-filter benchmark shares with the peer baselines: the 18 UT1 categories that
// Unbound, dnsmasq and Squid with squidGuard were measured with, from the shipped lists.
import path from 'node:path';

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
