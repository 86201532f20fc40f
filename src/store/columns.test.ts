import { expect, it } from 'vitest';
import { newTimeId } from './columns.ts';

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
