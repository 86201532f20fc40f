import { expect, it } from 'vitest';
import { signedInAs, testContext } from '../../../test/support/app.ts';
import { describeEachStore } from '../../../test/support/stores.ts';
import { buildApp } from '../../api/app.ts';

const VERSION_6 = {
  description: 'Annual review: clarified the rules on personal devices.',
  releaseDate: '2025-02-20',
  approval: { body: 'Full Governing Body', date: '2025-02-18', signatory: 'A. Chair' },
};

async function setup(store: Parameters<typeof testContext>[0]) {
  const clock = () => new Date('2025-03-03T09:00:00Z');
  const ctx = await testContext(store, { clock });
  const { app } = await buildApp(ctx);
  return { ctx, app };
}

interface AttentionBody {
  items: { kind: string; title: string; clauseIds: string[]; href: string; count?: number }[];
}

describeEachStore('the policy document API', (db) => {
  it('GOV-6: the School Business Manager publishes version 6 and a teacher is asked to accept it', async () => {
    const { ctx, app } = await setup(db.store);
    const sbm = await signedInAs(ctx, ['sbm']);
    const teacher = await signedInAs(ctx, ['staff']);

    const list = await app.inject({
      method: 'GET',
      url: '/api/policy/versions',
      headers: teacher.headers,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({
      current: 5,
      review: { due: '2025-12-04', state: 'ok' },
      myAcceptance: { version: 5, acceptedAt: null },
    });
    expect(list.json().versions).toHaveLength(5);

    const refused = await app.inject({
      method: 'POST',
      url: '/api/policy/versions',
      headers: teacher.headers,
      payload: VERSION_6,
    });
    expect(refused.statusCode).toBe(403);

    const incomplete = await app.inject({
      method: 'POST',
      url: '/api/policy/versions',
      headers: sbm.headers,
      payload: { ...VERSION_6, approval: { body: 'Full Governing Body', date: '2025-02-18' } },
    });
    expect(incomplete.statusCode).toBe(400);
    expect(incomplete.json().error.message).toContain('body.approval.signatory');

    const published = await app.inject({
      method: 'POST',
      url: '/api/policy/versions',
      headers: sbm.headers,
      payload: VERSION_6,
    });
    expect(published.statusCode).toBe(201);
    expect(published.json()).toMatchObject({
      number: 6,
      status: 'current',
      approval: VERSION_6.approval,
      documentPdf: '/api/policy/versions/6/document.pdf',
    });

    const one = await app.inject({
      method: 'GET',
      url: '/api/policy/versions/5',
      headers: teacher.headers,
    });
    expect(one.json()).toMatchObject({ number: 5, status: 'superseded' });
    const missing = await app.inject({
      method: 'GET',
      url: '/api/policy/versions/60',
      headers: teacher.headers,
    });
    expect(missing.statusCode).toBe(404);

    const attention = await app.inject({
      method: 'GET',
      url: '/api/attention',
      headers: teacher.headers,
    });
    expect((attention.json() as AttentionBody).items).toEqual([
      expect.objectContaining({
        kind: 'policy.accept',
        title: 'Read and accept version 6 of the policy',
        clauseIds: ['GOV-5'],
        href: '/policy',
      }),
    ]);

    const oldOne = await app.inject({
      method: 'POST',
      url: '/api/policy/versions/5/accept',
      headers: teacher.headers,
    });
    expect(oldOne.statusCode).toBe(409);
    const accepted = await app.inject({
      method: 'POST',
      url: '/api/policy/versions/6/accept',
      headers: { ...teacher.headers, 'user-agent': 'Firefox' },
    });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toEqual({
      version: 6,
      acceptedAt: '2025-03-03T09:00:00.000Z',
      alreadyAccepted: false,
    });
    const twice = await app.inject({
      method: 'POST',
      url: '/api/policy/versions/6/accept',
      headers: teacher.headers,
    });
    expect(twice.json()).toMatchObject({ alreadyAccepted: true });
    const after = await app.inject({
      method: 'GET',
      url: '/api/attention',
      headers: teacher.headers,
    });
    expect((after.json() as AttentionBody).items).toEqual([]);
    await app.close();
  });

  it('GOV-5: the acceptance list is for those the pack allows; reminders go once a day', async () => {
    const { ctx, app } = await setup(db.store);
    const sbm = await signedInAs(ctx, ['sbm']);
    const headteacher = await signedInAs(ctx, ['headteacher']);
    const governor = await signedInAs(ctx, ['governor']);
    const teacher = await signedInAs(ctx, ['staff']);
    await app.inject({
      method: 'POST',
      url: '/api/policy/versions/5/accept',
      headers: teacher.headers,
    });

    for (const who of [sbm, headteacher, governor]) {
      const res = await app.inject({
        method: 'GET',
        url: '/api/policy/acceptance',
        headers: who.headers,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().totals).toEqual({ inScope: 4, accepted: 1, notAccepted: 3, percent: 25 });
    }
    const waiting = await app.inject({
      method: 'GET',
      url: '/api/policy/acceptance?status=not-accepted',
      headers: governor.headers,
    });
    expect(
      waiting
        .json()
        .people.map((p: { personId: string }) => p.personId)
        .sort(),
    ).toEqual([sbm.personId, headteacher.personId, governor.personId].sort());
    const forbidden = await app.inject({
      method: 'GET',
      url: '/api/policy/acceptance',
      headers: teacher.headers,
    });
    expect(forbidden.statusCode).toBe(403);
    const headteacherRemind = await app.inject({
      method: 'POST',
      url: '/api/policy/acceptance/remind',
      headers: headteacher.headers,
    });
    expect(headteacherRemind.statusCode).toBe(403);

    const remind = await app.inject({
      method: 'POST',
      url: '/api/policy/acceptance/remind',
      headers: sbm.headers,
    });
    expect(remind.json()).toEqual({
      queued: 3,
      alreadyRemindedToday: 0,
      notificationsEnabled: false,
    });
    const again = await app.inject({
      method: 'POST',
      url: '/api/policy/acceptance/remind',
      headers: sbm.headers,
    });
    expect(again.json()).toMatchObject({ queued: 0, alreadyRemindedToday: 3 });
    await app.close();
  });

  it('GOV-1, GOV-5: the SBM is asked to accept and told how many have not accepted; the Headteacher only to accept', async () => {
    const { ctx, app } = await setup(db.store);
    const sbm = await signedInAs(ctx, ['sbm']);
    const headteacher = await signedInAs(ctx, ['headteacher']);
    const sbmItems = (
      (
        await app.inject({ method: 'GET', url: '/api/attention', headers: sbm.headers })
      ).json() as AttentionBody
    ).items;
    expect(sbmItems.map((i) => i.kind).sort()).toEqual(['policy.accept', 'policy.not-accepted']);
    expect(sbmItems.find((i) => i.kind === 'policy.not-accepted')).toMatchObject({
      count: 2,
      title: '2 people have not accepted version 5',
      href: '/policy?tab=acceptance',
    });
    const headItems = (
      (
        await app.inject({ method: 'GET', url: '/api/attention', headers: headteacher.headers })
      ).json() as AttentionBody
    ).items;
    expect(headItems.map((i) => i.kind)).toEqual(['policy.accept']);
    await app.close();
  });

  it('GOV-1: once the review date has passed, Home tells the School Business Manager it is overdue', async () => {
    const ctx = await testContext(db.store, { clock: () => new Date('2025-12-20T09:00:00Z') });
    const { app } = await buildApp(ctx);
    const sbm = await signedInAs(ctx, ['sbm']);
    const items = (
      (
        await app.inject({ method: 'GET', url: '/api/attention', headers: sbm.headers })
      ).json() as AttentionBody
    ).items;
    expect(items[0]).toMatchObject({
      kind: 'policy.review',
      title: 'The policy review is overdue',
      severity: 'critical',
      due: '2025-12-04',
      clauseIds: ['GOV-1'],
    });
    await app.close();
  });

  it('GOV-2: the version in force is published as HTML and PDF at stable addresses, earlier versions kept', async () => {
    const { ctx, app } = await setup(db.store);
    const teacher = await signedInAs(ctx, ['staff']);
    const html = await app.inject({
      method: 'GET',
      url: '/api/policy/current.html',
      headers: teacher.headers,
    });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['content-security-policy']).toContain("default-src 'none'");
    expect(html.body).toContain('Agreed by the Full Governing Body on 04.12.2024');
    expect(html.body).toContain('<span class="clause-id">SYS-5</span>');

    const pdf = await app.inject({
      method: 'GET',
      url: '/api/policy/current.pdf',
      headers: teacher.headers,
    });
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toContain(
      'electronic-information-and-communications-policy-version-5.pdf',
    );
    expect(pdf.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');

    const first = await app.inject({
      method: 'GET',
      url: '/api/policy/versions/1/document.html',
      headers: teacher.headers,
    });
    expect(first.body).toContain('This is version 1, which has been superseded.');
    const firstPdf = await app.inject({
      method: 'GET',
      url: '/api/policy/versions/1/document.pdf',
      headers: teacher.headers,
    });
    expect(firstPdf.statusCode).toBe(200);
    const anonymous = await app.inject({ method: 'GET', url: '/api/policy/current.html' });
    expect(anonymous.statusCode).toBe(401);
    await app.close();
  });
});
