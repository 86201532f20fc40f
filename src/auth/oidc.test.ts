// Single sign-on against a real OpenID provider (oidc-provider) started on 127.0.0.1, with
// Custos listening too: the test plays the browser, following redirects and posting the
// provider's login and consent forms.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import Provider from 'oidc-provider';
import { afterEach, describe, expect, it } from 'vitest';
import { testPolicy } from '../../test/factories.ts';
import { testContext } from '../../test/support/app.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import type { AppContext } from '../api/context.ts';
import { createDirectoryService } from '../directory/service.ts';
import type { Store } from '../store/database.ts';
import { safeNextPath } from './cookies.ts';
import { allowInsecureOidcRequestsForTests, identityFromClaims } from './oidc.ts';

describe('where single sign-on returns to', () => {
  it('goes back only to a path on this site', () => {
    expect(safeNextPath('/policy?tab=2')).toBe('/policy?tab=2');
    for (const bad of [
      '//evil.example/x',
      'https://evil.example',
      '/\\evil.example',
      'policy',
      7,
    ]) {
      expect(safeNextPath(bad)).toBe('/');
    }
  });
});

describe('identity from ID token claims', () => {
  it('Microsoft: takes email, else preferred_username, lower-cased', () => {
    expect(identityFromClaims('microsoft', { sub: 's1', email: 'A.B@School.uk' }, [])).toEqual({
      ok: true,
      identity: { provider: 'microsoft', subject: 's1', email: 'a.b@school.uk', mfa: false },
    });
    const upn = identityFromClaims(
      'microsoft',
      { sub: 's1', preferred_username: 'x@school.uk' },
      [],
    );
    expect(upn.ok && upn.identity.email).toBe('x@school.uk');
  });

  it('Google: refuses an unverified address and, when domains are set, another hd', () => {
    expect(identityFromClaims('google', { sub: 's', email: 'a@school.uk' }, [])).toEqual({
      ok: false,
      code: 'sso_email_unverified',
    });
    const claims = { sub: 's', email: 'a@school.uk', email_verified: true };
    expect(identityFromClaims('google', claims, ['school.uk'])).toEqual({
      ok: false,
      code: 'sso_domain_not_allowed',
    });
    expect(identityFromClaims('google', { ...claims, hd: 'school.uk' }, ['school.uk']).ok).toBe(
      true,
    );
    expect(identityFromClaims('google', { ...claims, hd: 'other.uk' }, ['school.uk']).ok).toBe(
      false,
    );
  });

  it('PWD-2: an amr claim with mfa counts as the second factor; no subject or address is refused', () => {
    const result = identityFromClaims(
      'microsoft',
      { sub: 's', email: 'a@b.uk', amr: ['pwd', 'mfa'] },
      [],
    );
    expect(result.ok && result.identity.mfa).toBe(true);
    expect(identityFromClaims('microsoft', { email: 'a@b.uk' }, []).ok).toBe(false);
    expect(identityFromClaims('microsoft', { sub: 's', email: 'no-at-sign' }, []).ok).toBe(false);
  });
});

interface ProviderAccount {
  email: string;
  email_verified?: boolean;
  hd?: string;
}

const running: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

async function startProvider(redirectUris: string[], accounts: Record<string, ProviderAccount>) {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'custos-test',
        client_secret: 'a-client-secret-for-tests-only',
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified', 'hd'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['cookie-key-for-tests-only'] },
  });
  // oidc-provider logs interaction warnings for development keys; they are expected here.
  server.on('request', provider.callback());
  return issuer;
}

/** A browser with one cookie jar per origin. */
function browser() {
  const jars = new Map<string, Map<string, string>>();
  const jarOf = (url: URL) => {
    const jar = jars.get(url.origin) ?? new Map<string, string>();
    jars.set(url.origin, jar);
    return jar;
  };
  async function request(url: URL, init: { method?: string; form?: Record<string, string> } = {}) {
    const jar = jarOf(url);
    const headers: Record<string, string> = {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
    };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body,
      redirect: 'manual',
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) => /max-age=0/i.test(a.trim()) || /expires=thu, 01 jan 1970/i.test(a.trim()),
      );
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }
  return { request, jarOf };
}

/**
 * Follows the sign-in from Custos through the provider's login and consent pages and back,
 * stopping at the first Custos page outside /api/auth/oidc. `tamper` may change the callback URL.
 */
async function signInThroughProvider(
  start: URL,
  login: string,
  custosOrigin: string,
  tamper: (callback: URL) => URL = (u) => u,
) {
  const b = browser();
  let url = start;
  let res = await b.request(url);
  for (let hops = 0; hops < 20; hops++) {
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      if (url.origin === custosOrigin && url.pathname.endsWith('/callback')) url = tamper(url);
      if (url.origin === custosOrigin && !url.pathname.startsWith('/api/auth/oidc')) {
        return { finalUrl: url, browser: b };
      }
      res = await b.request(url);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !prompt)
      throw new Error(`unexpected page ${url.href} (${res.status}): ${html.slice(0, 300)}`);
    url = new URL(action.replaceAll('&amp;', '&'), url);
    res = await b.request(url, {
      method: 'POST',
      form: prompt === 'login' ? { prompt, login, password: 'any' } : { prompt },
    });
  }
  throw new Error('too many redirects');
}

interface Setup {
  ctx: AppContext;
  app: FastifyInstance;
  origin: string;
}

async function custosWithProvider(
  store: Store,
  providerId: 'microsoft' | 'google',
  accounts: Record<string, ProviderAccount>,
  allowedDomains: string[] = [],
): Promise<Setup> {
  const ctx = await testContext(store, {
    policy: testPolicy(),
    config: { 'auth.argon2.memoryKiB': 8192, 'auth.argon2.timeCost': 1 },
  });
  const { app } = await buildApp(ctx);
  await app.listen({ host: '127.0.0.1', port: 0 });
  running.push(() => app.close());
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  ctx.config.server.publicUrl = origin;
  const issuer = await startProvider([`${origin}/api/auth/oidc/${providerId}/callback`], accounts);
  ctx.config.auth.oidc[providerId] = {
    clientId: 'custos-test',
    clientSecret: 'a-client-secret-for-tests-only',
    issuer,
    allowedDomains,
  };
  allowInsecureOidcRequestsForTests(ctx.config);
  return { ctx, app, origin };
}

async function addPerson(ctx: AppContext, email: string, roles: string[]) {
  return createDirectoryService(ctx).createPerson(
    { email, givenName: 'Priya', familyName: 'Natarajan', kind: 'employee', roles },
    { id: null, label: 'test' },
  );
}

async function sessionState(s: Setup, b: ReturnType<typeof browser>) {
  const res = await b.request(new URL('/api/auth/session', s.origin));
  return (await res.json()) as { state: string; person?: { email: string }; method?: string };
}

describeEachStore('single sign-on', (db) => {
  it('signs a directory person in with Microsoft, links the identity, and the cookie works', async () => {
    const s = await custosWithProvider(db.store, 'microsoft', {
      'ms-subject-1': { email: 'Priya.N@palfrey.sch.uk' },
    });
    const person = await addPerson(s.ctx, 'priya.n@palfrey.sch.uk', ['staff']);
    const start = new URL('/api/auth/oidc/microsoft/start', s.origin);
    const first = await signInThroughProvider(start, 'ms-subject-1', s.origin);
    expect(first.finalUrl.pathname).toBe('/');
    expect(first.finalUrl.search).toBe('');
    const state = await sessionState(s, first.browser);
    expect(state).toMatchObject({
      state: 'ok',
      person: { email: 'priya.n@palfrey.sch.uk' },
      method: 'oidc:microsoft',
    });
    const links = await db.store.db.selectFrom('oidc_identities').selectAll().execute();
    expect(links).toMatchObject([{ provider: 'microsoft', subject: 'ms-subject-1' }]);
    expect(await s.ctx.audit.list({ action: 'account.sso-linked' })).toHaveLength(1);
    const account = await db.store.db
      .selectFrom('accounts')
      .selectAll()
      .where('person_id', '=', person.id)
      .executeTakeFirstOrThrow();
    expect(account.password_hash).toBeNull();

    // Afterwards the subject is matched, even if the address at the provider changes.
    await createDirectoryService(s.ctx).updatePerson(
      person.id,
      { email: 'p.natarajan@palfrey.sch.uk' },
      { id: null, label: 'test' },
    );
    const second = await signInThroughProvider(start, 'ms-subject-1', s.origin);
    expect(second.finalUrl.pathname).toBe('/');
    expect((await sessionState(s, second.browser)).person?.email).toBe(
      'p.natarajan@palfrey.sch.uk',
    );
  });

  it('PWD-2: a role that requires TOTP still needs the Custos code after Microsoft sign-in', async () => {
    const s = await custosWithProvider(db.store, 'microsoft', {
      'ms-sbm': { email: 'sbm@palfrey.sch.uk' },
    });
    await addPerson(s.ctx, 'sbm@palfrey.sch.uk', ['sbm']);
    const result = await signInThroughProvider(
      new URL('/api/auth/oidc/microsoft/start?next=/policy', s.origin),
      'ms-sbm',
      s.origin,
    );
    expect(result.finalUrl.pathname).toBe('/policy');
    expect((await sessionState(s, result.browser)).state).toBe('enrol_second_factor');
  });

  it('refuses an address that belongs to no one in the directory', async () => {
    const s = await custosWithProvider(db.store, 'microsoft', {
      stranger: { email: 'stranger@elsewhere.example' },
    });
    const result = await signInThroughProvider(
      new URL('/api/auth/oidc/microsoft/start', s.origin),
      'stranger',
      s.origin,
    );
    expect(result.finalUrl.pathname).toBe('/sign-in');
    expect(result.finalUrl.searchParams.get('error')).toBe('sso_unknown_person');
    expect((await sessionState(s, result.browser)).state).toBe('none');
    expect(await db.store.db.selectFrom('oidc_identities').selectAll().execute()).toHaveLength(0);
  });

  it('refuses a Google account from a domain that is not allowed', async () => {
    const s = await custosWithProvider(
      db.store,
      'google',
      { 'g-1': { email: 'priya@gmail.com', email_verified: true } },
      ['palfrey.sch.uk'],
    );
    await addPerson(s.ctx, 'priya@gmail.com', ['staff']);
    const result = await signInThroughProvider(
      new URL('/api/auth/oidc/google/start', s.origin),
      'g-1',
      s.origin,
    );
    expect(result.finalUrl.searchParams.get('error')).toBe('sso_domain_not_allowed');
    expect((await sessionState(s, result.browser)).state).toBe('none');
  });

  it('signs in a Google Workspace account of an allowed domain (hd)', async () => {
    const s = await custosWithProvider(
      db.store,
      'google',
      { 'g-2': { email: 'priya@palfrey.sch.uk', email_verified: true, hd: 'palfrey.sch.uk' } },
      ['palfrey.sch.uk'],
    );
    await addPerson(s.ctx, 'priya@palfrey.sch.uk', ['staff']);
    const result = await signInThroughProvider(
      new URL('/api/auth/oidc/google/start', s.origin),
      'g-2',
      s.origin,
    );
    expect(result.finalUrl.pathname).toBe('/');
    expect((await sessionState(s, result.browser)).state).toBe('ok');
  });

  it('refuses an answer whose state does not match the sign-in this browser started', async () => {
    const s = await custosWithProvider(db.store, 'microsoft', {
      'ms-2': { email: 'priya@palfrey.sch.uk' },
    });
    await addPerson(s.ctx, 'priya@palfrey.sch.uk', ['staff']);
    const result = await signInThroughProvider(
      new URL('/api/auth/oidc/microsoft/start', s.origin),
      'ms-2',
      s.origin,
      (callback) => {
        callback.searchParams.set('state', 'forged-state-value');
        return callback;
      },
    );
    expect(result.finalUrl.pathname).toBe('/sign-in');
    expect(result.finalUrl.searchParams.get('error')).toBe('sso_state_mismatch');
    expect((await sessionState(s, result.browser)).state).toBe('none');
  });
});
