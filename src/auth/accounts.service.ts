// Accounts of people in the directory: passwords under the pack's rule (PWD-2), sign-in with a
// per-account failure counter and temporary lockout, TOTP second factor, one-time links for
// first run and password resets. Every change is written with its audit entry in one
// transaction. A failed sign-in never tells whether the e-mail address exists.
import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { Actor, AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { AppError } from '../shared/errors.ts';
import { newId, toJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { createPasswordHasher, type PasswordHasher } from './hashing.ts';
import { checkPassword, describePasswordFailures, type PersonNames } from './password-rule.ts';
import type { AccountRow, AccountWithPerson } from './repository.ts';
import * as repo from './repository.ts';

export const TOTP_ISSUER = 'Custos';
const TOTP_PERIOD = 30;

export type TokenPurpose = 'first-run' | 'password-reset';

export interface AccountView {
  id: string;
  personId: string;
  email: string;
  hasPassword: boolean;
  totpEnabled: boolean;
  disabled: boolean;
  lockedUntil: string | null;
}

export interface SignedIn {
  accountId: string;
  personId: string;
  email: string;
  roles: string[];
  totpEnabled: boolean;
}

export interface AccountsService {
  readonly hasher: PasswordHasher;
  anyAccountExists(trx?: Transaction<Database>): Promise<boolean>;
  findByEmail(email: string): Promise<AccountView | null>;
  findByPersonId(personId: string): Promise<AccountView | null>;
  get(accountId: string): Promise<AccountView | null>;
  /** Creates the account of a person; a password, when given, must pass the rule. */
  createAccount(
    person: PersonNames & { id: string },
    password: string | null,
    actor: Actor,
    trx?: Transaction<Database>,
  ): Promise<AccountView>;
  /** Sets a new password (rule checked), clears lockout and, unless kept, ends sessions. */
  setPassword(
    accountId: string,
    password: string,
    actor: Actor,
    options?: { keepSessionId?: string; reason?: string },
    trx?: Transaction<Database>,
  ): Promise<void>;
  changePassword(
    accountId: string,
    current: string,
    next: string,
    actor: Actor,
    keepSessionId: string,
  ): Promise<void>;
  /** Checks e-mail and password; throws invalid_credentials or account_locked. */
  verifySignIn(email: string, password: string, meta: { ip: string }): Promise<SignedIn>;
  /** The password of a known account (lock screen, PWD-5), counted like a sign-in. */
  verifyPassword(accountId: string, password: string, meta: { ip: string }): Promise<void>;
  unlockAccount(accountId: string, actor: Actor, trx?: Transaction<Database>): Promise<void>;
  disable(accountId: string, actor: Actor): Promise<void>;
  startTotpEnrolment(accountId: string): Promise<{ secret: string; uri: string }>;
  confirmTotpEnrolment(accountId: string, code: string, actor: Actor): Promise<void>;
  verifyTotp(accountId: string, code: string, meta: { ip: string }): Promise<void>;
  resetTotp(accountId: string, actor: Actor): Promise<void>;
  issueToken(
    purpose: TokenPurpose,
    accountId: string | null,
    hours: number,
    actor: Actor,
    trx?: Transaction<Database>,
  ): Promise<string>;
  /** Uses a one-time token inside the caller's transaction; throws token_invalid. */
  redeemToken(
    token: string,
    purpose: TokenPurpose,
    trx: Transaction<Database>,
  ): Promise<{ accountId: string | null }>;
}

export interface AccountsDeps {
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  config: Config;
  clock?: () => Date;
  hasher?: PasswordHasher;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

const view = ({ account, person }: AccountWithPerson): AccountView => ({
  id: account.id,
  personId: person.id,
  email: person.email,
  hasPassword: account.password_hash !== null,
  totpEnabled: account.totp_enabled === 1,
  disabled: account.disabled === 1,
  lockedUntil: account.locked_until,
});

const invalidCredentials = () =>
  new AppError(
    'invalid_credentials',
    'The e-mail address or password is not right. Check both and try again.',
  );

export function createAccountsService(deps: AccountsDeps): AccountsService {
  const { store, audit, policy, config } = deps;
  const clock = deps.clock ?? (() => new Date());
  const hasher = deps.hasher ?? createPasswordHasher(config.auth.argon2);
  const db = store.db;
  const inTrx = <T>(
    trx: Transaction<Database> | undefined,
    run: (t: Transaction<Database>) => Promise<T>,
  ): Promise<T> => (trx ? run(trx) : db.transaction().execute(run));
  const passwordClauses = () => [...policy.current().auth.password.clauseIds];

  function assertPasswordAllowed(password: string, person: PersonNames): void {
    const result = checkPassword(password, policy.current().auth.password, person);
    if (!result.ok) {
      throw new AppError('password_rejected', describePasswordFailures(result.failures), {
        failures: result.failures,
      });
    }
  }

  const lockedNow = (account: AccountRow, now: Date) =>
    account.locked_until !== null && Date.parse(account.locked_until) > now.getTime();

  function lockedError(until: string): AppError {
    const minutes = Math.max(1, Math.ceil((Date.parse(until) - clock().getTime()) / 60_000));
    return new AppError(
      'account_locked',
      `This account is locked after too many failed attempts. Try again after ${until} (in about ${minutes} minute${minutes === 1 ? '' : 's'}), or ask the IT support team to unlock it.`,
      { lockedUntil: until },
    );
  }

  /** Counts a failed attempt; locks the account at the configured limit. */
  async function recordFailure(
    found: AccountWithPerson,
    what: 'password' | 'totp',
    ip: string,
  ): Promise<string | null> {
    return db.transaction().execute(async (t) => {
      const now = clock();
      // A lockout that has run out starts the count again.
      if (found.account.locked_until && !lockedNow(found.account, now)) {
        await repo.updateAccount(t, found.account.id, { failed_sign_ins: 0, locked_until: null });
      }
      const failures = await repo.incrementFailures(t, found.account.id, now.toISOString());
      await audit.append(
        {
          actor: { id: found.person.id, label: found.person.email },
          action: what === 'password' ? 'sign-in.failed' : 'sign-in.second-factor-failed',
          target: { type: 'account', id: found.account.id },
          clauseIds: passwordClauses(),
          details: { ip, failures },
        },
        t,
      );
      if (failures < config.auth.maxFailedSignIns) return null;
      const until = new Date(now.getTime() + config.auth.lockoutMinutes * 60_000).toISOString();
      await repo.updateAccount(t, found.account.id, {
        locked_until: until,
        failed_sign_ins: 0,
        updated_at: now.toISOString(),
      });
      await repo.insertSecurityFlag(t, {
        id: newId(),
        kind: 'lockout',
        account_id: found.account.id,
        clause_ids: toJson(passwordClauses()),
        details: toJson({ ip, failures, lockedUntil: until }),
        created_at: now.toISOString(),
        reviewed_at: null,
        reviewed_by: null,
      });
      await audit.append(
        {
          actor: { id: null, label: 'system' },
          action: 'account.locked',
          target: { type: 'account', id: found.account.id },
          clauseIds: passwordClauses(),
          reason: `${failures} failed attempts in a row`,
          details: { ip, lockedUntil: until },
        },
        t,
      );
      return until;
    });
  }

  async function succeeded(found: AccountWithPerson): Promise<void> {
    if (found.account.failed_sign_ins !== 0 || found.account.locked_until !== null) {
      await repo.updateAccount(db, found.account.id, { failed_sign_ins: 0, locked_until: null });
    }
  }

  async function checkPasswordOf(
    found: AccountWithPerson,
    password: string,
    ip: string,
  ): Promise<void> {
    const now = clock();
    if (lockedNow(found.account, now)) throw lockedError(found.account.locked_until!);
    const stored = found.account.password_hash;
    let ok = false;
    if (stored) ok = await hasher.verify(stored, password);
    else await hasher.burn(password);
    if (!ok) {
      const until = await recordFailure(found, 'password', ip);
      if (until) throw lockedError(until);
      throw invalidCredentials();
    }
    await succeeded(found);
    if (stored && hasher.needsRehash(stored)) {
      await repo.updateAccount(db, found.account.id, {
        password_hash: await hasher.hash(password),
      });
    }
  }

  function totpFor(secret: string, email: string): TOTP {
    return new TOTP({
      issuer: TOTP_ISSUER,
      label: email,
      algorithm: 'SHA1',
      digits: 6,
      period: TOTP_PERIOD,
      secret: Secret.fromBase32(secret),
    });
  }

  /** The time step a code belongs to (±1 step around now), or null when it matches none. */
  function matchCode(secret: string, email: string, code: string): number | null {
    const token = code.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(token)) return null;
    const now = clock().getTime();
    const delta = totpFor(secret, email).validate({ token, timestamp: now, window: 1 });
    if (delta === null) return null;
    return Math.floor(now / 1000 / TOTP_PERIOD) + delta;
  }

  async function mustFind(accountId: string): Promise<AccountWithPerson> {
    const found = await repo.accountById(db, accountId);
    if (!found) throw new AppError('not_found', 'There is no such account.');
    return found;
  }

  const service: AccountsService = {
    hasher,

    async anyAccountExists(trx) {
      return (await repo.countAccounts(trx ?? db)) > 0;
    },

    async findByEmail(email) {
      const found = await repo.accountByEmail(db, email.trim().toLowerCase());
      return found ? view(found) : null;
    },

    async findByPersonId(personId) {
      const found = await repo.accountByPersonId(db, personId);
      return found ? view(found) : null;
    },

    async get(accountId) {
      const found = await repo.accountById(db, accountId);
      return found ? view(found) : null;
    },

    async createAccount(person, password, actor, trx) {
      if (password !== null) assertPasswordAllowed(password, person);
      const hash = password === null ? null : await hasher.hash(password);
      return inTrx(trx, async (t) => {
        if (await repo.accountByPersonId(t, person.id)) {
          throw new AppError('conflict', `${person.email} already has an account.`);
        }
        const now = clock().toISOString();
        const row: AccountRow = {
          id: newId(),
          person_id: person.id,
          password_hash: hash,
          password_changed_at: hash ? now : null,
          totp_secret: null,
          totp_enabled: 0,
          totp_last_step: null,
          failed_sign_ins: 0,
          locked_until: null,
          disabled: 0,
          created_at: now,
          updated_at: now,
        };
        await repo.insertAccount(t, row);
        await audit.append(
          {
            actor,
            action: 'account.created',
            target: { type: 'account', id: row.id },
            clauseIds: passwordClauses(),
            details: { personId: person.id, email: person.email, withPassword: hash !== null },
          },
          t,
        );
        return view((await repo.accountById(t, row.id))!);
      });
    },

    async setPassword(accountId, password, actor, options = {}, trx) {
      const found = await repo.accountById(trx ?? db, accountId);
      if (!found) throw new AppError('not_found', 'There is no such account.');
      assertPasswordAllowed(password, found.person);
      const hash = await hasher.hash(password);
      await inTrx(trx, async (t) => {
        const now = clock().toISOString();
        await repo.updateAccount(t, accountId, {
          password_hash: hash,
          password_changed_at: now,
          failed_sign_ins: 0,
          locked_until: null,
          updated_at: now,
        });
        let sessions = t
          .updateTable('sessions')
          .set({ revoked_at: now })
          .where('account_id', '=', accountId)
          .where('revoked_at', 'is', null);
        if (options.keepSessionId) sessions = sessions.where('id', '!=', options.keepSessionId);
        await sessions.execute();
        await audit.append(
          {
            actor,
            action:
              actor.id === found.person.id ? 'account.password-changed' : 'account.password-set',
            target: { type: 'account', id: accountId },
            clauseIds: passwordClauses(),
            reason: options.reason,
            details: { otherSessionsEnded: true },
          },
          t,
        );
      });
    },

    async changePassword(accountId, current, next, actor, keepSessionId) {
      const found = await mustFind(accountId);
      try {
        await checkPasswordOf(found, current, 'session');
      } catch (error) {
        if (error instanceof AppError && error.code === 'invalid_credentials') {
          throw new AppError('invalid_credentials', 'The current password is not right.', {
            field: 'current',
          });
        }
        throw error;
      }
      if (current === next) {
        throw new AppError(
          'password_rejected',
          'The new password must differ from the current one.',
          {
            failures: [],
          },
        );
      }
      await service.setPassword(accountId, next, actor, { keepSessionId });
    },

    async verifySignIn(email, password, meta) {
      const normalised = email.trim().toLowerCase();
      const found = await repo.accountByEmail(db, normalised);
      if (!found || found.account.disabled === 1 || found.person.status !== 'active') {
        // Same work as a real check, so timing does not tell which addresses exist.
        await hasher.burn(password);
        await audit.append({
          actor: { id: null, label: 'anonymous' },
          action: 'sign-in.failed',
          clauseIds: passwordClauses(),
          details: { ip: meta.ip, reason: found ? 'account-not-usable' : 'unknown-address' },
        });
        throw invalidCredentials();
      }
      await checkPasswordOf(found, password, meta.ip);
      return {
        accountId: found.account.id,
        personId: found.person.id,
        email: found.person.email,
        roles: await repo.rolesOfPerson(db, found.person.id),
        totpEnabled: found.account.totp_enabled === 1,
      };
    },

    async verifyPassword(accountId, password, meta) {
      const found = await mustFind(accountId);
      if (found.account.disabled === 1 || found.person.status !== 'active') {
        throw invalidCredentials();
      }
      await checkPasswordOf(found, password, meta.ip);
    },

    async unlockAccount(accountId, actor, trx) {
      await inTrx(trx, async (t) => {
        await repo.updateAccount(t, accountId, {
          failed_sign_ins: 0,
          locked_until: null,
          updated_at: clock().toISOString(),
        });
        await audit.append(
          {
            actor,
            action: 'account.unlocked',
            target: { type: 'account', id: accountId },
            clauseIds: passwordClauses(),
          },
          t,
        );
      });
    },

    async disable(accountId, actor) {
      await mustFind(accountId);
      await db.transaction().execute(async (t) => {
        const now = clock().toISOString();
        await repo.updateAccount(t, accountId, { disabled: 1, updated_at: now });
        await t
          .updateTable('sessions')
          .set({ revoked_at: now })
          .where('account_id', '=', accountId)
          .where('revoked_at', 'is', null)
          .execute();
        await audit.append(
          { actor, action: 'account.disabled', target: { type: 'account', id: accountId } },
          t,
        );
      });
    },

    async startTotpEnrolment(accountId) {
      const found = await mustFind(accountId);
      if (found.account.totp_enabled === 1) {
        throw new AppError(
          'conflict',
          'An authenticator app is already set up for this account. Ask the IT support team to reset it.',
        );
      }
      const secret = new Secret({ size: 20 }).base32;
      await repo.updateAccount(db, accountId, {
        totp_secret: secret,
        updated_at: clock().toISOString(),
      });
      return { secret, uri: totpFor(secret, found.person.email).toString() };
    },

    async confirmTotpEnrolment(accountId, code, actor) {
      const found = await mustFind(accountId);
      if (found.account.totp_enabled === 1 || !found.account.totp_secret) {
        throw new AppError('conflict', 'Start setting up the authenticator app first.');
      }
      const step = matchCode(found.account.totp_secret, found.person.email, code);
      if (step === null) {
        throw new AppError(
          'invalid_credentials',
          'That code is not right. Check the time on your phone and enter the code now showing.',
        );
      }
      await db.transaction().execute(async (t) => {
        await repo.updateAccount(t, accountId, {
          totp_enabled: 1,
          totp_last_step: step,
          updated_at: clock().toISOString(),
        });
        await audit.append(
          {
            actor,
            action: 'account.totp-enrolled',
            target: { type: 'account', id: accountId },
            clauseIds: passwordClauses(),
          },
          t,
        );
      });
    },

    async verifyTotp(accountId, code, meta) {
      const found = await mustFind(accountId);
      if (lockedNow(found.account, clock())) throw lockedError(found.account.locked_until!);
      if (found.account.totp_enabled !== 1 || !found.account.totp_secret) {
        throw new AppError('conflict', 'No authenticator app is set up for this account.');
      }
      const step = matchCode(found.account.totp_secret, found.person.email, code);
      const reused =
        step !== null &&
        found.account.totp_last_step !== null &&
        step <= found.account.totp_last_step;
      if (step === null || reused || !(await repo.claimTotpStep(db, accountId, step))) {
        const until = await recordFailure(found, 'totp', meta.ip);
        if (until) throw lockedError(until);
        throw new AppError(
          'invalid_credentials',
          step !== null
            ? 'That code has already been used. Wait for the next code and enter it.'
            : 'That code is not right. Enter the code your authenticator app shows now.',
        );
      }
      await succeeded({ ...found, account: { ...found.account, failed_sign_ins: 0 } });
    },

    async resetTotp(accountId, actor) {
      await mustFind(accountId);
      await db.transaction().execute(async (t) => {
        const now = clock().toISOString();
        await repo.updateAccount(t, accountId, {
          totp_enabled: 0,
          totp_secret: null,
          totp_last_step: null,
          updated_at: now,
        });
        await t
          .updateTable('sessions')
          .set({ revoked_at: now })
          .where('account_id', '=', accountId)
          .where('revoked_at', 'is', null)
          .execute();
        await audit.append(
          {
            actor,
            action: 'account.totp-reset',
            target: { type: 'account', id: accountId },
            clauseIds: passwordClauses(),
          },
          t,
        );
      });
    },

    async issueToken(purpose, accountId, hours, actor, trx) {
      const token = randomBytes(32).toString('base64url');
      await inTrx(trx, async (t) => {
        await repo.dropUnusedTokens(t, purpose, accountId);
        const now = clock();
        const expires = new Date(now.getTime() + hours * 3_600_000).toISOString();
        await repo.insertToken(t, {
          id: sha256(token),
          purpose,
          account_id: accountId,
          created_at: now.toISOString(),
          expires_at: expires,
          used_at: null,
        });
        await audit.append(
          {
            actor,
            action: purpose === 'first-run' ? 'setup.link-issued' : 'account.reset-link-issued',
            target: accountId ? { type: 'account', id: accountId } : undefined,
            clauseIds: passwordClauses(),
            details: { expiresAt: expires },
          },
          t,
        );
      });
      return token;
    },

    async redeemToken(token, purpose, trx) {
      const row =
        token.length > 0 && token.length <= 200
          ? await repo.redeemToken(trx, sha256(token), purpose, clock().toISOString())
          : null;
      if (!row) {
        throw new AppError(
          'token_invalid',
          'This link is not valid: it may have been used already or have expired. Ask for a new one.',
        );
      }
      return { accountId: row.account_id };
    },
  };
  return service;
}
