// Parsing what a client asks the proxy for: the authority of an absolute URI or of CONNECT, and
// the framing of the request (request smuggling is refused before anything is forwarded).
import { isIP } from 'node:net';
import { normaliseHost } from '../categories/index.ts';

export interface Target {
  /** Normalised host: lower case, punycode, canonical IP literal without brackets. */
  readonly host: string;
  readonly kind: 'name' | 'ipv4' | 'ipv6';
  readonly port: number;
}

/** host[:port] or [v6]:port, without user information. null when malformed. */
export function parseAuthority(authority: string, defaultPort: number): Target | null {
  if (authority.length === 0 || authority.length > 262 || authority.includes('@')) return null;
  let host: string;
  let portText: string | undefined;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    host = authority.slice(1, close);
    const rest = authority.slice(close + 1);
    if (rest.length > 0) {
      if (rest.charCodeAt(0) !== 58) return null;
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) return null;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else host = authority;
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65535) return null;
  }
  const n = normaliseHost(host);
  if (!n.ok) return null;
  return { host: n.host, kind: n.kind, port };
}

/** Splits an absolute http:// URI into its target and origin-form path; null when not one. */
export function parseAbsoluteHttp(url: string): { target: Target; path: string } | null {
  if (url.length < 8) return null;
  const scheme = url.slice(0, 7).toLowerCase();
  if (scheme !== 'http://') return null;
  let end = url.length;
  for (let i = 7; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  const target = parseAuthority(url.slice(7, end), 80);
  if (!target) return null;
  let path = end === url.length ? '/' : url.slice(end);
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (path.charCodeAt(0) !== 47) path = `/${path}`;
  return { target, path };
}

/**
 * What is wrong with the framing of a request, or null: both Content-Length and
 * Transfer-Encoding, more than one Content-Length, a Content-Length that is not a number, or a
 * Transfer-Encoding other than plain "chunked". Any of these lets two parsers disagree on where
 * a request ends, so the proxy answers 400 and closes.
 */
export function framingProblem(rawHeaders: readonly string[]): string | null {
  let lengths = 0;
  let encodings = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      lengths++;
      if (!/^\d{1,15}$/.test(rawHeaders[i + 1]!.trim())) return 'Content-Length is not a number';
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      encodings++;
      if (rawHeaders[i + 1]!.trim().toLowerCase() !== 'chunked')
        return 'Transfer-Encoding other than chunked';
    }
  }
  if (lengths > 1) return 'more than one Content-Length';
  if (encodings > 1) return 'more than one Transfer-Encoding';
  if (lengths > 0 && encodings > 0) return 'both Content-Length and Transfer-Encoding';
  return null;
}

/** The Via value the proxy adds to what it passes on (RFC 9110 7.6.3). */
export const VIA = '1.1 custos';

/** Headers that concern one connection only and are never passed on (RFC 9110 7.6.1). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The headers named by Connection, lower case; usually none. */
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (!value) return null;
  let out: Set<string> | null = null;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (!t || t === 'close' || t === 'keep-alive') continue;
    out ??= new Set();
    out.add(t);
  }
  return out;
}
