import fc from 'fast-check';
import { expect, it } from 'vitest';
import { createVisitTracker } from './visits.ts';

const request = (personId: string | null, host: string, clientIp = '10.0.0.5') => ({
  source: 'proxy',
  personId,
  deviceId: null,
  clientIp,
  host,
  bytes: 10,
});
const MIN = 60_000;

it('WEB-6: a visit ends after the idle gap, and a request after it begins a new one', () => {
  const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 100 });
  const first = visits.touch(0, request('p1', 'a.example'), false);
  expect(visits.touch(5 * MIN, request('p1', 'a.example'), true)).toBe(first);
  const second = visits.touch(10 * MIN + 1, request('p1', 'a.example'), false);
  expect(second).not.toBe(first);
  const firstId = visits.toRow(first).id;
  // At 10 minutes the first visit has ended; the second has only begun and waits.
  expect(visits.take(10 * MIN + 1).map((v) => visits.toRow(v))).toEqual([
    expect.objectContaining({
      id: firstId,
      duration_ms: 5 * MIN,
      requests: 2,
      blocked: 1,
      closed: 1,
    }),
  ]);
  // Open for longer than the gap, it is written while it goes on, and again only once changed.
  visits.touch(14 * MIN, request('p1', 'a.example'), false);
  const secondId = visits.toRow(second).id;
  expect(visits.take(15 * MIN + 2).map((v) => visits.toRow(v))).toEqual([
    expect.objectContaining({ id: secondId, duration_ms: 4 * MIN - 1, requests: 2, closed: 0 }),
  ]);
  expect(visits.take(15 * MIN + 3)).toEqual([]);
});

it('WEB-6: a visit shorter than the idle gap is written once, when it ends', () => {
  const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 100 });
  visits.touch(0, request('p1', 'a.example'), false);
  visits.touch(1, request('p1', 'a.example'), false);
  expect(visits.take(MIN)).toEqual([]);
  expect(visits.take(5 * MIN)).toEqual([]);
  visits.sweep(5 * MIN + 2);
  expect(visits.take(5 * MIN + 2).map((v) => visits.toRow(v))).toEqual([
    expect.objectContaining({ requests: 2, closed: 1 }),
  ]);
  expect(visits.take(6 * MIN)).toEqual([]);
});

it('WEB-6: a visit reported late, begun before visits already open, still ends within one idle gap', () => {
  const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 100 });
  visits.touch(10 * MIN, request('p1', 'a.example'), false);
  // A request that began at 1 minute and is recorded when it ends, after the visit above began.
  const late = visits.touch(MIN, request('p2', 'b.example'), false);
  const lateId = visits.toRow(late).id;
  visits.sweep(15 * MIN + 1);
  const ended = visits.take(15 * MIN + 1).map((v) => visits.toRow(v));
  expect(ended).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        id: lateId,
        host: 'b.example',
        started_at: new Date(MIN).toISOString(),
        closed: 1,
      }),
    ]),
  );
  expect(ended.every((row) => row.closed === 1)).toBe(true);
});

it('WEB-6: among many open visits only the idle ones end, and only the long ones are written open (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          // Half minutes, so that gaps of exactly the idle time come up.
          at: fc.integer({ min: 0, max: 40 }).map((n) => n * 30_000),
          host: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
          person: fc.constantFrom('p1', 'p2', 'p3'),
        }),
        { minLength: 1, maxLength: 60 },
      ),
      fc.integer({ min: 0, max: 60 }).map((n) => n * 30_000),
      (requests, extra) => {
        const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 1000 });
        // In time order, as the DNS filter records them.
        const sorted = [...requests].sort((x, y) => x.at - y.at);
        const spans = new Map<string, { first: number; last: number }>();
        for (const r of sorted) {
          const key = `${r.person} ${r.host}`;
          const span = spans.get(key);
          // The model: a gap longer than the idle time ends a visit and begins another.
          if (!span || r.at - span.last > 5 * MIN) spans.set(key, { first: r.at, last: r.at });
          else span.last = r.at;
          visits.touch(r.at, request(r.person, `${r.host}.example`), false);
        }
        const now = sorted[sorted.length - 1]!.at + extra;
        visits.sweep(now);
        const rows = visits.take(now).map((v) => visits.toRow(v));
        for (const [key, span] of spans) {
          const [person, host] = key.split(' ');
          const idle = now - span.last > 5 * MIN;
          const long = now - span.first > 5 * MIN;
          const row = rows.find(
            (r) =>
              r.person_id === person &&
              r.host === `${host}.example` &&
              r.started_at === new Date(span.first).toISOString(),
          );
          if (idle) expect(row).toMatchObject({ closed: 1 });
          else if (long) expect(row).toMatchObject({ closed: 0 });
          else expect(row).toBeUndefined();
        }
      },
    ),
    { numRuns: 300 },
  );
});

it('WEB-6: the subject is the person, else the device, else the address', () => {
  const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 100 });
  const a = visits.touch(0, request('p1', 'a.example', '10.0.0.1'), false);
  expect(visits.touch(1, request('p1', 'a.example', '10.0.0.2'), false)).toBe(a);
  const b = visits.touch(2, request(null, 'a.example', '10.0.0.1'), false);
  expect(b).not.toBe(a);
  expect(visits.touch(3, request(null, 'b.example', '10.0.0.1'), false)).not.toBe(b);
});

it('past capacity the longest-open visit ends early (written, not lost); ended visits that cannot be written wait for the next attempt', () => {
  const visits = createVisitTracker({ idleMs: 5 * MIN, capacity: 3 });
  for (let i = 0; i < 5; i++) visits.touch(i, request(`p${i}`, 'a.example'), false);
  expect(visits.stats()).toMatchObject({ open: 3, waiting: 2, dropped: 0 });
  const taken = visits.take(4);
  const people = (slots: number[]) => slots.map((v) => visits.toRow(v).person_id);
  expect(taken.map((v) => [visits.toRow(v).person_id, visits.toRow(v).closed])).toEqual([
    ['p0', 1],
    ['p1', 1],
  ]);
  visits.failed(taken);
  const again = visits.take(4);
  expect(people(again)).toEqual(['p0', 'p1']);
  // Written: the ended visits' slots are given back and taken by the next visits.
  visits.written(again);
  expect(visits.stats()).toMatchObject({ open: 3, waiting: 0 });
  expect(people(visits.take(6 * MIN))).toEqual(['p2', 'p3', 'p4']);
  visits.sweep(10 * MIN);
  expect(visits.stats()).toMatchObject({ open: 0, waiting: 3, dropped: 0 });
});
