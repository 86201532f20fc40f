// Deny by default, proved over every route: each registered route is called with no session and
// with a session of every role in the shipped pack, and each answer is checked against the pack.
import type { FastifyPluginAsync } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp, MissingPermissionError } from '../../src/api/app.ts';
import { sessionHeaders, signedInAs, testContext } from '../support/app.ts';
import { freshStore } from '../support/stores.ts';

/** Routes that need no session. Adding one here is a decision: say why beside it. */
const PUBLIC_ROUTES = new Set([
  'GET /healthz', // liveness for load balancers and systemd
  'GET /readyz', // readiness
  'GET /api/openapi.json', // the API description
  'GET /api/auth/session', // tells the console whether anyone is signed in
  'GET /api/auth/providers', // which sign-in buttons to show
  'POST /api/auth/sign-in',
  'POST /api/auth/totp', // second step of sign-in, on the pending session
  'POST /api/auth/totp/enrol', // first second-factor enrolment, on the pending session
  'POST /api/auth/totp/enrol/confirm',
  'POST /api/auth/unlock', // PWD-5 lock screen, on the locked session
  'POST /api/auth/setup', // first run, behind the one-time token
  'POST /api/auth/password/reset', // behind a one-time token
  'GET /api/auth/oidc/:provider/start',
  'GET /api/auth/oidc/:provider/callback',
  'GET /', // the console's static files; no data
  'GET /*', // the console's client-side routes and assets; no data
]);

const HOOK_REFUSALS = new Set([
  'unauthenticated',
  'session_expired',
  'session_locked',
  'second_factor_required',
  'forbidden',
  'csrf_failed',
]);

const fillParams = (url: string) =>
  url
    .replace(/:provider/g, 'google')
    .replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000')
    .replace(/\*/g, 'x');

const codeOf = (body: string): string | undefined => {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

describe('route permissions', () => {
  it('every route answers as the pack says for no session and for every role', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const { app, routes } = await buildApp(ctx);
    const roles = [...ctx.policy.current().roles.values()];
    const failures: string[] = [];
    const people = new Map<string, string>();
    for (const role of roles) people.set(role.id, (await signedInAs(ctx, [role.id])).accountId);

    const documentation = routes.filter((r) => r.url.startsWith('/api/docs'));
    const checked = routes.filter((r) => !r.url.startsWith('/api/docs'));
    expect(documentation.every((r) => r.permission === 'public')).toBe(true);
    expect(checked.length).toBeGreaterThan(5);

    for (const route of checked) {
      const key = `${route.method} ${route.url}`;
      const url = fillParams(route.url);
      const call = (headers: Record<string, string>) =>
        app.inject({
          method: route.method as 'GET',
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(route.method === 'GET' || route.method === 'HEAD' ? {} : { payload: '{}' }),
        });

      if (route.permission === 'public') {
        if (!PUBLIC_ROUTES.has(key)) failures.push(`${key} is public but not in the reviewed list`);
        continue;
      }
      if (PUBLIC_ROUTES.has(key))
        failures.push(`${key} is listed as public but needs ${route.permission}`);

      const anonymous = await call({});
      if (anonymous.statusCode !== 401 || codeOf(anonymous.body) !== 'unauthenticated') {
        failures.push(
          `${key} without a session answered ${anonymous.statusCode} ${anonymous.body.slice(0, 80)}`,
        );
      }

      for (const role of roles) {
        // A fresh session per call: some routes (sign-out) end the session they are called with.
        const headers = await sessionHeaders(ctx, people.get(role.id)!);
        const res = await call(headers);
        const code = codeOf(res.body);
        const allowed =
          route.permission === 'authenticated' || role.permissions.has(route.permission);
        if (allowed && code && HOOK_REFUSALS.has(code)) {
          failures.push(`${key} refused ${role.id} (${code}) though the pack allows it`);
        }
        if (!allowed && !(res.statusCode === 403 && code === 'forbidden')) {
          failures.push(
            `${key} gave ${role.id} ${res.statusCode} ${code ?? ''} though the pack does not grant ${route.permission}`,
          );
        }
      }
    }
    await app.close();
    expect(failures).toEqual([]);
  });

  it('a state-changing request without the CSRF token is refused', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const { app } = await buildApp(ctx);
    const sbm = await signedInAs(ctx, ['sbm']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/audit/verify',
      headers: { cookie: sbm.headers.cookie! },
    });
    expect(res.statusCode).toBe(403);
    expect(codeOf(res.body)).toBe('csrf_failed');
    const ok = await app.inject({ method: 'POST', url: '/api/audit/verify', headers: sbm.headers });
    expect(ok.statusCode).toBe(200);
    await app.close();
  });

  it('a route without a permission stops the server from starting', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const careless: FastifyPluginAsync = async (app) => {
      app.get('/api/careless', async () => ({ leaked: true }));
    };
    await expect(buildApp(ctx, [careless])).rejects.toThrow(MissingPermissionError);
  });

  it('a route naming a permission the catalogue does not have stops the server from starting', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const typo: FastifyPluginAsync = async (app) => {
      app.get('/api/typo', { config: { permission: 'people.raed' as never } }, async () => ({}));
    };
    await expect(buildApp(ctx, [typo])).rejects.toThrow(/unknown permission 'people.raed'/);
  });
});
