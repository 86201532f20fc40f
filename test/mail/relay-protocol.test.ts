// The SMTP the relay offers, over real connections: SIZE with the configured limit, STARTTLS
// with the configured certificate, AUTH against Custos accounts (and MAIL-11 for the signed-in
// sender), the recipient limit, pipelining, and 8BITMIME with SMTPUTF8 passing bytes through
// unchanged.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromJson } from '../../src/store/columns.ts';
import { clamdProblem } from '../support/clamd.ts';
import {
  addMailUser,
  type Gateway,
  gateway,
  OFFICE,
  PARENT,
  rawSmtp,
  records,
  SCHOOL,
  send,
  setUpMailGateways,
  splitTrace,
  startDigestSink,
  TEACHER,
} from '../support/mail-gateway.ts';
import { compose } from '../support/mail-samples.ts';

setUpMailGateways();

const PASSWORD = 'correct horse battery staple';
const HOSTNAME = 'gateway.school.test';

const opensslProblem =
  spawnSync('openssl', ['version']).status === 0 ? null : 'openssl is not installed';
if (opensslProblem) console.warn(`[STARTTLS tests] skipping: ${opensslProblem}.`);

/** A self-signed certificate for the gateway's name, made with openssl for this run. */
let tlsDir = '';
const tlsFiles = () => ({
  cert: path.join(tlsDir, 'cert.pem'),
  key: path.join(tlsDir, 'key.pem'),
});
beforeAll(() => {
  if (opensslProblem) return;
  tlsDir = mkdtempSync(path.join(tmpdir(), 'custos-tls-'));
  const { cert, key } = tlsFiles();
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${HOSTNAME}`,
      '-addext',
      `subjectAltName=DNS:${HOSTNAME}`,
    ],
    { stdio: 'ignore' },
  );
});
afterAll(() => {
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
});

/** A gateway offering STARTTLS with the test certificate. */
function tlsGateway(config: Record<string, unknown> = {}): Promise<Gateway> {
  const { cert, key } = tlsFiles();
  return gateway({
    config: { 'mail.relay.tlsCertFile': cert, 'mail.relay.tlsKeyFile': key, ...config },
  });
}

/** Client options: STARTTLS required, the gateway's certificate checked against the test one. */
function overTls(auth?: { user: string; pass: string }): SMTPTransport.Options {
  return {
    ignoreTLS: false,
    requireTLS: true,
    tls: { ca: readFileSync(tlsFiles().cert), servername: HOSTNAME },
    ...(auth ? { auth, authMethod: 'PLAIN' } : {}),
  };
}

const toParent = (from: string, subject = 'Reading books') =>
  compose({ from, to: PARENT, subject, text: 'The reading books go home on Friday.' });

describe.skipIf(clamdProblem !== null)('the SMTP the relay offers', () => {
  it('EHLO advertises SIZE with the configured limit, PIPELINING, 8BITMIME and SMTPUTF8, and no STARTTLS without a certificate; MAIL FROM with a SIZE over the limit gets 552 at once', async () => {
    const g = await gateway({ config: { 'mail.relay.maxMessageBytes': 5 * 1024 * 1024 } });
    const { smtp, ehlo } = await rawSmtp(g.port);
    expect(ehlo.code).toBe(250);
    expect(ehlo.lines).toEqual(
      expect.arrayContaining(['SIZE 5242880', 'PIPELINING', '8BITMIME', 'SMTPUTF8']),
    );
    expect(ehlo.lines).not.toContain('STARTTLS');
    const tooBig = await smtp.command(`MAIL FROM:<${PARENT}> SIZE=6000000`);
    expect(tooBig.code).toBe(552);
    expect((await smtp.command(`MAIL FROM:<${PARENT}> SIZE=1000`)).code).toBe(250);
    expect((await smtp.command('QUIT')).code).toBe(221);
  });

  it.skipIf(opensslProblem !== null)(
    'STARTTLS is offered when tlsCertFile and tlsKeyFile are set, and a message sent over it (certificate checked) is delivered, traced as ESMTPS',
    async () => {
      const g = await tlsGateway();
      const { smtp, ehlo } = await rawSmtp(g.port);
      expect(ehlo.lines).toContain('STARTTLS');
      expect((await smtp.command('STARTTLS')).code).toBe(220);
      smtp.socket.destroy();

      const raw = await compose({ from: PARENT, to: OFFICE, subject: 'Over TLS', text: 'Hi.' });
      const reply = await send(g, PARENT, [OFFICE], raw, overTls());
      expect(reply.code, reply.text).toBe(250);
      expect(reply.text).toMatch(/delivered as/);
      expect(g.sink.received.map((m) => m.subject)).toEqual(['Over TLS']);
      // RFC 3848: the trace says the message came over TLS.
      expect(splitTrace(g.sink.received[0]!.raw, HOSTNAME).unfolded).toContain(' with ESMTPS id ');
    },
  );

  it.skipIf(opensslProblem !== null)(
    'AUTH PLAIN with a Custos account makes mail outbound: delivered to the smart host with the MAIL-4 disclaimer, traced as ESMTPSA and recorded with the person; without it the same message is refused as relaying',
    async () => {
      const g = await tlsGateway();
      const personId = await addMailUser(g, TEACHER, PASSWORD);
      const raw = await toParent(TEACHER);

      const stranger = await send(g, TEACHER, [PARENT], raw, overTls());
      expect(stranger.code).toBe(550);
      expect(stranger.text).toMatch(/Relaying denied/);

      const reply = await send(
        g,
        TEACHER,
        [PARENT],
        raw,
        overTls({ user: TEACHER, pass: PASSWORD }),
      );
      expect(reply.code, reply.text).toBe(250);
      expect(reply.text).toMatch(/delivered as/);
      expect(g.sink.received).toHaveLength(1);
      expect(g.sink.received[0]!.to).toEqual([PARENT]);
      expect(g.sink.received[0]!.text).toContain('monitors e-mail for viruses');
      expect(splitTrace(g.sink.received[0]!.raw, HOSTNAME).unfolded).toContain(' with ESMTPSA id ');
      const [row] = await records(g.store);
      expect(row).toMatchObject({
        direction: 'outbound',
        status: 'delivered',
        auth_user: TEACHER,
        person_id: personId,
      });
    },
  );

  it.skipIf(opensslProblem !== null)(
    'a wrong password gets 535 5.7.8, and AUTH before STARTTLS is refused 538 5.7.11 while insecure AUTH is off',
    async () => {
      const g = await tlsGateway();
      await addMailUser(g, TEACHER, PASSWORD);
      const raw = await toParent(TEACHER);
      const wrong = await send(g, TEACHER, [PARENT], raw, overTls({ user: TEACHER, pass: 'nope' }));
      expect(wrong.code).toBe(535);
      expect(wrong.text).toMatch(/^535 5\.7\.8 Authentication failed/);

      const { smtp } = await rawSmtp(g.port);
      const plain = Buffer.from(`\0${TEACHER}\0${PASSWORD}`).toString('base64');
      const refused = await smtp.command(`AUTH PLAIN ${plain}`);
      expect(refused.code).toBe(538);
      // RFC 4954: encryption required for the mechanism.
      expect(refused.text).toMatch(/^5\.7\.11 /);

      expect(g.sink.received).toHaveLength(0);
      expect(await records(g.store)).toHaveLength(0);
      // The right password still works after the wrong one.
      const right = await send(
        g,
        TEACHER,
        [PARENT],
        raw,
        overTls({ user: TEACHER, pass: PASSWORD }),
      );
      expect(right.code, right.text).toBe(250);
    },
  );

  it.skipIf(opensslProblem !== null)(
    "MAIL-11: a signed-in sender using someone else's From address, or none, is held for review",
    async () => {
      const g = await tlsGateway();
      await addMailUser(g, TEACHER, PASSWORD);
      const auth = overTls({ user: TEACHER, pass: PASSWORD });

      const forged = await toParent(`head@${SCHOOL}`, 'From the head, honestly');
      const reply = await send(g, TEACHER, [PARENT], forged, auth);
      expect(reply.code).toBe(250);
      expect(reply.text).toMatch(/Held for review under MAIL-11/);
      expect(reply.text).toMatch(new RegExp(`head@${SCHOOL}`));

      const noFrom = Buffer.from(`To: ${PARENT}\r\nSubject: no sender\r\n\r\nWho sent this?\r\n`);
      const second = await send(g, TEACHER, [PARENT], noFrom, auth);
      expect(second.code).toBe(250);
      expect(second.text).toMatch(/Held for review under MAIL-11: the message has no From address/);

      expect(g.sink.received).toHaveLength(0);
      const rows = await records(g.store);
      expect(rows.map((r) => [r.status, r.direction, r.auth_user])).toEqual([
        ['held', 'outbound', TEACHER],
        ['held', 'outbound', TEACHER],
      ]);
      const verdicts = fromJson<{ rule: string; clauseIds: string[] }[]>(rows[0]!.verdicts, []);
      expect(verdicts).toContainEqual(
        expect.objectContaining({ rule: 'from-address', clauseIds: ['MAIL-11'] }),
      );
    },
  );

  it('the recipient limit answers 452 (4.5.3) to the recipient over it, and the message goes to the ones accepted', async () => {
    const g = await gateway({ config: { 'mail.relay.maxRecipients': 3 } });
    const { smtp } = await rawSmtp(g.port);
    expect((await smtp.command(`MAIL FROM:<${PARENT}>`)).code).toBe(250);
    const to = ['office', 'head', 'bursar', 'senco'].map((n) => `${n}@${SCHOOL}`);
    const replies = [];
    for (const r of to) replies.push(await smtp.command(`RCPT TO:<${r}>`));
    expect(replies.map((r) => r.code)).toEqual([250, 250, 250, 452]);
    expect(replies[3]!.text).toMatch(/4\.5\.3 Too many recipients: at most 3/);
    expect((await smtp.command('DATA')).code).toBe(354);
    await smtp.write(`From: ${PARENT}\r\nSubject: to three\r\n\r\nHello.\r\n.\r\n`);
    expect((await smtp.reply()).code).toBe(250);
    expect(g.sink.received[0]!.to).toEqual(to.slice(0, 3));
  });

  it('pipelining: the envelope and DATA in one write, then the message and QUIT in another, are answered in order', async () => {
    const g = await gateway();
    const { smtp, ehlo } = await rawSmtp(g.port);
    expect(ehlo.lines).toContain('PIPELINING');
    await smtp.write(
      [
        `MAIL FROM:<${PARENT}>`,
        `RCPT TO:<${OFFICE}>`,
        'RCPT TO:<someone@example.net>',
        `RCPT TO:<head@${SCHOOL}>`,
        'DATA',
        '',
      ].join('\r\n'),
    );
    const envelope = [];
    for (let i = 0; i < 5; i++) envelope.push(await smtp.reply());
    expect(envelope.map((r) => r.code)).toEqual([250, 250, 550, 250, 354]);
    expect(envelope[2]!.text).toMatch(/Relaying denied/);
    await smtp.write(`From: ${PARENT}\r\nSubject: pipelined\r\n\r\nHello.\r\n.\r\nQUIT\r\n`);
    const accepted = await smtp.reply();
    expect(accepted.code, accepted.text).toBe(250);
    expect(accepted.text).toMatch(/delivered as/);
    expect((await smtp.reply()).code).toBe(221);
    await smtp.closed;
    expect(g.sink.received.map((m) => [m.subject, m.to])).toEqual([
      ['pipelined', [OFFICE, `head@${SCHOOL}`]],
    ]);
  });

  it('8BITMIME and SMTPUTF8: an internationalised address and an 8-bit body pass through to the next hop byte for byte, announced as such', async () => {
    const sink = await startDigestSink({ keep: true });
    const g = await gateway({ hopPort: sink.port });
    const from = 'élève@exämple.org';
    const to = `jöhn@${SCHOOL}`;
    const raw = Buffer.concat([
      Buffer.from(
        `From: Élève <${from}>\r\nTo: Jöhn <${to}>\r\nSubject: Grüße aus München\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÇa coûte 5 € — ½ price.\r\n`,
      ),
      // Bytes that are not UTF-8 at all: 8-bit is 8-bit.
      Buffer.from([
        0x4c, 0x61, 0x74, 0x69, 0x6e, 0x2d, 0x31, 0x3a, 0x20, 0xe9, 0xe8, 0xff, 0x0d, 0x0a,
      ]),
    ]);
    const { smtp } = await rawSmtp(g.port);
    expect((await smtp.command(`MAIL FROM:<${from}> BODY=8BITMIME SMTPUTF8`)).code).toBe(250);
    expect((await smtp.command(`RCPT TO:<${to}>`)).code).toBe(250);
    expect((await smtp.command('DATA')).code).toBe(354);
    await smtp.write(Buffer.concat([raw, Buffer.from('.\r\n')]));
    const reply = await smtp.reply();
    expect(reply.code, reply.text).toBe(250);
    expect(reply.text).toMatch(/delivered as/);

    expect(sink.received).toHaveLength(1);
    const got = sink.received[0]!;
    expect(got.from).toBe(from);
    expect(got.to).toEqual([to]);
    expect(splitTrace(got.raw!).rest.equals(raw)).toBe(true);
    expect(got.smtpUtf8).toBe(true);
    expect(got.bodyType).toBe('8bitmime');
    const [row] = await records(g.store);
    expect(row).toMatchObject({ subject: 'Grüße aus München', envelope_from: from });
  });
});
