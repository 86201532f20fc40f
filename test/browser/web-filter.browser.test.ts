// The web filter screen as the School Business Manager uses it: testing facebook.com for a member
// of staff shows "Blocked" under SYS-5 (with a link to the clause), the activity and the sites
// people spend time on are shown in aggregate only (WEB-6), the categories grid shows social
// networking blocked for staff and a change to it goes through a checked, applied pack (GOV-6),
// and the school's own deny list takes a new host (PER-4).
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedPackText } from '../support/policy-pack.ts';
import { animationsDone } from './support/console-page.ts';
import {
  type Account,
  checkAccessibility,
  field,
  type Harness,
  screenshot,
  setUpFirstAccount,
  startHarness,
} from './support/harness.ts';

const STAFF = {
  email: 'r.patel@palfreyinfant.example',
  givenName: 'Rohan',
  familyName: 'Patel',
};

/** Sends a request as the signed-in person of the page, with the session's CSRF token. */
async function send(page: Page, method: 'POST' | 'DELETE', url: string, data?: unknown) {
  const session = (await (await page.request.get('/api/auth/session')).json()) as {
    csrfToken: string;
  };
  const response = await page.request.fetch(url, {
    method,
    data,
    headers: { 'x-csrf-token': session.csrfToken },
  });
  if (response.status() >= 300) {
    throw new Error(`${url} answered ${response.status()}: ${await response.text()}`);
  }
  return response.json() as Promise<Record<string, unknown>>;
}

async function openTab(page: Page, name: string) {
  await page.getByRole('tab', { name, exact: true }).click();
  await page.getByRole('tab', { name, exact: true, selected: true }).waitFor();
  // Off the navigation, so that no hovered link changes a colour under the check.
  await page.mouse.move(1300, 740);
}

describe('the web filter screen', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('SYS-5: testing facebook.com for a member of staff shows "Blocked" under SYS-5', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await send(page, 'POST', '/api/people', {
      ...STAFF,
      kind: 'employee',
      groups: ['staff', 'teaching'],
      roles: ['staff'],
    });
    // The filter reads the directory every few seconds: wait until it knows the new person.
    await expect
      .poll(
        async () =>
          (
            await page.request.get(`/api/webfilter/test?url=example.com&person=${STAFF.email}`)
          ).status(),
        { timeout: 40_000, interval: 500 },
      )
      .toBe(200);
    await page.goto('/');
    await page.getByRole('link', { name: /^Web filter/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Web filter' }).waitFor();
    await page.getByRole('tab', { name: 'Test a URL', selected: true }).waitFor();

    await field(page, 'Address').fill('http://facebook.com/');
    await page.getByRole('combobox', { name: 'Person (optional)' }).fill(STAFF.email);
    await page.keyboard.press('Escape');
    const result = page.getByTestId('test-result');
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await result.waitFor();
    await expect.poll(() => page.getByTestId('test-decision').textContent()).toBe('Blocked');
    await result.getByText('Social networking').waitFor();
    await result.getByRole('row', { name: `For ${STAFF.email}` }).waitFor();
    const clause = result.getByRole('link', { name: 'SYS-5', exact: true });
    expect(await clause.getAttribute('href')).toBe('/policy#SYS-5');
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, test a URL');
    await screenshot(page, 'web-filter-test');

    // Yesterday's traffic, as the proxy records it (the summary counts; it never names anyone).
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const seen: [string, string][] = [
      ['["social_networks"]', 'block'],
      ['["webmail"]', 'block'],
      ['["chat"]', 'block'],
      ['[]', 'allow'],
      ['[]', 'allow'],
      ['[]', 'allow'],
    ];
    for (let i = 0; i < 60; i++) {
      const [categories, decision] = seen[i % seen.length]!;
      const hour = String(8 + (i % 9)).padStart(2, '0');
      h.server.sql(
        `INSERT INTO web_activity (id, at, source, person_id, device_id, client_ip, method, host,
           path, categories, decision, reason, clause_ids, status, bytes, duration_ms, search_terms)
         VALUES (?, ?, 'proxy', NULL, NULL, '10.0.0.20', 'GET', 'example.com', '/', ?, ?, ?, '[]',
           200, 1000, 50, NULL)`,
        `seed-${i}`,
        `${day}T${hour}:${String(i).padStart(2, '0')}:00.000Z`,
        categories,
        decision,
        decision === 'block' ? 'category' : 'none',
      );
    }
    // Yesterday's visits (WEB-6): per site, how many people, and each person's visits in seconds.
    // Two proxy sites had fewer than three visitors: the report counts them without their names.
    const seenVisits: [source: string, host: string, people: number, seconds: number[]][] = [
      ['proxy', 'purplemash.com', 6, [600, 300]],
      ['proxy', 'www.bbc.co.uk', 5, [240]],
      ['proxy', 'en.wikipedia.org', 4, [60, 90, 120]],
      ['proxy', 'scratch.mit.edu', 3, [1500]],
      ['proxy', 'rare-game.example', 1, [200, 100]],
      ['proxy', 'quiet-forum.example', 2, [300]],
      ['dns', 'purplemash.com', 4, [500]],
      ['dns', 'login.microsoftonline.com', 3, [30]],
    ];
    let visit = 0;
    for (const [source, host, people, seconds] of seenVisits) {
      for (let person = 0; person < people; person++) {
        for (const length of seconds) {
          const start = Date.parse(`${day}T09:00:00.000Z`) + visit * 60_000;
          h.server.sql(
            `INSERT INTO web_visits (id, source, person_id, device_id, client_ip, host, started_at,
               ended_at, duration_ms, requests, blocked, bytes, closed)
             VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?, 12, 0, 40000, 1)`,
            `visit-${visit++}`,
            source,
            `10.0.1.${person + 1}`,
            host,
            new Date(start).toISOString(),
            new Date(start + length * 1000).toISOString(),
            length * 1000,
          );
        }
      }
    }
    await openTab(page, 'Activity');
    const byCategory = page.getByTestId('activity-by-category');
    await byCategory.getByRole('img', { name: /by category/ }).waitFor();
    await page.waitForFunction(animationsDone);
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, activity');
    await screenshot(page, 'web-filter-activity');
    await byCategory.getByText('Show the figures as a table').click();
    expect(await byCategory.getByRole('row', { name: /^Social networking/ }).textContent()).toBe(
      'Social networking100',
    );
    await checkAccessibility(page, 'web filter, activity with the table open');

    // The sites people spend time on: the most time first, with visits and the median visit; the
    // two sites too few people visited are counted, not named.
    const visits = page.getByTestId('activity-visits');
    const chart = visits.getByRole('img', { name: /sites with the most time/ });
    await chart.waitFor();
    expect(await chart.locator('g > text').allTextContents()).toEqual([
      'purplemash.com',
      '1 h 30 min · 12 visits · median 7 min 30 s',
      'scratch.mit.edu',
      '1 h 15 min · 3 visits · median 25 min',
      'www.bbc.co.uk',
      '20 min · 5 visits · median 4 min',
      'en.wikipedia.org',
      '18 min · 12 visits · median 1 min 30 s',
    ]);
    const withheld = visits.getByTestId('visits-withheld');
    expect(await withheld.textContent()).toContain(
      'Withheld for privacy: 2 sites with 4 visits, each visited by fewer than 3 people that day.',
    );
    const names = (await visits.textContent()) ?? '';
    expect(names).not.toContain('rare-game.example');
    expect(names).not.toContain('quiet-forum.example');
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, sites people spend time on');
    // The whole card in view (after the check, which scrolls the page).
    await visits.evaluate((e) => e.scrollIntoView({ block: 'end' }));
    await screenshot(page, 'web-filter-visits');
    await visits.getByText('Show the figures as a table').click();
    expect(await visits.getByRole('row', { name: /^purplemash\.com/ }).textContent()).toBe(
      'purplemash.com1 h 30 min127 min 30 s6',
    );
    await checkAccessibility(page, 'web filter, sites people spend time on, as a table');

    // The DNS filter's visits are shown on their own, never added to the proxy's.
    await visits.getByText('Seen by the DNS filter').click();
    await expect
      .poll(() => chart.locator('g > text').allTextContents())
      .toEqual([
        'purplemash.com',
        '33 min 20 s · 4 visits · median 8 min 20 s',
        'login.microsoftonline.com',
        '1 min 30 s · 3 visits · median 30 s',
      ]);
    expect(await withheld.count()).toBe(0);
  });

  it('the categories grid shows social networking blocked for staff; a change goes through the pack', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    // The school's pack, applied in Settings, is the text the grid changes.
    const uploaded = await send(page, 'POST', '/api/policy/packs', {
      yaml: shippedPackText(),
      fileName: 'policy.yaml',
    });
    await send(page, 'POST', `/api/policy/packs/${uploaded.id}/apply`);

    await page.goto('/web-filter?tab=categories');
    await page.getByRole('tab', { name: 'Categories', selected: true }).waitFor();
    const grid = page.getByTestId('categories-grid');
    await grid.waitFor();
    const social = grid.getByRole('checkbox', { name: 'Social networking: blocked for All staff' });
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, categories');
    await screenshot(page, 'web-filter-categories');
    expect(await social.isChecked()).toBe(true);
    expect(
      await grid.getByRole('checkbox', { name: 'Pornography: blocked for everyone' }).isChecked(),
    ).toBe(true);

    // Block online shopping for governors: a new pack is checked, then applied after a
    // confirmation that names the change.
    const shopping = grid.getByRole('checkbox', { name: 'Online shopping: blocked for Governors' });
    expect(await shopping.isChecked()).toBe(false);
    await shopping.check();
    const changes = page.getByTestId('category-changes');
    await changes.getByText('Blocks Online shopping for Governors').waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, categories with a change');
    await changes.getByRole('button', { name: 'Check the changed pack' }).click();
    await page.getByText('The changed pack is valid').waitFor();
    await page.getByRole('button', { name: 'Apply…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply the changed pack?' });
    await dialog.getByText('Blocks Online shopping for Governors').waitFor();
    await page.waitForFunction(animationsDone);
    await checkAccessibility(page, 'web filter, confirming a category change');
    await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByText('The changed pack is in force').waitFor();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => shopping.isChecked()).toBe(true);

    const packs = (await (await page.request.get('/api/policy/packs')).json()) as {
      inForce: { id: string };
    };
    expect(packs.inForce.id).not.toBe(uploaded.id);
    const text = (await (
      await page.request.get(`/api/policy/packs/${packs.inForce.id}`)
    ).json()) as { yaml: string };
    // The comments of the pack are kept.
    expect(text.yaml).toContain('# Blocked for every person and every device');
    const test = (await (
      await page.request.get(`/api/webfilter/test?url=facebook.com&person=${STAFF.email}`)
    ).json()) as { action: string };
    expect(test.action).toBe('block');
  });

  it('PER-4: a host added to the deny list is listed', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    const probe = await page.request.get('/api/webfilter/school-lists');
    if (probe.status() === 404) ctx.skip(); // GET /api/webfilter/school-lists is not served yet
    await page.goto('/web-filter?tab=school-lists');
    await page.getByRole('tab', { name: 'School lists', selected: true }).waitFor();
    await field(page, 'Host').fill('games.example');
    await field(page, 'Reason').fill('Online games in school time (SYS-2)');
    await page.getByRole('button', { name: 'Add to the deny list' }).click();
    const deny = page.getByTestId('school-list-deny');
    await deny.getByTestId('school-list-entry').filter({ hasText: 'games.example' }).waitFor();
    await deny.getByText('Online games in school time (SYS-2)').waitFor();

    // The API's own objection is shown by the field it concerns.
    await field(page, 'Host').fill('not a host');
    await field(page, 'Reason').fill('A mistake');
    await page.getByRole('button', { name: 'Add to the deny list' }).click();
    await page.locator('[aria-invalid="true"]').first().waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, school lists');
    await screenshot(page, 'web-filter-school-lists');
  });

  it('the lists loaded: source, SHA-256, counts and "Update now"', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    const probe = await page.request.get('/api/webfilter/lists');
    if (probe.status() === 404) ctx.skip(); // GET /api/webfilter/lists is not served yet
    await page.goto('/web-filter?tab=lists');
    await page.getByRole('tab', { name: 'Lists', selected: true }).waitFor();
    await page.getByTestId('lists-loaded').getByText('SHA-256').waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, lists');
    await screenshot(page, 'web-filter-lists');
  });
});
