// The mail gateway end to end: a client speaks SMTP to the relay, which scans with a real clamd
// (a test signature database holding EICAR), applies the shipped pack, and hands mail to a local
// sink standing in for Microsoft 365 or the smart host.
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { listOutbox } from '../../src/notify/outbox.ts';
import { fromJson } from '../../src/store/columns.ts';
import { clamdProblem } from '../support/clamd.ts';
import {
  fromParent,
  gateway,
  newStarterDetails,
  OFFICE,
  PARENT,
  records,
  SCHOOL,
  send,
  setUpMailGateways,
  TEACHER,
  teacherLetter,
} from '../support/mail-gateway.ts';
import { compose, eicar, windowsExecutable } from '../support/mail-samples.ts';
import { buildZip } from '../support/zip-writer.ts';

setUpMailGateways();

describe.skipIf(clamdProblem !== null)('the mail gateway over SMTP', () => {
  it('SYS-4, SYS-7: EICAR in a zip in a forwarded message is refused inbound, and the School Business Manager is told', async () => {
    const g = await gateway();
    const forwarded = await compose({
      from: 'someone@example.org',
      to: 'friend@example.org',
      subject: 'the file',
      text: 'see attached',
      attachments: [
        { filename: 'files.zip', content: buildZip([{ name: 'eicar.com', data: eicar() }]) },
      ],
    });
    const raw = await compose({
      from: 'stranger@example.org',
      to: OFFICE,
      subject: 'Fwd: the file',
      text: 'forwarding this',
      attachments: [
        { filename: 'forwarded.eml', content: forwarded, contentType: 'message/rfc822' },
      ],
    });
    const reply = await send(g, 'stranger@example.org', [OFFICE], raw);
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(/SYS-7/);
    expect(reply.text).toMatch(/virus/);
    expect(g.sink.received).toHaveLength(0);
    const [row] = await records(g.store);
    expect(row).toMatchObject({ status: 'rejected', action: 'reject', direction: 'inbound' });
    const verdicts = fromJson<{ rule: string }[]>(row!.verdicts, []);
    expect(verdicts.map((v) => v.rule)).toContain('virus');
    const attachments = fromJson<{ path: string; depth: number }[]>(row!.attachments, []);
    expect(attachments.some((a) => a.path.endsWith('/eicar.com') && a.depth === 2)).toBe(true);
    const told = await listOutbox(g.store.db, { pending: true });
    expect(told.map((m) => m.to)).toContain(g.sbmEmail);
    expect(told.find((m) => m.to === g.sbmEmail)!.subject).toMatch(/virus/);
  });

  it('SYS-8: a program renamed .pdf is refused inbound by its bytes', async () => {
    const g = await gateway();
    const raw = await compose({
      from: 'supplier@example.org',
      to: OFFICE,
      subject: 'Invoice',
      text: 'Please find the invoice attached.',
      attachments: [
        { filename: 'invoice.pdf', content: windowsExecutable(), contentType: 'application/pdf' },
      ],
    });
    const reply = await send(g, 'supplier@example.org', [OFFICE], raw);
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(/SYS-8|SYS-7/);
    expect(reply.text).toMatch(/invoice\.pdf/);
    expect(g.sink.received).toHaveLength(0);
  });

  it('nothing lost: with the next hop down the client is told 4xx, never 250', async () => {
    const g = await gateway({ nextHopDown: true });
    const reply = await fromParent(g, 'Absence', 'My child is ill today.');
    expect(reply.code).toBeGreaterThanOrEqual(400);
    expect(reply.code).toBeLessThan(500);
    const [row] = await records(g.store);
    expect(row!.status).toBe('failed');
  });

  it('SYS-4: with clamd down the client is told 4xx and nothing passes unscanned', async () => {
    const g = await gateway({ clamdDown: true });
    const reply = await fromParent(g, 'Hello', 'Hello');
    expect(reply.code).toBe(451);
    expect(reply.text).toMatch(/virus scanner/);
    expect(g.sink.received).toHaveLength(0);
  });

  it('MAIL-4: outbound mail carries the disclaimer exactly once, even when it passes twice', async () => {
    const g = await gateway({ trusted: true });
    const raw = await teacherLetter([PARENT], { html: '<p>The trip leaves at nine.</p>' });
    expect((await send(g, TEACHER, [PARENT], raw)).code).toBe(250);
    await expect.poll(() => g.sink.received.length).toBe(1);
    const first = g.sink.received[0]!;
    const count = (s: string) => s.split('monitors e-mail for viruses').length - 1;
    expect(count(first.text)).toBe(1);
    expect(count(String(first.html))).toBe(1);
    // The delivered message through the gateway again: still once.
    expect((await send(g, TEACHER, [PARENT], first.raw)).code).toBe(250);
    await expect.poll(() => g.sink.received.length).toBe(2);
    const again = await simpleParser(g.sink.received[1]!.raw);
    expect(count(again.text ?? '')).toBe(1);
    expect(count(String(again.html))).toBe(1);
  });

  it('MON-3: a message marked Sensitivity: Private is recorded as private', async () => {
    const g = await gateway();
    const raw = await compose({
      from: 'doctor@example.org',
      to: `head@${SCHOOL}`,
      subject: 'Your appointment',
      text: 'See you on Tuesday.',
      headers: { Sensitivity: 'Private' },
    });
    expect((await send(g, 'doctor@example.org', [`head@${SCHOOL}`], raw)).code).toBe(250);
    const [row] = await records(g.store);
    expect(row).toMatchObject({ private: 1, status: 'delivered', subject: 'Your appointment' });
  });

  it('MAIL-12: a National Insurance number to an outside address is held, then released by the School Business Manager', async () => {
    const g = await gateway({ trusted: true });
    const raw = await newStarterDetails('payroll@example.org');
    const reply = await send(g, OFFICE, ['payroll@example.org'], raw);
    expect(reply.code).toBe(250);
    expect(reply.text).toMatch(/Held for review/);
    expect(reply.text).toMatch(/MAIL-12/);
    expect(g.sink.received).toHaveLength(0);
    const [row] = await records(g.store);
    expect(row).toMatchObject({ status: 'held', action: 'hold' });
    expect(row!.verdicts).not.toContain('AB 12 34 56 C');
    // The content is sealed at rest: the plain text is not in the database.
    const content = await g.store.db
      .selectFrom('mail_content')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(Buffer.from(content.ciphertext).includes(Buffer.from('National Insurance'))).toBe(false);

    await g.quarantine.release(
      row!.id,
      { id: 'sbm', label: 'School Business Manager' },
      'Payroll is our processor under contract.',
    );
    expect(g.sink.received).toHaveLength(1);
    expect(g.sink.received[0]!.text).toContain('AB 12 34 56 C');
    expect(g.sink.received[0]!.text).toContain('monitors e-mail for viruses');
    const after = await records(g.store);
    expect(after[0]).toMatchObject({ status: 'released', decided_by: 'sbm' });
    const audit = await g.store.db.selectFrom('audit_log').select(['action']).execute();
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['mail.held', 'mail.released']),
    );
  });

  it('refuses to relay for strangers: mail from outside may only go to the school', async () => {
    const g = await gateway();
    const raw = await compose({
      from: 'a@example.org',
      to: 'b@example.net',
      subject: 'x',
      text: 'x',
    });
    const reply = await send(g, 'a@example.org', ['b@example.net'], raw);
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(/Relaying denied/);
  });
});
