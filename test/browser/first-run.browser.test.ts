// The first morning: the School Business Manager opens the one-time link printed by
// `custos serve`, creates the first account (the PWD-2 password rule speaks first), sets up an
// authenticator app as their role requires, and lands on "Needs my attention".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Account,
  checkAccessibility,
  field,
  type Harness,
  SBM,
  screenshot,
  startHarness,
  totpCode,
} from './support/harness.ts';

describe('first run in the browser', { timeout: 120_000 }, () => {
  let h: Harness;
  const account: Account = { email: SBM.email, password: SBM.password };

  beforeAll(async () => {
    h = await startHarness();
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('the SBM completes first-run setup, enrols TOTP, signs in and sees Home', async (ctx) => {
    expect(h.server.setupUrl, 'serve prints the one-time setup link').toBeTruthy();
    const page = await h.page(ctx);

    await page.goto(h.url('/setup'));
    await page.getByText('This address has no set-up token').waitFor();

    await page.goto(h.server.setupUrl!);
    await page.getByRole('heading', { name: 'Set up Custos' }).waitFor();
    await checkAccessibility(page, 'first-run setup');
    await screenshot(page, 'setup');

    await field(page, 'Given name').fill(SBM.givenName);
    await field(page, 'Family name').fill(SBM.familyName);
    await field(page, 'Work e-mail address').fill(SBM.email);
    // PWD-2: too short, no digit, no special character: every failing part is named at once.
    await field(page, 'New password').fill('bains');
    await field(page, 'New password again').fill('bains');
    await page.getByRole('button', { name: 'Create the account' }).click();
    const failures = page.getByTestId('password-failures');
    await failures.waitFor();
    expect((await failures.locator('li').count()) >= 2).toBe(true);
    await checkAccessibility(page, 'setup with password failures');
    await screenshot(page, 'setup-password-rejected');

    await field(page, 'New password').fill(SBM.password);
    await field(page, 'New password again').fill('something else');
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByText('The two passwords are not the same').waitFor();

    await field(page, 'New password again').fill(SBM.password);
    await page.getByRole('button', { name: 'Create the account' }).click();

    // The sign-in page, with the e-mail address filled in.
    await page.waitForURL(/\/sign-in/);
    await page.getByText('Your account is ready').waitFor();
    expect(await field(page, 'E-mail address').inputValue()).toBe(SBM.email);
    await checkAccessibility(page, 'sign-in');
    await screenshot(page, 'sign-in');

    // A wrong password is refused with the API's words.
    await field(page, 'Password').fill('Wrong-password-1!');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Not signed in' }).waitFor();

    await field(page, 'Password').fill(SBM.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    // The SBM role requires an authenticator app: the first sign-in sets one up.
    await page.getByRole('heading', { name: 'Set up your authenticator app' }).waitFor();
    const secret = await page.getByTestId('totp-secret').getAttribute('data-secret');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(await page.getByTestId('totp-uri').textContent()).toMatch(/^otpauth:\/\/totp\//);
    await checkAccessibility(page, 'authenticator set-up');
    await screenshot(page, 'totp-enrol');
    account.totpSecret = secret!;

    await field(page, 'Six-digit code').fill('000000');
    await page.getByRole('button', { name: 'Confirm and continue' }).click();
    await page.getByRole('alert').filter({ hasText: 'Code not accepted' }).waitFor();

    await field(page, 'Six-digit code').fill(await totpCode(secret!));
    await page.getByRole('button', { name: 'Confirm and continue' }).click();

    await page.waitForURL((url) => url.pathname === '/');
    await page.getByRole('heading', { name: 'Needs my attention' }).waitFor();
    expect(await page.getByTestId('signed-in-as').textContent()).toContain('Harriet Bains');
    // The directory holds only the SBM: Home says what to do next.
    await page.getByText('Add your staff to the directory').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    for (const item of [
      'Needs my attention',
      'People',
      'Import people',
      'The policy',
      'Audit trail',
    ]) {
      await nav.getByRole('link', { name: new RegExp(`^${item}`) }).waitFor();
    }
    await checkAccessibility(page, 'home');
    await screenshot(page, 'home');

    // The setup link works once.
    await page.goto(h.server.setupUrl!);
    await field(page, 'Given name').fill('Someone');
    await field(page, 'Family name').fill('Else');
    await field(page, 'Work e-mail address').fill('someone@example.org');
    await field(page, 'New password').fill('Another-Pass-77!');
    await field(page, 'New password again').fill('Another-Pass-77!');
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('alert').waitFor();
  });

  it('signing in again asks for the code, and signing out returns to the sign-in page', async (ctx) => {
    expect(account.totpSecret, 'the previous test enrolled an authenticator').toBeTruthy();
    const page = await h.page(ctx);
    await page.goto(h.url('/policy'));
    // Not signed in: the sign-in page, which brings the person back afterwards.
    await page.waitForURL(/\/sign-in\?next=%2Fpolicy/);
    await field(page, 'E-mail address').fill(account.email);
    await field(page, 'Password').fill(account.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Enter your code' }).waitFor();
    await checkAccessibility(page, 'sign-in code');
    await screenshot(page, 'sign-in-code');
    await field(page, 'Six-digit code').fill(await totpCode(account.totpSecret!));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.pathname === '/policy');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await page.getByText('You have signed out.').waitFor();
    await page.goto(h.url('/'));
    await page.waitForURL(/\/sign-in/);
  });
});
