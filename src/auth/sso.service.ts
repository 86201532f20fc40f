// Links a single sign-on identity to a person's account: by (provider, subject) once linked, by
// the verified e-mail address on first use. A person without an account gets one without a
// password. An account already linked to another identity of the same provider is refused, so
// that an address handed to someone else at the provider does not hand over the account.
import type { AuditLog } from '../audit/service.ts';
import type { DirectoryService } from '../directory/service.ts';
import type { Store } from '../store/database.ts';
import type { AccountsService } from './accounts.service.ts';
import { OidcError, type OidcIdentity } from './oidc.ts';
import * as repo from './repository.ts';

export interface SsoAccount {
  accountId: string;
  personId: string;
  email: string;
  roles: string[];
  totpEnabled: boolean;
}

export async function accountForIdentity(
  deps: {
    store: Store;
    audit: AuditLog;
    accounts: AccountsService;
    directory: DirectoryService;
    clock: () => Date;
  },
  identity: OidcIdentity,
): Promise<SsoAccount> {
  const { store, audit, accounts, directory, clock } = deps;
  const db = store.db;
  const usable = async (accountId: string): Promise<SsoAccount> => {
    const found = await repo.accountById(db, accountId);
    if (!found || found.account.disabled === 1 || found.person.status !== 'active') {
      throw new OidcError('sso_account_disabled', 'This account is disabled.');
    }
    return {
      accountId: found.account.id,
      personId: found.person.id,
      email: found.person.email,
      roles: await repo.rolesOfPerson(db, found.person.id),
      totpEnabled: found.account.totp_enabled === 1,
    };
  };

  const linked = await repo.accountIdByIdentity(db, identity.provider, identity.subject);
  if (linked) return usable(linked);

  const person = await directory.findByEmail(identity.email);
  if (person?.status !== 'active') {
    throw new OidcError(
      'sso_unknown_person',
      `No active person in the directory has the address ${identity.email}.`,
    );
  }
  const existing = await repo.accountByPersonId(db, person.id);
  if (existing?.account.disabled === 1) {
    throw new OidcError('sso_account_disabled', 'This account is disabled.');
  }
  if (existing) {
    const other = await db
      .selectFrom('oidc_identities')
      .select('subject')
      .where('account_id', '=', existing.account.id)
      .where('provider', '=', identity.provider)
      .executeTakeFirst();
    if (other) {
      throw new OidcError(
        'sso_already_linked',
        'This account is already linked to another account at the provider.',
      );
    }
  }
  const actor = { id: person.id, label: person.email };
  const accountId = await db.transaction().execute(async (trx) => {
    const id =
      existing?.account.id ??
      (
        await accounts.createAccount(
          {
            id: person.id,
            email: person.email,
            givenName: person.givenName,
            familyName: person.familyName,
          },
          null,
          actor,
          trx,
        )
      ).id;
    await repo.insertIdentity(trx, {
      provider: identity.provider,
      subject: identity.subject,
      account_id: id,
      email: identity.email,
      created_at: clock().toISOString(),
    });
    await audit.append(
      {
        actor,
        action: 'account.sso-linked',
        target: { type: 'account', id },
        details: { provider: identity.provider, subject: identity.subject, email: identity.email },
      },
      trx,
    );
    return id;
  });
  return usable(accountId);
}
