// Setting a password from a one-time link (PWD-2), as the person who received it: the two entries
// must match, the rule's failures are listed, and a good password is set once, then sign-in.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Account,
  checkAccessibility,
  field,
  type Harness,
  setUpFirstAccount,
  startHarness,
} from './support/harness.ts';

describe('set a password from a one-time link', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('PWD-2: refuses mismatched and weak passwords, then sets a good one', async (ctx) => {
    const [account] = h.server.sql<{ id: string }>(
      'SELECT accounts.id FROM accounts JOIN people ON people.id = accounts.person_id WHERE people.email = ?',
      sbm.email,
    );
    // A reset link as `custos user reset-password` issues it: only the token's hash is stored.
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    h.server.sql(
      `INSERT INTO setup_tokens (id, purpose, account_id, created_at, expires_at, used_at)
       VALUES (?, 'password-reset', ?, ?, ?, NULL)`,
      createHash('sha256').update(token).digest('hex'),
      account!.id,
      new Date(now).toISOString(),
      new Date(now + 3_600_000).toISOString(),
    );

    const page = await h.page(ctx);
    await page.goto(`/set-password#token=${token}`);
    await page.getByRole('heading', { name: 'Set your password' }).waitFor();
    await checkAccessibility(page, 'set password');

    await field(page, 'New password').fill('Lantern-Quiet-73!');
    await field(page, 'New password again').fill('Lantern-Quiet-74!');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('The two passwords are not the same').waitFor();

    await field(page, 'New password').fill('password1');
    await field(page, 'New password again').fill('password1');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText(/10,000 most common passwords/).waitFor();

    await field(page, 'New password').fill('Lantern-Quiet-73!');
    await field(page, 'New password again').fill('Lantern-Quiet-73!');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('Your password is set. Sign in with it now.').waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');

    // The link works once.
    await page.goto(`/set-password#token=${token}`);
    await field(page, 'New password').fill('Another-Lantern-91!');
    await field(page, 'New password again').fill('Another-Lantern-91!');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /link|token/i })
      .first()
      .waitFor();
  });
});
