import type { FastifyInstance } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { expect, it } from 'vitest';
import { testPolicy } from '../../test/factories.ts';
import { testContext } from '../../test/support/app.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import type { AppContext } from '../api/context.ts';
import { createDirectoryService } from '../directory/service.ts';
import type { Store } from '../store/database.ts';
import { createAccountsService } from './accounts.service.ts';
import { ensureFirstRunLink } from './first-run.ts';
import { SESSION_COOKIE } from './session.service.ts';

const START = Date.parse('2025-03-03T09:00:00.000Z');
const PASSWORD = 'Tortoise-lantern-47';

interface Harness {
  ctx: AppContext;
  app: FastifyInstance;
  advance(ms: number): void;
  now(): number;
}

async function harness(store: Store, config: Record<string, unknown> = {}): Promise<Harness> {
  let now = START;
  const ctx = await testContext(store, {
    policy: testPolicy({ idleLockMinutes: 15 }),
    clock: () => new Date(now),
    config: {
      'auth.argon2.memoryKiB': 8192,
      'auth.argon2.timeCost': 1,
      'server.publicUrl': 'http://custos.test',
      ...config,
    },
  });
  const { app } = await buildApp(ctx);
  return {
    ctx,
    app,
    advance: (ms) => {
      now += ms;
    },
    now: () => now,
  };
}

let seq = 0;
async function person(
  ctx: AppContext,
  roles: string[],
  password: string | null = PASSWORD,
  names: { givenName?: string; familyName?: string } = {},
) {
  const directory = createDirectoryService(ctx);
  const accounts = createAccountsService(ctx);
  const created = await directory.createPerson(
    {
      email: `person${++seq}@palfrey.sch.uk`,
      givenName: names.givenName ?? 'Amelia',
      familyName: names.familyName ?? 'Hartley',
      kind: 'employee',
      roles,
    },
    { id: null, label: 'test' },
  );
  const account = await accounts.createAccount(created, password, { id: null, label: 'test' });
  return { person: created, account, email: created.email };
}

const codeOf = (res: { body: string }) =>
  (JSON.parse(res.body) as { error?: { code?: string } }).error?.code;

function cookieOf(res: { cookies: { name: string; value: string }[] }): string {
  const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error('no session cookie set');
  return `${SESSION_COOKIE}=${cookie.value}`;
}

async function signIn(
  h: Harness,
  email: string,
  password = PASSWORD,
  remoteAddress = '192.0.2.10',
) {
  const res = await h.app.inject({
    method: 'POST',
    url: '/api/auth/sign-in',
    payload: { email, password },
    remoteAddress,
  });
  return res;
}

async function session(h: Harness, cookie?: string) {
  const res = await h.app.inject({
    method: 'GET',
    url: '/api/auth/session',
    headers: cookie ? { cookie } : {},
  });
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body) as {
    state: string;
    csrfToken?: string;
    person?: { email: string };
    permissions?: string[];
  };
}

function codeAt(secret: string, at: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({
    timestamp: at,
  });
}

describeEachStore('sign-in routes', (db) => {
  it('PWD-2: a right password signs in with an httpOnly SameSite cookie and /session says ok', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['staff']);
    const res = await signIn(h, email);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).next).toBe('done');
    const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE)!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie.secure).toBeFalsy();
    const state = await session(h, cookieOf(res));
    expect(state.state).toBe('ok');
    expect(state.person?.email).toBe(email);
    expect(state.csrfToken).toBe(JSON.parse(res.body).csrfToken);
    const entries = await h.ctx.audit.list({ action: 'session.signed-in' });
    expect(entries).toHaveLength(1);
    await h.app.close();
  });

  it('PWD-2: the cookie is Secure when the console is reached over https', async () => {
    const h = await harness(db.store, { 'server.publicUrl': 'https://custos.palfrey.sch.uk' });
    const { email } = await person(h.ctx, ['staff']);
    const res = await signIn(h, email);
    expect(res.cookies.find((c) => c.name === SESSION_COOKIE)?.secure).toBe(true);
    await h.app.close();
  });

  it('PWD-2: a wrong password and an unknown address get the same 401 with no hint', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['staff']);
    const wrong = await signIn(h, email, 'Not-the-password-1');
    const unknown = await signIn(h, 'nobody@palfrey.sch.uk', 'Not-the-password-1');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(codeOf(wrong)).toBe('invalid_credentials');
    expect(JSON.parse(wrong.body)).toEqual(JSON.parse(unknown.body));
    expect(JSON.parse(wrong.body).error.details).toBeUndefined();
    expect(wrong.cookies).toHaveLength(0);
    await h.app.close();
  });

  it('PWD-2: locks the account after the configured failures (423 with the time), unlocks after lockoutMinutes', async () => {
    const h = await harness(db.store, { 'auth.maxFailedSignIns': 3, 'auth.lockoutMinutes': 10 });
    const { email, account } = await person(h.ctx, ['staff']);
    expect((await signIn(h, email, 'wrong-1')).statusCode).toBe(401);
    expect((await signIn(h, email, 'wrong-2')).statusCode).toBe(401);
    const third = await signIn(h, email, 'wrong-3');
    expect(third.statusCode).toBe(423);
    expect(codeOf(third)).toBe('account_locked');
    const until = new Date(START + 10 * 60_000).toISOString();
    expect(JSON.parse(third.body).error.details).toEqual({ lockedUntil: until });
    // The right password does not get through a lock.
    const locked = await signIn(h, email);
    expect(locked.statusCode).toBe(423);
    expect(JSON.parse(locked.body).error.message).toContain(until);
    const flags = await db.store.db.selectFrom('security_flags').selectAll().execute();
    expect(flags.map((f) => [f.kind, f.account_id])).toEqual([['lockout', account.id]]);
    const audit = await h.ctx.audit.list({ action: 'account.locked' });
    expect(audit[0]?.clauseIds).toEqual(['PWD-2']);

    h.advance(10 * 60_000 + 1000);
    expect((await signIn(h, email)).statusCode).toBe(200);
    // The count starts again from nothing after a success.
    expect((await signIn(h, email, 'wrong-4')).statusCode).toBe(401);
    expect((await signIn(h, email)).statusCode).toBe(200);
    await h.app.close();
  });

  it('PWD-2: the sbm role (TOTP required by the pack) stays second_factor_required until a code is given', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['sbm']);
    const first = await signIn(h, email);
    expect(JSON.parse(first.body).next).toBe('enrol-totp');
    const cookie = cookieOf(first);
    const csrf = JSON.parse(first.body).csrfToken as string;
    expect((await session(h, cookie)).state).toBe('enrol_second_factor');
    const blocked = await h.app.inject({
      method: 'GET',
      url: '/api/audit/entries',
      headers: { cookie },
    });
    expect(blocked.statusCode).toBe(401);
    expect(codeOf(blocked)).toBe('second_factor_required');

    // Enrolment needs the pending session's CSRF token.
    const noCsrf = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp/enrol',
      headers: { cookie },
    });
    expect(codeOf(noCsrf)).toBe('csrf_failed');
    const enrol = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp/enrol',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(enrol.statusCode).toBe(200);
    const { secret, uri } = JSON.parse(enrol.body) as { secret: string; uri: string };
    expect(uri).toMatch(/^otpauth:\/\/totp\/Custos:.*issuer=Custos/);
    const headers = { cookie, 'x-csrf-token': csrf };
    const bad = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp/enrol/confirm',
      headers,
      payload: { code: codeAt(secret, h.now() - 5 * 60_000) },
    });
    expect(bad.statusCode).toBe(401);
    const usedCode = codeAt(secret, h.now());
    const good = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp/enrol/confirm',
      headers,
      payload: { code: usedCode },
    });
    expect(good.statusCode).toBe(200);
    expect((await session(h, cookie)).state).toBe('ok');
    expect(await h.ctx.audit.list({ action: 'account.totp-enrolled' })).toHaveLength(1);

    // The next sign-in asks for the code; the code already used is refused within its window.
    const second = await signIn(h, email);
    expect(JSON.parse(second.body).next).toBe('totp');
    const cookie2 = cookieOf(second);
    const headers2 = { cookie: cookie2, 'x-csrf-token': JSON.parse(second.body).csrfToken };
    expect((await session(h, cookie2)).state).toBe('second_factor_required');
    const reused = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp',
      headers: headers2,
      payload: { code: usedCode },
    });
    expect(reused.statusCode).toBe(401);
    expect(JSON.parse(reused.body).error.message).toContain('already been used');
    h.advance(30_000);
    const fresh = await h.app.inject({
      method: 'POST',
      url: '/api/auth/totp',
      headers: headers2,
      payload: { code: codeAt(secret, h.now()) },
    });
    expect(fresh.statusCode).toBe(200);
    expect((await session(h, cookie2)).state).toBe('ok');
    const ok = await h.app.inject({
      method: 'GET',
      url: '/api/audit/entries',
      headers: { cookie: cookie2 },
    });
    expect(ok.statusCode).toBe(200);
    await h.app.close();
  });

  it('PWD-5: an idle session is locked (401 session_locked) and the password on /unlock resumes it', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['staff']);
    const res = await signIn(h, email);
    const cookie = cookieOf(res);
    const headers = { cookie, 'x-csrf-token': JSON.parse(res.body).csrfToken as string };
    h.advance(16 * 60_000);
    const locked = await h.app.inject({
      method: 'POST',
      url: '/api/auth/password',
      headers,
      payload: { current: PASSWORD, next: 'Another-lantern-58' },
    });
    expect(locked.statusCode).toBe(401);
    expect(codeOf(locked)).toBe('session_locked');
    expect((await session(h, cookie)).state).toBe('locked');

    const wrong = await h.app.inject({
      method: 'POST',
      url: '/api/auth/unlock',
      headers,
      payload: { password: 'Not-it-at-all-9' },
    });
    expect(codeOf(wrong)).toBe('invalid_credentials');
    const unlocked = await h.app.inject({
      method: 'POST',
      url: '/api/auth/unlock',
      headers,
      payload: { password: PASSWORD },
    });
    expect(unlocked.statusCode).toBe(200);
    expect((await session(h, cookie)).state).toBe('ok');
    const entries = await h.ctx.audit.list({ action: 'session.unlocked' });
    expect(entries[0]?.clauseIds).toEqual(['PWD-5']);
    const signOut = await h.app.inject({ method: 'POST', url: '/api/auth/sign-out', headers });
    expect(signOut.statusCode).toBe(200);
    expect((await session(h, cookie)).state).toBe('none');
    await h.app.close();
  });

  it('a state-changing request without the CSRF header is refused 403 csrf_failed', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['staff']);
    const cookie = cookieOf(await signIn(h, email));
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/auth/sign-out',
      headers: { cookie },
    });
    expect(res.statusCode).toBe(403);
    expect(codeOf(res)).toBe('csrf_failed');
    expect((await session(h, cookie)).state).toBe('ok');
    await h.app.close();
  });

  it('PWD-4: signing in to one account from two addresses at once raises a security flag', async () => {
    const h = await harness(db.store);
    const { email, account } = await person(h.ctx, ['staff']);
    await signIn(h, email, PASSWORD, '192.0.2.10');
    expect(await db.store.db.selectFrom('security_flags').selectAll().execute()).toHaveLength(0);
    await signIn(h, email, PASSWORD, '198.51.100.7');
    const flags = await db.store.db.selectFrom('security_flags').selectAll().execute();
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ kind: 'concurrent-sign-in', account_id: account.id });
    expect(JSON.parse(flags[0]!.clause_ids)).toEqual(['PWD-4']);
    await h.app.close();
  });

  it('a forged session cookie is unauthenticated', async () => {
    const h = await harness(db.store);
    const cookie = `${SESSION_COOKIE}=forged-${'x'.repeat(40)}`;
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/auth/sign-out',
      headers: { cookie, 'x-csrf-token': 'anything' },
    });
    expect(res.statusCode).toBe(401);
    expect(codeOf(res)).toBe('unauthenticated');
    expect((await session(h, cookie)).state).toBe('none');
    await h.app.close();
  });

  it('a session past sessionMaxHours answers session_expired', async () => {
    const h = await harness(db.store, { 'auth.sessionMaxHours': 1 });
    const { email } = await person(h.ctx, ['staff']);
    const res = await signIn(h, email);
    const headers = { cookie: cookieOf(res), 'x-csrf-token': JSON.parse(res.body).csrfToken };
    h.advance(61 * 60_000);
    const late = await h.app.inject({ method: 'POST', url: '/api/auth/sign-out', headers });
    expect(late.statusCode).toBe(401);
    expect(codeOf(late)).toBe('session_expired');
    await h.app.close();
  });

  it('PWD-2: changing one’s own password checks the current one and the rule, and ends other sessions', async () => {
    const h = await harness(db.store);
    const { email } = await person(h.ctx, ['staff'], PASSWORD, { familyName: 'Pemberton' });
    const other = cookieOf(await signIn(h, email));
    const res = await signIn(h, email);
    const headers = { cookie: cookieOf(res), 'x-csrf-token': JSON.parse(res.body).csrfToken };
    const change = (current: string, next: string) =>
      h.app.inject({
        method: 'POST',
        url: '/api/auth/password',
        headers,
        payload: { current, next },
      });
    expect(codeOf(await change('Wrong-current-1', 'Fresh-harbour-63'))).toBe('invalid_credentials');
    const weak = await change(PASSWORD, 'Pemberton-2024!');
    expect(weak.statusCode).toBe(422);
    expect(JSON.parse(weak.body).error.message).toContain('contains your surname');
    expect((await change(PASSWORD, 'Fresh-harbour-63')).statusCode).toBe(200);
    expect((await session(h, headers.cookie)).state).toBe('ok');
    expect((await session(h, other)).state).toBe('none');
    expect((await signIn(h, email)).statusCode).toBe(401);
    expect((await signIn(h, email, 'Fresh-harbour-63')).statusCode).toBe(200);
    await h.app.close();
  });

  it('PWD-2: a one-time password link sets the password once and unlocks the account', async () => {
    const h = await harness(db.store, { 'auth.maxFailedSignIns': 2 });
    const { email, account } = await person(h.ctx, ['staff']);
    await signIn(h, email, 'wrong-1');
    expect((await signIn(h, email, 'wrong-2')).statusCode).toBe(423);
    const accounts = createAccountsService(h.ctx);
    const token = await accounts.issueToken('password-reset', account.id, 72, {
      id: null,
      label: 'cli',
    });
    const reset = (password: string) =>
      h.app.inject({
        method: 'POST',
        url: '/api/auth/password/reset',
        payload: { token, password },
      });
    expect((await reset('short')).statusCode).toBe(422);
    expect((await reset('Quiet-meadow-88')).statusCode).toBe(200);
    const again = await reset('Other-meadow-99');
    expect(again.statusCode).toBe(400);
    expect(codeOf(again)).toBe('token_invalid');
    expect((await signIn(h, email, 'Quiet-meadow-88')).statusCode).toBe(200);
    await h.app.close();
  });

  it('first run: the setup link creates the School Business Manager once only', async () => {
    const h = await harness(db.store);
    const url = await ensureFirstRunLink(h.ctx);
    expect(url).toMatch(/^http:\/\/custos\.test\/setup#token=[\w-]{40,}$/);
    const token = url!.split('#token=')[1]!;
    const setup = (body: Record<string, string>) =>
      h.app.inject({ method: 'POST', url: '/api/auth/setup', payload: body });
    const body = {
      token,
      givenName: 'Margaret',
      familyName: 'Okafor',
      email: 'SBM@palfrey.sch.uk',
      password: 'Lighthouse-kettle-42',
    };
    expect(codeOf(await setup({ ...body, token: 'wrong-token' }))).toBe('token_invalid');
    const weak = await setup({ ...body, password: 'Okafor-12345!' });
    expect(weak.statusCode).toBe(422);
    const done = await setup(body);
    expect(done.statusCode).toBe(201);
    expect(JSON.parse(done.body)).toMatchObject({ email: 'sbm@palfrey.sch.uk', next: 'sign-in' });
    const again = await setup({ ...body, email: 'other@palfrey.sch.uk' });
    expect(again.statusCode).toBe(409);
    expect(await ensureFirstRunLink(h.ctx)).toBeNull();

    const directory = createDirectoryService(h.ctx);
    const sbm = await directory.findByEmail('sbm@palfrey.sch.uk');
    expect(sbm).toMatchObject({ roles: ['sbm'], kind: 'employee', status: 'active' });
    const signedIn = await signIn(h, 'sbm@palfrey.sch.uk', 'Lighthouse-kettle-42');
    expect(JSON.parse(signedIn.body).next).toBe('enrol-totp');
    expect(await h.ctx.audit.list({ action: 'setup.completed' })).toHaveLength(1);
    await h.app.close();
  });

  it('first run: an expired setup link is refused', async () => {
    const h = await harness(db.store);
    const token = (await ensureFirstRunLink(h.ctx))!.split('#token=')[1]!;
    h.advance(25 * 3_600_000);
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/auth/setup',
      payload: {
        token,
        givenName: 'Margaret',
        familyName: 'Okafor',
        email: 'sbm@palfrey.sch.uk',
        password: 'Lighthouse-kettle-42',
      },
    });
    expect(codeOf(res)).toBe('token_invalid');
    await h.app.close();
  });
});

describeEachStore('sign-in rate limit', (db) => {
  it('PWD-2: more sign-in attempts per minute than configured from one address get 429 rate_limited', async () => {
    const h = await harness(db.store, {
      'auth.signInRatePerMinute': 3,
      'auth.maxFailedSignIns': 50,
    });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++)
      codes.push((await signIn(h, 'x@palfrey.sch.uk', 'wrong')).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
    const limited = await signIn(h, 'x@palfrey.sch.uk', 'wrong');
    expect(codeOf(limited)).toBe('rate_limited');
    // Another address is not affected.
    expect((await signIn(h, 'x@palfrey.sch.uk', 'wrong', '203.0.113.9')).statusCode).toBe(401);
    await h.app.close();
  });
});
