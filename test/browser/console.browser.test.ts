// The console as the School Business Manager uses it: importing the staff list (refused while
// any row is bad, nothing stored), the directory and its filters, the policy by clause, the idle
// lock (PWD-5), the audit trail and its verification; accessible on every screen.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Account,
  checkAccessibility,
  field,
  type Harness,
  idleSessions,
  screenshot,
  setUpFirstAccount,
  startHarness,
  TABLET,
  trackRequests,
  wakeSessions,
} from './support/harness.ts';

const HEADER = 'staff_id,email,given_name,family_name,kind,groups,roles,start_date';

/** Line 1 is the header; lines 3 and 5 are wrong. */
const BAD_CSV = [
  HEADER,
  'T001,a.one@palfreyinfant.example,Amy,One,employee,staff;teaching,,2021-09-01',
  'T002,not-an-email,Ben,Two,employee,staff,,2022-01-04',
  'V001,c.three@palfreyinfant.example,Cara,Three,volunteer,staff,,',
  'T004,d.four@palfreyinfant.example,Dan,Four,wizard,staff,,',
].join('\n');

const GOOD_CSV = [
  HEADER,
  'T001,a.one@palfreyinfant.example,Amy,One,employee,staff;teaching,,2021-09-01',
  'T002,b.two@palfreyinfant.example,Ben,Two,employee,staff;teaching,,2022-01-04',
  'V001,c.three@palfreyinfant.example,Cara,Three,volunteer,staff,,',
  'T004,d.four@palfreyinfant.example,Dan,Four,employee,staff;office,,2019-04-23',
  'V002,e.five@palfreyinfant.example,Eve,Five,volunteer,staff,,',
  'G001,f.six@palfreyinfant.example,Faisal,Six,governor,,governor,',
].join('\n');

const csv = (name: string, text: string) => ({
  name,
  mimeType: 'text/csv',
  buffer: Buffer.from(text, 'utf8'),
});

async function chooseOption(page: Page, label: string, option: string) {
  await page.getByRole('combobox', { name: label }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

async function peopleTotal(page: Page): Promise<number> {
  const response = await page.request.get('/api/people?limit=1');
  expect(response.status()).toBe(200);
  return ((await response.json()) as { total: number }).total;
}

describe('the console', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a CSV with two bad rows, naming both lines and storing nothing; a good file imports and its people filter by kind', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/people');
    await page.getByTestId('people-count').waitFor();
    expect(await peopleTotal(page)).toBe(1);

    await page.goto('/people/import');
    await page.getByRole('heading', { name: 'Import people' }).waitFor();
    await checkAccessibility(page, 'people import');
    await page.locator('input[type=file]').setInputFiles(csv('staff-with-mistakes.csv', BAD_CSV));
    await page.getByRole('button', { name: 'Check the file' }).click();

    const problems = page.getByTestId('import-problems');
    await problems.waitFor();
    await problems.getByText('Nothing was imported').waitFor();
    const lines = await page.getByTestId('import-error').allTextContents();
    expect(lines.some((l) => l.startsWith('Line 3'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Line 5'))).toBe(true);
    expect(lines.every((l) => /^Line [35]/.test(l))).toBe(true);
    expect(await page.getByRole('button', { name: /^Import \d/ }).count()).toBe(0);
    await checkAccessibility(page, 'people import with problems');
    await screenshot(page, 'people-import-problems');
    expect(await peopleTotal(page)).toBe(1);

    await page.locator('input[type=file]').setInputFiles(csv('staff.csv', GOOD_CSV));
    await page.getByRole('button', { name: 'Check the file' }).click();
    await page.getByText('The file is good').waitFor();
    expect(await peopleTotal(page)).toBe(1);
    await checkAccessibility(page, 'people import preview');
    await screenshot(page, 'people-import-preview');

    await page.getByRole('button', { name: 'Import 6 rows' }).click();
    await page.getByText('6 people added').waitFor();
    expect(await peopleTotal(page)).toBe(7);

    await page.getByRole('link', { name: 'See the people' }).click();
    await page.waitForURL((url) => url.pathname === '/people');
    await page.getByTestId('people-count').filter({ hasText: '7 people' }).waitFor();
    await checkAccessibility(page, 'people');
    await screenshot(page, 'people');

    await chooseOption(page, 'Kind', 'Volunteer');
    await page.getByTestId('people-count').filter({ hasText: '2 people' }).waitFor();
    const rows = await page.getByTestId('person-row').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.includes('Volunteer'))).toBe(true);
    expect(new URL(page.url()).searchParams.get('kind')).toBe('volunteer');

    await field(page, 'Search').fill('cara');
    await page.getByTestId('people-count').filter({ hasText: '1 person' }).waitFor();
    await field(page, 'Search').fill('nobody-has-this-name');
    await page.getByText('No one matches').waitFor();
    await checkAccessibility(page, 'people, nothing found');
  });

  it("opens a person's record from the directory", async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/people?q=t001');
    await page.getByRole('link', { name: 'One, Amy' }).click();
    await page.getByRole('heading', { name: 'Amy One' }).waitFor();
    await page.getByText('01/09/2021').waitFor(); // dd/mm/yyyy
    await checkAccessibility(page, 'person');
    await screenshot(page, 'person');
  });

  it('/policy#SYS-5 shows the SYS-5 clause', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/policy#SYS-5');
    const clause = page.locator('#SYS-5');
    await clause.getByRole('heading', { name: 'Never accessed from the network' }).waitFor();
    expect(await clause.textContent()).toContain('Audio and video streaming');
    // Scrolled so that the clause sits at the top of the window, below the header.
    await expect.poll(async () => (await clause.boundingBox())?.y ?? -1).toBeGreaterThanOrEqual(0);
    expect((await clause.boundingBox())!.y).toBeLessThan(768 / 2);
    await page.getByRole('table', { name: 'Version history' }).getByText('Initial Issue').waitFor();
    await checkAccessibility(page, 'policy');
    await screenshot(page, 'policy');
  });

  // Retried: on a loaded machine the last step sometimes never meets the lock (about one run in
  // four while another test suite ran beside it; none in five on a quiet machine). Not from a
  // request after the unlock: those are waited for, and a session touched within 30 s is not
  // written again. The cause is not found yet.
  it('locks after the idle time and unlocking with the password keeps the page (PWD-5)', {
    retry: 2,
  }, async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    const requests = trackRequests(page);
    // The session is shared with the other tests: leave it unlocked whatever happens here.
    ctx.onTestFinished(() => wakeSessions(h.server));
    await page.clock.install();
    await page.goto('/people');
    await field(page, 'Search').fill('three');
    await page.getByTestId('people-count').filter({ hasText: '1 person' }).waitFor();

    // Nobody touches the console for the pack's idle time (10 minutes): both the server and
    // the page lock.
    idleSessions(h.server, 11);
    await page.clock.fastForward('10:30');
    const dialog = page.getByRole('dialog', { name: 'The console is locked' });
    await dialog.waitFor();
    await checkAccessibility(page, 'lock overlay');
    await screenshot(page, 'lock');

    await dialog.getByLabel(/^Password/).fill('not-my-password');
    await dialog.getByRole('button', { name: 'Unlock' }).click();
    await dialog.getByText('Not unlocked').waitFor();
    await dialog.getByLabel(/^Password/).fill(sbm.password);
    await dialog.getByRole('button', { name: 'Unlock' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // The same page, with what was typed.
    expect(new URL(page.url()).pathname).toBe('/people');
    expect(await field(page, 'Search').inputValue()).toBe('three');
    await page.getByTestId('people-count').filter({ hasText: '1 person' }).waitFor();

    // The server alone locked (say, the page was asleep): the next request meets
    // `session_locked`, the overlay asks for the password, and the request then goes through.
    // First let the requests that follow the unlock finish: one landing after the sessions are
    // aged would mark them active again.
    await requests.quiet();
    idleSessions(h.server, 11);
    await field(page, 'Search').fill('');
    // Filtering a school-sized directory happens in the page and asks the server nothing...
    await chooseOption(page, 'Kind', 'Governor');
    await page.getByTestId('people-count').filter({ hasText: '1 person' }).waitFor();
    expect(await page.getByTestId('person-row').textContent()).toContain('Governor');
    // ...opening the record does, and meets the lock.
    await page.getByTestId('person-row').getByRole('link').click();
    await dialog.waitFor();
    await dialog.getByLabel(/^Password/).fill(sbm.password);
    await dialog.getByRole('button', { name: 'Unlock' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.waitForURL(/\/people\/[0-9a-f-]{36}$/);
    await page.getByText('Governor').first().waitFor();
  });

  it('the audit trail shows entries and "Verify the chain" says it is unbroken', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/audit');
    await page.getByTestId('audit-entry').first().waitFor();
    expect(await page.getByTestId('audit-entry').count()).toBeGreaterThan(3);
    await page.getByTestId('audit-table').getByText('setup.completed').first().waitFor();

    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const result = page.getByTestId('verify-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('The chain is unbroken');
    await checkAccessibility(page, 'audit trail');
    await screenshot(page, 'audit');

    // Filter by clause: every entry shown cites it.
    await field(page, 'Clause').fill('PWD-5');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await page.waitForURL(/clauseId=PWD-5/);
    await page.getByTestId('audit-entry').first().waitFor();
    const cited = await page.getByTestId('audit-entry').allTextContents();
    expect(cited.every((row) => row.includes('PWD-5'))).toBe(true);

    // Dates are written the UK way; a day with nothing recorded says so.
    await field(page, 'Clause').fill('');
    await field(page, 'From').fill('01/01/2099');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await page.getByText('No entries match').waitFor();
    await field(page, 'From').fill('2099-01-01');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await page.getByText('Write the date as dd/mm/yyyy.').waitFor();
  });

  it('keeps a virtualised directory of 5,000 people smooth, with a progress bar on upload', async (ctx) => {
    const rows = [HEADER];
    for (let i = 1; i <= 5000; i++) {
      const n = String(i).padStart(4, '0');
      rows.push(`Z${n},zeta.${n}@palfreyinfant.example,Zed,Zeta ${n},employee,staff,,`);
    }
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/people/import');
    await page.locator('input[type=file]').setInputFiles(csv('all-staff.csv', rows.join('\n')));
    await page.getByRole('button', { name: 'Check the file' }).click();
    await page.getByText('The file is good').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Import 5,000 rows' }).click();
    await page.getByText('5,000 people added').waitFor({ timeout: 60_000 });

    await page.goto('/people');
    await page.getByTestId('people-count').filter({ hasText: '5,007 people' }).waitFor();
    // Only the rows in view (and a few either side) are in the page.
    expect(await page.getByTestId('person-row').count()).toBeLessThan(80);

    // Scroll to the end in steps, as a person dragging the scroll bar would; note the slowest frame.
    const slowest = (await page.evaluate(`new Promise((resolve) => {
      const region = document.querySelector('section[aria-label="People in the directory"]');
      let last = performance.now(); let worst = 0; let steps = 0;
      const step = () => {
        const now = performance.now(); worst = Math.max(worst, now - last); last = now;
        region.scrollTop += 2500;
        if (++steps < 90) requestAnimationFrame(step); else resolve(worst);
      };
      requestAnimationFrame(step);
    })`)) as number;
    await page.evaluate(
      `document.querySelector('section[aria-label="People in the directory"]').scrollTop = 1e9`,
    );
    await page.getByRole('link', { name: 'Zeta 5000, Zed' }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('person-row').count()).toBeLessThan(80);
    // Headless Chromium without a GPU on a shared machine: a generous bound that a table
    // rendering 5,000 rows at once would not meet.
    expect(slowest).toBeLessThan(500);
  });

  it('works at tablet width', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm, viewport: TABLET });
    await page.goto('/people');
    await page.getByTestId('people-count').waitFor();
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await checkAccessibility(page, 'people at tablet width');
    await page.goto('/policy');
    await page.getByRole('heading', { level: 1 }).waitFor();
    await checkAccessibility(page, 'policy at tablet width');
    await screenshot(page, 'policy-tablet');
  });
});
