import { describe, expect, it } from 'vitest';
import { QuestionTable } from './question-table.ts';

const octets = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

/** Adds (client, key) with `value` unless it is there; its entry. */
function put(t: QuestionTable<string>, client: number, key: string, value: number, hash = 7) {
  const k = octets(key);
  const found = t.find(client, hash, k, k.length);
  return found >= 0 ? found : t.add(client, hash, k, k.length, value);
}
const find = (t: QuestionTable<string>, client: number, key: string, hash = 7) =>
  t.find(client, hash, octets(key), key.length);

describe('DNS question table', () => {
  it('finds an entry by client and key octets only: same hash, another key or client, is a miss', () => {
    const t = new QuestionTable<string>(100);
    put(t, 1, 'a.example', 10);
    put(t, 1, 'b.example', 11); // the same hash: the next slot
    put(t, 2, 'a.example', 12);
    expect(t.value(find(t, 1, 'a.example'))).toBe(10);
    expect(t.value(find(t, 1, 'b.example'))).toBe(11);
    expect(t.value(find(t, 2, 'a.example'))).toBe(12);
    expect(find(t, 3, 'a.example')).toBe(-1);
    expect(find(t, 1, 'a.exampl')).toBe(-1);
    expect(find(t, 1, 'a.examplf')).toBe(-1);
    expect(find(t, 1, 'a.example', 8)).toBe(-1);
  });

  it('keeps an object and a number with each entry, and carries them into the next generation', () => {
    const t = new QuestionTable<string>(4);
    const e = put(t, 1, 'a', 1, 1);
    t.setRef(e, 'answer');
    t.setStamp(e, 1234);
    put(t, 1, 'b', 2, 2); // the first generation (2 entries) is full
    put(t, 1, 'c', 3, 3); // a new one starts
    const moved = find(t, 1, 'a', 1);
    expect(t.value(moved)).toBe(1);
    expect(t.ref(moved)).toBe('answer');
    expect(t.stamp(moved)).toBe(1234);
  });

  it('holds at most maxEntries, and keeps what is asked again before maxEntries/2 more are added', () => {
    const t = new QuestionTable<string>(64);
    put(t, 1, 'kept', 0, 99);
    for (let i = 0; i < 2000; i++) {
      put(t, 1, `n${i}`, i, i * 2654435761);
      if (i % 30 === 0) expect(find(t, 1, 'kept', 99)).toBeGreaterThanOrEqual(0);
      expect(t.size).toBeLessThanOrEqual(64);
    }
    expect(find(t, 1, 'n0', 0)).toBe(-1);
    expect(t.value(find(t, 1, 'n1999', 1999 * 2654435761))).toBe(1999);
  });

  it('cuts a run of colliding keys short: a bounded cost, the rest not kept', () => {
    const t = new QuestionTable<string>(10_000);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (put(t, 1, `same-hash-${i}`, i) >= 0) kept++;
    expect(kept).toBeLessThan(100);
    expect(kept).toBeGreaterThanOrEqual(32);
    expect(find(t, 1, 'same-hash-99')).toBe(-1);
    expect(t.value(find(t, 1, 'same-hash-0'))).toBe(0);
  });

  it('keeps nothing with a bound of 0, and nothing after clear()', () => {
    const none = new QuestionTable<string>(0);
    expect(put(none, 1, 'a', 1)).toBe(-1);
    expect(find(none, 1, 'a')).toBe(-1);
    const t = new QuestionTable<string>(10);
    put(t, 1, 'a', 1);
    t.clear();
    expect(find(t, 1, 'a')).toBe(-1);
    expect(t.size).toBe(0);
  });

  it('takes keys up to 260 octets, any octet values', () => {
    const t = new QuestionTable<string>(10);
    const long = String.fromCharCode(...Array.from({ length: 260 }, (_, i) => (i * 37) & 0xff));
    put(t, 1, long, 5, 3);
    expect(t.value(find(t, 1, long, 3))).toBe(5);
    expect(find(t, 1, `${long.slice(0, 259)}x`, 3)).toBe(-1);
  });
});
