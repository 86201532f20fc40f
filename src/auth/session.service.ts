// Sessions: a random token in an httpOnly cookie, only its SHA-256 stored. A session ends
// after sessionMaxHours; after the pack's idle time (PWD-5) it is locked, not ended: the page
// stays, and the person gives their password again to go on. A second sign-in of one account
// from another address while the first is live is flagged for review (PWD-4).
import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import { permissionsOf, totpRequiredFor } from '../policy/compiled.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { newId, toJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Database, SessionsTable } from '../store/schema.ts';
import type { Principal } from './principal.ts';

export const SESSION_COOKIE = 'custos_session';

export const hashToken = (token: string): string =>
  createHash('sha256').update(token).digest('hex');

const newToken = (): string => randomBytes(32).toString('base64url');

export type ResolveResult =
  | { status: 'ok'; principal: Principal; session: SessionsTable }
  | { status: 'none' | 'expired' | 'revoked' }
  | { status: 'locked' | 'second_factor_required'; session: SessionsTable; accountId: string };

export interface CreateSessionInput {
  accountId: string;
  ip: string;
  userAgent: string;
  method: string;
  mfaPassed: boolean;
}

export interface SessionService {
  create(
    input: CreateSessionInput,
    trx?: Transaction<Database>,
  ): Promise<{ token: string; session: SessionsTable }>;
  resolve(token: string | undefined): Promise<ResolveResult>;
  /** Records activity; cheap to call on every request (writes at most every 30 s). */
  touch(session: SessionsTable): Promise<void>;
  /** After the password is given again on the lock screen. */
  unlock(sessionId: string): Promise<void>;
  markSecondFactorPassed(sessionId: string): Promise<void>;
  revoke(sessionId: string): Promise<void>;
  revokeAllFor(accountId: string, trx?: Transaction<Database>): Promise<void>;
  principalFor(accountId: string, session: SessionsTable): Promise<Principal | null>;
}

export function createSessionService(deps: {
  store: Store;
  config: Config;
  policy: PolicyHolder;
  audit: AuditLog;
  clock?: () => Date;
}): SessionService {
  const { store, config, policy, audit } = deps;
  const clock = deps.clock ?? (() => new Date());
  const db = store.db;

  /** The principal, and whether the account has a second factor set up. */
  async function load(
    accountId: string,
    session: SessionsTable,
  ): Promise<{ principal: Principal; totpEnabled: boolean } | null> {
    const row = await db
      .selectFrom('accounts')
      .innerJoin('people', 'people.id', 'accounts.person_id')
      .select([
        'accounts.id as accountId',
        'accounts.disabled',
        'accounts.totp_enabled',
        'people.id as personId',
        'people.email',
        'people.given_name',
        'people.family_name',
        'people.status',
      ])
      .where('accounts.id', '=', accountId)
      .executeTakeFirst();
    if (!row || row.disabled === 1 || row.status !== 'active') return null;
    const roles = (
      await db
        .selectFrom('person_roles')
        .select('role')
        .where('person_id', '=', row.personId)
        .execute()
    ).map((r) => r.role);
    return {
      principal: {
        accountId: row.accountId,
        personId: row.personId,
        email: row.email,
        name: `${row.given_name} ${row.family_name}`.trim(),
        roles,
        permissions: permissionsOf(policy.current(), roles),
        sessionId: session.id,
        csrfToken: session.csrf_token,
      },
      totpEnabled: row.totp_enabled === 1,
    };
  }

  const principalFor = async (accountId: string, session: SessionsTable) =>
    (await load(accountId, session))?.principal ?? null;

  return {
    principalFor,

    async create(input, trx) {
      const now = clock();
      const token = newToken();
      const session: SessionsTable = {
        id: hashToken(token),
        account_id: input.accountId,
        csrf_token: newToken(),
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: new Date(now.getTime() + config.auth.sessionMaxHours * 3_600_000).toISOString(),
        ip: input.ip,
        user_agent: input.userAgent.slice(0, 400),
        method: input.method,
        mfa_passed: input.mfaPassed ? 1 : 0,
        revoked_at: null,
      };
      const run = async (t: Transaction<Database>) => {
        // PWD-4: another live session of this account from a different address.
        const idleMs = policy.current().auth.idleLockMinutes * 60_000;
        const others = await t
          .selectFrom('sessions')
          .select(['id', 'ip', 'last_seen_at'])
          .where('account_id', '=', input.accountId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now.toISOString())
          .where('last_seen_at', '>', new Date(now.getTime() - idleMs).toISOString())
          .where('ip', '!=', input.ip)
          .execute();
        await t.insertInto('sessions').values(session).execute();
        if (others.length > 0) {
          const details = {
            newAddress: input.ip,
            otherAddresses: [...new Set(others.map((o) => o.ip))],
          };
          await t
            .insertInto('security_flags')
            .values({
              id: newId(),
              kind: 'concurrent-sign-in',
              account_id: input.accountId,
              clause_ids: toJson(['PWD-4']),
              details: toJson(details),
              created_at: now.toISOString(),
              reviewed_at: null,
              reviewed_by: null,
            })
            .execute();
          await audit.append(
            {
              actor: { id: null, label: 'system' },
              action: 'security.concurrent-sign-in-flagged',
              target: { type: 'account', id: input.accountId },
              clauseIds: ['PWD-4'],
              details,
            },
            t,
          );
        }
      };
      if (trx) await run(trx);
      else await db.transaction().execute(run);
      return { token, session };
    },

    async resolve(token) {
      if (!token || token.length > 200) return { status: 'none' };
      const session = await db
        .selectFrom('sessions')
        .selectAll()
        .where('id', '=', hashToken(token))
        .executeTakeFirst();
      if (!session) return { status: 'none' };
      if (session.revoked_at) return { status: 'revoked' };
      const now = clock().getTime();
      if (Date.parse(session.expires_at) <= now) return { status: 'expired' };
      const idleMs = policy.current().auth.idleLockMinutes * 60_000;
      if (now - Date.parse(session.last_seen_at) > idleMs) {
        return { status: 'locked', session, accountId: session.account_id };
      }
      const loaded = await load(session.account_id, session);
      if (!loaded) return { status: 'revoked' };
      const { principal, totpEnabled } = loaded;
      // The second factor is asked of roles the pack marks, and of anyone who has set one up.
      if (
        session.mfa_passed !== 1 &&
        (totpEnabled || totpRequiredFor(policy.current(), principal.roles))
      ) {
        return { status: 'second_factor_required', session, accountId: session.account_id };
      }
      return { status: 'ok', principal, session };
    },

    async touch(session) {
      const now = clock();
      if (now.getTime() - Date.parse(session.last_seen_at) < 30_000) return;
      await db
        .updateTable('sessions')
        .set({ last_seen_at: now.toISOString() })
        .where('id', '=', session.id)
        .execute();
    },

    async unlock(sessionId) {
      await db
        .updateTable('sessions')
        .set({ last_seen_at: clock().toISOString() })
        .where('id', '=', sessionId)
        .execute();
    },

    async markSecondFactorPassed(sessionId) {
      await db
        .updateTable('sessions')
        .set({ mfa_passed: 1, last_seen_at: clock().toISOString() })
        .where('id', '=', sessionId)
        .execute();
    },

    async revoke(sessionId) {
      await db
        .updateTable('sessions')
        .set({ revoked_at: clock().toISOString() })
        .where('id', '=', sessionId)
        .execute();
    },

    async revokeAllFor(accountId, trx) {
      await (trx ?? db)
        .updateTable('sessions')
        .set({ revoked_at: clock().toISOString() })
        .where('account_id', '=', accountId)
        .where('revoked_at', 'is', null)
        .execute();
    },
  };
}
