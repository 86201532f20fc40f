// PWD-4 as the School Business Manager meets it: a sign-in of their account from another address
// while they were signed in appears on Needs my attention; they open it, record what they found,
// and it leaves the list.
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  type Account,
  checkAccessibility,
  type Harness,
  screenshot,
  setUpFirstAccount,
  startHarness,
} from './support/harness.ts';

describe('sign-ins flagged for review', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('PWD-4: a concurrent sign-in is on Needs my attention, reviewed with a note, and leaves the list', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    // The browser and this test share one address, so the second place is recorded as the
    // session service records it, straight into the flags.
    const [account] = h.server.sql<{ id: string }>(
      'SELECT accounts.id FROM accounts JOIN people ON people.id = accounts.person_id WHERE people.email = ?',
      sbm.email,
    );
    h.server.sql(
      `INSERT INTO security_flags (id, kind, account_id, clause_ids, details, created_at)
       VALUES (?, 'concurrent-sign-in', ?, '["PWD-4"]', ?, ?)`,
      crypto.randomUUID(),
      account!.id,
      JSON.stringify({ newAddress: '203.0.113.9', otherAddresses: ['127.0.0.1'] }),
      new Date().toISOString(),
    );

    await page.goto('/');
    await page.getByText('1 sign-in flagged for review').waitFor();
    await page.getByRole('link', { name: 'Review' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign-ins flagged for review' }).waitFor();
    await page.getByText('New sign-in from 203.0.113.9').waitFor();
    await page.mouse.move(900, 700);
    await checkAccessibility(page, 'flagged sign-ins');
    await screenshot(page, 'security-flags');

    await page.getByLabel(/^What you found/).fill('It was me: the office PC and my laptop.');
    await page.getByRole('button', { name: 'Mark reviewed' }).click();
    await page.getByText('Nothing waits for review').waitFor();
    await page.getByLabel('Which flags').getByText('All', { exact: true }).click();
    await page.getByText(/Reviewed .* by /).waitFor();
  });
});
