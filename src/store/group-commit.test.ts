import { expect, it } from 'vitest';
import { describeEachStore } from '../../test/support/stores.ts';
import { createGroupCommit } from './group-commit.ts';

const at = '2026-03-02T09:00:00.000Z';

describeEachStore('group commit', (ctx) => {
  const keys = async () =>
    (await ctx.store.db.selectFrom('kv').select('key').orderBy('key').execute()).map((r) => r.key);

  it('MAIL-3: writes that arrive together are committed together, and each caller hears only after its commit', async () => {
    const commits = createGroupCommit(ctx.store);
    const settled: string[] = [];
    const writes = Array.from({ length: 20 }, (_, i) => {
      const key = `k${String(i).padStart(2, '0')}`;
      return commits
        .run(ctx.store.db.insertInto('kv').values({ key, value: 'v', updated_at: at }))
        .then(async () => {
          // Committed: a read on the store (outside any transaction) sees it.
          const row = await ctx.store.db
            .selectFrom('kv')
            .select('key')
            .where('key', '=', key)
            .executeTakeFirst();
          settled.push(row ? key : `missing ${key}`);
        });
    });
    await Promise.all(writes);
    expect(settled.sort()).toEqual(await keys());
    expect(settled).toHaveLength(20);
    const { writes: n, commits: c } = commits.stats();
    expect(n).toBe(20);
    expect(c).toBeLessThan(20);
  });

  it('a bad write fails its own caller only; the others in its batch are committed', async () => {
    await ctx.store.db
      .insertInto('kv')
      .values({ key: 'taken', value: 'v', updated_at: at })
      .execute();
    const commits = createGroupCommit(ctx.store);
    const insert = (key: string) =>
      commits.run(ctx.store.db.insertInto('kv').values({ key, value: 'v', updated_at: at }));
    const results = await Promise.allSettled([insert('a'), insert('taken'), insert('b')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await keys()).toEqual(['a', 'b', 'taken']);
  });

  it('writes that come while a commit runs go in the next one, none lost', async () => {
    const commits = createGroupCommit(ctx.store);
    const all: Promise<void>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) {
        const key = `r${round}-${i}`;
        all.push(
          commits.run(ctx.store.db.insertInto('kv').values({ key, value: 'v', updated_at: at })),
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(await keys()).toHaveLength(20);
    expect(commits.stats().writes).toBe(20);
  });
});
