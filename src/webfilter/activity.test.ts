import { expect, it } from 'vitest';
import { describeEachStore } from '../../test/support/stores.ts';
import { type ActivityEvent, createActivityRecorder, searchTermsOf } from './activity.ts';

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

it('WEB-6: takes the search terms from search engine URLs only', () => {
  expect(searchTermsOf('www.google.com', '/search?q=ofsted+report&hl=en')).toBe('ofsted report');
  expect(searchTermsOf('www.bing.com', '/search?q=%20phonics%20')).toBe('phonics');
  expect(searchTermsOf('www.example.com', '/search?q=private')).toBeNull();
  expect(searchTermsOf('www.google.com', '/maps')).toBeNull();
});

describeEachStore('activity recorder', (ctx) => {
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
});

it('keeps records while the table cannot be written and writes them when it can again', async () => {
  const { freshStore } = await import('../../test/support/stores.ts');
  const { sql } = await import('kysely');
  const store = await freshStore('sqlite');
  // A real failure: the table is out of reach (renamed), as during a restore or a lock.
  await sql`alter table web_activity rename to web_activity_away`.execute(store.db);
  const recorder = createActivityRecorder(store, { batchSize: 10, flushMs: 10_000 });
  for (let i = 0; i < 25; i++) recorder.record(event(i));
  await recorder.flush();
  expect(recorder.stats()).toMatchObject({ queued: 25, written: 0, dropped: 0 });
  await sql`alter table web_activity_away rename to web_activity`.execute(store.db);
  await recorder.stop();
  expect(recorder.stats()).toMatchObject({ queued: 0, written: 25, dropped: 0 });
  const { cleanupStores } = await import('../../test/support/stores.ts');
  await cleanupStores();
});
