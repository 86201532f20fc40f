// Host and URL normalisation for the category lists and for lookups. A list entry and a request
// must reach the same spelling: lower case, no trailing dot, IDN as punycode, IP literals in their
// canonical form (WHATWG URL host rules, as a browser sends them). Entries that cannot be
// normalised are refused with a reason; lookups use the lenient form (`lookupForm`) so that a
// malformed left part never hides a listed parent domain.

import { domainToASCII } from 'node:url';

export type HostKind = 'name' | 'ipv4' | 'ipv6';

export type NormalisedHost =
  | { readonly ok: true; readonly host: string; readonly kind: HostKind }
  | { readonly ok: false; readonly reason: string };

export type NormalisedUrl =
  | { readonly ok: true; readonly host: string; readonly kind: HostKind; readonly path: string }
  | { readonly ok: false; readonly reason: string };

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;
/** Longest URL entry or request path considered; longer paths are cut for matching. */
export const MAX_PATH_LENGTH = 2048;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Characters a stored name may hold after normalisation: a-z 0-9 - _ and the dot. */
export function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
}

function describeChar(c: number): string {
  if (c < 0x20 || c === 0x7f || c === 0x20)
    return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return `"${String.fromCharCode(c)}"`;
}

/**
 * True when the last label "ends in a number" in the WHATWG sense (all digits, or 0x + hex):
 * such a host is an IPv4 address or nothing, never a name.
 */
function endsInNumber(host: string): boolean {
  const end = host.length;
  let start = end;
  while (start > 0 && host.charCodeAt(start - 1) !== 46) start--;
  if (start === end) return false;
  let digits = true;
  for (let i = start; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c < 48 || c > 57) {
      digits = false;
      break;
    }
  }
  if (digits) return true;
  return /^0[xX][0-9a-fA-F]*$/.test(host.slice(start));
}

/**
 * Whether `s` is already a stored name: a-z 0-9 - _ labels of 1 to 63 characters, at most 253 in
 * all, no punycode label (those need checking), not ending in a number. A cheap check that lets
 * clean input skip `normaliseHost`.
 */
export function isStoredName(s: string, start = 0, end = s.length): boolean {
  const length = end - start;
  if (length <= 0 || length > MAX_NAME_LENGTH) return false;
  let labelStart = start;
  let numeric = true;
  let lastNumeric = false;
  let lastStart = start;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      lastNumeric = numeric;
      lastStart = labelStart;
      if (len === 0 || len > MAX_LABEL_LENGTH) return false;
      if (len >= 4 && s.charCodeAt(labelStart) === 120 && s.charCodeAt(labelStart + 1) === 110) {
        if (s.charCodeAt(labelStart + 2) === 45 && s.charCodeAt(labelStart + 3) === 45)
          return false;
      }
      labelStart = i + 1;
      numeric = true;
    } else if (c >= 48 && c <= 57) {
      // a digit keeps the label numeric
    } else if (isNameChar(c)) {
      numeric = false;
    } else {
      return false;
    }
  }
  // 0x-prefixed last labels also read as numbers (WHATWG).
  if (lastNumeric) return false;
  return !(s.charCodeAt(lastStart) === 48 && (s.charCodeAt(lastStart + 1) | 32) === 120);
}

function normaliseIPv6(inner: string): NormalisedHost {
  if (inner.length === 0 || inner.length > 45) return fail('invalid IPv6 address');
  if (inner.includes('%')) return fail('IPv6 zone identifiers are not supported');
  if (!/^[0-9a-fA-F:.]+$/.test(inner)) return fail('invalid IPv6 address');
  // The URL parser implements RFC 4291 parsing and RFC 5952 compression (lower case, longest
  // zero run compressed), so every spelling of one address reaches one key.
  try {
    const host = new URL(`http://[${inner}]/`).hostname;
    return { ok: true, host: host.slice(1, -1), kind: 'ipv6' };
  } catch {
    return fail('invalid IPv6 address');
  }
}

function checkLabels(host: string): string | null {
  let labelStart = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i < host.length ? host.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0) return 'empty label';
      if (len > MAX_LABEL_LENGTH) return `label longer than ${MAX_LABEL_LENGTH} characters`;
      labelStart = i + 1;
    } else if (!isNameChar(c)) {
      return `character ${describeChar(c)} is not allowed in a host name`;
    }
  }
  if (host.length > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  return null;
}

/**
 * Normalise a host name or IP literal for storage or comparison. Lower-cases, removes one
 * trailing dot, converts IDN to punycode, canonicalises IPv4 (WHATWG forms such as 0x7f.1) and
 * IPv6 (bracketed or not). `www.` and other subdomains are kept.
 */
export function normaliseHost(input: string): NormalisedHost {
  let s = input;
  if (s.length === 0) return fail('empty name');
  if (s.length > 1024) return fail(`name longer than ${MAX_NAME_LENGTH} characters`);
  if (s.charCodeAt(0) === 91 /* [ */) {
    if (s.charCodeAt(s.length - 1) !== 93) return fail('unclosed IPv6 bracket');
    return normaliseIPv6(s.slice(1, -1));
  }
  if (s.includes(':')) return normaliseIPv6(s);
  if (s.charCodeAt(s.length - 1) === 46) s = s.slice(0, -1);
  if (s.length === 0) return fail('empty name');

  let ascii = true;
  let upper = false;
  let punycode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) ascii = false;
    else if (c >= 65 && c <= 90) upper = true;
    else if (c !== 46 && !isNameChar(c)) {
      return fail(`character ${describeChar(c)} is not allowed in a host name`);
    }
  }
  if (upper) s = s.toLowerCase();
  if (ascii && (s.startsWith('xn--') || s.includes('.xn--'))) punycode = true;

  if (endsInNumber(s)) {
    if (isCanonicalIPv4(s, s.length)) return { ok: true, host: s, kind: 'ipv4' };
    if (!ascii) return fail('invalid IPv4 address');
    const v4 = domainToASCII(s);
    if (v4 === '' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(v4)) return fail('invalid IPv4 address');
    return { ok: true, host: v4, kind: 'ipv4' };
  }

  if (!ascii || punycode) {
    // Check the shape first: the IDN conversion reports nothing but an empty string.
    if (s.includes('..') || s.startsWith('.')) return fail('empty label');
    const converted = domainToASCII(s);
    if (converted === '') {
      return fail(punycode ? 'invalid punycode label' : 'not a valid internationalised name');
    }
    s = converted.endsWith('.') ? converted.slice(0, -1) : converted;
    if (endsInNumber(s)) return fail('invalid IPv4 address');
  }
  const problem = checkLabels(s);
  if (problem !== null) return fail(problem);
  return { ok: true, host: s, kind: 'name' };
}

/** Whether `s[0, end)` is dotted-decimal IPv4 already in canonical form (no leading zeros). */
export function isCanonicalIPv4(s: string, end: number): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  let first = 0;
  for (let i = 0; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || value > 255 || (digits > 1 && first === 48)) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 0) first = c;
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}

const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;

/**
 * The form a lookup searches for, or null when nothing can match. Lenient where `normaliseHost`
 * is strict: a port is dropped, and when the name is malformed only its well-formed right-hand
 * labels are kept, so `bad name.facebook.com` still finds `facebook.com` (a DNS query may carry
 * any bytes, and the listed parent would answer it).
 */
export function lookupForm(input: string): { host: string; kind: HostKind } | null {
  let s = input.trim();
  if (s.length === 0 || s.length > 4096) return null;
  if (s.charCodeAt(0) === 91) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    const v6 = normaliseIPv6(s.slice(1, close));
    return v6.ok ? { host: v6.host, kind: v6.kind } : null;
  }
  const colon = s.indexOf(':');
  if (colon >= 0) {
    if (s.indexOf(':', colon + 1) >= 0) {
      const v6 = normaliseIPv6(s);
      return v6.ok ? { host: v6.host, kind: v6.kind } : null;
    }
    s = s.slice(0, colon); // host:port
  }
  const strict = normaliseHost(s);
  if (strict.ok) return { host: strict.host, kind: strict.kind };
  // Keep the longest run of well-formed labels on the right.
  s = s.replace(IDEOGRAPHIC_DOTS, '.');
  if (s.endsWith('.')) s = s.slice(0, -1);
  const labels = s.split('.');
  const kept: string[] = [];
  let length = -1;
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i]!;
    let host: string;
    if (/^[0-9]+$/.test(label)) {
      if (i === labels.length - 1) return null; // a numeric last label is an address or nothing
      host = label;
    } else {
      const one = normaliseHost(label);
      if (!one.ok || one.kind !== 'name' || one.host.includes('.')) break;
      host = one.host;
    }
    if (length + 1 + host.length > MAX_NAME_LENGTH) break;
    length += 1 + host.length;
    kept.push(host);
  }
  if (kept.length === 0) return null;
  return { host: kept.reverse().join('.'), kind: 'name' };
}

const UNRESERVED = /%([0-9A-Fa-f]{2})/g;

/**
 * Normalise a request path for prefix matching: always starts with `/`, fragment removed,
 * percent-encoded unreserved characters decoded (RFC 3986 6.2.2.2, meaning-preserving), case
 * and query kept.
 */
export function normalisePath(path: string): string {
  let p = path;
  const hash = p.indexOf('#');
  if (hash >= 0) p = p.slice(0, hash);
  if (p.length === 0 || p.charCodeAt(0) !== 47) p = `/${p}`;
  if (p.includes('%')) {
    p = p.replace(UNRESERVED, (whole, hex: string) => {
      const c = Number.parseInt(hex, 16);
      const unreserved =
        (c >= 65 && c <= 90) ||
        (c >= 97 && c <= 122) ||
        (c >= 48 && c <= 57) ||
        c === 45 ||
        c === 46 ||
        c === 95 ||
        c === 126;
      return unreserved ? String.fromCharCode(c) : whole.toUpperCase();
    });
  }
  return p.length > MAX_PATH_LENGTH ? p.slice(0, MAX_PATH_LENGTH) : p;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/**
 * Split a `urls` entry or a request URL (`host/path`, with or without a scheme) into its
 * normalised host and path. The port is dropped; user info is refused.
 */
export function normaliseUrl(input: string): NormalisedUrl {
  let s = input;
  const scheme = SCHEME.exec(s);
  if (scheme) s = s.slice(scheme[0].length);
  let cut = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) {
      cut = i;
      break;
    }
  }
  let hostPart = s.slice(0, cut);
  const rest = s.slice(cut);
  if (hostPart.includes('@')) return fail('user information in a URL is not supported');
  if (hostPart.startsWith('[')) {
    const close = hostPart.indexOf(']');
    if (close < 0) return fail('unclosed IPv6 bracket');
    hostPart = hostPart.slice(0, close + 1);
  } else {
    const colon = hostPart.indexOf(':');
    if (colon >= 0) {
      if (!/^:\d{0,5}$/.test(hostPart.slice(colon))) return fail('invalid port');
      hostPart = hostPart.slice(0, colon);
    }
  }
  const host = normaliseHost(hostPart);
  if (!host.ok) return host;
  return { ok: true, host: host.host, kind: host.kind, path: normalisePath(rest) };
}
