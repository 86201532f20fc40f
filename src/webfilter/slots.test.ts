import fc from 'fast-check';
import { expect, it } from 'vitest';
import { grown, SlotOrder, SlotPool } from './slots.ts';

it('keeps slots in the order they were placed through any places, removals and compactions, and gives the leading ones that pass a test (property)', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('place' as const), slot: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ kind: fc.constant('remove' as const), slot: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ kind: fc.constant('oldest' as const) }),
    fc.record({ kind: fc.constant('compact' as const) }),
    fc.record({ kind: fc.constant('leading' as const), below: fc.integer({ min: 0, max: 3000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
      const order = new SlotOrder();
      const model: number[] = [];
      for (const o of ops) {
        if (o.kind === 'place') {
          if (model.includes(o.slot)) continue; // a slot is placed once until removed
          order.place(o.slot);
          model.push(o.slot);
        } else if (o.kind === 'remove') {
          order.remove(o.slot);
          const i = model.indexOf(o.slot);
          if (i >= 0) model.splice(i, 1);
        } else if (o.kind === 'oldest') {
          expect(order.oldest()).toBe(model[0] ?? -1);
        } else if (o.kind === 'leading') {
          const stop = model.findIndex((slot) => slot >= o.below);
          expect(order.leading((slot) => slot < o.below)).toEqual(
            stop < 0 ? model : model.slice(0, stop),
          );
        } else {
          order.compact();
        }
        expect(order.live).toBe(model.length);
      }
      expect(order.slots()).toEqual(model);
      for (const slot of model) expect(order.has(slot)).toBe(true);
    }),
    { numRuns: 50 },
  );
});

it('hands back released slots first and counts those in use', () => {
  const pool = new SlotPool();
  expect([pool.take(), pool.take(), pool.take()]).toEqual([0, 1, 2]);
  pool.release(1);
  expect(pool.used).toBe(2);
  expect(pool.take()).toBe(1);
  expect(pool.take()).toBe(3);
  expect(pool.size).toBe(4);
});

it('grows a column to hold a slot, keeping what it held', () => {
  const a = new Float64Array([1, 2, 3]);
  expect(grown(a, 3)).toBe(a);
  const b = grown(a, 40);
  expect(b.length).toBeGreaterThanOrEqual(40);
  expect(Array.from(b.subarray(0, 4))).toEqual([1, 2, 3, 0]);
});
