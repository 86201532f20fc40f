// The quarantine over HTTP on both databases: held messages are recorded by the gateway's own
// pipeline (sealed with the vault key), listed without their body, released through the next hop
// (a local sink: the released message arrives with the disclaimer) or deleted, each with a note.
import type { FastifyInstance } from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { signedInAs } from '../../test/support/app.ts';
import { type MailContext, mailContext, SCHOOL } from '../../test/support/mail-records.ts';
import { compose } from '../../test/support/mail-samples.ts';
import { closeRelays } from '../../test/support/smtp-relay.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildZip } from '../../test/support/zip-writer.ts';
import { buildApp } from '../api/app.ts';
import { listOutbox } from '../notify/outbox.ts';
import type { Store } from '../store/database.ts';

const NI = 'AB 12 34 56 C';
const opened: { app: FastifyInstance; mail: MailContext }[] = [];

afterEach(async () => {
  while (opened.length) {
    const { app, mail } = opened.pop()!;
    await app.close();
    mail.close();
  }
  await closeRelays();
});

async function setup(store: Store, options: { refuse?: boolean } = {}) {
  const mail = await mailContext(store, options);
  const { app } = await buildApp(mail.ctx);
  opened.push({ app, mail });
  const sbm = await signedInAs(mail.ctx, ['sbm']);
  return { ...mail, app, sbm };
}

/** MAIL-12: an outbound message to an outside address with a National Insurance number. */
async function holdNewStarter(mail: MailContext) {
  const raw = await compose({
    from: `Office <office@${SCHOOL}>`,
    to: 'payroll@example.org',
    subject: 'New starter',
    text: `Her National Insurance number is ${NI}. Contract attached.`,
    attachments: [{ filename: 'contract.pdf', content: Buffer.from('%PDF-1.4\n%test\n') }],
  });
  const reply = await mail.receive({
    direction: 'outbound',
    from: `office@${SCHOOL}`,
    to: ['payroll@example.org'],
    raw,
  });
  expect(reply.code).toBe(250);
  expect(reply.message).toMatch(/Held for review/);
}

const list = async (app: FastifyInstance, headers: Record<string, string>) =>
  app.inject({ method: 'GET', url: '/api/mail/quarantine', headers });

const decide = (
  app: FastifyInstance,
  headers: Record<string, string>,
  id: string,
  what: 'release' | 'delete',
  note: string,
) =>
  app.inject({
    method: 'POST',
    url: `/api/mail/quarantine/${id}/${what}`,
    headers,
    payload: { note },
  });

describeEachStore('the mail quarantine over HTTP', (db) => {
  it('MAIL-12, MON-2: a held message is listed with who, to whom, the subject, its attachments and why; never its body', async () => {
    const t = await setup(db.store);
    await holdNewStarter(t);
    const res = await list(t.app, t.sbm.headers);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      held: 1,
      messages: [
        {
          direction: 'outbound',
          sender: `office@${SCHOOL}`,
          headerFrom: null,
          recipients: ['payroll@example.org'],
          subject: 'New starter',
          private: false,
          action: 'hold',
          attachments: [
            { name: 'contract.pdf', detectedType: 'application/pdf', disguised: false },
          ],
          verdicts: [
            {
              rule: 'personal-data-external',
              action: 'hold',
              reason: '1 National Insurance number to an outside address',
              clauses: [
                { id: 'MAIL-12', title: expect.any(String) },
                { id: 'MIS-2(d)', title: expect.any(String) },
              ],
            },
          ],
        },
      ],
    });
    expect(res.body).not.toContain(NI);
    expect(res.body).not.toContain('Contract attached');

    // IT support may see counts only; staff nothing.
    for (const role of ['it_support', 'staff', 'headteacher']) {
      const other = await signedInAs(t.ctx, [role]);
      expect((await list(t.app, other.headers)).statusCode).toBe(403);
    }
  });

  it('MON-3: a held message marked Private shows that it is, withholds its subject and file names, and can still be released', async () => {
    const t = await setup(db.store);
    const raw = await compose({
      from: 'someone@example.net',
      to: `head@${SCHOOL}`,
      subject: 'About my hospital appointment',
      text: 'Free porn here.',
      headers: { Sensitivity: 'Private' },
      attachments: [
        { filename: 'letter-from-consultant.pdf', content: Buffer.from('%PDF-1.4\n') },
        {
          filename: 'consultant-notes.zip',
          content: buildZip([{ name: 'notes.pdf', data: Buffer.from('%PDF'), encrypted: true }]),
        },
      ],
    });
    expect(
      (
        await t.receive({
          direction: 'inbound',
          from: 'someone@example.net',
          to: [`head@${SCHOOL}`],
          raw,
        })
      ).code,
    ).toBe(250);
    const res = await list(t.app, t.sbm.headers);
    const [held] = res.json().messages;
    expect(held).toMatchObject({
      private: true,
      subject: null,
      sender: 'someone@example.net',
      attachments: [
        { name: null, description: null, detectedType: 'application/pdf' },
        { name: null, description: null, detectedType: 'application/zip', encrypted: true },
        { name: null, depth: 1 },
      ],
      verdicts: [
        { rule: 'sexually-explicit-inbound', clauses: [{ id: 'MAIL-13' }, { id: 'MIS-2(a)' }] },
        {
          rule: 'encrypted-archive',
          action: 'hold',
          reason: expect.stringMatching(/^an attachment \(name withheld\) is an encrypted archive/),
        },
      ],
    });
    expect(res.body).not.toContain('hospital');
    expect(res.body).not.toContain('consultant');

    const released = await decide(
      t.app,
      t.sbm.headers,
      held.id,
      'release',
      'Checked with the Headteacher: a genuine letter.',
    );
    expect(released.statusCode).toBe(200);
    expect(released.json()).toMatchObject({ status: 'released', senderTold: false });
    await expect.poll(() => t.sink.received.length).toBe(1);
    // Inbound mail goes on as it came: no disclaimer.
    expect(t.sink.received[0]!.text).not.toContain('monitors e-mail for viruses');
  });

  it('MAIL-4: releasing hands the message to the next hop with the disclaimer, tells the sender, audits the note, and a second decision is refused', async () => {
    const t = await setup(db.store);
    await holdNewStarter(t);
    const [held] = (await list(t.app, t.sbm.headers)).json().messages;
    const note = 'Payroll is our processor under contract.';
    const res = await decide(t.app, t.sbm.headers, held.id, 'release', note);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: held.id,
      status: 'released',
      senderTold: true,
      nextHopReply: expect.stringMatching(/^250/),
    });
    expect(t.sink.received).toHaveLength(1);
    const delivered = t.sink.received[0]!;
    expect(delivered.to).toEqual(['payroll@example.org']);
    expect(delivered.text).toContain(NI);
    expect(delivered.text.split('monitors e-mail for viruses').length - 1).toBe(1);

    const row = await db.store.db
      .selectFrom('mail_messages')
      .selectAll()
      .where('id', '=', held.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      status: 'released',
      decided_by: t.sbm.personId,
      decision_reason: note,
    });
    const audit = await db.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'mail.released')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ target_id: held.id, reason: note });
    expect(audit.clause_ids).toContain('MAIL-12');
    const told = await listOutbox(db.store.db, { kind: 'mail.released' });
    expect(told.map((m) => m.to)).toEqual([`office@${SCHOOL}`]);
    expect(told[0]!.text).toContain(note);

    const again = await decide(t.app, t.sbm.headers, held.id, 'delete', 'Changed my mind.');
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/no longer held: it was released/),
    });
    expect((await list(t.app, t.sbm.headers)).json()).toEqual({ messages: [], held: 0 });
  });

  it('when the next hop refuses, the answer is 502 with its words and the message stays held', async () => {
    const t = await setup(db.store, { refuse: true });
    await holdNewStarter(t);
    const [held] = (await list(t.app, t.sbm.headers)).json().messages;
    const res = await decide(t.app, t.sbm.headers, held.id, 'release', 'Payroll is our processor.');
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toMatchObject({
      code: 'next_hop_refused',
      message: expect.stringMatching(/Mailbox busy, try later.*stays held/),
    });
    expect((await list(t.app, t.sbm.headers)).json().held).toBe(1);
    expect(await listOutbox(db.store.db, { kind: 'mail.released' })).toEqual([]);
  });

  it('deleting destroys the sealed content, keeps the record with the reason, and tells the sender', async () => {
    const t = await setup(db.store);
    await holdNewStarter(t);
    const [held] = (await list(t.app, t.sbm.headers)).json().messages;
    const reason = 'Send personal data through the secure portal, not by e-mail.';
    const res = await decide(t.app, t.sbm.headers, held.id, 'delete', reason);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'deleted', senderTold: true, nextHopReply: null });
    expect(t.sink.received).toHaveLength(0);
    expect(await db.store.db.selectFrom('mail_content').selectAll().execute()).toEqual([]);
    const row = await db.store.db
      .selectFrom('mail_messages')
      .selectAll()
      .where('id', '=', held.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'deleted', content_id: null, decision_reason: reason });
    const told = await listOutbox(db.store.db, { kind: 'mail.deleted' });
    expect(told[0]!.text).toContain(reason);
  });

  it('a decision needs a note, a message that exists, and the permission to decide', async () => {
    const t = await setup(db.store);
    await holdNewStarter(t);
    const [held] = (await list(t.app, t.sbm.headers)).json().messages;
    const empty = await decide(t.app, t.sbm.headers, held.id, 'release', '  ');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('validation_failed');
    const unknown = await decide(t.app, t.sbm.headers, 'no-such-message', 'delete', 'Not wanted.');
    expect(unknown.statusCode).toBe(404);
    const it = await signedInAs(t.ctx, ['it_support']);
    expect((await decide(t.app, it.headers, held.id, 'release', 'Looks fine.')).statusCode).toBe(
      403,
    );
    expect((await list(t.app, t.sbm.headers)).json().held).toBe(1);
  });

  it('Needs my attention counts the held messages for those who decide them, and nobody else', async () => {
    const t = await setup(db.store);
    await holdNewStarter(t);
    await holdNewStarter(t);
    const attention = async (headers: Record<string, string>) =>
      (await t.app.inject({ method: 'GET', url: '/api/attention', headers })).json().items as {
        id: string;
        title: string;
        href: string;
        count?: number;
      }[];
    expect((await attention(t.sbm.headers)).find((i) => i.id === 'mail-quarantine')).toMatchObject({
      title: '2 messages held for review',
      href: '/mail',
      count: 2,
    });
    for (const role of ['it_support', 'headteacher']) {
      const other = await signedInAs(t.ctx, [role]);
      expect((await attention(other.headers)).some((i) => i.id === 'mail-quarantine')).toBe(false);
    }
  });
});
