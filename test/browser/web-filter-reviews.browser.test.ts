// Requests to review a blocked site (MIS-1, SYS-5) as the School Business Manager meets them: the
// empty page says what it is for; requests made from block pages appear on Needs my attention and
// in a table with the site, who asked, when, why and what blocked it; allowing one (after a
// confirmation, with a note) puts the site on the school's allow list and queues an e-mail to the
// person who asked; a declined one moves to "Decided".
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { animationsDone, followAttention } from './support/console-page.ts';
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
  givenName: 'Ada',
  familyName: 'Okafor',
};

async function send(page: Page, url: string, data: unknown) {
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
  return response.json() as Promise<Record<string, unknown>>;
}

describe('requests to review a blocked site', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;

  beforeAll(async () => {
    h = await startHarness();
    sbm = await setUpFirstAccount(h.server);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  /** A request as the proxy records it from a block page. */
  function recordRequest(input: {
    host: string;
    personId: string | null;
    ip: string;
    categories: string[];
    clauseIds: string[];
    reason: string;
    minutesAgo: number;
  }): void {
    h.server.sql(
      `INSERT INTO site_review_requests (id, host, url, person_id, device_id, client_ip, categories,
         clause_ids, reason, status, created_at, decided_by, decided_at, decision_note)
       VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, 'open', ?, NULL, NULL, NULL)`,
      crypto.randomUUID(),
      input.host,
      `http://${input.host}/`,
      input.personId,
      input.ip,
      JSON.stringify(input.categories),
      JSON.stringify(input.clauseIds),
      input.reason,
      new Date(Date.now() - input.minutesAgo * 60_000).toISOString(),
    );
  }

  it('MIS-1: a request is allowed with a note after a confirmation, and the requester is e-mailed', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });

    // Before anyone asks, the page says what it is for.
    await page.goto('/web-filter?tab=reviews');
    await page.getByRole('tab', { name: 'Review requests', selected: true }).waitFor();
    const empty = page.getByTestId('empty-state');
    await empty.getByText('No requests are waiting').waitFor();
    await empty.getByText(/the block page lets them ask for a review/).waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, no review requests');

    const teacher = await send(page, '/api/people', {
      ...TEACHER,
      kind: 'employee',
      groups: ['staff', 'teaching'],
      roles: ['staff'],
    });
    recordRequest({
      host: 'www.youtube.com',
      personId: String(teacher.id),
      ip: '10.0.0.21',
      categories: ['audio-video'],
      clauseIds: ['SYS-5'],
      reason: 'The phonics songs for Reception are only on this channel; I show them on the board.',
      minutesAgo: 95,
    });
    recordRequest({
      host: 'epinions.com',
      personId: null,
      ip: '10.0.0.57',
      categories: ['social_networks'],
      clauseIds: ['SYS-5', 'MIS-2(h)'],
      reason: 'Product reviews for the new classroom tablets.',
      minutesAgo: 20,
    });

    // Needs my attention counts them and leads to the page.
    await followAttention(page, '2 requests to review a blocked site', 'Review requests');

    const table = page.getByTestId('review-requests');
    const youtube = table.getByTestId('review-request').filter({ hasText: 'www.youtube.com' });
    await youtube.waitFor();
    await youtube.getByText('Ada Okafor').waitFor();
    await youtube.getByText('Audio and video streaming').waitFor();
    await youtube.getByText(/phonics songs for Reception/).waitFor();
    expect(await youtube.getByRole('link', { name: 'SYS-5' }).getAttribute('href')).toBe(
      '/policy#SYS-5',
    );
    const unknown = table.getByTestId('review-request').filter({ hasText: 'epinions.com' });
    await unknown.getByText('Not known').waitFor();
    await unknown.getByText('Device at 10.0.0.57').waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, review requests');
    await screenshot(page, 'web-filter-reviews');

    // Allow, with a note, after a confirmation that says what allowing does.
    await youtube.getByRole('button', { name: 'Allow www.youtube.com' }).click();
    const dialog = page.getByRole('dialog', { name: 'Allow www.youtube.com?' });
    await dialog.getByText(/goes on the school's allow list/).waitFor();
    const allow = dialog.getByRole('button', { name: 'Allow the site' });
    expect(await allow.isDisabled()).toBe(true);
    await field(page, 'Note to Ada Okafor').fill('Allowed for phonics in Reception this year.');
    await page.waitForFunction(animationsDone);
    await checkAccessibility(page, 'web filter, allowing a review request');
    await screenshot(page, 'web-filter-reviews-allow');
    await allow.click();
    await page.getByText("www.youtube.com is on the school's allow list").waitFor();
    await page.getByText('Ada Okafor will be told by e-mail.').waitFor();
    await dialog.waitFor({ state: 'hidden' });
    await youtube.waitFor({ state: 'detached' });

    const lists = (await (await page.request.get('/api/webfilter/school-lists')).json()) as {
      entries: { list: string; host: string }[];
    };
    expect(lists.entries).toContainEqual(
      expect.objectContaining({ list: 'allow', host: 'www.youtube.com' }),
    );
    const mail = h.server.sql<{ to_address: string; subject: string; text: string }>(
      "SELECT to_address, subject, text FROM notification_outbox WHERE kind = 'webfilter.review-decided'",
    );
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({
      to_address: TEACHER.email,
      subject: 'Your request to open www.youtube.com was allowed',
    });
    expect(mail[0]!.text).toContain('Allowed for phonics in Reception this year.');

    // Decline the other; both are then under "Decided".
    await unknown.getByRole('button', { name: 'Decline epinions.com' }).click();
    const decline = page.getByRole('dialog', { name: 'Decline the request for epinions.com?' });
    await field(page, 'Note').fill('Please use the supplier reviews in the shared drive.');
    await decline.getByRole('button', { name: 'Decline the request' }).click();
    await page.getByText('The request for epinions.com was declined').waitFor();
    await page.getByTestId('empty-state').getByText('No requests are waiting').waitFor();
    await page.getByLabel('Which requests').getByText('Decided', { exact: true }).click();
    const decided = page.getByTestId('review-request');
    await decided
      .filter({ hasText: 'www.youtube.com' })
      .getByText('Allowed', { exact: true })
      .waitFor();
    await decided
      .filter({ hasText: 'epinions.com' })
      .getByText('Declined', { exact: true })
      .waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'web filter, decided review requests');
  });
});
