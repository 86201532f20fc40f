// The trace the relay leaves, over real SMTP: one Received header (RFC 5321 section 4.4) on top
// of every message it passes on, delivered or released from the quarantine, naming the client,
// the gateway, the protocol and the record of the message; and the hop count that refuses mail
// going round in a loop.
import { describe, expect, it } from 'vitest';
import { clamdProblem } from '../support/clamd.ts';
import {
  addMailUser,
  deliveredId,
  gateway,
  newStarterDetails,
  OFFICE,
  PARENT,
  rawSmtp,
  receivedCount,
  records,
  send,
  setUpMailGateways,
  splitTrace,
  TEACHER,
  teacherLetter,
} from '../support/mail-gateway.ts';
import { compose } from '../support/mail-samples.ts';

setUpMailGateways();

const HELO = 'client.example.org';
const DATE = String.raw`(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000`;

describe.skipIf(clamdProblem !== null)('the Received header the relay adds', () => {
  it('MAIL-3: a delivered message gains one Received header naming the client, the gateway, ESMTP, its record id and its one recipient, folded under 78; the rest is the message as sent', async () => {
    const g = await gateway();
    const raw = await compose({ from: PARENT, to: OFFICE, subject: 'Absence', text: 'Ill today.' });
    const reply = await send(g, PARENT, [OFFICE], raw, { name: HELO });
    expect(reply.code, reply.text).toBe(250);
    const id = deliveredId(reply.text)!;

    const delivered = g.sink.received[0]!.raw;
    const trace = splitTrace(delivered);
    expect(trace.unfolded).toMatch(
      new RegExp(
        String.raw`^Received: from client\.example\.org \((\S+ )?\[127\.0\.0\.1\]\) by gateway\.school\.test \(Custos\) with ESMTP id ${id} for <${OFFICE}>; ${DATE}$`,
      ),
    );
    for (const line of trace.field.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(trace.rest.equals(raw)).toBe(true);
    expect(receivedCount(delivered)).toBe(receivedCount(raw) + 1);
    // What was judged and recorded is the message as it came, without the trace.
    const [row] = await records(g.store);
    expect(row).toMatchObject({ id, size: raw.length, status: 'delivered' });
  });

  it('MAIL-4: outbound mail gets the disclaimer and then the trace on top; a message with several recipients names none of them', async () => {
    const g = await gateway({ trusted: true });
    const to = [PARENT, 'carer@example.org'];
    const raw = await teacherLetter(to);
    const reply = await send(g, TEACHER, to, raw, { name: HELO });
    expect(reply.code, reply.text).toBe(250);
    const got = g.sink.received[0]!;
    const trace = splitTrace(got.raw);
    expect(trace.unfolded).toMatch(
      new RegExp(`with ESMTP id ${deliveredId(reply.text)}; ${DATE}$`),
    );
    expect(trace.unfolded).not.toContain(' for ');
    expect(got.text).toContain('monitors e-mail for viruses');
  });

  it('MAIL-8: a message delivered with a warning has the Received header uppermost, the X-Custos-Verdict header under it, then the message as sent', async () => {
    const g = await gateway();
    const raw = await compose({
      from: PARENT,
      to: OFFICE,
      subject: 'Fun run',
      text: 'Please sponsor me for the fun run.',
    });
    const reply = await send(g, PARENT, [OFFICE], raw, { name: HELO });
    expect(reply.code, reply.text).toBe(250);
    const { rest } = splitTrace(g.sink.received[0]!.raw);
    const verdict = 'X-Custos-Verdict: chain-letters (MAIL-8 MIS-2(i))\r\n';
    expect(rest.subarray(0, verdict.length).toString()).toBe(verdict);
    expect(rest.subarray(verdict.length).equals(raw)).toBe(true);
  });

  it('MAIL-12: a held message, once released by the School Business Manager, carries the one Received header of when it came, with its record id', async () => {
    const g = await gateway({ trusted: true });
    const raw = await newStarterDetails('payroll@example.org');
    const reply = await send(g, OFFICE, ['payroll@example.org'], raw, { name: HELO });
    expect(reply.text).toMatch(/Held for review/);
    const [row] = await records(g.store);
    await g.quarantine.release(row!.id, { id: 'sbm', label: 'School Business Manager' }, 'ok');
    const released = g.sink.received[0]!.raw;
    const trace = splitTrace(released);
    expect(trace.unfolded).toContain(` with ESMTP id ${row!.id} for <payroll@example.org>; `);
    expect(receivedCount(released)).toBe(receivedCount(raw) + 1);
  });

  it('a message that has passed more than 50 servers is refused 554 5.4.6 as a mail loop; 50 still pass', async () => {
    const g = await gateway();
    const hops = (n: number) =>
      Array.from(
        { length: n },
        (_, i) =>
          `Received: from hop${i}.example.org by hop${i + 1}.example.org; Tue, 1 Jul 2025 09:00:00 +0000\r\n`,
      ).join('');
    const message = (n: number) =>
      Buffer.from(`${hops(n)}From: ${PARENT}\r\nTo: ${OFFICE}\r\nSubject: loop\r\n\r\nround\r\n`);
    const looping = await send(g, PARENT, [OFFICE], message(51));
    expect(looping.code).toBe(554);
    expect(looping.text).toMatch(/^554 5\.4\.6 Too many hops/);
    expect(g.sink.received).toHaveLength(0);
    const fifty = await send(g, PARENT, [OFFICE], message(50));
    expect(fifty.code, fifty.text).toBe(250);
    expect(receivedCount(g.sink.received[0]!.raw)).toBe(51);
  });

  it('a client speaking SMTP by hand is traced by the EHLO name it gave and the address it came from', async () => {
    const g = await gateway();
    const { smtp } = await rawSmtp(g.port);
    expect((await smtp.command(`MAIL FROM:<${PARENT}>`)).code).toBe(250);
    expect((await smtp.command(`RCPT TO:<${OFFICE}>`)).code).toBe(250);
    expect((await smtp.command('DATA')).code).toBe(354);
    await smtp.write('Subject: bare\r\n\r\nHello.\r\n.\r\n');
    expect((await smtp.reply()).code).toBe(250);
    expect(splitTrace(g.sink.received[0]!.raw).unfolded).toMatch(
      /^Received: from client\.example\.org \((\S+ )?\[127\.0\.0\.1\]\) by gateway\.school\.test \(Custos\) with ESMTP id /,
    );
  });

  it('MAIL-11: a message sent with SMTP AUTH is traced as ESMTPA (RFC 3848)', async () => {
    const g = await gateway({ config: { 'mail.relay.allowInsecureAuth': true } });
    await addMailUser(g, TEACHER, 'correct horse battery staple');
    const raw = await compose({ from: TEACHER, to: PARENT, subject: 'Books', text: 'Friday.' });
    const reply = await send(g, TEACHER, [PARENT], raw, {
      name: HELO,
      auth: { user: TEACHER, pass: 'correct horse battery staple' },
    });
    expect(reply.code, reply.text).toBe(250);
    expect(splitTrace(g.sink.received[0]!.raw).unfolded).toContain(
      ` with ESMTPA id ${deliveredId(reply.text)} for <${PARENT}>; `,
    );
  });
});
