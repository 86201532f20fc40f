// Sign-in over HTTP: the session state for the console, password sign-in, the second factor,
// the lock screen (PWD-5), sign-out, password changes and resets, the first-run setup and single
// sign-on. Routes that continue a pending sign-in are public but need that pending session's
// cookie and its CSRF token. Sign-in, codes, unlock, resets and setup are rate-limited per address.
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../api/context.ts';
import type { Actor } from '../audit/service.ts';
import { createDirectoryService } from '../directory/service.ts';
import { totpRequiredFor } from '../policy/compiled.ts';
import { AppError } from '../shared/errors.ts';
import { sessionAbilities } from './abilities.ts';
import { createAccountsService, TOTP_ISSUER } from './accounts.service.ts';
import {
  clearOidcFlowCookie,
  clearSessionCookie,
  OIDC_FLOW_COOKIE,
  readOidcFlowCookie,
  safeNextPath,
  setOidcFlowCookie,
  setSessionCookie,
} from './cookies.ts';
import { employeeKind } from './first-run.ts';
import {
  configuredProviders,
  createOidcService,
  isOidcProvider,
  OidcError,
  type OidcProviderId,
} from './oidc.ts';
import { actorOf } from './principal.ts';
import * as s from './schema.ts';
import { type ResolveResult, SESSION_COOKIE } from './session.service.ts';
import { accountForIdentity } from './sso.service.ts';

type Pending = Extract<ResolveResult, { status: 'locked' | 'second_factor_required' }>;

export const authRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, sessions, audit, policy, store } = ctx;
    const accounts = createAccountsService({ ...ctx });
    const directory = createDirectoryService({ store, audit, policy, clock: ctx.clock });
    const oidc = createOidcService(config);

    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: () =>
        new AppError(
          'rate_limited',
          'Too many attempts from this address. Wait a minute and try again.',
        ),
    });
    const limited = { max: config.auth.signInRatePerMinute, timeWindow: 60_000 };

    const meta = (request: FastifyRequest) => ({
      ip: request.ip,
      userAgent: String(request.headers['user-agent'] ?? ''),
    });

    /** The cookie's session, which must be in the wanted pending state, with its CSRF token. */
    async function pendingSession(
      request: FastifyRequest,
      want: Pending['status'],
    ): Promise<Pending> {
      const resolved = await sessions.resolve(request.cookies[SESSION_COOKIE]);
      if (resolved.status !== want) {
        if (resolved.status === 'ok') {
          throw new AppError('conflict', 'You are already signed in.');
        }
        if (resolved.status === 'locked') {
          throw new AppError(
            'session_locked',
            'Your session is locked. Enter your password to carry on.',
          );
        }
        if (resolved.status === 'second_factor_required') {
          throw new AppError(
            'second_factor_required',
            'Enter the code from your authenticator app first.',
          );
        }
        if (resolved.status === 'expired') {
          throw new AppError('session_expired', 'Your session has ended. Sign in again.');
        }
        throw new AppError('unauthenticated', 'Sign in first.');
      }
      if (request.headers['x-csrf-token'] !== resolved.session.csrf_token) {
        throw new AppError(
          'csrf_failed',
          'This request did not carry the page token. Reload the page and try again.',
        );
      }
      return resolved as Pending;
    }

    async function actorOfAccount(accountId: string): Promise<Actor> {
      const account = await accounts.get(accountId);
      return account
        ? { id: account.personId, label: account.email }
        : { id: null, label: 'anonymous' };
    }

    /** Starts a session, ending the one this browser had, and records the sign-in. */
    async function startSession(
      request: FastifyRequest,
      reply: FastifyReply,
      who: { accountId: string; personId: string; email: string },
      method: string,
      mfaPassed: boolean,
    ) {
      const previous = await sessions.resolve(request.cookies[SESSION_COOKIE]);
      if ('session' in previous) await sessions.revoke(previous.session.id);
      const { ip, userAgent } = meta(request);
      const created = await store.db.transaction().execute(async (trx) => {
        const result = await sessions.create(
          { accountId: who.accountId, ip, userAgent, method, mfaPassed },
          trx,
        );
        await audit.append(
          {
            actor: { id: who.personId, label: who.email },
            action: mfaPassed ? 'session.signed-in' : 'session.password-accepted',
            target: { type: 'account', id: who.accountId },
            clauseIds: ['PWD-2'],
            details: { ip, method, secondFactorPending: !mfaPassed },
          },
          trx,
        );
        return result;
      });
      setSessionCookie(reply, config, created.token);
      return created.session;
    }

    async function secondFactorPassed(accountId: string, sessionId: string, ip: string) {
      await sessions.markSecondFactorPassed(sessionId);
      await audit.append({
        actor: await actorOfAccount(accountId),
        action: 'session.signed-in',
        target: { type: 'account', id: accountId },
        clauseIds: ['PWD-2'],
        details: { ip, secondFactor: 'totp' },
      });
    }

    app.get(
      '/session',
      {
        config: { permission: 'public' },
        schema: {
          tags: ['auth'],
          summary: 'Where this browser is in signing in, and who it is',
          response: { 200: s.SessionResponse },
        },
      },
      async (request, reply) => {
        const current = policy.current();
        const base = {
          idleLockMinutes: current.auth.idleLockMinutes,
          providers: configuredProviders(config),
        };
        const token = request.cookies[SESSION_COOKIE];
        const resolved = await sessions.resolve(token);
        if (resolved.status === 'ok') {
          const p = resolved.principal;
          return {
            ...base,
            state: 'ok' as const,
            person: { id: p.personId, email: p.email, name: p.name },
            roles: [...p.roles],
            permissions: [...p.permissions].sort(),
            abilities: sessionAbilities(p),
            csrfToken: p.csrfToken,
            method: resolved.session.method,
          };
        }
        if (resolved.status === 'locked' || resolved.status === 'second_factor_required') {
          const principal = await sessions.principalFor(resolved.accountId, resolved.session);
          const account = await accounts.get(resolved.accountId);
          const state =
            resolved.status === 'locked'
              ? ('locked' as const)
              : account?.totpEnabled
                ? ('second_factor_required' as const)
                : ('enrol_second_factor' as const);
          return {
            ...base,
            state,
            ...(principal
              ? { person: { id: principal.personId, email: principal.email, name: principal.name } }
              : {}),
            csrfToken: resolved.session.csrf_token,
            method: resolved.session.method,
          };
        }
        if (token) clearSessionCookie(reply, config);
        return { ...base, state: 'none' as const };
      },
    );

    app.get(
      '/providers',
      {
        config: { permission: 'public' },
        schema: {
          tags: ['auth'],
          summary: 'The single sign-on providers set up, for the sign-in page buttons',
          response: { 200: s.ProvidersResponse },
        },
      },
      async () => ({ providers: configuredProviders(config) }),
    );

    app.post(
      '/sign-in',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Sign in with e-mail address and password',
          body: s.SignInBody,
          response: { 200: s.SignInResponse },
        },
      },
      async (request, reply) => {
        const who = await accounts.verifySignIn(request.body.email, request.body.password, {
          ip: request.ip,
        });
        const needsTotp = who.totpEnabled || totpRequiredFor(policy.current(), who.roles);
        const session = await startSession(request, reply, who, 'password', !needsTotp);
        const next = !needsTotp ? 'done' : who.totpEnabled ? 'totp' : 'enrol-totp';
        return { next, csrfToken: session.csrf_token } as const;
      },
    );

    app.post(
      '/totp',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Give the authenticator code to finish signing in',
          body: s.CodeBody,
          response: { 200: s.DoneResponse },
        },
      },
      async (request) => {
        const pending = await pendingSession(request, 'second_factor_required');
        await accounts.verifyTotp(pending.accountId, request.body.code, { ip: request.ip });
        await secondFactorPassed(pending.accountId, pending.session.id, request.ip);
        return { next: 'done' as const };
      },
    );

    app.post(
      '/totp/enrol',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Start setting up an authenticator app (when the role requires one)',
          response: { 200: s.EnrolResponse },
        },
      },
      async (request) => {
        const pending = await pendingSession(request, 'second_factor_required');
        const started = await accounts.startTotpEnrolment(pending.accountId);
        return { ...started, issuer: TOTP_ISSUER };
      },
    );

    app.post(
      '/totp/enrol/confirm',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Confirm the authenticator app with its first code',
          body: s.CodeBody,
          response: { 200: s.DoneResponse },
        },
      },
      async (request) => {
        const pending = await pendingSession(request, 'second_factor_required');
        const actor = await actorOfAccount(pending.accountId);
        await accounts.confirmTotpEnrolment(pending.accountId, request.body.code, actor);
        await secondFactorPassed(pending.accountId, pending.session.id, request.ip);
        return { next: 'done' as const };
      },
    );

    app.post(
      '/unlock',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Unlock a session locked after inactivity (PWD-5) with the password',
          body: s.UnlockBody,
          response: { 200: s.OkResponse },
        },
      },
      async (request) => {
        const pending = await pendingSession(request, 'locked');
        await accounts.verifyPassword(pending.accountId, request.body.password, { ip: request.ip });
        await sessions.unlock(pending.session.id);
        await audit.append({
          actor: await actorOfAccount(pending.accountId),
          action: 'session.unlocked',
          target: { type: 'account', id: pending.accountId },
          clauseIds: ['PWD-5'],
          details: { ip: request.ip },
        });
        return { ok: true as const };
      },
    );

    app.post(
      '/sign-out',
      {
        config: { permission: 'authenticated' },
        schema: {
          tags: ['auth'],
          summary: 'Sign out of this browser',
          response: { 200: s.OkResponse },
        },
      },
      async (request, reply) => {
        const principal = request.principal!;
        await sessions.revoke(principal.sessionId);
        await audit.append({
          actor: actorOf(principal),
          action: 'session.signed-out',
          target: { type: 'account', id: principal.accountId },
          clauseIds: ['PWD-5'],
          details: { ip: request.ip },
        });
        clearSessionCookie(reply, config);
        return { ok: true as const };
      },
    );

    app.post(
      '/password',
      {
        config: { permission: 'authenticated' },
        schema: {
          tags: ['auth'],
          summary: 'Change your own password (PWD-2); other sessions end',
          body: s.ChangePasswordBody,
          response: { 200: s.OkResponse },
        },
      },
      async (request) => {
        const principal = request.principal!;
        await accounts.changePassword(
          principal.accountId,
          request.body.current,
          request.body.next,
          actorOf(principal),
          principal.sessionId,
        );
        return { ok: true as const };
      },
    );

    app.post(
      '/password/reset',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Set a password with a one-time link (PWD-2)',
          body: s.ResetPasswordBody,
          response: { 200: s.OkResponse },
        },
      },
      async (request) => {
        await store.db.transaction().execute(async (trx) => {
          const { accountId } = await accounts.redeemToken(
            request.body.token,
            'password-reset',
            trx,
          );
          if (!accountId) throw new AppError('token_invalid', 'This link is not for a password.');
          const account = await trx
            .selectFrom('accounts')
            .innerJoin('people', 'people.id', 'accounts.person_id')
            .select(['people.id as personId', 'people.email'])
            .where('accounts.id', '=', accountId)
            .executeTakeFirst();
          await accounts.setPassword(
            accountId,
            request.body.password,
            account
              ? { id: account.personId, label: account.email }
              : { id: null, label: 'anonymous' },
            { reason: 'one-time link' },
            trx,
          );
        });
        return { ok: true as const };
      },
    );

    app.post(
      '/setup',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'First run: create the School Business Manager with the one-time setup link',
          body: s.SetupBody,
          response: { 201: s.SetupResponse },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const current = policy.current();
        if (!current.roles.has('sbm')) {
          throw new AppError(
            'conflict',
            'The policy pack has no role "sbm" to give the first person.',
          );
        }
        const person = await store.db.transaction().execute(async (trx) => {
          if (await accounts.anyAccountExists(trx)) {
            throw new AppError(
              'conflict',
              'Custos is already set up. Sign in, or ask the School Business Manager for an account.',
            );
          }
          await accounts.redeemToken(body.token, 'first-run', trx);
          const actor = { id: null, label: 'setup' };
          const created = await directory.createPerson(
            {
              email: body.email,
              givenName: body.givenName,
              familyName: body.familyName,
              kind: employeeKind(policy),
              roles: ['sbm'],
            },
            actor,
            trx,
          );
          await accounts.createAccount(
            created,
            body.password,
            { id: created.id, label: created.email },
            trx,
          );
          await audit.append(
            {
              actor: { id: created.id, label: created.email },
              action: 'setup.completed',
              target: { type: 'person', id: created.id },
              clauseIds: ['PWD-2'],
            },
            trx,
          );
          return created;
        });
        return reply
          .status(201)
          .send({ personId: person.id, email: person.email, next: 'sign-in' as const });
      },
    );

    // Single sign-on. Failures go back to the sign-in page with a code it explains.
    const failTo = (reply: FastifyReply, code: string) =>
      reply.redirect(`/sign-in?error=${encodeURIComponent(code)}`, 302);

    app.get(
      '/oidc/:provider/start',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Start signing in with Microsoft or Google',
          params: s.ProviderParams,
          querystring: s.StartQuery,
        },
      },
      async (request, reply) => {
        const provider = request.params.provider;
        if (!isOidcProvider(provider) || !configuredProviders(config).includes(provider)) {
          return failTo(reply, 'sso_not_configured');
        }
        try {
          const { url, flow } = await oidc.start(provider);
          const next = safeNextPath(request.query.next);
          setOidcFlowCookie(reply, config, { ...flow, next });
          return reply.redirect(url, 302);
        } catch (error) {
          request.log.warn({ err: error, provider }, 'single sign-on could not start');
          return failTo(reply, error instanceof OidcError ? error.code : 'sso_failed');
        }
      },
    );

    app.get(
      '/oidc/:provider/callback',
      {
        config: { permission: 'public', rateLimit: limited },
        schema: {
          tags: ['auth'],
          summary: 'Where Microsoft or Google send the browser back after sign-in',
          params: s.ProviderParams,
          querystring: s.CallbackQuery,
        },
      },
      async (request, reply) => {
        const provider = request.params.provider;
        const flow = readOidcFlowCookie(request.cookies[OIDC_FLOW_COOKIE]);
        clearOidcFlowCookie(reply, config);
        if (!isOidcProvider(provider) || !configuredProviders(config).includes(provider)) {
          return failTo(reply, 'sso_not_configured');
        }
        const currentUrl = new URL(request.url, config.server.publicUrl);
        try {
          const identity = await oidc.finish(provider as OidcProviderId, currentUrl, flow);
          const who = await accountForIdentity(
            { store, audit, accounts, directory, clock: ctx.clock },
            identity,
          );
          const needsTotp =
            (who.totpEnabled || totpRequiredFor(policy.current(), who.roles)) && !identity.mfa;
          await startSession(request, reply, who, `oidc:${provider}`, !needsTotp);
          return reply.redirect(safeNextPath(flow?.next), 302);
        } catch (error) {
          const code = error instanceof OidcError ? error.code : 'sso_failed';
          request.log.warn({ err: error, provider, code }, 'single sign-on refused');
          await audit.append({
            actor: { id: null, label: 'anonymous' },
            action: 'sign-in.failed',
            clauseIds: ['PWD-2'],
            details: { ip: request.ip, method: `oidc:${provider}`, code },
          });
          return failTo(reply, code);
        }
      },
    );
  };
