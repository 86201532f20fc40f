import { expect, it } from 'vitest';
import { createVisitTracker, toVisitRow } from './visits.ts';

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
  // At 10 minutes the first visit has ended; the second has only begun and waits.
  expect(visits.take(10 * MIN + 1).map(toVisitRow)).toEqual([
    expect.objectContaining({
      id: first.id,
      duration_ms: 5 * MIN,
      requests: 2,
      blocked: 1,
      closed: 1,
    }),
  ]);
  // Open for longer than the gap, it is written while it goes on, and again only once changed.
  visits.touch(14 * MIN, request('p1', 'a.example'), false);
  expect(visits.take(15 * MIN + 2).map(toVisitRow)).toEqual([
    expect.objectContaining({ id: second.id, duration_ms: 4 * MIN - 1, requests: 2, closed: 0 }),
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
  expect(visits.take(5 * MIN + 2).map(toVisitRow)).toEqual([
    expect.objectContaining({ requests: 2, closed: 1 }),
  ]);
  expect(visits.take(6 * MIN)).toEqual([]);
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
  expect(taken.map((v) => [v.personId, v.closed])).toEqual([
    ['p0', true],
    ['p1', true],
  ]);
  visits.failed(taken);
  expect(visits.take(4).map((v) => v.personId)).toEqual(['p0', 'p1']);
  expect(visits.take(6 * MIN).map((v) => v.personId)).toEqual(['p2', 'p3', 'p4']);
  visits.sweep(10 * MIN);
  expect(visits.stats()).toMatchObject({ open: 0, waiting: 3, dropped: 0 });
});
