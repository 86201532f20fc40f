import { sql } from 'kysely';
import { expect, it, vi } from 'vitest';
import { describeEachStore } from '../../test/support/stores.ts';
import {
  type ActivityEvent,
  type ActivityRecorder,
  createActivityRecorder,
  type RecorderOptions,
  searchTermsOf,
} from './activity.ts';
import {
  countsByCategories,
  countsByHour,
  countUnidentified,
  visitsByHostAndDay,
} from './reports.repository.ts';

const event = (i: number, over: Partial<ActivityEvent> = {}): ActivityEvent => ({
  at: new Date(Date.UTC(2026, 10, 27, 9, 0, i % 60)),
  source: 'proxy',
  personId: 'p1',
  deviceId: null,
  clientIp: '10.0.0.21',
  method: 'GET',
  host: 'www.example.com',
  path: `/page/${i}`,
  categories: [],
  decision: 'allow',
  reason: 'none',
  clauseIds: [],
  status: 200,
  bytes: 1024,
  durationMs: 12,
  ...over,
});

/** 2 March 2026 at hh:mm:ss UTC, in milliseconds. */
const at = (hh: number, mm: number, ss = 0, ms = 0) => Date.UTC(2026, 2, 2, hh, mm, ss, ms);

/** A DNS-like event at a given time, the same decision unless `over` says otherwise. */
const lookup = (t: number, over: Partial<ActivityEvent> = {}): ActivityEvent => ({
  at: new Date(t),
  source: 'dns',
  personId: 'p1',
  deviceId: 'd1',
  clientIp: '10.0.0.21',
  method: 'A',
  host: 'www.example.com',
  path: null,
  categories: [],
  decision: 'allow',
  reason: 'none',
  clauseIds: [],
  status: null,
  bytes: 100,
  durationMs: 10,
  ...over,
});

/** A recorder whose clock the test moves; the timer only writes what the clock says is due. */
function clocked(
  store: Parameters<typeof createActivityRecorder>[0],
  start: number,
  options: RecorderOptions = {},
): { recorder: ActivityRecorder; set(t: number): void } {
  let now = start;
  const recorder = createActivityRecorder(store, {
    flushMs: 10_000,
    ...options,
    clock: () => new Date(now),
  });
  return {
    recorder,
    set(t) {
      now = t;
    },
  };
}

it('WEB-6: takes the search terms from search engine URLs only', () => {
  expect(searchTermsOf('www.google.com', '/search?q=ofsted+report&hl=en')).toBe('ofsted report');
  expect(searchTermsOf('www.bing.com', '/search?q=%20phonics%20')).toBe('phonics');
  expect(searchTermsOf('www.example.com', '/search?q=private')).toBeNull();
  expect(searchTermsOf('www.google.com', '/maps')).toBeNull();
});

describeEachStore('activity recorder', (ctx) => {
  const activity = () =>
    ctx.store.db.selectFrom('web_activity').selectAll().orderBy('at').orderBy('host').execute();

  it('WEB-6: writes every recorded decision in batches', async () => {
    const recorder = createActivityRecorder(ctx.store, { batchSize: 50, flushMs: 10_000 });
    for (let i = 0; i < 120; i++)
      recorder.record(
        event(
          i,
          i % 3 === 0 ? { decision: 'block', categories: ['webmail'], clauseIds: ['SYS-5'] } : {},
        ),
      );
    await recorder.stop();
    const rows = await ctx.store.db.selectFrom('web_activity').selectAll().execute();
    expect(rows.length).toBe(120);
    expect(
      rows.filter((r) => r.decision === 'block').every((r) => r.clause_ids === '["SYS-5"]'),
    ).toBe(true);
    expect(recorder.stats()).toMatchObject({ written: 120, dropped: 0, queued: 0 });
  });

  it('WEB-6: one event object filled anew for each decision (as the DNS filter does) records each decision as it was', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0));
    const reused = lookup(at(10, 4, 1));
    recorder.record(reused);
    reused.at.setTime(at(10, 4, 2));
    reused.host = 'webmail.example.net';
    reused.decision = 'block';
    reused.categories = ['webmail'];
    reused.clauseIds = ['SYS-5'];
    reused.reason = 'blocked for staff';
    reused.personId = 'p2';
    recorder.record(reused);
    // Filled again after the last call: nothing recorded may change.
    reused.host = 'changed.example';
    reused.at.setTime(at(11, 0));
    await recorder.flush();
    const rows = await activity();
    expect(rows).toEqual([
      expect.objectContaining({
        at: '2026-03-02T10:04:01.000Z',
        host: 'www.example.com',
        decision: 'allow',
        person_id: 'p1',
        clause_ids: '[]',
      }),
      expect.objectContaining({
        at: '2026-03-02T10:04:02.000Z',
        host: 'webmail.example.net',
        decision: 'block',
        person_id: 'p2',
        categories: '["webmail"]',
        clause_ids: '["SYS-5"]',
      }),
    ]);
    // Ended by stop(), the visits are written too, each as it was recorded.
    await recorder.stop();
    const visits = await ctx.store.db
      .selectFrom('web_visits')
      .selectAll()
      .orderBy('host')
      .execute();
    expect(visits.map((v) => [v.host, v.person_id, v.started_at])).toEqual([
      ['webmail.example.net', 'p2', '2026-03-02T10:04:02.000Z'],
      ['www.example.com', 'p1', '2026-03-02T10:04:01.000Z'],
    ]);
  });

  it('WEB-6: repeated requests within a minute become one record with hits, summed bytes and durations', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0));
    for (const s of [1, 7, 20, 33, 50]) recorder.record(lookup(at(10, 4, s), { bytes: 100 + s }));
    expect(recorder.stats()).toMatchObject({ queued: 1, merged: 4 });
    await recorder.flush();
    const rows = await activity();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      at: '2026-03-02T10:04:01.000Z',
      last_at: '2026-03-02T10:04:50.000Z',
      method: 'A',
      person_id: 'p1',
      device_id: 'd1',
    });
    expect(Number(rows[0]!.hits)).toBe(5);
    expect(Number(rows[0]!.bytes)).toBe(500 + 1 + 7 + 20 + 33 + 50);
    expect(Number(rows[0]!.duration_ms)).toBe(50);
    await recorder.stop();
  });

  it('WEB-6: a page of many resources on one site: repeats of recent paths fold in, every hit is counted, and a row written early takes no more hits', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0));
    const get = (i: number, s: number) =>
      lookup(at(10, 4, s), { source: 'proxy', method: 'GET', path: `/asset/${i}.png` });
    // 10 resources asked three times: each folds into its row.
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 10; i++) recorder.record(get(i, round));
    expect(recorder.stats()).toMatchObject({ queued: 10, merged: 20 });
    // 100 resources: a repeat of one asked long before in the window may get a row of its own.
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 100; i++) recorder.record(get(100 + i, 10 + round));
    // Written before the window ends: the same requests after it are rows of their own.
    await recorder.flush();
    for (let i = 0; i < 10; i++) recorder.record(get(i, 40));
    await recorder.flush();
    const rows = await activity();
    expect(rows.reduce((n, r) => n + Number(r.hits), 0)).toBe(30 + 200 + 10);
    expect(rows.filter((r) => r.path === '/asset/0.png').map((r) => Number(r.hits))).toEqual([
      3, 1,
    ]);
    expect(rows.length).toBeGreaterThanOrEqual(10 + 100 + 10);
    expect(rows.length).toBeLessThanOrEqual(10 + 200 + 10);
    await recorder.stop();
  });

  it('WEB-6: windows are aligned to the clock: the same request either side of 10:05:00 is two records', async () => {
    const { recorder } = clocked(ctx.store, at(10, 5, 30));
    recorder.record(lookup(at(10, 4, 59, 900)));
    recorder.record(lookup(at(10, 5, 0, 100)));
    recorder.record(lookup(at(10, 5, 59, 999)));
    await recorder.stop();
    const rows = await activity();
    expect(rows.map((r) => [r.at, r.last_at, Number(r.hits)])).toEqual([
      ['2026-03-02T10:04:59.900Z', null, 1],
      ['2026-03-02T10:05:00.100Z', '2026-03-02T10:05:59.999Z', 2],
    ]);
  });

  it('WEB-6, WEB-7: a different person, device, address, method, path, decision or reason is a record of its own', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0));
    const t = at(10, 4, 10);
    const blocked = Object.freeze(['social_networks']);
    const variants: Partial<ActivityEvent>[] = [
      {},
      { personId: 'p2' },
      { deviceId: 'd2' },
      { clientIp: '10.0.0.22' },
      { method: 'AAAA' },
      { source: 'proxy', method: 'GET', path: '/a', status: 200 },
      { source: 'proxy', method: 'GET', path: '/b', status: 200 },
      { source: 'proxy', method: 'GET', path: '/b', status: 404 },
      { decision: 'block', reason: 'category', categories: blocked, clauseIds: ['SYS-5'] },
      // A fresh array with the same categories is the same decision.
      {
        decision: 'block',
        reason: 'category',
        categories: ['social_networks'],
        clauseIds: ['SYS-5'],
      },
      { decision: 'block', reason: 'school-deny', categories: blocked, clauseIds: ['SYS-5'] },
      { host: 'other.example.com' },
    ];
    for (const v of variants) {
      recorder.record(lookup(t, v));
      recorder.record(lookup(t + 1000, v));
    }
    await recorder.stop();
    const rows = await activity();
    expect(rows).toHaveLength(variants.length - 1);
    const category = rows.find((r) => r.reason === 'category')!;
    expect(Number(category.hits)).toBe(4);
    expect(JSON.parse(category.categories)).toEqual(['social_networks']);
    expect(JSON.parse(category.clause_ids)).toEqual(['SYS-5']);
    expect(rows.filter((r) => r.reason !== 'category').every((r) => Number(r.hits) === 2)).toBe(
      true,
    );
    expect(recorder.stats()).toMatchObject({ written: variants.length - 1, dropped: 0 });
  });

  it('WEB-6: a window is written by the timer once the clock has passed its end, the next one waits', async () => {
    const { recorder, set } = clocked(ctx.store, at(10, 4, 30), { flushMs: 10 });
    recorder.record(lookup(at(10, 4, 10)));
    recorder.record(lookup(at(10, 4, 40)));
    set(at(10, 5, 5));
    recorder.record(lookup(at(10, 5, 1)));
    await vi.waitFor(async () => expect(await activity()).toHaveLength(1), { timeout: 5000 });
    expect(recorder.stats()).toMatchObject({ written: 1, queued: 1 });
    const [row] = await activity();
    expect(row).toMatchObject({ at: '2026-03-02T10:04:10.000Z' });
    expect(Number(row!.hits)).toBe(2);
    await recorder.stop();
    expect((await activity()).map((r) => Number(r.hits))).toEqual([2, 1]);
  });

  it('writes rows with time-ordered ids, so inserts append to the primary key', async () => {
    const { recorder, set } = clocked(ctx.store, at(10, 4, 0));
    for (let m = 0; m < 3; m++) {
      set(at(10, 4 + m, 30));
      for (let i = 0; i < 20; i++)
        recorder.record(lookup(at(10, 4 + m, 1), { host: `h${i}.test` }));
      await recorder.flush();
    }
    await recorder.stop();
    const rows = await ctx.store.db.selectFrom('web_activity').select(['id', 'at']).execute();
    expect(rows).toHaveLength(60);
    const byId = [...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => r.at.slice(0, 16));
    expect(byId).toEqual([...byId].sort());
    expect(rows[0]!.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('never blocks the caller: past capacity the oldest waiting records are dropped and counted', async () => {
    const recorder = createActivityRecorder(ctx.store, {
      capacity: 100,
      batchSize: 1000,
      flushMs: 10_000,
    });
    for (let i = 0; i < 250; i++) recorder.record(event(i));
    expect(recorder.stats()).toMatchObject({ queued: 100, dropped: 150 });
    await recorder.stop();
    const rows = await ctx.store.db.selectFrom('web_activity').select('path').execute();
    expect(rows.length).toBe(100);
    expect(rows.map((r) => r.path)).toContain('/page/249');
    expect(rows.map((r) => r.path)).not.toContain('/page/0');
  });

  it('WEB-6: rows that pile up past half the bound while a write runs are written when it ends, with no new decision needed', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0), { capacity: 20 });
    // Half the bound: an early write starts (the window is still open).
    for (let i = 0; i < 10; i++) recorder.record(lookup(at(10, 4, 0), { host: `a${i}` }));
    await new Promise((resolve) => setImmediate(resolve));
    // Half the bound again while that write runs; then the traffic stops.
    for (let i = 0; i < 12; i++) recorder.record(lookup(at(10, 4, 1), { host: `b${i}` }));
    await vi.waitFor(() => expect(recorder.stats()).toMatchObject({ queued: 0, written: 22 }), {
      timeout: 2000,
    });
    expect(recorder.stats().dropped).toBe(0);
    await recorder.stop();
  });

  it('WEB-6: capacity bounds distinct records, not requests: repeats fold in without dropping; a dropped record counts all its hits', async () => {
    const { recorder } = clocked(ctx.store, at(10, 4, 0), { capacity: 100 });
    for (let i = 0; i < 5000; i++)
      recorder.record(lookup(at(10, 4, i % 60), { host: `h${i % 100}` }));
    expect(recorder.stats()).toMatchObject({ queued: 100, dropped: 0, merged: 4900 });
    // The first record (h0, 50 hits) is the oldest waiting: a new one pushes it out.
    recorder.record(lookup(at(10, 4, 59), { host: 'new.example' }));
    expect(recorder.stats()).toMatchObject({ queued: 100, dropped: 50 });
    await recorder.stop();
    const rows = await activity();
    expect(rows).toHaveLength(100);
    expect(rows.map((r) => r.host)).not.toContain('h0');
    const hits = rows.reduce((n, r) => n + Number(r.hits), 0);
    expect(hits + recorder.stats().dropped).toBe(5001);
  });

  it('WEB-6: nothing is lost while the table cannot be written: records wait, keep counting hits, and are written once when it can', async () => {
    const { recorder, set } = clocked(ctx.store, at(10, 4, 30), { batchSize: 2 });
    // A real failure: the table is out of reach (renamed), as during a restore or a lock.
    await sql`alter table web_activity rename to web_activity_away`.execute(ctx.store.db);
    for (let i = 0; i < 25; i++) recorder.record(lookup(at(10, 4, i), { host: `h${i % 5}` }));
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ queued: 5, written: 0, dropped: 0 });
    expect(recorder.stats().failedBatches).toBeGreaterThan(0);
    // The next window, still away: new records join the waiting ones.
    set(at(10, 5, 30));
    for (let i = 0; i < 10; i++) recorder.record(lookup(at(10, 5, i), { host: `h${i % 5}` }));
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ queued: 10, written: 0, dropped: 0 });
    await sql`alter table web_activity_away rename to web_activity`.execute(ctx.store.db);
    await recorder.stop();
    expect(recorder.stats()).toMatchObject({ queued: 0, written: 10, dropped: 0 });
    const rows = await activity();
    expect(rows).toHaveLength(10);
    expect(new Set(rows.map((r) => r.id)).size).toBe(10);
    expect(rows.reduce((n, r) => n + Number(r.hits), 0)).toBe(35);
  });

  it('WEB-6: requests to one site are one visit, from the first to the last, until a five-minute gap', async () => {
    const { recorder, set } = clocked(ctx.store, at(10, 0, 0));
    for (const [mm, ss] of [
      [0, 0],
      [2, 0],
      [4, 30],
    ] as const)
      recorder.record(lookup(at(10, mm, ss)));
    recorder.record(lookup(at(10, 3, 0), { decision: 'block', reason: 'category' }));
    recorder.record(lookup(at(10, 12, 0))); // 7.5 minutes later: a new visit
    recorder.record(lookup(at(10, 1, 0), { host: 'other.example' }));
    recorder.record(lookup(at(10, 1, 0), { source: 'proxy', method: 'CONNECT' }));
    recorder.record(lookup(at(10, 1, 0), { personId: null, deviceId: null, clientIp: '10.0.0.9' }));
    set(at(10, 12, 30));
    await recorder.stop();
    const visits = await ctx.store.db
      .selectFrom('web_visits')
      .selectAll()
      .orderBy('started_at')
      .orderBy('host')
      .orderBy('source')
      .execute();
    const summary = visits.map((v) => ({
      source: v.source,
      who: v.person_id ?? v.client_ip,
      host: v.host,
      from: v.started_at.slice(11, 19),
      to: v.ended_at.slice(11, 19),
      duration: Number(v.duration_ms),
      requests: Number(v.requests),
      blocked: Number(v.blocked),
      bytes: Number(v.bytes),
      closed: v.closed,
    }));
    expect(summary).toEqual([
      {
        source: 'dns',
        who: 'p1',
        host: 'www.example.com',
        from: '10:00:00',
        to: '10:04:30',
        duration: 270_000,
        requests: 4,
        blocked: 1,
        bytes: 400,
        closed: 1,
      },
      expect.objectContaining({ source: 'dns', who: 'p1', host: 'other.example', requests: 1 }),
      expect.objectContaining({ source: 'dns', who: '10.0.0.9', host: 'www.example.com' }),
      expect.objectContaining({ source: 'proxy', who: 'p1', host: 'www.example.com' }),
      expect.objectContaining({ from: '10:12:00', to: '10:12:00', duration: 0, requests: 1 }),
    ]);
  });

  it('WEB-6: a visit longer than the idle gap is written at each window while open, brought up to date under the same id, and closed after the gap', async () => {
    const { recorder, set } = clocked(ctx.store, at(10, 0, 30), { flushMs: 10 });
    const visits = () => ctx.store.db.selectFrom('web_visits').selectAll().execute();
    recorder.record(lookup(at(10, 0, 10)));
    recorder.record(lookup(at(10, 3, 0)));
    set(at(10, 4, 0));
    // Not yet as long as the gap: it waits, so that a short visit is written once.
    await new Promise((r) => setTimeout(r, 100));
    expect(await visits()).toHaveLength(0);
    recorder.record(lookup(at(10, 5, 30)));
    set(at(10, 6, 0));
    await vi.waitFor(async () => expect(await visits()).toHaveLength(1), { timeout: 5000 });
    const [first] = await visits();
    expect(first).toMatchObject({ closed: 0, ended_at: '2026-03-02T10:05:30.000Z' });
    recorder.record(lookup(at(10, 6, 40)));
    set(at(10, 7, 0));
    await vi.waitFor(
      async () =>
        expect((await visits())[0]).toMatchObject({ ended_at: '2026-03-02T10:06:40.000Z' }),
      { timeout: 5000 },
    );
    set(at(10, 13, 0));
    await vi.waitFor(async () => expect((await visits())[0]).toMatchObject({ closed: 1 }), {
      timeout: 5000,
    });
    const rows = await visits();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: first!.id, started_at: '2026-03-02T10:00:10.000Z' });
    expect(Number(rows[0]!.requests)).toBe(4);
    expect(recorder.stats().openVisits).toBe(0);
    await recorder.stop();
  });

  it('WEB-6: reports count requests (hits), not records', async () => {
    const { recorder } = clocked(ctx.store, at(9, 30, 0));
    const webmail = Object.freeze(['webmail']);
    for (let i = 0; i < 7; i++)
      recorder.record(
        lookup(at(9, 30, i), { decision: 'block', categories: webmail, clauseIds: ['SYS-5'] }),
      );
    for (let i = 0; i < 3; i++) recorder.record(lookup(at(9, 30, i), { personId: null }));
    await recorder.stop();
    expect(await ctx.store.db.selectFrom('web_activity').select('id').execute()).toHaveLength(2);
    const from = '2026-03-02T00:00:00.000Z';
    const to = '2026-03-03T00:00:00.000Z';
    expect(await countsByCategories(ctx.store, from, to)).toEqual(
      expect.arrayContaining([
        { key: '["webmail"]', decision: 'block', n: 7 },
        { key: '[]', decision: 'allow', n: 3 },
      ]),
    );
    expect(await countsByHour(ctx.store, from, to)).toEqual(
      expect.arrayContaining([{ key: '2026-03-02T09', decision: 'block', n: 7 }]),
    );
    expect(await countUnidentified(ctx.store, from, to)).toEqual([{ decision: 'allow', n: 3 }]);
  });

  it('WEB-6: visits per site and day give counts, people, total and median duration, and never name a site too few people visited', async () => {
    const { recorder } = clocked(ctx.store, at(23, 0, 0));
    // Five people on the school site, visits of 0, 1, 2, 4 and 5 minutes (a gap of five minutes
    // is not yet the end); a second visit of p0 in the afternoon.
    const minutes = [0, 1, 2, 4, 5];
    for (const [i, m] of minutes.entries()) {
      recorder.record(lookup(at(9, 0), { personId: `p${i}`, source: 'proxy', method: 'CONNECT' }));
      recorder.record(
        lookup(at(9, m), {
          personId: `p${i}`,
          source: 'proxy',
          method: 'CONNECT',
          decision: i === 4 ? 'block' : 'allow',
        }),
      );
    }
    recorder.record(lookup(at(14, 0), { personId: 'p0', source: 'proxy', method: 'CONNECT' }));
    // One person alone on another site: counted, not named.
    recorder.record(lookup(at(10, 0), { personId: 'p9', host: 'lonely.example', source: 'proxy' }));
    // The DNS filter's visits are reported beside the proxy's, never added to them.
    for (const i of [0, 1, 2]) recorder.record(lookup(at(9, 0), { personId: `p${i}` }));
    await recorder.stop();

    const report = await visitsByHostAndDay(
      ctx.store,
      '2026-03-02T00:00:00.000Z',
      '2026-03-03T00:00:00.000Z',
      { minPeople: 3, limit: 10 },
    );
    expect(report.rows).toEqual([
      {
        day: '2026-03-02',
        source: 'dns',
        host: 'www.example.com',
        visits: 3,
        people: 3,
        requests: 3,
        blocked: 0,
        totalMs: 0,
        medianMs: 0,
      },
      {
        day: '2026-03-02',
        source: 'proxy',
        host: 'www.example.com',
        visits: 6,
        people: 5,
        requests: 11,
        blocked: 1,
        totalMs: (1 + 2 + 4 + 5) * 60_000,
        medianMs: 90_000, // between 1 and 2 minutes: 0, 0, 1, 2, 4, 5
      },
    ]);
    expect(report.withheld).toEqual([{ day: '2026-03-02', source: 'proxy', hosts: 1, visits: 1 }]);
    expect(JSON.stringify(report)).not.toMatch(/p\d|lonely/);

    const proxyOnly = await visitsByHostAndDay(
      ctx.store,
      '2026-03-02T00:00:00.000Z',
      '2026-03-03T00:00:00.000Z',
      { minPeople: 3, limit: 10, source: 'proxy' },
    );
    expect(proxyOnly.rows.map((r) => r.source)).toEqual(['proxy']);
  });
});
