import path from 'node:path';
import { expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { addPerson } from '../../test/support/seed.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import { newId } from '../store/columns.ts';
import { stopWebFilter } from './runtime.ts';

const MINI = path.resolve(import.meta.dirname, '../../test/fixtures/lists/ut1-mini');

describeEachStore('web filter routes', (db) => {
  async function setup() {
    const ctx = await testContext(db.store, { config: { 'webfilter.lists': MINI } });
    const { app } = await buildApp(ctx);
    return { ctx, app };
  }

  it('SYS-5: "test a URL" says what the filter does for a person, with categories and clauses', async () => {
    const { ctx, app } = await setup();
    const it = await signedInAs(ctx, ['it_support']);
    const staff = await signedInAs(ctx, ['staff']);
    const email = `${staff.personId}@school.test`;
    const answer = await app.inject({
      method: 'GET',
      url: `/api/webfilter/test?url=${encodeURIComponent('https://www.facebook.com/page')}&person=${encodeURIComponent(email)}`,
      headers: it.headers,
    });
    expect(answer.statusCode).toBe(200);
    const body = answer.json();
    expect(body).toMatchObject({
      host: 'www.facebook.com',
      path: null,
      action: 'block',
      reason: 'category',
      person: { id: staff.personId },
    });
    expect(body.categories).toContainEqual({ id: 'social_networks', name: 'Social networking' });
    expect(body.clauses.map((c: { id: string }) => c.id)).toContain('SYS-5');

    const download = await app.inject({
      method: 'GET',
      url: `/api/webfilter/test?url=${encodeURIComponent('www.gov.uk/setup.exe')}&person=${staff.personId}`,
      headers: it.headers,
    });
    expect(download.json()).toMatchObject({ action: 'block', reason: 'download' });

    const nobody = await app.inject({
      method: 'GET',
      url: '/api/webfilter/test?url=www.gov.uk',
      headers: it.headers,
    });
    expect(nobody.json()).toMatchObject({ action: 'block', reason: 'unregistered-device' });

    const refused = await app.inject({
      method: 'GET',
      url: '/api/webfilter/test?url=www.gov.uk',
      headers: staff.headers,
    });
    expect(refused.statusCode).toBe(403);
    await stopWebFilter(db.store);
  });

  it('WEB-6: the activity summary is aggregates only, and hides groups too small to be anonymous', async () => {
    const { ctx, app } = await setup();
    const head = await signedInAs(ctx, ['headteacher']);
    const people = [newId(), newId(), newId(), newId()];
    const now = new Date().toISOString();
    const groupId = newId();
    const smallGroup = newId();
    await db.store.db
      .insertInto('groups')
      .values([
        { id: groupId, name: 'Staff', description: '', created_at: now },
        { id: smallGroup, name: 'Leadership', description: '', created_at: now },
      ])
      .execute();
    for (const [i, id] of people.entries()) {
      await addPerson(db.store, { id, givenName: 'P', familyName: String(i), now });
      await db.store.db
        .insertInto('person_groups')
        .values({ person_id: id, group_id: i === 3 ? smallGroup : groupId })
        .execute();
    }
    const row = (personId: string | null, decision: string, categories: string[], at: string) => ({
      id: newId(),
      at,
      source: 'proxy',
      person_id: personId,
      device_id: null,
      client_ip: '10.0.0.1',
      method: 'GET',
      host: 'example.com',
      path: '/',
      categories: JSON.stringify(categories),
      decision,
      reason: 'category',
      clause_ids: '[]',
      status: 200,
      bytes: 1,
      duration_ms: 1,
      search_terms: null,
    });
    await db.store.db
      .insertInto('web_activity')
      .values([
        row(people[0]!, 'block', ['social_networks'], '2026-03-02T09:15:00.000Z'),
        row(people[1]!, 'block', ['social_networks', 'chat'], '2026-03-02T09:45:00.000Z'),
        row(people[2]!, 'allow', [], '2026-03-02T10:05:00.000Z'),
        row(people[3]!, 'block', ['webmail'], '2026-03-02T10:06:00.000Z'),
        row(null, 'block', [], '2026-03-02T11:00:00.000Z'),
        row(people[0]!, 'allow', [], '2026-04-02T11:00:00.000Z'),
      ])
      .execute();
    const answer = await app.inject({
      method: 'GET',
      url: '/api/webfilter/activity/summary?from=2026-03-01&to=2026-03-31',
      headers: head.headers,
    });
    expect(answer.statusCode).toBe(200);
    const body = answer.json();
    expect(body.total).toEqual({ allowed: 1, blocked: 4 });
    expect(body.byCategory).toContainEqual({
      category: 'social_networks',
      name: 'Social networking',
      allowed: 0,
      blocked: 2,
    });
    expect(body.byHour).toContainEqual({ hour: '2026-03-02T09:00', allowed: 0, blocked: 2 });
    expect(body.unidentified).toEqual({ allowed: 0, blocked: 1 });
    expect(body.byGroup).toContainEqual({
      group: 'staff',
      name: expect.any(String),
      suppressed: false,
      allowed: 1,
      blocked: 2,
    });
    expect(body.byGroup).toContainEqual(
      expect.objectContaining({ group: 'leadership', suppressed: true, blocked: 0 }),
    );
    for (const id of people) expect(answer.body).not.toContain(id);

    const staff = await signedInAs(ctx, ['staff']);
    const refused = await app.inject({
      method: 'GET',
      url: '/api/webfilter/activity/summary',
      headers: staff.headers,
    });
    expect(refused.statusCode).toBe(403);
  });

  it('WEB-6: the visits report gives duration and frequency per site and day, and the summary counts hits', async () => {
    const { ctx, app } = await setup();
    const head = await signedInAs(ctx, ['headteacher']);
    const people = [newId(), newId(), newId(), newId()];
    const visit = (personId: string, host: string, start: string, seconds: number) => ({
      id: newId(),
      source: 'proxy',
      person_id: personId,
      device_id: null,
      client_ip: '10.0.0.1',
      host,
      started_at: `2026-03-02T${start}:00.000Z`,
      ended_at: new Date(Date.parse(`2026-03-02T${start}:00.000Z`) + seconds * 1000).toISOString(),
      duration_ms: seconds * 1000,
      requests: 3,
      blocked: 0,
      bytes: 1000,
      closed: 1 as const,
    });
    await db.store.db
      .insertInto('web_visits')
      .values([
        visit(people[0]!, 'www.bbc.co.uk', '09:00', 60),
        visit(people[1]!, 'www.bbc.co.uk', '09:10', 120),
        visit(people[2]!, 'www.bbc.co.uk', '09:20', 600),
        visit(people[0]!, 'www.bbc.co.uk', '13:00', 30),
        visit(people[3]!, 'one-person.example', '10:00', 60),
      ])
      .execute();
    await db.store.db
      .insertInto('web_activity')
      .values({
        id: newId(),
        at: '2026-03-02T09:00:00.000Z',
        source: 'proxy',
        person_id: null,
        device_id: null,
        client_ip: '10.0.0.1',
        method: 'CONNECT',
        host: 'www.bbc.co.uk',
        path: null,
        categories: '[]',
        decision: 'allow',
        reason: 'none',
        clause_ids: '[]',
        status: 200,
        bytes: 1,
        duration_ms: 1,
        search_terms: null,
        hits: 5,
        last_at: '2026-03-02T09:00:40.000Z',
      })
      .execute();

    const answer = await app.inject({
      method: 'GET',
      url: '/api/webfilter/activity/visits?from=2026-03-01&to=2026-03-31',
      headers: head.headers,
    });
    expect(answer.statusCode).toBe(200);
    const body = answer.json();
    expect(body.byHostDay).toEqual([
      {
        day: '2026-03-02',
        source: 'proxy',
        host: 'www.bbc.co.uk',
        visits: 4,
        people: 3,
        requests: 12,
        blocked: 0,
        totalSeconds: 810,
        medianSeconds: 90,
      },
    ]);
    expect(body.withheld).toEqual([{ day: '2026-03-02', source: 'proxy', hosts: 1, visits: 1 }]);
    expect(answer.body).not.toContain('one-person.example');
    for (const id of people) expect(answer.body).not.toContain(id);

    const summary = await app.inject({
      method: 'GET',
      url: '/api/webfilter/activity/summary?from=2026-03-01&to=2026-03-31',
      headers: head.headers,
    });
    expect(summary.json().total).toEqual({ allowed: 5, blocked: 0 });

    const staff = await signedInAs(ctx, ['staff']);
    const refused = await app.inject({
      method: 'GET',
      url: '/api/webfilter/activity/visits',
      headers: staff.headers,
    });
    expect(refused.statusCode).toBe(403);
  });
});
