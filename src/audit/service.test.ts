import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachStore } from '../../test/support/stores.ts';
import { createAuditLog, GENESIS_HASH } from './service.ts';

const actor = { id: 'p-1', label: 'bains@palfrey.example' };

/** Tamper with the table as an attacker with database access would: triggers off, then edit. */
async function tamper(
  ctx: { store: import('../store/database.ts').Store },
  statement: ReturnType<typeof sql>,
): Promise<void> {
  const db = ctx.store.db;
  if (ctx.store.dialect === 'sqlite') {
    await sql`drop trigger audit_log_no_update`.execute(db);
    await sql`drop trigger audit_log_no_delete`.execute(db);
  } else {
    await sql`drop trigger audit_log_no_change on audit_log`.execute(db);
  }
  await statement.execute(db);
}

describeEachStore('audit chain', (ctx) => {
  async function seed(n: number) {
    const audit = createAuditLog(ctx.store);
    for (let i = 0; i < n; i++) {
      await audit.append({
        actor,
        action: 'person.updated',
        target: { type: 'person', id: `p-${i}` },
        clauseIds: ['SCP-1'],
        details: { i },
      });
    }
    return audit;
  }

  it('chains each entry to the previous one from the genesis hash', async () => {
    const audit = await seed(3);
    const entries = (await audit.list()).reverse();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    expect(entries[1]!.prevHash).toBe(entries[0]!.hash);
    expect(entries[2]!.prevHash).toBe(entries[1]!.hash);
    expect(await audit.verify()).toEqual({ ok: true, entries: 3, lastHash: entries[2]!.hash });
  });

  it('the database refuses to update or delete an entry', async () => {
    await seed(1);
    await expect(
      sql`update audit_log set action = 'x' where seq = 1`.execute(ctx.store.db),
    ).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_log where seq = 1`.execute(ctx.store.db)).rejects.toThrow(
      /append-only/,
    );
  });

  for (const column of [
    'at',
    'actor_label',
    'action',
    'target_id',
    'clause_ids',
    'reason',
    'details',
  ]) {
    it(`verify names the entry whose ${column} was altered`, async () => {
      const audit = await seed(5);
      const value =
        column === 'clause_ids' ? '["MON-5"]' : column === 'details' ? '{"i":99}' : 'forged';
      await tamper(ctx, sql`update audit_log set ${sql.ref(column)} = ${value} where seq = 3`);
      const result = await audit.verify();
      expect(result).toMatchObject({ ok: false, brokenAt: 3 });
    });
  }

  it('verify names a deleted entry', async () => {
    const audit = await seed(5);
    await tamper(ctx, sql`delete from audit_log where seq = 2`);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('verify catches a re-hashed entry by the broken link to its successor', async () => {
    const audit = await seed(4);
    const [row] = await ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '=', 2)
      .execute();
    const { hashEntry } = await import('./service.ts');
    const forged = { ...row!, action: 'forged' };
    const { hash: _ignored, ...rest } = forged;
    await tamper(
      ctx,
      sql`update audit_log set action = 'forged', hash = ${hashEntry(rest)} where seq = 2`,
    );
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it('an entry written inside a failed transaction leaves no trace', async () => {
    const audit = await seed(1);
    await expect(
      ctx.store.db.transaction().execute(async (trx) => {
        await audit.append({ actor, action: 'person.created' }, trx);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect((await audit.list()).length).toBe(1);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('concurrent appends keep one unbroken chain', async () => {
    const audit = createAuditLog(ctx.store);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => audit.append({ actor, action: 'x', details: { i } })),
    );
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 20 });
  });

  it('filters by actor, action, clause and date', async () => {
    const audit = await seed(2);
    await audit.append({
      actor: { id: 'p-9', label: 'x' },
      action: 'case.opened',
      clauseIds: ['MON-1'],
    });
    expect((await audit.list({ clauseId: 'MON-1' })).map((e) => e.action)).toEqual(['case.opened']);
    expect((await audit.list({ actorId: 'p-1' })).length).toBe(2);
    expect((await audit.list({ action: 'person.updated' })).length).toBe(2);
    expect((await audit.list({ from: '2999-01-01' })).length).toBe(0);
  });
});

describeEachStore('audit chain, batched', (ctx) => {
  it('appendMany continues the chain and verifies', async () => {
    const audit = createAuditLog(ctx.store);
    await audit.append({ actor, action: 'first' });
    const many = await audit.appendMany(
      Array.from({ length: 1200 }, (_, i) => ({ actor, action: 'person.created', details: { i } })),
    );
    expect(many).toEqual({ firstSeq: 2, lastSeq: 1201 });
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 1201 });
  });
});
