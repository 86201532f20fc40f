import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { testPolicy } from '../../../test/factories.ts';
import { testContext } from '../../../test/support/app.ts';
import { describeEachStore } from '../../../test/support/stores.ts';
import { createAccountsService } from '../../auth/accounts.service.ts';
import { createDirectoryService } from '../../directory/service.ts';
import type { Store } from '../../store/database.ts';
import {
  addUser,
  initFirstSbm,
  readPasswordFromStdin,
  resetPassword,
  resetTotp,
} from './accounts.ts';

const context = (store: Store) =>
  testContext(store, {
    policy: testPolicy(),
    config: {
      'auth.argon2.memoryKiB': 8192,
      'auth.argon2.timeCost': 1,
      'server.publicUrl': 'https://custos.palfrey.sch.uk',
    },
  });
const actor = { id: null, label: 'cli:test' };
const sbm = {
  givenName: 'Margaret',
  familyName: 'Okafor',
  email: 'sbm@palfrey.sch.uk',
  password: 'Lighthouse-kettle-42',
};

it('custos --password-stdin reads the first line of standard input only', async () => {
  expect(await readPasswordFromStdin(Readable.from(['Secret-pass-1\n', 'ignored\n']))).toBe(
    'Secret-pass-1',
  );
  expect(await readPasswordFromStdin(Readable.from(['No-newline-2']))).toBe('No-newline-2');
});

describeEachStore('custos init and custos user', (db) => {
  it('PWD-2: custos init creates the first SBM once, with the password rule applied', async () => {
    const ctx = await context(db.store);
    await expect(initFirstSbm(ctx, { ...sbm, password: 'okafor-lamp-1!' }, actor)).rejects.toThrow(
      /contains your surname/,
    );
    const person = await initFirstSbm(ctx, sbm, actor);
    expect(person).toMatchObject({ email: 'sbm@palfrey.sch.uk', roles: ['sbm'], kind: 'employee' });
    const accounts = createAccountsService(ctx);
    const signedIn = await accounts.verifySignIn(sbm.email, sbm.password, { ip: '127.0.0.1' });
    expect(signedIn.roles).toEqual(['sbm']);
    await expect(
      initFirstSbm(ctx, { ...sbm, email: 'second@palfrey.sch.uk' }, actor),
    ).rejects.toThrow(/already has accounts/);
  });

  it('PWD-2: custos user add without a password prints a one-time set-password link', async () => {
    const ctx = await context(db.store);
    const result = await addUser(
      ctx,
      {
        email: 'teacher@palfrey.sch.uk',
        givenName: 'Tom',
        familyName: 'Baker',
        kind: 'employee',
        roles: ['staff'],
        password: null,
      },
      actor,
    );
    expect(result.link).toMatch(/^https:\/\/custos\.palfrey\.sch\.uk\/set-password#token=[\w-]+$/);
    expect(result.account.hasPassword).toBe(false);
    const token = result.link!.split('#token=')[1]!;
    const accounts = createAccountsService(ctx);
    const used = await db.store.db
      .transaction()
      .execute((trx) => accounts.redeemToken(token, 'password-reset', trx));
    expect(used.accountId).toBe(result.account.id);
    await expect(
      addUser(ctx, { email: 'teacher@palfrey.sch.uk', roles: [], password: null }, actor),
    ).rejects.toThrow(/already has an account/);
  });

  it('custos user add gives an account to a person already in the directory and adds roles', async () => {
    const ctx = await context(db.store);
    const directory = createDirectoryService(ctx);
    await directory.createPerson(
      { email: 'it@palfrey.sch.uk', givenName: 'Ada', familyName: 'Quill', kind: 'contractor' },
      actor,
    );
    const result = await addUser(
      ctx,
      { email: 'it@palfrey.sch.uk', roles: ['it_support'], password: 'Copper-window-73' },
      actor,
    );
    expect(result.link).toBeNull();
    expect((await directory.findByEmail('it@palfrey.sch.uk'))?.roles).toEqual(['it_support']);
    await expect(
      addUser(ctx, { email: 'nobody@palfrey.sch.uk', roles: [], password: null }, actor),
    ).rejects.toThrow(/Give --given, --family and --kind/);
  });

  it('PWD-2: custos user reset-password unlocks the account and ends its sessions', async () => {
    const ctx = await context(db.store);
    await initFirstSbm(ctx, sbm, actor);
    const accounts = createAccountsService(ctx);
    const account = (await accounts.findByEmail(sbm.email))!;
    const { token } = await ctx.sessions.create({
      accountId: account.id,
      ip: '192.0.2.1',
      userAgent: 'test',
      method: 'password',
      mfaPassed: true,
    });
    await db.store.db
      .updateTable('accounts')
      .set({ locked_until: '2999-01-01T00:00:00.000Z' })
      .where('id', '=', account.id)
      .execute();
    const { link } = await resetPassword(ctx, { email: sbm.email, password: null }, actor);
    expect(link).toContain('/set-password#token=');
    expect((await accounts.get(account.id))?.lockedUntil).toBeNull();
    expect((await ctx.sessions.resolve(token)).status).toBe('revoked');

    await resetPassword(ctx, { email: sbm.email, password: 'Brand-new-river-21' }, actor);
    await expect(accounts.verifySignIn(sbm.email, sbm.password, { ip: 'x' })).rejects.toThrow();
    expect((await accounts.verifySignIn(sbm.email, 'Brand-new-river-21', { ip: 'x' })).email).toBe(
      sbm.email,
    );
    await expect(
      resetPassword(ctx, { email: 'nobody@palfrey.sch.uk', password: null }, actor),
    ).rejects.toThrow(/No account/);
  });

  it('PWD-2: custos user reset-totp removes the authenticator app and ends the sessions', async () => {
    const ctx = await context(db.store);
    await initFirstSbm(ctx, sbm, actor);
    const accounts = createAccountsService(ctx);
    const account = (await accounts.findByEmail(sbm.email))!;
    await accounts.startTotpEnrolment(account.id);
    await db.store.db
      .updateTable('accounts')
      .set({ totp_enabled: 1 })
      .where('id', '=', account.id)
      .execute();
    const { token } = await ctx.sessions.create({
      accountId: account.id,
      ip: '192.0.2.1',
      userAgent: 'test',
      method: 'password',
      mfaPassed: true,
    });
    await resetTotp(ctx, { email: sbm.email }, actor);
    expect((await accounts.get(account.id))?.totpEnabled).toBe(false);
    expect((await ctx.sessions.resolve(token)).status).toBe('revoked');
    expect(await ctx.audit.list({ action: 'account.totp-reset' })).toHaveLength(1);
  });
});
