// Enhanced status codes (RFC 2034, RFC 3463) over real SMTP: the relay advertises
// ENHANCEDSTATUSCODES and every answer it gives carries one code, the right one: its refusals
// (virus, policy, relaying, size, recipients), its temporary failures (scanner, next hop) and the
// next hop's own words passed on. Also that a next hop refusing some of the recipients never
// turns into a 250 for all of them.
import { describe, expect, it } from 'vitest';
import { clamdProblem } from '../support/clamd.ts';
import {
  fromParent,
  gateway,
  OFFICE,
  PARENT,
  rawSmtp,
  records,
  SCHOOL,
  send,
  setUpMailGateways,
  startDigestSink,
} from '../support/mail-gateway.ts';
import { compose, eicar, windowsExecutable } from '../support/mail-samples.ts';

setUpMailGateways();

/** The reply starts with its code and exactly one enhanced code, then words. */
const startsWith = (code: number, enhanced: string) =>
  new RegExp(`^${code} ${enhanced.replace(/\./g, '\\.')} [A-Za-z]`);

describe.skipIf(clamdProblem !== null)('enhanced status codes (RFC 2034, RFC 3463)', () => {
  it('EHLO advertises ENHANCEDSTATUSCODES, and the envelope and a delivered message are answered 2.1.0, 2.1.5 and 2.0.0', async () => {
    const g = await gateway();
    const { smtp, ehlo } = await rawSmtp(g.port);
    expect(ehlo.lines).toContain('ENHANCEDSTATUSCODES');
    expect((await smtp.command(`MAIL FROM:<${PARENT}>`)).text).toMatch(/^2\.1\.0 /);
    expect((await smtp.command(`RCPT TO:<${OFFICE}>`)).text).toMatch(/^2\.1\.5 /);
    expect((await smtp.command('DATA')).code).toBe(354);
    await smtp.write(`From: ${PARENT}\r\nSubject: hello\r\n\r\nHello.\r\n.\r\n`);
    const accepted = await smtp.reply();
    expect(accepted.code).toBe(250);
    expect(accepted.text).toMatch(/^2\.0\.0 Accepted, delivered as \S+$/);
  });

  it('SYS-7: a virus is refused 550 5.7.1, with one enhanced code and the clauses', async () => {
    const g = await gateway();
    const raw = await compose({
      from: PARENT,
      to: OFFICE,
      subject: 'the file',
      text: 'see attached',
      attachments: [{ filename: 'eicar.com', content: eicar() }],
    });
    const reply = await send(g, PARENT, [OFFICE], raw);
    expect(reply.text).toMatch(startsWith(550, '5.7.1'));
    expect(reply.text).toMatch(/^550 5\.7\.1 Refused under [^:]*SYS-7/);
    expect(reply.text).not.toMatch(/5\.1\.1/);
  });

  it('SYS-8: a message the policy declines to transmit (a program renamed .pdf) is refused 550 5.7.1', async () => {
    const g = await gateway();
    const raw = await compose({
      from: PARENT,
      to: OFFICE,
      subject: 'Invoice',
      text: 'attached',
      attachments: [
        { filename: 'invoice.pdf', content: windowsExecutable(), contentType: 'application/pdf' },
      ],
    });
    const reply = await send(g, PARENT, [OFFICE], raw);
    expect(reply.text).toMatch(/^550 5\.7\.1 Refused under /);
  });

  it('relaying denied 550 5.7.1, too many recipients 452 4.5.3, too big 552 5.3.4 (declared and actual)', async () => {
    const g = await gateway({
      config: { 'mail.relay.maxRecipients': 1, 'mail.relay.maxMessageBytes': 2048 },
    });
    const { smtp } = await rawSmtp(g.port);
    const tooBig = await smtp.command(`MAIL FROM:<${PARENT}> SIZE=4096`);
    expect([tooBig.code, tooBig.text]).toEqual([552, expect.stringMatching(/^5\.3\.4 /)]);
    expect((await smtp.command(`MAIL FROM:<${PARENT}>`)).code).toBe(250);
    const relaying = await smtp.command('RCPT TO:<someone@example.net>');
    expect(relaying.code).toBe(550);
    expect(relaying.text).toMatch(/^5\.7\.1 Relaying denied/);
    expect((await smtp.command(`RCPT TO:<${OFFICE}>`)).code).toBe(250);
    const tooMany = await smtp.command(`RCPT TO:<head@${SCHOOL}>`);
    expect(tooMany.code).toBe(452);
    expect(tooMany.text).toMatch(/^4\.5\.3 Too many recipients/);
    expect((await smtp.command('DATA')).code).toBe(354);
    await smtp.write(`Subject: big\r\n\r\n${'x'.repeat(4000)}\r\n.\r\n`);
    const over = await smtp.reply();
    expect(over.code).toBe(552);
    expect(over.text).toMatch(/^5\.3\.4 Message too big/);
  });

  it('SYS-4: with clamd down the answer is 451 4.3.0, and with the next hop down 451 4.4.1 (not reached)', async () => {
    const scannerDown = await gateway({ clamdDown: true });
    const deferred = await fromParent(scannerDown, 'Hello', 'Hello');
    expect(deferred.text).toMatch(/^451 4\.3\.0 The virus scanner is unavailable/);

    const hopDown = await gateway({ nextHopDown: true });
    const later = await fromParent(hopDown, 'Absence', 'Ill today.');
    expect(later.text).toMatch(
      /^451 4\.4\.1 Not delivered yet: the next mail server could not be reached .*; try again later$/,
    );
  });

  it("the next hop's own answers are passed on with their enhanced codes: 451 4.2.1 for now, 550 5.1.1 for good", async () => {
    const busy = await startDigestSink({
      refuseData: { code: 451, message: '4.2.1 Mailbox busy' },
    });
    const g = await gateway({ hopPort: busy.port });
    const reply = await fromParent(g, 'Absence', 'Ill today.');
    expect(reply.text).toBe(
      '451 4.2.1 Not delivered yet: the next mail server answered "Mailbox busy"; try again later',
    );
    expect((await records(g.store))[0]!.status).toBe('failed');

    const unknown = await startDigestSink({
      refuseRecipient: () => ({ code: 550, message: '5.1.1 No such user here' }),
    });
    const g2 = await gateway({ hopPort: unknown.port });
    const refused = await fromParent(g2, 'Absence', 'Ill today.');
    expect(refused.text).toBe(
      '550 5.1.1 Not delivered: the next mail server answered "No such user here"',
    );
    expect((await records(g2.store))[0]!.status).toBe('rejected');
  });

  it('a next hop that takes the message for one recipient and refuses another is never answered 250: 550 naming who did not get it and that the other did', async () => {
    const sink = await startDigestSink({
      refuseRecipient: (a) => (a.startsWith('gone@') ? { code: 550, message: '5.1.1 Left' } : null),
    });
    const g = await gateway({ hopPort: sink.port });
    const raw = await compose({ from: PARENT, to: OFFICE, subject: 'Both', text: 'Hello.' });
    const reply = await send(g, PARENT, [OFFICE, `gone@${SCHOOL}`], raw);
    expect(reply.code).toBe(550);
    expect(reply.text).toBe(
      `550 5.1.1 Not delivered: to gone@${SCHOOL}: the next mail server answered "Left"; delivered to the 1 other recipient`,
    );
    expect(sink.received.map((m) => m.to)).toEqual([[OFFICE]]);
    expect((await records(g.store))[0]!.status).toBe('rejected');
  });
});
