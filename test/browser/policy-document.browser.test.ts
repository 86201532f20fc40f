// The policy as a published, accepted document in the console: the School Business Manager
// publishes version 6 with its approval record (GOV-3, GOV-6) and sees who has not accepted it
// (GOV-5); a teacher signs in, is asked on Home to read and accept it, and does.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custos } from '../support/process.ts';
import {
  type Account,
  checkAccessibility,
  field,
  type Harness,
  screenshot,
  setUpFirstAccount,
  startHarness,
} from './support/harness.ts';

const TEACHER = {
  email: 'a.okafor@palfreyinfant.example',
  givenName: 'Adaeze',
  familyName: 'Okafor',
  password: 'Otter-Meadow-58!',
};

/** POST as the signed-in person of the page, with the session's CSRF token. */
async function post(page: Page, url: string, data: unknown) {
  const session = (await (await page.request.get('/api/auth/session')).json()) as {
    csrfToken: string;
  };
  const response = await page.request.post(url, {
    data,
    headers: { 'x-csrf-token': session.csrfToken },
  });
  if (response.status() >= 300) {
    throw new Error(`${url} answered ${response.status()}: ${await response.text()}`);
  }
  return response.json();
}

async function chooseOption(page: Page, label: string, option: string) {
  await page.getByRole('combobox', { name: label }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

describe('the policy document', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;
  const teacher: Account = { email: TEACHER.email, password: TEACHER.password };

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('the School Business Manager publishes version 6 and sees who has not accepted', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await post(page, '/api/people', {
      email: TEACHER.email,
      givenName: TEACHER.givenName,
      familyName: TEACHER.familyName,
      kind: 'employee',
      groups: ['staff', 'teaching'],
      roles: ['staff'],
    });
    await post(page, '/api/people', {
      email: 'c.mensah@palfreyinfant.example',
      givenName: 'Comfort',
      familyName: 'Mensah',
      kind: 'volunteer',
      groups: ['staff'],
    });

    await page.goto('/policy');
    await page.getByTestId('version-in-force').filter({ hasText: /^5,/ }).waitFor();
    await page.getByRole('button', { name: 'Publish a new version' }).click();
    const dialog = page.getByRole('dialog', { name: 'Publish version 6' });
    await dialog.waitFor();
    await field(page, 'Description of the change').fill(
      'Annual review: clarified the rules on personal devices and remote access.',
    );
    await field(page, 'Date of release').fill('20/02/2026');
    await field(page, 'Date agreed').fill('18/02/2026');
    await dialog.getByRole('button', { name: 'Publish version 6' }).click();
    // Signed by is required (GOV-3): nothing is published without it.
    await dialog.getByText('Name who signed the approved copy').waitFor();
    await field(page, 'Signed by').fill('Mrs J. Whitfield, Chair of Governors');
    await checkAccessibility(page, 'publish a new version');
    await screenshot(page, 'policy-publish');
    await dialog.getByRole('button', { name: 'Publish version 6' }).click();
    await page.getByText('Version 6 is published').waitFor();
    await page.getByTestId('version-in-force').filter({ hasText: '6, 20/02/2026' }).waitFor();
    const history = page.getByRole('table', { name: 'Version history' });
    await history.getByText('Mrs J. Whitfield, Chair of Governors', { exact: false }).waitFor();
    expect(await history.getByTestId('version-row').count()).toBe(6);
    await history.getByText('Initial Issue').waitFor();
    await page.getByRole('button', { name: 'I have read and accept version 6' }).waitFor();

    // The PDF is at its stable address.
    const pdf = await page.request.get('/api/policy/current.pdf');
    expect(pdf.headers()['content-type']).toBe('application/pdf');
    expect((await pdf.body()).subarray(0, 5).toString('latin1')).toBe('%PDF-');

    await page.getByRole('tab', { name: 'Acceptance' }).click();
    await page.waitForURL((url) => url.searchParams.get('tab') === 'acceptance');
    const summary = page.getByTestId('acceptance-summary');
    await summary
      .filter({ hasText: '0 people accepted, 3 people not yet (0% accepted)' })
      .waitFor();
    await checkAccessibility(page, 'acceptance');
    await screenshot(page, 'policy-acceptance');

    await chooseOption(page, 'Group', 'teaching');
    await summary.filter({ hasText: '1 person not yet' }).waitFor();
    const rows = page.getByTestId('acceptance-row');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('Adaeze Okafor');
    expect(await rows.first().textContent()).toContain('Not yet');

    await page.getByRole('button', { name: 'Send reminders' }).click();
    await page.getByText('3 reminders queued').waitFor();
    await page.getByRole('button', { name: 'Send reminders' }).click();
    await page.getByText('0 reminders queued; 3 people already reminded today').waitFor();

    await page.goto('/');
    await page.getByRole('heading', { name: '3 people have not accepted version 6' }).waitFor();
    await page.getByRole('heading', { name: 'Read and accept version 6 of the policy' }).waitFor();
    await checkAccessibility(page, 'home with attention items');
    await screenshot(page, 'home-attention');
  });

  it('a teacher signs in and accepts', async (ctx) => {
    // The teacher is in the directory (the previous test added them); give them a password.
    const added = await custos(['user', 'add', TEACHER.email, '--password-stdin'], {
      env: { CUSTOS_DATA_DIR: h.server.dataDir },
      input: `${TEACHER.password}\n`,
    });
    expect(added.code, added.stderr).toBe(0);

    const page = await h.page(ctx, { signedInAs: teacher });
    await page.goto('/');
    const item = page
      .getByTestId('attention-item')
      .filter({ hasText: 'Read and accept version 6' });
    await item.waitFor();
    await checkAccessibility(page, 'teacher home');
    await screenshot(page, 'home-teacher');

    await item.getByRole('link', { name: 'Read and accept' }).click();
    await page.waitForURL((url) => url.pathname === '/policy');
    // A teacher may read and accept, not publish nor see who else has accepted.
    await page.getByRole('link', { name: 'Download PDF' }).waitFor();
    expect(await page.getByRole('button', { name: 'Publish a new version' }).count()).toBe(0);
    expect(await page.getByRole('tab', { name: 'Acceptance' }).count()).toBe(0);

    await page.getByRole('button', { name: 'I have read and accept version 6' }).click();
    await page.getByText('You have accepted version 6').waitFor();
    await checkAccessibility(page, 'policy accepted');
    await screenshot(page, 'policy-accepted');

    await page.goto('/');
    await page.getByText('Nothing needs your attention').waitFor();

    // The School Business Manager now sees the teacher as accepted.
    const sbmPage = await h.page(ctx, { signedInAs: sbm });
    await sbmPage.goto('/policy?tab=acceptance');
    await sbmPage
      .getByTestId('acceptance-summary')
      .filter({ hasText: '1 person accepted, 2 people not yet (33.3% accepted)' })
      .waitFor();
  });
});
