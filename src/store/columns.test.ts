import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isoAt, newTimeId } from './columns.ts';

it('time-ordered ids are UUIDv7-shaped and sort in the order of their times', () => {
  const ids = [0, 1, 999, 1_000, Date.UTC(2026, 2, 2), Date.UTC(2026, 2, 2) + 1, 2 ** 47].map(
    (ms) => newTimeId(ms),
  );
  for (const id of ids) {
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  expect([...ids].sort()).toEqual(ids);
  expect(newTimeId(5)).not.toBe(newTimeId(5));
  expect(newTimeId(Date.UTC(2026, 2, 2)).slice(0, 13)).toBe('019cabd8-3800');
});

it('WEB-6: a time id carries its millisecond in its first 48 bits, so ids of different times sort by time', () => {
  const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const timeOf = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      (a, b) => {
        const [x, y] = [newTimeId(a), newTimeId(b)];
        expect(x).toMatch(shape);
        expect(timeOf(x)).toBe(a);
        if (a !== b) expect(x < y).toBe(a < b);
      },
    ),
    { numRuns: 2000 },
  );
  // Random tails: ten thousand ids of the same millisecond are all different.
  expect(new Set(Array.from({ length: 10_000 }, () => newTimeId(7))).size).toBe(10_000);
});

it('WEB-6: activity times are written exactly as toISOString writes them, for any moment', () => {
  // Moments near each other (the minute kept between calls) and far apart, whole and fractional,
  // and outside the four-digit years, where Date's own form is used.
  const moment = fc.oneof(
    fc.integer({ min: 0, max: 253_402_300_799_999 }),
    fc.integer({ min: Date.UTC(2026, 11, 1, 9, 59, 58), max: Date.UTC(2026, 11, 1, 10, 0, 2) }),
    fc.double({ min: 0, max: 4e12, noNaN: true }),
    fc.integer({ min: -8.64e15, max: 8.64e15 }),
  );
  fc.assert(
    fc.property(fc.array(moment, { minLength: 1, maxLength: 20 }), (moments) => {
      for (const ms of moments) expect(isoAt(ms)).toBe(new Date(ms).toISOString());
    }),
    { numRuns: 2000 },
  );
  expect(isoAt(Date.UTC(2026, 11, 1, 9, 4, 5, 7))).toBe('2026-12-01T09:04:05.007Z');
});
