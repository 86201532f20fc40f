import { expect, it } from 'vitest';
import { compileShipped, replaceOnce, shippedPackText } from '../../test/support/policy-pack.ts';
import { describeEachStore, TEST_DATABASE_URL } from '../../test/support/stores.ts';
import { createAuditLog, SYSTEM_ACTOR } from '../audit/service.ts';
import { openStore, type Store } from '../store/database.ts';
import { createPolicyHolder } from './holder.ts';
import {
  APPLIED_KEY,
  createPackService,
  findAppliedPack,
  markStartupPolicy,
  startupPolicy,
  watchAppliedPack,
} from './packs.ts';

const SHIPPED_FOLDER = new URL('../../policy-packs/palfrey-infant', import.meta.url).pathname;
const sbm = { id: null, label: 'h.bains@school.test', roles: ['sbm'] };
const bytes = (text: string) => Buffer.from(text, 'utf8');
const renamed = (name: string) =>
  replaceOnce(shippedPackText(), 'name: palfrey-infant', `name: ${name}`);

/** A second connection to the same database, as a gateway on another machine would have. */
async function secondConnection(store: Store): Promise<Store> {
  if (store.dialect === 'sqlite') {
    return openStore({ sqlitePath: store.describe.slice('sqlite:'.length) });
  }
  return openStore({ url: TEST_DATABASE_URL, sqlitePath: '', pgSchema: store.schema! });
}

async function until(check: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let now = Date.parse('2026-03-01T09:00:00Z');

describeEachStore('policy packs', (t) => {
  const service = () => {
    const holder = createPolicyHolder(compileShipped());
    // A second between any two events, so "most recently applied" never depends on a tie.
    const clock = () => {
      now += 1000;
      return new Date(now);
    };
    const audit = createAuditLog(t.store, clock);
    const packs = createPackService({ store: t.store, audit, policy: holder, clock });
    return { holder, audit, packs };
  };

  it('GOV-1: a broken upload is kept with every problem by line and key, and cannot be applied', async () => {
    const { packs, audit, holder } = service();
    const broken = replaceOnce(
      shippedPackText(),
      'reviewIntervalMonths: 12',
      'reviewIntervalMonths: twelve',
    );
    const stored = await packs.upload({ bytes: bytes(broken), fileName: 'policy.yaml' }, sbm);
    expect(stored.valid).toBe(false);
    expect(stored.name).toBe('palfrey-infant');
    expect(stored.errors).toEqual([
      expect.objectContaining({
        file: 'policy.yaml',
        line: broken.split('\n').findIndex((l) => l.includes('twelve')) + 1,
        key: 'document.reviewIntervalMonths',
      }),
    ]);
    expect(stored.summary).toBeNull();
    await expect(packs.apply(stored.id, sbm)).rejects.toMatchObject({ code: 'conflict' });
    expect(holder.current().document.reviewIntervalMonths).toBe(12);
    const [entry] = await audit.list({ action: 'policy.pack-uploaded' });
    expect(entry).toMatchObject({ clauseIds: ['GOV-1'], targetId: stored.id });
    expect(entry?.details).toMatchObject({ valid: false, problems: 1 });
  });

  it('GOV-6: applying a valid pack swaps the policy at once, records it and marks it in force', async () => {
    const { packs, audit, holder } = service();
    const stored = await packs.upload({ bytes: bytes(renamed('my-school')) }, sbm);
    expect(stored).toMatchObject({ valid: true, name: 'my-school', inForce: false });
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    const result = await packs.apply(stored.id, sbm);
    expect(holder.current().name).toBe('my-school');
    expect(result.previous.name).toBe('palfrey-infant');
    expect(result.pack.inForce).toBe(true);
    expect((await findAppliedPack(t.store))?.id).toBe(stored.id);
    const listed = await packs.list();
    expect(listed.find((p) => p.id === stored.id)).toMatchObject({
      inForce: true,
      appliedBy: { label: sbm.label },
    });
    const [entry] = await audit.list({ action: 'policy.applied' });
    expect(entry).toMatchObject({ clauseIds: ['GOV-1', 'GOV-6'], targetId: stored.id });
    expect((await audit.verify()).ok).toBe(true);
  });

  it('refuses a pack under which the person applying it would lose policy.manage', async () => {
    const { packs, holder } = service();
    const text = replaceOnce(
      renamed('locked-out'),
      'permissions: ["*"]',
      'permissions: [policy.read, people.read]',
    );
    const stored = await packs.upload({ bytes: bytes(text) }, sbm);
    expect(stored.valid).toBe(true);
    await expect(packs.apply(stored.id, sbm)).rejects.toThrow(
      /would no longer hold policy\.manage/,
    );
    expect(holder.current().name).toBe('palfrey-infant');
  });

  it('start-up prefers the pack applied most recently over the folder', async () => {
    const before = await startupPolicy(t.store, SHIPPED_FOLDER);
    expect(before).toMatchObject({ ok: true, source: 'folder' });
    const { packs } = service();
    const first = await packs.upload({ bytes: bytes(renamed('first')) }, sbm);
    const second = await packs.upload({ bytes: bytes(renamed('second')) }, sbm);
    await packs.apply(second.id, sbm);
    await packs.apply(first.id, sbm);
    const after = await startupPolicy(t.store, SHIPPED_FOLDER);
    expect(after.ok && after.policy.name).toBe('first');
    expect(after.source).toBe('database');
    const folder = await startupPolicy(t.store, SHIPPED_FOLDER, { ignoreApplied: true });
    expect(folder.ok && folder.policy.name).toBe('palfrey-infant');
  });

  it('a watcher on another connection reloads the pack once it is applied, and only then', async () => {
    const other = await secondConnection(t.store);
    try {
      const started = await startupPolicy(other, SHIPPED_FOLDER);
      if (!started.ok) throw new Error(started.message);
      const gateway = createPolicyHolder(started.policy);
      await markStartupPolicy(other, gateway, started);
      let reloads = 0;
      gateway.onChange(() => reloads++);
      const stop = watchAppliedPack(other, gateway, { intervalMs: 50 });
      try {
        const { packs } = service();
        const stored = await packs.upload({ bytes: bytes(renamed('from-elsewhere')) }, sbm);
        await new Promise((r) => setTimeout(r, 200));
        expect(gateway.current().name).toBe('palfrey-infant'); // uploaded, not applied
        await packs.apply(stored.id, sbm);
        await until(() => gateway.current().name === 'from-elsewhere');
        await new Promise((r) => setTimeout(r, 200));
        expect(reloads).toBe(1);
      } finally {
        stop();
      }
    } finally {
      await other.destroy();
    }
  });

  it('the process that applied a pack does not reload it again from its own watcher', async () => {
    const { packs, holder } = service();
    let reloads = 0;
    holder.onChange(() => reloads++);
    const stop = watchAppliedPack(t.store, holder, { intervalMs: 20 });
    try {
      const stored = await packs.upload({ bytes: bytes(renamed('here')) }, sbm);
      await packs.apply(stored.id, sbm);
      await new Promise((r) => setTimeout(r, 150));
      expect(reloads).toBe(1);
      const marker = await t.store.db
        .selectFrom('kv')
        .select('value')
        .where('key', '=', APPLIED_KEY)
        .executeTakeFirstOrThrow();
      expect(JSON.parse(marker.value)).toMatchObject({ id: stored.id });
    } finally {
      stop();
    }
  });

  it('an upload that is not UTF-8 is reported and its bytes are not kept', async () => {
    const { packs } = service();
    const stored = await packs.upload(
      { bytes: Uint8Array.from([0x6e, 0x61, 0xff, 0x0a]), fileName: 'odd.yaml' },
      SYSTEM_ACTOR,
    );
    expect(stored.valid).toBe(false);
    expect(stored.errors[0]).toMatchObject({ key: '(file)', line: 1 });
    expect((await packs.get(stored.id))?.yaml).toBe('');
  });
});
