// The mail gateway's reports over HTTP on both databases: the activity in aggregate (counts, never
// who wrote to whom), "test a message" (every verdict and why, what the attachments really are,
// the virus scan when clamd answers; nothing sent or kept) and the mail rules in force.
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { signedInAs } from '../../test/support/app.ts';
import { clamdProblem, startClamd, type TestClamd } from '../../test/support/clamd.ts';
import { type MailContext, mailContext, SCHOOL } from '../../test/support/mail-records.ts';
import { compose, eicar, windowsExecutable } from '../../test/support/mail-samples.ts';
import { closeRelays } from '../../test/support/smtp-relay.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import type { Store } from '../store/database.ts';
import { ukDayOf } from './activity.service.ts';

let clamd: TestClamd | undefined;
beforeAll(async () => {
  if (clamdProblem === null) clamd = await startClamd();
});
afterAll(async () => {
  await clamd?.stop();
});

const opened: { app: FastifyInstance; mail: MailContext }[] = [];
afterEach(async () => {
  while (opened.length) {
    const { app, mail } = opened.pop()!;
    await app.close();
    mail.close();
  }
  await closeRelays();
});

async function setup(
  store: Store,
  options: { clamdPort?: number; config?: Record<string, unknown> } = {},
) {
  const mail = await mailContext(store, options);
  const { app } = await buildApp(mail.ctx);
  opened.push({ app, mail });
  return { ...mail, app };
}

const invoice = () =>
  compose({
    from: 'Supplier Accounts <accounts@supplier.example>',
    to: `office@${SCHOOL}`,
    cc: `bursar@${SCHOOL}`,
    subject: 'Invoice 2291',
    text: 'Please find the invoice attached.',
    attachments: [
      { filename: 'invoice.pdf', content: windowsExecutable(), contentType: 'application/pdf' },
    ],
  });

const testMessage = (
  app: FastifyInstance,
  headers: Record<string, string>,
  raw: Buffer | string,
  options: { contentType?: string; direction?: string } = {},
) =>
  app.inject({
    method: 'POST',
    url: `/api/mail/test${options.direction ? `?direction=${options.direction}` : ''}`,
    headers: { ...headers, 'content-type': options.contentType ?? 'message/rfc822' },
    payload: raw,
  });

describeEachStore('the mail gateway reports over HTTP', (db) => {
  it('activity: messages by day and direction with their outcome, verdicts by rule and action; no addresses, no subjects', async () => {
    const t = await setup(db.store);
    const newStarter = await compose({
      from: `office@${SCHOOL}`,
      to: 'payroll@example.org',
      subject: 'New starter',
      text: 'Her National Insurance number is AB 12 34 56 C.',
    });
    expect(
      (
        await t.receive({
          direction: 'outbound',
          from: `office@${SCHOOL}`,
          to: ['payroll@example.org'],
          raw: newStarter,
        })
      ).code,
    ).toBe(250);
    const absence = await compose({
      from: 'parent@example.org',
      to: `office@${SCHOOL}`,
      subject: 'Absence of Sam',
      text: 'Sam is ill today.',
    });
    expect(
      (
        await t.receive({
          direction: 'inbound',
          from: 'parent@example.org',
          to: [`office@${SCHOOL}`],
          raw: absence,
        })
      ).code,
    ).toBe(250);
    expect(
      (
        await t.receive({
          direction: 'inbound',
          from: 'accounts@supplier.example',
          to: [`office@${SCHOOL}`],
          raw: await invoice(),
        })
      ).code,
    ).toBe(550);
    await expect.poll(() => t.sink.received.length).toBe(1);

    const it = await signedInAs(t.ctx, ['it_support']);
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/mail/activity',
      headers: it.headers,
    });
    expect(res.statusCode).toBe(200);
    const today = ukDayOf(Date.now());
    const body = res.json();
    expect(body).toMatchObject({
      to: today,
      total: { messages: 3, inbound: 2, outbound: 1 },
      heldNow: 1,
    });
    expect(body.byDay).toEqual([
      expect.objectContaining({
        day: today,
        direction: 'inbound',
        messages: 2,
        delivered: 1,
        rejected: 1,
      }),
      expect.objectContaining({ day: today, direction: 'outbound', messages: 1, held: 1 }),
    ]);
    expect(body.byRule).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          rule: 'personal-data-external',
          action: 'hold',
          clauseIds: ['MAIL-12', 'MIS-2(d)'],
          messages: 1,
        }),
        expect.objectContaining({ rule: 'attachment-type', action: 'reject', messages: 1 }),
      ]),
    );
    expect(body.byRuleDay).toEqual(
      expect.arrayContaining([{ day: today, rule: 'personal-data-external', messages: 1 }]),
    );
    for (const secret of [
      'payroll@',
      'parent@',
      'office@',
      'New starter',
      'Absence',
      'invoice.pdf',
    ]) {
      expect(res.body).not.toContain(secret);
    }

    const headteacher = await signedInAs(t.ctx, ['headteacher']);
    const staff = await signedInAs(t.ctx, ['staff']);
    const get = (headers: Record<string, string>, query = '') =>
      t.app.inject({ method: 'GET', url: `/api/mail/activity${query}`, headers });
    expect((await get(headteacher.headers)).statusCode).toBe(200);
    expect((await get(staff.headers)).statusCode).toBe(403);
    const backwards = await get(it.headers, '?from=2025-03-10&to=2025-03-01');
    expect(backwards.statusCode).toBe(400);
    const earlier = await get(it.headers, '?from=2025-03-01&to=2025-03-10');
    expect(earlier.json()).toMatchObject({ total: { messages: 0 }, byDay: [], byRule: [] });
  });

  it('SYS-8: test a message answers every verdict with its clauses, what the attachments really are, and that clamd did not answer; nothing is sent or kept', async () => {
    const t = await setup(db.store);
    const it = await signedInAs(t.ctx, ['it_support']);
    const res = await testMessage(t.app, it.headers, await invoice());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      direction: 'inbound',
      directionGuessed: true,
      sender: 'accounts@supplier.example',
      recipients: [`office@${SCHOOL}`, `bursar@${SCHOOL}`],
      subject: 'Invoice 2291',
      private: false,
      action: 'reject',
      outcome: expect.stringMatching(
        /^The gateway would refuse it \(550\) under SYS-7, SYS-8: .*defer it \(4xx\)/,
      ),
      verdicts: [
        {
          rule: 'attachment-type',
          action: 'reject',
          reason: 'invoice.pdf is really a Windows program',
          clauses: [{ id: 'SYS-7' }, { id: 'SYS-8' }],
        },
      ],
      attachments: [
        {
          name: 'invoice.pdf',
          declaredType: 'application/pdf',
          extension: 'exe',
          executable: true,
          disguised: true,
          description: 'invoice.pdf is really a Windows program',
        },
      ],
      scan: { status: 'unavailable', detail: expect.stringMatching(/not scanned/) },
    });
    expect(await db.store.db.selectFrom('mail_messages').selectAll().execute()).toEqual([]);
    expect(await db.store.db.selectFrom('notification_outbox').selectAll().execute()).toEqual([]);
    expect(t.sink.received).toHaveLength(0);

    // The same message judged as outbound: the attachment policy for outbound mail applies.
    const outbound = await testMessage(t.app, it.headers, await invoice(), {
      direction: 'outbound',
    });
    expect(outbound.json()).toMatchObject({
      direction: 'outbound',
      directionGuessed: false,
      action: 'reject',
    });

    // A harmless message from the school: delivered with the disclaimer.
    const fine = await compose({
      from: `teacher@${SCHOOL}`,
      to: 'parent@example.org',
      subject: 'Trip on Friday',
      text: 'The trip leaves at nine.',
    });
    expect(
      (
        await testMessage(t.app, it.headers, fine, { contentType: 'application/octet-stream' })
      ).json(),
    ).toMatchObject({
      direction: 'outbound',
      action: 'allow',
      verdicts: [],
      outcome: expect.stringMatching(/adding the disclaimer \(MAIL-4\)/),
    });
  });

  it('test a message takes only a message, within the size the relay takes, from those allowed', async () => {
    const t = await setup(db.store, { config: { 'mail.relay.maxMessageBytes': 2048 } });
    const sbm = await signedInAs(t.ctx, ['sbm']);
    const json = await t.app.inject({
      method: 'POST',
      url: '/api/mail/test',
      headers: sbm.headers,
      payload: { raw: 'x' },
    });
    expect(json.statusCode).toBe(415);
    expect((await testMessage(t.app, sbm.headers, Buffer.alloc(0))).statusCode).toBe(400);
    const big = await compose({ subject: 'Big', text: 'x'.repeat(4000) });
    const tooLarge = await testMessage(t.app, sbm.headers, big);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().error.code).toBe('payload_too_large');
    const staff = await signedInAs(t.ctx, ['staff']);
    expect((await testMessage(t.app, staff.headers, 'Subject: hi\r\n\r\nhi\r\n')).statusCode).toBe(
      403,
    );
  });

  it('SYS-4, SYS-7: the scanner status says mail waits while clamd is away, and says loudly when fail-open lets it pass unscanned', async () => {
    const closed = await setup(db.store);
    const sbm = await signedInAs(closed.ctx, ['sbm']);
    const ask = async (app: FastifyInstance, headers: Record<string, string>) =>
      (await app.inject({ method: 'GET', url: '/api/mail/scanner', headers })).json();
    expect(await ask(closed.app, sbm.headers)).toMatchObject({
      answering: false,
      failOpen: false,
      message: expect.stringMatching(/deferred.*Start clamd/),
    });
    const open = await setup(db.store, { config: { 'mail.clamd.failOpen': true } });
    const support = await signedInAs(open.ctx, ['it_support']);
    expect(await ask(open.app, support.headers)).toMatchObject({
      answering: false,
      failOpen: true,
      message: expect.stringMatching(/passing UNSCANNED/),
    });
    const staff = await signedInAs(open.ctx, ['staff']);
    const refused = await open.app.inject({
      method: 'GET',
      url: '/api/mail/scanner',
      headers: staff.headers,
    });
    expect(refused.statusCode).toBe(403);
  });

  it.skipIf(clamdProblem !== null)(
    'SYS-4: the scanner status says when clamd answers',
    async () => {
      const t = await setup(db.store, { clamdPort: clamd!.port });
      const sbm = await signedInAs(t.ctx, ['sbm']);
      const status = await t.app.inject({
        method: 'GET',
        url: '/api/mail/scanner',
        headers: sbm.headers,
      });
      expect(status.json()).toMatchObject({
        answering: true,
        failOpen: false,
        message: 'The virus scanner answers: every message is scanned.',
      });
    },
  );

  it.skipIf(clamdProblem !== null)(
    'SYS-4, SYS-7: with clamd answering, a test names the virus it finds',
    async () => {
      const t = await setup(db.store, { clamdPort: clamd!.port });
      const sbm = await signedInAs(t.ctx, ['sbm']);
      const raw = await compose({
        from: 'stranger@example.org',
        to: `office@${SCHOOL}`,
        subject: 'the file',
        text: 'see attached',
        attachments: [{ filename: 'notes.txt', content: eicar() }],
      });
      const body = (await testMessage(t.app, sbm.headers, raw)).json();
      expect(body).toMatchObject({
        action: 'reject',
        scan: { status: 'infected', version: expect.stringMatching(/ClamAV/) },
        verdicts: expect.arrayContaining([
          expect.objectContaining({ rule: 'virus', action: 'reject', name: 'Virus found' }),
        ]),
      });
      expect(body.outcome).not.toMatch(/did not answer/);
      const clean = await compose({ subject: 'Minutes', text: 'Minutes of the meeting.' });
      expect((await testMessage(t.app, sbm.headers, clean)).json().scan).toMatchObject({
        status: 'clean',
        detail: 'No virus was found.',
      });
    },
  );

  it("the mail rules in force: the pack's rules with what they look for, the disclaimer and the attachment policy", async () => {
    const t = await setup(db.store);
    const it = await signedInAs(t.ctx, ['it_support']);
    const res = await t.app.inject({ method: 'GET', url: '/api/mail/rules', headers: it.headers });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.domains).toEqual([SCHOOL]);
    expect(body.disclaimer.text).toContain('monitors e-mail for viruses');
    expect(body.disclaimer.clauses).toEqual([{ id: 'MAIL-4', title: expect.any(String) }]);
    expect(body.attachments.inbound).toEqual({
      executables: 'reject',
      scripts: 'reject',
      encryptedArchives: 'hold',
    });
    expect(body.rules.find((r: { id: string }) => r.id === 'personal-data-external')).toMatchObject(
      {
        kind: 'personal-data',
        direction: 'outbound',
        externalOnly: true,
        action: 'hold',
        notify: ['School Business Manager'],
        matches: expect.arrayContaining(['National Insurance numbers']),
      },
    );
    expect(body.builtIn.map((b: { rule: string }) => b.rule)).toEqual(
      expect.arrayContaining(['virus', 'from-address', 'private']),
    );
    const staff = await signedInAs(t.ctx, ['staff']);
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/mail/rules', headers: staff.headers }))
        .statusCode,
    ).toBe(403);
  });
});
