import fc from 'fast-check';
import { expect, it } from 'vitest';
import { RecentLookups } from './recent.ts';

const T = Date.UTC(2026, 11, 1, 9, 0, 0);

it('WEB-6: a lookup within the merge time joins the record made first; after it, a new record', () => {
  const recent = new RecentLookups(5000, 100, T);
  expect(recent.joins(false, '10.0.0.5', 'a.example', T)).toBeUndefined();
  expect(recent.joins(false, '10.0.0.5', 'a.example', T + 4999)).toBe(T);
  expect(recent.joins(false, '10.0.0.5', 'a.example', T + 5000)).toBeUndefined();
  expect(recent.joins(false, '10.0.0.5', 'a.example', T + 6000)).toBe(T + 5000);
});

it('WEB-6: another decision, client or name is a record of its own', () => {
  const recent = new RecentLookups(5000, 100, T);
  recent.joins(false, '10.0.0.5', 'a.example', T);
  expect(recent.joins(true, '10.0.0.5', 'a.example', T + 1)).toBeUndefined();
  expect(recent.joins(false, '10.0.0.6', 'a.example', T + 1)).toBeUndefined();
  expect(recent.joins(false, '10.0.0.5', 'b.example', T + 1)).toBeUndefined();
  expect(recent.joins(true, '10.0.0.5', 'a.example', T + 2)).toBe(T + 1);
});

it('stays bounded: past the bound the expired lookups go first, and what is kept still merges', () => {
  const recent = new RecentLookups(1000, 10, T);
  for (let i = 0; i < 10; i++) recent.joins(false, '10.0.0.5', `old${i}.example`, T);
  recent.joins(false, '10.0.0.5', 'kept.example', T + 1500);
  // The eleventh name made room by forgetting the ten expired ones, not the one just made.
  expect(recent.joins(false, '10.0.0.5', 'kept.example', T + 1600)).toBe(T + 1500);
  expect(recent.joins(false, '10.0.0.5', 'old0.example', T + 1600)).toBeUndefined();
});

it('merges the same across re-basing, over any sequence of lookups (property)', () => {
  // A model: the last record per key, checked against the structure with times far apart, so
  // that the base moves (it does every 2^29 ms).
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          blocked: fc.boolean(),
          client: fc.constantFrom('10.0.0.1', '10.0.0.2'),
          host: fc.constantFrom('a.example', 'b.example', 'c.example'),
          step: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constant(2 ** 29)),
        }),
        { maxLength: 60 },
      ),
      (lookups) => {
        const recent = new RecentLookups(2000, 1000, T);
        const model = new Map<string, number>();
        let now = T;
        let lastRebase = T;
        for (const l of lookups) {
          now += l.step;
          if (now - lastRebase >= 2 ** 29) {
            // Re-basing forgets everything: a record more, never one lost.
            model.clear();
            lastRebase = now;
          }
          const key = `${l.blocked}|${l.client}|${l.host}`;
          const last = model.get(key);
          const expected = last !== undefined && now - last < 2000 ? last : undefined;
          if (expected === undefined) model.set(key, now);
          expect(recent.joins(l.blocked, l.client, l.host, now)).toBe(expected);
        }
      },
    ),
  );
});

it('stays bounded when nothing has expired: everything is forgotten, and counting starts again', () => {
  const recent = new RecentLookups(60_000, 10, T);
  for (let i = 0; i < 10; i++) recent.joins(false, '10.0.0.5', `n${i}.example`, T + i);
  expect(recent.joins(false, '10.0.0.5', 'n10.example', T + 20)).toBeUndefined();
  expect(recent.joins(false, '10.0.0.5', 'n10.example', T + 30)).toBe(T + 20);
  expect(recent.joins(false, '10.0.0.5', 'n0.example', T + 30)).toBeUndefined();
});
