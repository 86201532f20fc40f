import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { addDevice } from '../../test/support/seed.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import type { AppContext } from '../api/context.ts';
import { listOutbox } from '../notify/outbox.ts';
import { recordReviewRequest } from './proxy/reviews.ts';
import { KIND_REVIEW_DECIDED } from './reviews.messages.ts';
import { stopWebFilter } from './runtime.ts';

const MINI = path.resolve(import.meta.dirname, '../../test/fixtures/lists/ut1-mini');
const SITE = 'epinions.com'; // social networking in the mini lists: blocked for staff (SYS-5)

describeEachStore('site review requests', (db) => {
  /**
   * Runs a test against the app over the mini lists, closing the app and stopping the web filter
   * however the test ends.
   */
  async function withApp(test: (ctx: AppContext, app: FastifyInstance) => Promise<void>) {
    const ctx = await testContext(db.store, { config: { 'webfilter.lists': MINI } });
    const { app } = await buildApp(ctx);
    try {
      await test(ctx, app);
    } finally {
      await app.close();
      await stopWebFilter(db.store);
    }
  }

  /** A person in the directory with a registered device, who asks from the block page. */
  async function requester(ctx: AppContext) {
    const person = await signedInAs(ctx, ['staff']);
    await ctx.store.db
      .updateTable('people')
      .set({ given_name: 'Amy', family_name: 'Teacher' })
      .where('id', '=', person.personId)
      .execute();
    const now = ctx.clock().toISOString();
    const deviceId = await addDevice(ctx.store, person.personId, { ip: '10.0.0.21', now });
    return { ...person, deviceId, email: `${person.personId}@school.test` };
  }

  const ask = (
    ctx: AppContext,
    input: { host?: string; personId?: string | null; deviceId?: string | null } = {},
  ) =>
    recordReviewRequest(ctx, {
      host: input.host ?? SITE,
      url: `http://${input.host ?? SITE}/reviews/123`,
      personId: input.personId ?? null,
      personLabel: null,
      deviceId: input.deviceId ?? null,
      clientIp: '10.0.0.21',
      categories: ['social_networks'],
      clauseIds: ['SYS-5', 'MIS-2(h)'],
      reason: 'Our Year 2 topic uses reviews from this site.',
    });

  /** A decision on a request, as the console sends it. */
  const decide = (
    app: FastifyInstance,
    who: { headers: Record<string, string> },
    id: string,
    decision: 'allow' | 'decline',
    note: string,
  ) =>
    app.inject({
      method: 'POST',
      url: `/api/webfilter/reviews/${id}/decision`,
      headers: who.headers,
      payload: { decision, note },
    });

  /** Amy, from her registered device, asks for SITE: the requester and the id of the request. */
  async function amyAsks(ctx: AppContext) {
    const amy = await requester(ctx);
    const id = await ask(ctx, { personId: amy.personId, deviceId: amy.deviceId });
    return { amy, id };
  }

  it('MIS-1, SYS-5: a request is listed with who asked, when, why and what blocked it', () =>
    withApp(async (ctx, app) => {
      const { amy, id } = await amyAsks(ctx);
      const it = await signedInAs(ctx, ['it_support']);
      const res = await app.inject({
        method: 'GET',
        url: '/api/webfilter/reviews',
        headers: it.headers,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        open: 1,
        requests: [
          {
            id,
            host: SITE,
            url: `http://${SITE}/reviews/123`,
            reason: 'Our Year 2 topic uses reviews from this site.',
            status: 'open',
            requester: {
              personId: amy.personId,
              name: 'Amy Teacher',
              email: amy.email,
              device: { id: amy.deviceId, label: 'Amy laptop' },
              ip: '10.0.0.21',
            },
            categories: [
              { id: 'social_networks', name: 'Social networking', blockedForEveryone: false },
            ],
            clauses: [
              { id: 'SYS-5', title: 'Never accessed from the network' },
              { id: 'MIS-2(h)', title: 'Gross misconduct' },
            ],
            decision: null,
          },
        ],
      });
      const decided = await app.inject({
        method: 'GET',
        url: '/api/webfilter/reviews?status=decided',
        headers: it.headers,
      });
      expect(decided.json()).toEqual({ requests: [], open: 1 });
      const staff = await signedInAs(ctx, ['staff']);
      const refused = await app.inject({
        method: 'GET',
        url: '/api/webfilter/reviews',
        headers: staff.headers,
      });
      expect(refused.statusCode).toBe(403);
    }));

  it('MIS-1: allowing puts the site on the allow list at once, audited, and the requester is told', () =>
    withApp(async (ctx, app) => {
      const { amy, id } = await amyAsks(ctx);
      const sbm = await signedInAs(ctx, ['sbm']);
      const test = async () =>
        (
          await app.inject({
            method: 'GET',
            url: `/api/webfilter/test?url=${SITE}&person=${amy.personId}`,
            headers: sbm.headers,
          })
        ).json().action;
      expect(await test()).toBe('block');

      const res = await decide(app, sbm, id, 'allow', 'Needed for the Year 2 topic this term.');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        notified: true,
        request: {
          status: 'allowed',
          decision: {
            by: `${sbm.personId}@school.test`,
            note: 'Needed for the Year 2 topic this term.',
          },
        },
      });
      expect(await test()).toBe('allow');
      const entries = await db.store.db.selectFrom('web_lists').selectAll().execute();
      expect(entries).toMatchObject([{ list: 'allow', host: SITE }]);

      const audit = await db.store.db
        .selectFrom('audit_log')
        .select(['action', 'clause_ids', 'reason', 'target_id'])
        .where('action', 'in', ['web.review-allowed', 'webfilter.list-entry.added'])
        .orderBy('seq')
        .execute();
      expect(audit.map((a) => a.action)).toEqual([
        'webfilter.list-entry.added',
        'web.review-allowed',
      ]);
      expect(audit[1]).toMatchObject({
        target_id: id,
        reason: 'Needed for the Year 2 topic this term.',
      });
      expect(JSON.parse(audit[1]!.clause_ids)).toEqual(['MIS-1', 'SYS-5', 'MIS-2(h)']);

      const mail = await listOutbox(db.store.db, { kind: KIND_REVIEW_DECIDED });
      expect(mail).toHaveLength(1);
      expect(mail[0]).toMatchObject({
        to: amy.email,
        toPersonId: amy.personId,
        subject: `Your request to open ${SITE} was allowed`,
        relatedId: id,
      });
      expect(mail[0]!.text).toContain('Dear Amy,');
      expect(mail[0]!.text).toContain('“Needed for the Year 2 topic this term.”');

      // A request is decided once.
      const again = await decide(app, sbm, id, 'decline', 'Changed my mind.');
      expect(again.statusCode).toBe(409);
      const list = await app.inject({
        method: 'GET',
        url: '/api/webfilter/reviews?status=decided',
        headers: sbm.headers,
      });
      expect(list.json()).toMatchObject({ open: 0, requests: [{ id, status: 'allowed' }] });
    }));

  it('MIS-1: declining leaves the site blocked and e-mails the note to the requester', () =>
    withApp(async (ctx, app) => {
      const { id } = await amyAsks(ctx);
      const it = await signedInAs(ctx, ['it_support']);
      const res = await decide(
        app,
        it,
        id,
        'decline',
        'Use the reviews in the shared drive instead.',
      );
      expect(res.statusCode).toBe(200);
      expect(res.json().request.status).toBe('refused');
      expect(await db.store.db.selectFrom('web_lists').selectAll().execute()).toEqual([]);
      const audit = await db.store.db
        .selectFrom('audit_log')
        .select(['clause_ids'])
        .where('action', '=', 'web.review-declined')
        .execute();
      expect(audit).toHaveLength(1);
      const [mail] = await listOutbox(db.store.db, { kind: KIND_REVIEW_DECIDED });
      expect(mail!.subject).toBe(`Your request to open ${SITE} was declined`);
      expect(mail!.text).toContain('stays blocked under SYS-5 (Never accessed from the network)');
      expect(mail!.text).toContain('“Use the reviews in the shared drive instead.”');
      // A note is required: the requester is told why.
      const other = await ask(ctx);
      const bare = await decide(app, it, other, 'decline', ' ');
      expect(bare.statusCode).toBe(400);
    }));

  it('MIS-1: a request from an unknown device is decided without an e-mail; a host on the deny list is not allowed', () =>
    withApp(async (ctx, app) => {
      const sbm = await signedInAs(ctx, ['sbm']);
      const unknown = await ask(ctx);
      const res = await decide(app, sbm, unknown, 'decline', 'Not for school devices.');
      expect(res.json()).toMatchObject({ notified: false, request: { requester: { name: null } } });
      expect(await listOutbox(db.store.db, { kind: KIND_REVIEW_DECIDED })).toEqual([]);

      await app.inject({
        method: 'POST',
        url: '/api/webfilter/school-lists',
        headers: sbm.headers,
        payload: { list: 'deny', host: 'games.example', reason: 'Not in school time' },
      });
      const denied = await ask(ctx, { host: 'games.example' });
      const refused = await decide(app, sbm, denied, 'allow', 'Fine.');
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.message).toContain("on the school's deny list");
      const row = await db.store.db
        .selectFrom('site_review_requests')
        .select('status')
        .where('id', '=', denied)
        .executeTakeFirstOrThrow();
      expect(row.status).toBe('open');
    }));

  it('MIS-1: Needs my attention shows the open requests to those who decide them', () =>
    withApp(async (ctx, app) => {
      await ask(ctx);
      await ask(ctx, { host: 'esnips.com' });
      const attention = async (roles: string[]) => {
        const who = await signedInAs(ctx, roles);
        const res = await app.inject({
          method: 'GET',
          url: '/api/attention',
          headers: who.headers,
        });
        return (res.json().items as { id: string; count?: number; href: string }[]).find(
          (i) => i.id === 'site-reviews',
        );
      };
      expect(await attention(['it_support'])).toMatchObject({
        count: 2,
        href: '/web-filter?tab=reviews',
      });
      expect(await attention(['sbm'])).toMatchObject({ count: 2 });
      expect(await attention(['staff'])).toBeUndefined();
      expect(await attention(['headteacher'])).toBeUndefined();
    }));
});
