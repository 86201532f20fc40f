// Proxy authentication (Proxy-Authorization: Basic) against Custos accounts. The password check
// (argon2) is slow on purpose, so each distinct credential is checked once and the answer kept for
// a few minutes under a hash of the header: browsers send the header on every request. Checks of
// the same credential already in flight are shared, and a wrong password is remembered briefly,
// so a browser repeating a wrong password counts once per period towards the account lockout
// instead of locking the account in a burst.
import { createHash } from 'node:crypto';
import { isAppError } from '../../shared/errors.ts';

export type ProxyAuthResult =
  | { readonly ok: true; readonly personId: string; readonly email: string }
  | { readonly ok: false; readonly why: 'invalid' | 'locked' | 'malformed' };

export interface ProxyAuthenticator {
  /** The answer for a Proxy-Authorization header value; fast when cached. */
  check(header: string, ip: string): Promise<ProxyAuthResult> | ProxyAuthResult;
  /** Cached entries (for tests and metrics). */
  readonly size: number;
}

/** What the accounts service offers that proxy authentication needs. */
export interface PasswordVerifier {
  verifySignIn(
    email: string,
    password: string,
    meta: { ip: string },
  ): Promise<{ personId: string; email: string }>;
}

const MALFORMED: ProxyAuthResult = Object.freeze({ ok: false, why: 'malformed' });

/** email and password of a Basic credential, or null. */
export function parseBasic(header: string): { email: string; password: string } | null {
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'basic') return null;
  const token = header.slice(space + 1).trim();
  if (token.length === 0 || token.length > 1024 || !/^[A-Za-z0-9+/]+=*$/.test(token)) return null;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { email: decoded.slice(0, colon).trim(), password: decoded.slice(colon + 1) };
}

export function createProxyAuthenticator(options: {
  verifier: PasswordVerifier;
  cacheSeconds: number;
  clock?: () => number;
  maxEntries?: number;
}): ProxyAuthenticator {
  const now = options.clock ?? Date.now;
  const okMs = options.cacheSeconds * 1000;
  const failMs = Math.max(1000, okMs / 10);
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, { result: ProxyAuthResult; until: number }>();
  const pending = new Map<string, Promise<ProxyAuthResult>>();

  const keyOf = (header: string) => createHash('sha256').update(header).digest('base64');

  function remember(key: string, result: ProxyAuthResult): void {
    if (cache.size >= maxEntries) {
      // Drop the oldest entry (Map keeps insertion order).
      const first = cache.keys().next();
      if (!first.done) cache.delete(first.value);
    }
    cache.set(key, { result, until: now() + (result.ok ? okMs : failMs) });
  }

  return {
    get size() {
      return cache.size;
    },
    check(header, ip) {
      const key = keyOf(header);
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.result;
      if (hit) cache.delete(key);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const credential = parseBasic(header);
      if (!credential) return MALFORMED;
      const run = (async (): Promise<ProxyAuthResult> => {
        try {
          const signedIn = await options.verifier.verifySignIn(
            credential.email,
            credential.password,
            { ip },
          );
          return { ok: true, personId: signedIn.personId, email: signedIn.email };
        } catch (error) {
          if (isAppError(error) && error.code === 'account_locked')
            return { ok: false, why: 'locked' };
          if (isAppError(error) && error.code === 'invalid_credentials')
            return { ok: false, why: 'invalid' };
          throw error;
        }
      })().then(
        (result) => {
          pending.delete(key);
          if (okMs > 0) remember(key, result);
          return result;
        },
        (error: unknown) => {
          pending.delete(key);
          throw error;
        },
      );
      pending.set(key, run);
      return run;
    },
  };
}
