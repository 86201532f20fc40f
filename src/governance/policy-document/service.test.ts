import { describe, expect, it } from 'vitest';
import { testContext } from '../../../test/support/app.ts';
import { describeEachStore } from '../../../test/support/stores.ts';
import type { AppContext } from '../../api/context.ts';
import type { Actor } from '../../audit/service.ts';
import { createDirectoryService, type PersonInput } from '../../directory/service.ts';
import { listOutbox } from '../../notify/outbox.ts';
import { renderDocumentHtml } from './document.ts';
import { KIND_ACCEPTANCE_REMINDER, KIND_PUBLISHED, KIND_REVIEW_REMINDER } from './messages.ts';
import { renderDocumentPdf } from './pdf.ts';
import { createPolicyDocumentService, type PolicyDocumentService } from './service.ts';

const SBM: Actor = { id: null, label: 'h.bains@palfreyinfant.example' };
const META = { ip: '192.0.2.44', userAgent: 'vitest' };

const VERSION_6 = {
  description: 'Annual review: clarified the rules on personal devices.',
  releaseDate: '2025-02-20',
  approval: { body: 'Full Governing Body', date: '2025-02-18', signatory: 'A. Chair' },
};

interface Setup {
  ctx: AppContext;
  service: PolicyDocumentService;
  /** Moves the clock. */
  at(iso: string): void;
  person(input: Partial<PersonInput> & { email: string }): Promise<string>;
}

async function setup(
  store: Parameters<typeof testContext>[0],
  start = '2025-03-03T09:00:00Z',
  config: Record<string, unknown> = {},
): Promise<Setup> {
  let now = new Date(start);
  const clock = () => now;
  const ctx = await testContext(store, { clock, config });
  const service = createPolicyDocumentService({
    store,
    audit: ctx.audit,
    policy: ctx.policy,
    config: ctx.config,
    clock,
  });
  const directory = createDirectoryService({
    store,
    audit: ctx.audit,
    policy: ctx.policy,
    clock,
  });
  return {
    ctx,
    service,
    at(iso) {
      now = new Date(iso);
    },
    async person(input) {
      const [given, family] = input.email.split('@')[0]!.split('.');
      const person = await directory.createPerson(
        {
          givenName: given ?? 'Someone',
          familyName: family ?? 'Else',
          kind: 'employee',
          groups: ['staff'],
          ...input,
        },
        SBM,
      );
      return person.id;
    },
  };
}

describeEachStore('the policy as a published document', (db) => {
  it('GOV-4: on first start versions 1 to 5 are recorded from the change history, version 5 in force and agreed by the Full Governing Body on 04.12.2024', async () => {
    const { service, ctx } = await setup(db.store);
    expect(await service.ensureSeeded()).toEqual({ seeded: 5 });
    const versions = await service.listVersions();
    expect(versions.map((v) => [v.number, v.status])).toEqual([
      [5, 'current'],
      [4, 'superseded'],
      [3, 'superseded'],
      [2, 'superseded'],
      [1, 'superseded'],
    ]);
    const five = versions[0]!;
    expect(five.approval).toEqual({
      body: 'Full Governing Body',
      date: '2024-12-04',
      signatory: null,
    });
    expect(five.releaseDate).toBe('2024-11-18');
    expect(five.hasText).toBe(true);
    expect(five.packSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(versions.at(-1)).toMatchObject({ description: 'Initial Issue', hasText: false });
    expect(versions.find((v) => v.number === 2)?.releaseDate).toBeNull();

    // A second start (another service over the same store) records nothing more.
    const again = createPolicyDocumentService({
      store: db.store,
      audit: ctx.audit,
      policy: ctx.policy,
      config: ctx.config,
    });
    expect(await again.ensureSeeded()).toEqual({ seeded: 0 });
    expect(await again.listVersions()).toHaveLength(5);
    const entries = await ctx.audit.list({ action: 'policy.versions-recorded' });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.clauseIds).toEqual(['GOV-3', 'GOV-4']);
  });

  it('GOV-6: publishing version 6 supersedes version 5, keeps its record, and asks everyone to accept again', async () => {
    const s = await setup(db.store);
    const amy = await s.person({ email: 'amy.one@palfreyinfant.example' });
    await s.service.accept(5, amy, META, SBM);
    expect((await s.service.myAcceptance(amy)).acceptedAt).not.toBeNull();
    const before = await s.service.getVersion(5);

    const six = await s.service.publish(VERSION_6, SBM);
    expect(six).toMatchObject({
      number: 6,
      status: 'current',
      source: 'published',
      approval: VERSION_6.approval,
      releaseDate: '2025-02-20',
      publishedBy: SBM.label,
    });
    const five = await s.service.getVersion(5);
    expect(five.status).toBe('superseded');
    expect(five.supersededAt).not.toBeNull();
    // GOV-4: nothing of version 5's record changed but its status.
    expect({ ...five, status: 'x', supersededAt: 'x' }).toEqual({
      ...before,
      status: 'x',
      supersededAt: 'x',
    });
    // Amy accepted version 5, not 6: she is asked again, and told so by e-mail.
    expect(await s.service.myAcceptance(amy)).toEqual({ version: 6, acceptedAt: null });
    const mail = await listOutbox(db.store.db, { kind: KIND_PUBLISHED });
    expect(mail.map((m) => m.to)).toEqual(['amy.one@palfreyinfant.example']);
    expect(mail[0]!.subject).toContain('version 6');
    const [entry] = await s.ctx.audit.list({ action: 'policy.version-published' });
    expect(entry!.clauseIds).toEqual(['GOV-6', 'GOV-4', 'GOV-3']);
    expect(entry!.details).toMatchObject({ number: 6, supersedes: 5, messagesQueued: 1 });

    const seven = await s.service.publish({ ...VERSION_6, description: 'Seven' }, SBM);
    expect(seven.number).toBe(7);
    expect((await s.service.listVersions()).filter((v) => v.status === 'current')).toHaveLength(1);
  });

  it('GOV-3: a version cannot be published with an approval dated in the future', async () => {
    const s = await setup(db.store);
    await expect(
      s.service.publish(
        { ...VERSION_6, approval: { ...VERSION_6.approval, date: '2025-03-04' } },
        SBM,
      ),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await s.service.currentVersion()).number).toBe(5);
  });

  it('GOV-5: accepting records the person, version, time and address once; only the version in force can be accepted', async () => {
    const s = await setup(db.store);
    const ben = await s.person({ email: 'ben.two@palfreyinfant.example' });
    const first = await s.service.accept(5, ben, META, SBM);
    expect(first).toEqual({
      version: 5,
      acceptedAt: '2025-03-03T09:00:00.000Z',
      alreadyAccepted: false,
    });
    s.at('2025-03-04T09:00:00Z');
    const second = await s.service.accept(5, ben, META, SBM);
    expect(second).toEqual({ ...first, alreadyAccepted: true });
    const rows = await db.store.db.selectFrom('policy_acceptances').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ person_id: ben, ip: '192.0.2.44', user_agent: 'vitest' });
    expect(await s.ctx.audit.list({ action: 'policy.accepted' })).toHaveLength(1);

    await expect(s.service.accept(4, ben, META, SBM)).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('accept version 5'),
    });
    await expect(s.service.accept(9, ben, META, SBM)).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('GOV-5: the acceptance list counts who has and has not accepted, filters by group and kind, and a new starter appears from their start date', async () => {
    const s = await setup(db.store);
    const amy = await s.person({
      email: 'amy.one@palfreyinfant.example',
      groups: ['staff', 'teaching'],
    });
    await s.person({ email: 'ben.two@palfreyinfant.example', groups: ['staff', 'teaching'] });
    await s.person({ email: 'cara.three@palfreyinfant.example', kind: 'volunteer' });
    await s.person({ email: 'dan.four@palfreyinfant.example', status: 'left' });
    await s.person({ email: 'eve.five@palfreyinfant.example', startDate: '2025-03-10' });
    await s.service.accept(5, amy, META, SBM);

    const all = await s.service.acceptance();
    expect(all.version.number).toBe(5);
    expect(all.totals).toEqual({ inScope: 3, accepted: 1, notAccepted: 2, percent: 33.3 });
    expect(all.people.map((p) => [p.email, p.acceptedAt !== null])).toEqual(
      expect.arrayContaining([
        ['amy.one@palfreyinfant.example', true],
        ['ben.two@palfreyinfant.example', false],
        ['cara.three@palfreyinfant.example', false],
      ]),
    );
    expect(all.groups).toEqual(['staff', 'teaching']);

    const teaching = await s.service.acceptance({ group: 'Teaching' });
    expect(teaching.totals).toMatchObject({ inScope: 2, accepted: 1, percent: 50 });
    const volunteers = await s.service.acceptance({ kind: 'volunteer' });
    expect(volunteers.people.map((p) => p.email)).toEqual(['cara.three@palfreyinfant.example']);
    const waiting = await s.service.acceptance({ status: 'not-accepted' });
    expect(waiting.people).toHaveLength(2);
    expect(waiting.totals.inScope).toBe(3);

    // Eve starts on 10 March: from that day she is in scope and has not accepted.
    s.at('2025-03-10T07:00:00Z');
    const later = await s.service.acceptance({ status: 'not-accepted' });
    const eve = later.people.find((p) => p.email === 'eve.five@palfreyinfant.example');
    expect(eve).toMatchObject({ askedSince: '2025-03-10', acceptedAt: null });
    expect(later.totals.inScope).toBe(4);
  });

  it('GOV-5: reminders are queued to everyone who has not accepted, at most once a day each', async () => {
    const s = await setup(db.store);
    const amy = await s.person({ email: 'amy.one@palfreyinfant.example' });
    await s.person({ email: 'ben.two@palfreyinfant.example' });
    await s.person({ email: 'cara.three@palfreyinfant.example' });
    await s.service.accept(5, amy, META, SBM);

    expect(await s.service.remind(SBM)).toEqual({
      queued: 2,
      alreadyRemindedToday: 0,
      notificationsEnabled: false,
    });
    expect(await s.service.remind(SBM)).toMatchObject({ queued: 0, alreadyRemindedToday: 2 });
    s.at('2025-03-04T08:00:00Z');
    expect(await s.service.remind(SBM)).toMatchObject({ queued: 2 });

    const mail = await listOutbox(db.store.db, { kind: KIND_ACCEPTANCE_REMINDER });
    expect(mail).toHaveLength(4);
    expect(mail.every((m) => m.to !== 'amy.one@palfreyinfant.example')).toBe(true);
    expect(mail[0]!.text).toContain('http://localhost:8080/policy');
    const entries = await s.ctx.audit.list({ action: 'policy.acceptance-reminders-queued' });
    expect(entries).toHaveLength(3);
    expect(entries.every((e) => e.clauseIds.includes('GOV-5'))).toBe(true);
  });

  it('GOV-5: the scheduled check reminds people who have not accepted after the configured days, then every as many days', async () => {
    const s = await setup(db.store, '2025-03-03T09:00:00Z', {
      'notifications.acceptanceReminderDays': 7,
    });
    await s.service.ensureSeeded();
    await s.person({ email: 'ben.two@palfreyinfant.example' });
    const count = async (iso: string) => {
      s.at(iso);
      return (await s.service.runScheduledReminders()).acceptanceReminders;
    };
    expect(await count('2025-03-09T09:00:00Z')).toBe(0); // six days
    expect(await count('2025-03-10T09:00:00Z')).toBe(1); // seven days
    expect(await count('2025-03-10T15:00:00Z')).toBe(0); // once that day
    expect(await count('2025-03-16T09:00:00Z')).toBe(0);
    expect(await count('2025-03-17T09:00:00Z')).toBe(1);
  });

  it('GOV-1: the owner is reminded before the review falls due and weekly once it is overdue; a new version moves the date on', async () => {
    const s = await setup(db.store, '2025-06-01T09:00:00Z', {
      'notifications.reviewReminderDays': 30,
    });
    await s.person({ email: 'harriet.bains@palfreyinfant.example', roles: ['sbm'] });
    await s.person({ email: 'amy.one@palfreyinfant.example' });
    const review = async (iso: string) => {
      s.at(iso);
      return (await s.service.runScheduledReminders()).reviewReminders;
    };
    expect(await s.service.review()).toMatchObject({ due: '2025-12-04', state: 'ok' });
    expect(await review('2025-11-03T09:00:00Z')).toBe(0);
    expect(await review('2025-11-04T09:00:00Z')).toBe(1);
    expect(await review('2025-11-20T09:00:00Z')).toBe(0);
    expect(await s.service.review()).toMatchObject({ state: 'due-soon', daysLeft: 14 });
    expect(await review('2025-12-05T09:00:00Z')).toBe(1);
    expect(await s.service.review()).toMatchObject({ state: 'overdue', daysLeft: -1 });
    expect(await review('2025-12-08T09:00:00Z')).toBe(0);
    expect(await review('2025-12-12T09:00:00Z')).toBe(1);
    const mail = await listOutbox(db.store.db, { kind: KIND_REVIEW_REMINDER });
    expect(mail.map((m) => m.to)).toEqual([
      'harriet.bains@palfreyinfant.example',
      'harriet.bains@palfreyinfant.example',
      'harriet.bains@palfreyinfant.example',
    ]);
    expect(mail[1]!.subject).toMatch(/^Overdue/);

    await s.service.publish(
      {
        ...VERSION_6,
        releaseDate: '2025-12-12',
        approval: { ...VERSION_6.approval, date: '2025-12-10' },
      },
      SBM,
    );
    expect(await s.service.review()).toMatchObject({ due: '2026-12-12', state: 'ok' });
    expect(await review('2025-12-19T09:00:00Z')).toBe(0);
  });

  it('GOV-2: the document of a version carries its approval, the history and every clause; the PDF is a real PDF', async () => {
    const s = await setup(db.store);
    await s.service.publish(VERSION_6, SBM);
    const model = await s.service.documentOf('current');
    expect(model.version).toMatchObject({ number: 6, approval: VERSION_6.approval });
    expect(model.history.map((h) => h.number)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(model.clauses?.map((c) => c.id)).toContain('SYS-5');
    const html = renderDocumentHtml(model);
    expect(html).toContain('<h1>Electronic Information and Communications Policy</h1>');
    expect(html).toContain('Agreed by the Full Governing Body on 18.02.2025; signed by A. Chair');
    expect(html).toContain('id="GOV-5"');
    expect(html).toContain('Initial Issue');

    const old = await s.service.documentOf(1);
    expect(old.clauses).toBeNull();
    expect(renderDocumentHtml(old)).toContain('has been superseded');

    const pdf = await renderDocumentPdf(model, new Date('2025-03-03T09:00:00Z'));
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const pages = pdf.toString('latin1').match(/\/Type \/Page\b/g) ?? [];
    expect(pages.length).toBeGreaterThan(5);
  });
});

describe('escaping in the document', () => {
  it('GOV-2: words from the approval record cannot inject markup into the published page', () => {
    const html = renderDocumentHtml({
      title: 'Policy',
      school: 'School <script>alert(1)</script>',
      website: null,
      owner: { name: 'Ms Bains', role: 'School Business Manager' },
      reviewIntervalMonths: 12,
      version: {
        number: 6,
        description: '<b>x</b>',
        releaseDate: null,
        approval: { body: '"><img src=x onerror=alert(1)>', date: '2025-01-01', signatory: null },
        status: 'current',
      },
      history: [],
      clauses: [],
      packSha256: null,
      publishedAt: '2025-01-01T00:00:00Z',
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;');
  });
});
