// Rows a test or a benchmark needs in the directory before the part under test runs: a person
// (with roles), a registered device, an account. Written straight to the tables: this is set-up,
// not the behaviour under test. Shared by the tests and the benchmarks, so it imports nothing
// from vitest.
import { newId } from '../../src/store/columns.ts';
import type { Store } from '../../src/store/database.ts';

export interface PersonSeed {
  id?: string;
  /** Default: `<id>@school.test`. */
  email?: string;
  givenName?: string;
  familyName?: string;
  /** A person kind of the pack in use (the shipped pack has 'employee'). */
  kind?: string;
  roles?: string[];
  /** Default 'active'; 'left' for someone who has left. */
  status?: string;
  /** The ISO time written as created and updated. */
  now?: string;
}

/** A member of staff in the directory (active unless told), with the given roles; answers the person's id. */
export async function addPerson(store: Store, seed: PersonSeed = {}): Promise<string> {
  const id = seed.id ?? newId();
  const now = seed.now ?? new Date().toISOString();
  await store.db
    .insertInto('people')
    .values({
      id,
      staff_id: null,
      email: seed.email ?? `${id}@school.test`,
      given_name: seed.givenName ?? 'Amy',
      family_name: seed.familyName ?? 'Teacher',
      kind: seed.kind ?? 'employee',
      status: seed.status ?? 'active',
      start_date: null,
      leave_date: null,
      supervised_use: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  for (const role of seed.roles ?? []) {
    await store.db.insertInto('person_roles').values({ person_id: id, role }).execute();
  }
  return id;
}

export interface DeviceSeed {
  id?: string;
  label?: string;
  ip?: string;
  now?: string;
}

/** An approved laptop of the person's at `ip` (default 127.0.0.1); answers the device's id. */
export async function addDevice(
  store: Store,
  personId: string,
  seed: DeviceSeed = {},
): Promise<string> {
  const id = seed.id ?? newId();
  const now = seed.now ?? new Date().toISOString();
  await store.db
    .insertInto('devices')
    .values({
      id,
      person_id: personId,
      kind: 'laptop',
      label: seed.label ?? 'Amy laptop',
      mac: null,
      hostname: null,
      ip: seed.ip ?? '127.0.0.1',
      status: 'approved',
      approved_by: null,
      approved_at: now,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

export interface AccountSeed {
  id?: string;
  /** A hash from the password hasher; none: an account that signs in only by other means. */
  passwordHash?: string | null;
  /** An account switched off by an administrator. */
  disabled?: boolean;
  now?: string;
}

/** An account for the person (enabled unless told), without a second factor; answers its id. */
export async function addAccount(
  store: Store,
  personId: string,
  seed: AccountSeed = {},
): Promise<string> {
  const id = seed.id ?? newId();
  const now = seed.now ?? new Date().toISOString();
  const passwordHash = seed.passwordHash ?? null;
  await store.db
    .insertInto('accounts')
    .values({
      id,
      person_id: personId,
      password_hash: passwordHash,
      password_changed_at: passwordHash === null ? null : now,
      totp_secret: null,
      totp_enabled: 0,
      failed_sign_ins: 0,
      locked_until: null,
      disabled: seed.disabled ? 1 : 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}
