// An AppContext over a test store with the shipped policy pack, and signed-in sessions for any
// set of roles, for route tests through app.inject().
import path from 'node:path';
import pino from 'pino';
import type { AppContext } from '../../src/api/context.ts';
import { createAuditLog } from '../../src/audit/service.ts';
import { createSessionService, SESSION_COOKIE } from '../../src/auth/session.service.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import type { CompiledPolicy } from '../../src/policy/compiled.ts';
import { createPolicyHolder } from '../../src/policy/holder.ts';
import { formatPackError, loadPolicyPack } from '../../src/policy/loader.ts';
import type { Store } from '../../src/store/database.ts';
import { addAccount, addPerson } from './seed.ts';

export const SHIPPED_PACK = path.resolve(import.meta.dirname, '../../policy-packs/palfrey-infant');

let shipped: Promise<CompiledPolicy> | undefined;
export function shippedPolicy(): Promise<CompiledPolicy> {
  shipped ??= loadPolicyPack(SHIPPED_PACK).then((result) => {
    if (!result.ok) throw new Error(result.errors.map(formatPackError).join('\n'));
    return result.policy;
  });
  return shipped;
}

export async function testContext(
  store: Store,
  options: {
    config?: Partial<Record<string, unknown>>;
    clock?: () => Date;
    policy?: CompiledPolicy;
  } = {},
): Promise<AppContext> {
  const config: Config = loadConfig({ env: {}, overrides: options.config ?? {} });
  const clock = options.clock ?? (() => new Date());
  const policy = createPolicyHolder(options.policy ?? (await shippedPolicy()));
  const audit = createAuditLog(store, clock);
  const sessions = createSessionService({ store, config, policy, audit, clock });
  return { config, store, audit, policy, sessions, log: pino({ level: 'silent' }), clock };
}

export interface TestSession {
  personId: string;
  accountId: string;
  headers: Record<string, string>;
}

/**
 * A person with the given roles, an account and a live session that has passed any second
 * factor. Written straight to the tables (seed.ts): fixture set-up, not the behaviour under test.
 */
export async function signedInAs(
  ctx: AppContext,
  roles: string[],
  ip = '192.0.2.10',
): Promise<TestSession> {
  const now = ctx.clock().toISOString();
  const personId = await addPerson(ctx.store, {
    givenName: 'Test',
    familyName: roles.join('-') || 'nobody',
    kind: [...ctx.policy.current().personKinds.keys()][0]!,
    roles,
    now,
  });
  const accountId = await addAccount(ctx.store, personId, { now });
  return { personId, accountId, headers: await sessionHeaders(ctx, accountId, ip) };
}

export async function sessionHeaders(
  ctx: AppContext,
  accountId: string,
  ip = '192.0.2.10',
): Promise<Record<string, string>> {
  const { token, session } = await ctx.sessions.create({
    accountId,
    ip,
    userAgent: 'vitest',
    method: 'password',
    mfaPassed: true,
  });
  return { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': session.csrf_token };
}
