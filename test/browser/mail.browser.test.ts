// The mail gateway's screens as the School Business Manager uses them, against a real
// `custos serve` whose SMTP relay scans with a real clamd (the test signature database) and hands
// mail to a local sink standing in for the school's mail service. Messages reach the quarantine
// over SMTP: a National Insurance number to an outside address (MAIL-12) and a parent's message
// marked Private with an encrypted archive (SYS-4, MON-3). The reviewer sees each with its reason
// and clause links, releases one with a note (the sink then receives it with the disclaimer,
// MAIL-4), deletes the other, and the queue empties. "Test a message" shows the verdicts of an
// uploaded .eml; Activity and Rules are shown for the screenshots.

import nodemailer from 'nodemailer';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clamdProblem, startClamd, type TestClamd } from '../support/clamd.ts';
import { compose, windowsExecutable } from '../support/mail-samples.ts';
import { closeRelays, startRelay } from '../support/smtp-relay.ts';
import { buildZip } from '../support/zip-writer.ts';
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

const SCHOOL = 'palfreyinfant.co.uk';
const NI = 'AB 12 34 56 C';
const DISCLAIMER_WORDS = 'monitors e-mail for viruses';

/** Scrolls so that the element starts just under the console's fixed header. */
async function showAtTop(page: Page, element: Locator) {
  const top = await element.evaluate(
    (e) =>
      (e as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top,
  );
  await page.evaluate(`window.scrollBy(0, ${Math.round(top - 76)})`);
  // Two frames: the scroll is painted before the picture is taken.
  await page.evaluate(
    'new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(null))))',
  );
}

describe.skipIf(clamdProblem !== null)('the mail screens', { timeout: 180_000 }, () => {
  let h: Harness;
  let sbm: Account;
  let clamd: TestClamd;
  let sink: Awaited<ReturnType<typeof startRelay>>;
  let relayPort: number;

  /** Sends a message to the gateway's SMTP relay; `from127002` is not the trusted mail service. */
  async function send(
    envelope: { from: string; to: string[] },
    raw: Buffer,
    options: { untrusted?: boolean } = {},
  ): Promise<string> {
    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relayPort,
      secure: false,
      ignoreTLS: true,
      ...(options.untrusted ? { localAddress: '127.0.0.2' } : {}),
    });
    try {
      return String((await client.sendMail({ envelope, raw })).response);
    } finally {
      client.close();
    }
  }

  beforeAll(async () => {
    clamd = await startClamd();
    sink = await startRelay();
    h = await startHarness({
      CUSTOS_MAIL__CLAMD__HOST: '127.0.0.1',
      CUSTOS_MAIL__CLAMD__PORT: String(clamd.port),
      CUSTOS_MAIL__INBOUND__HOST: '127.0.0.1',
      CUSTOS_MAIL__INBOUND__PORT: String(sink.port),
      CUSTOS_MAIL__OUTBOUND__HOST: '127.0.0.1',
      CUSTOS_MAIL__OUTBOUND__PORT: String(sink.port),
      CUSTOS_MAIL__RELAY__HOSTNAME: 'gateway.palfreyinfant.example',
      // 127.0.0.1 is the school's mail service (its mail is outbound); 127.0.0.2 is the internet.
      CUSTOS_MAIL__RELAY__TRUSTED_NETWORKS: '["127.0.0.1"]',
    });
    sbm = await setUpFirstAccount(h.server);
    for (let i = 0; i < 100 && !relayPort; i++) {
      const found = /"url":"smtp:\/\/[^"]*:(\d+)"/.exec(h.server.served.output());
      if (found) relayPort = Number(found[1]);
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!relayPort) throw new Error(`the mail gateway did not start:\n${h.server.served.output()}`);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
    await clamd?.stop();
    await closeRelays();
  });

  it('MAIL-12, MON-3: held messages are shown with their reasons; one is released with a note, one deleted, and the queue empties', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });

    // Before anything is held, the page says what it is for.
    await page.goto('/mail');
    await page.getByRole('tab', { name: 'Quarantine', selected: true }).waitFor();
    const empty = page.getByTestId('empty-state');
    await empty.getByText('No messages are held').waitFor();
    await empty.getByText(/National Insurance numbers going to an outside address/).waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'mail, nothing held');

    const starter = await compose({
      from: `Office <office@${SCHOOL}>`,
      to: 'Payroll Services <payroll@payroll.example>',
      subject: 'New starter: Ms Green',
      text: `Ms Green starts on Monday. Her National Insurance number is ${NI}.`,
      html: `<p>Ms Green starts on Monday. Her National Insurance number is ${NI}.</p>`,
    });
    expect(
      await send({ from: `office@${SCHOOL}`, to: ['payroll@payroll.example'] }, starter),
    ).toMatch(/Held for review under MAIL-12/);
    const parent = await compose({
      from: 'Mrs Jones <k.jones@family.example>',
      to: `office@${SCHOOL}`,
      subject: 'Medical report for Amelia',
      text: 'The password is in my other message.',
      headers: { Sensitivity: 'Private' },
      attachments: [
        {
          filename: 'medical-report.zip',
          content: buildZip([
            { name: 'report.pdf', data: Buffer.from('%PDF-1.4 report'), encrypted: true },
          ]),
        },
      ],
    });
    expect(
      await send({ from: 'k.jones@family.example', to: [`office@${SCHOOL}`] }, parent, {
        untrusted: true,
      }),
    ).toMatch(/Held for review/);
    expect(sink.received).toHaveLength(0);

    // Needs my attention counts them and leads to the quarantine.
    await followAttention(page, '2 messages held for review', 'Quarantine');

    const table = page.getByTestId('held-messages');
    const held = table.getByTestId('held-message');
    const newStarter = held.filter({ hasText: 'New starter: Ms Green' });
    await newStarter.waitFor();
    await newStarter.getByText('1 National Insurance number to an outside address').waitFor();
    await newStarter.getByText('payroll@payroll.example').waitFor();
    expect(await newStarter.getByRole('link', { name: 'MAIL-12' }).getAttribute('href')).toBe(
      '/policy#MAIL-12',
    );
    expect(await newStarter.getByRole('link', { name: 'MIS-2(d)' }).getAttribute('href')).toBe(
      '/policy#MIS-2',
    );
    expect(await table.textContent()).not.toContain(NI);

    // The parent's message is marked Private: a badge, no subject, no file names (MON-3).
    const privateOne = held.filter({ has: page.getByTestId('private-badge') });
    await privateOne.getByText('k.jones@family.example').waitFor();
    await privateOne
      .getByText(/an attachment \(name withheld\) is an encrypted archive, which cannot be checked/)
      .waitFor();
    expect(await table.textContent()).not.toContain('Medical report');
    await privateOne.getByText('Name withheld').first().waitFor();
    expect(await privateOne.textContent()).not.toContain('medical-report');

    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'mail, quarantine');
    await screenshot(page, 'mail-quarantine');

    // Release, with a note, after a confirmation that says where it goes.
    await newStarter.getByRole('button', { name: 'Release “New starter: Ms Green”' }).click();
    const dialog = page.getByRole('dialog', { name: 'Release “New starter: Ms Green”?' });
    await dialog.getByText(/with the school disclaimer \(MAIL-4\)/).waitFor();
    const release = dialog.getByRole('button', { name: 'Release the message' });
    expect(await release.isDisabled()).toBe(true);
    await field(page, 'Why it may go').fill(
      'Payroll Services is our processor under contract; agreed with the Headteacher.',
    );
    await page.waitForFunction(animationsDone);
    await checkAccessibility(page, 'mail, releasing a held message');
    await screenshot(page, 'mail-quarantine-release');
    await release.click();
    await page.getByText('Released “New starter: Ms Green”').waitFor();
    await page.getByText('The sender will be told by e-mail, with your note.').waitFor();
    await newStarter.waitFor({ state: 'detached' });

    // The school's mail service receives it, with the disclaimer once.
    await expect.poll(() => sink.received.length).toBe(1);
    const delivered = sink.received[0]!;
    expect(delivered.to).toEqual(['payroll@payroll.example']);
    expect(delivered.text).toContain(NI);
    expect(delivered.text.split(DISCLAIMER_WORDS).length - 1).toBe(1);

    // Delete the other with a reason; the queue is then empty.
    await privateOne
      .getByRole('button', { name: 'Delete the private message from k.jones@family.example' })
      .click();
    await page
      .getByRole('dialog', { name: 'Delete the private message from k.jones@family.example?' })
      .waitFor();
    await field(page, 'Why it is deleted').fill(
      'Encrypted attachments cannot be scanned; asked Mrs Jones to bring the report in.',
    );
    await page.getByRole('button', { name: 'Delete the message' }).click();
    await page.getByTestId('empty-state').getByText('No messages are held').waitFor();
    expect(sink.received).toHaveLength(1);

    const audit = h.server.sql<{ action: string; reason: string }>(
      "SELECT action, reason FROM audit_log WHERE action IN ('mail.released', 'mail.deleted') ORDER BY seq",
    );
    expect(audit.map((a) => a.action)).toEqual(['mail.released', 'mail.deleted']);
    expect(audit[0]!.reason).toMatch(/processor under contract/);
  });

  it('SYS-8, MAIL-12: test a message shows every verdict with its clause and reason, and what the attachments really are', async (ctx) => {
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/mail?tab=test');
    await page.getByRole('tab', { name: 'Test a message', selected: true }).waitFor();
    const eml = await compose({
      from: `Office <office@${SCHOOL}>`,
      to: 'accounts@supplier.example',
      subject: 'Order and staff list',
      text: `Please find the order attached. Our new caretaker's NI number is ${NI}.`,
      attachments: [
        { filename: 'order.pdf', content: windowsExecutable(), contentType: 'application/pdf' },
        {
          filename: 'assembly-song.mp3',
          content: Buffer.from('ID3\u0003\u0000\u0000\u0000\u0000\u0000\u0000'),
        },
      ],
    });
    await page
      .locator('input[type="file"]')
      .setInputFiles({ name: 'order.eml', mimeType: 'message/rfc822', buffer: eml });
    await page.getByRole('button', { name: 'Test the message' }).click();
    const result = page.getByTestId('mail-test-result');
    await result.waitFor();
    await result.getByTestId('action-badge').first().getByText('Refused').waitFor();
    await result
      .getByTestId('mail-test-outcome')
      .getByText(/would refuse it \(550\)/)
      .waitFor();
    const verdicts = result.getByTestId('mail-test-verdicts');
    const program = verdicts.locator('[data-rule="attachment-type"]');
    await program.getByText(/order\.pdf is really a Windows program/i).waitFor();
    expect(await program.getByRole('link', { name: 'SYS-8' }).getAttribute('href')).toBe(
      '/policy#SYS-8',
    );
    await verdicts
      .locator('[data-rule="personal-data-external"]')
      .getByText(/National Insurance number to an outside address/i)
      .waitFor();
    await verdicts
      .locator('[data-rule="media-attachments"]')
      .getByRole('link', { name: 'MAIL-10' })
      .waitFor();
    await result.getByTestId('mail-test-scan').getByText('Scanned: clean').waitFor();
    await result
      .getByText('Not what its name says: order.pdf is really a Windows program')
      .waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'mail, test a message');
    // The answer, not the form, is the picture.
    await showAtTop(page, result);
    await screenshot(page, 'mail-test');
    // Nothing was sent or kept: the sink has only the message released in the test before.
    expect(sink.received.map((m) => m.subject)).toEqual(['New starter: Ms Green']);
    expect(
      h.server.sql<{ n: number }>(
        "SELECT count(*) AS n FROM mail_messages WHERE subject = 'Order and staff list'",
      )[0]!.n,
    ).toBe(0);
  });

  /**
   * A week of earlier mail as the gateway records it (metadata only, no content), so that the
   * activity has days to show: written to the table, as the relay cannot be given a past date.
   */
  function recordEarlierMail(): void {
    const verdict = (rule: string, action: string, clauseIds: string[], reason: string) =>
      JSON.stringify([{ rule, action, clauseIds, reason }]);
    const kinds = [
      { direction: 'inbound', status: 'delivered', action: 'allow', verdicts: '[]' },
      { direction: 'outbound', status: 'delivered', action: 'allow', verdicts: '[]' },
      {
        direction: 'outbound',
        status: 'delivered',
        action: 'warn-sender',
        verdicts: verdict('chain-letters', 'warn-sender', ['MAIL-8', 'MIS-2(i)'], 'chain letters'),
      },
      {
        direction: 'inbound',
        status: 'rejected',
        action: 'reject',
        verdicts: verdict('attachment-type', 'reject', ['SYS-7', 'SYS-8'], 'a program'),
      },
      {
        direction: 'outbound',
        status: 'released',
        action: 'hold',
        verdicts: verdict(
          'personal-data-external',
          'hold',
          ['MAIL-12', 'MIS-2(d)'],
          '1 NHS number',
        ),
      },
      {
        direction: 'outbound',
        status: 'deleted',
        action: 'hold',
        verdicts: verdict('offensive-language', 'hold', ['MAIL-5', 'MIS-2(c)'], '1 listed word'),
      },
    ];
    // How many of each kind on each of the six days before today.
    const plan = [
      [14, 9, 1, 1, 1, 0],
      [18, 12, 0, 2, 1, 1],
      [16, 10, 2, 0, 0, 0],
      [6, 3, 0, 1, 0, 0],
      [4, 2, 0, 0, 0, 0],
      [21, 15, 1, 1, 2, 1],
    ];
    plan.forEach((counts, d) => {
      counts.forEach((n, k) => {
        const kind = kinds[k]!;
        for (let i = 0; i < n; i++) {
          const at = new Date(Date.now() - (6 - d) * 86_400_000 - (i + 1) * 600_000).toISOString();
          h.server.sql(
            `INSERT INTO mail_messages (id, received_at, direction, client_ip, helo, auth_user,
               person_id, envelope_from, envelope_to, header_from, header_to, subject, message_id,
               size, attachments, verdicts, action, private, status, next_hop_reply, content_id,
               decided_by, decided_at, decision_reason, updated_at)
             VALUES (?, ?, ?, '192.0.2.25', NULL, NULL, NULL, 'earlier@example.org', '["x@example.org"]',
               NULL, '[]', 'Earlier message', NULL, 2048, '[]', ?, ?, 0, ?, NULL, NULL, NULL, NULL,
               NULL, ?)`,
            crypto.randomUUID(),
            at,
            kind.direction,
            kind.verdicts,
            kind.action,
            kind.status,
            at,
          );
        }
      });
    });
  }

  it('MON-2: the activity counts the mail by day and rule without naming anyone; the rules in force can be read', async (ctx) => {
    recordEarlierMail();
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/mail?tab=activity');
    await page.getByRole('tab', { name: 'Activity', selected: true }).waitFor();
    const byDay = page.getByTestId('mail-by-day');
    await byDay.waitFor();
    await page
      .getByTestId('mail-by-rule')
      .locator('svg text', { hasText: 'Personal data external' })
      .waitFor();
    const text = (await page.getByRole('tabpanel').textContent()) ?? '';
    expect(text).not.toContain('payroll@');
    expect(text).not.toContain('New starter');
    expect(text).not.toContain('earlier@');
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'mail, activity');
    await showAtTop(page, byDay);
    await screenshot(page, 'mail-activity');

    await page.goto('/mail?tab=rules');
    await page.getByRole('tab', { name: 'Rules', selected: true }).waitFor();
    await page.mouse.move(1300, 740);
    const rules = page.getByTestId('mail-content-rules');
    await rules
      .locator('[data-rule="personal-data-external"]')
      .getByText('National Insurance numbers', { exact: false })
      .waitFor();
    await page.getByTestId('mail-disclaimer').getByText(new RegExp(DISCLAIMER_WORDS)).waitFor();
    await checkAccessibility(page, 'mail, rules');
    await screenshot(page, 'mail-rules');
  });

  // Last: it stops clamd.
  it('SYS-4, SYS-7: when the virus scanner stops, the Mail screen says mail waits for it and what to do; the sender is told to try later', async (ctx) => {
    await clamd.stop();
    const page = await h.page(ctx, { signedInAs: sbm });
    await page.goto('/mail');
    const warning = page
      .getByRole('alert')
      .filter({ hasText: 'Mail is waiting for the virus scanner' });
    await warning.getByText(/deferred .* Start clamd \(systemctl start clamav-daemon\)/).waitFor();
    await page.mouse.move(1300, 740);
    await checkAccessibility(page, 'mail, scanner down');
    await screenshot(page, 'mail-scanner-down');
    const raw = Buffer.from(
      'From: parent@example.org\r\nTo: office@palfreyinfant.co.uk\r\nSubject: Trip\r\n\r\nSee you there.\r\n',
    );
    await expect(
      send({ from: 'parent@example.org', to: ['office@palfreyinfant.co.uk'] }, raw, {
        untrusted: true,
      }),
    ).rejects.toThrow(/451 4\.3\.0/);
  });
});
