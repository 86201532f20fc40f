import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/app.ts';
import { describeEachStore, TEST_DATABASE_URL } from '../../test/support/stores.ts';
import type { AppContext } from '../api/context.ts';
import { openStore } from '../store/database.ts';
import type { CategoryIndex } from './categories/index.ts';
import {
  installTarget,
  LISTS_KEY,
  ListUpdateError,
  readInstalledLists,
  shrunkCategories,
  updateLists,
} from './lists.service.ts';
import { watchInstalledLists } from './runtime.ts';

const actor = { id: null, label: 'cli:test' };
let work: string;
let server: Server;
let base: string;
const files = new Map<string, Buffer>();

/** A UT1-shaped tarball: `adult` with `n` domains, `chat` with two. */
async function tarball(name: string, n: number): Promise<string> {
  const dir = join(work, `src-${name}`);
  await mkdir(join(dir, 'blacklists', 'adult'), { recursive: true });
  await mkdir(join(dir, 'blacklists', 'chat'), { recursive: true });
  const adult = Array.from({ length: n }, (_, i) => `adult${i}.example`).join('\n');
  await writeFile(join(dir, 'blacklists', 'adult', 'domains'), `${adult}\nnew-${name}.example\n`);
  await writeFile(join(dir, 'blacklists', 'chat', 'domains'), 'chat.example\ntalk.example\n');
  const file = join(work, `${name}.tar.gz`);
  await create({ gzip: true, file, cwd: dir, portable: true }, ['blacklists']);
  return file;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'custos-lists-'));
  for (const [name, n] of [
    ['full', 100],
    ['newer', 120],
    ['small', 10],
  ] as const) {
    files.set(`/${name}.tar.gz`, await readFile(await tarball(name, n)));
  }
  const full = files.get('/full.tar.gz')!;
  files.set('/truncated.tar.gz', full.subarray(0, Math.floor(full.length / 2)));
  server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/gzip' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(work, { recursive: true, force: true });
});

const depsOf = (ctx: AppContext) => ({
  config: ctx.config,
  store: ctx.store,
  audit: ctx.audit,
  policy: ctx.policy.current(),
  clock: ctx.clock,
});

async function context(store: AppContext['store']): Promise<AppContext> {
  const dataDir = await mkdtemp(join(work, 'data-'));
  return testContext(store, { config: { dataDir } });
}

describeEachStore('custos lists update', (t) => {
  it('downloads the tarball from a server, installs it atomically and records it (SYS-5, WEB-1)', async () => {
    const ctx = await context(t.store);
    const phases = new Set<string>();
    const result = await updateLists(
      depsOf(ctx),
      { url: `${base}/full.tar.gz` },
      { actor, onProgress: (p) => phases.add(p.phase), current: [] },
    );
    expect([...phases]).toEqual(
      expect.arrayContaining(['downloading', 'checking', 'installing', 'done']),
    );
    const target = installTarget(ctx.config);
    expect(result.installed.path).toBe(target);
    expect((await stat(target)).size).toBe(files.get('/full.tar.gz')!.length);
    expect(result.index.lookup('adult5.example')).toContain('adult');
    const row = await readInstalledLists(t.store);
    expect(row?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.categories.find((c) => c.name === 'adult')?.domains).toBe(101);
    const audit = await t.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'lists.updated')
      .execute();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.clause_ids)).toEqual(['SYS-5', 'WEB-1']);
  });

  it('refuses a truncated download and a shrunken list, and changes nothing', async () => {
    const ctx = await context(t.store);
    await updateLists(depsOf(ctx), { url: `${base}/full.tar.gz` }, { actor, current: [] });
    const before = await readInstalledLists(t.store);
    const bytes = await readFile(installTarget(ctx.config));

    const truncated = updateLists(depsOf(ctx), { url: `${base}/truncated.tar.gz` }, { actor });
    await expect(truncated).rejects.toBeInstanceOf(ListUpdateError);
    await expect(truncated).rejects.toMatchObject({ code: 'invalid_lists' });

    const small = updateLists(depsOf(ctx), { url: `${base}/small.tar.gz` }, { actor });
    await expect(small).rejects.toMatchObject({ code: 'lists_shrank' });
    await expect(small).rejects.toThrow(/adult 101 → 11/);

    const missing = updateLists(depsOf(ctx), { url: `${base}/nothing.tar.gz` }, { actor });
    await expect(missing).rejects.toMatchObject({ code: 'download_failed' });

    expect(await readInstalledLists(t.store)).toEqual(before);
    expect(await readFile(installTarget(ctx.config))).toEqual(bytes);
    const leftovers = (await import('node:fs')).readdirSync(join(ctx.config.dataDir, 'lists'));
    expect(leftovers).toEqual(['ut1.tar.gz']);
    const audits = await t.store.db
      .selectFrom('audit_log')
      .select('action')
      .where('action', '=', 'lists.updated')
      .execute();
    expect(audits).toHaveLength(1);
  });

  it('takes a file for schools without internet access', async () => {
    const ctx = await context(t.store);
    const result = await updateLists(
      depsOf(ctx),
      { file: join(work, 'newer.tar.gz') },
      { actor, current: [] },
    );
    expect(result.installed.source).toBe(join(work, 'newer.tar.gz'));
    expect(result.index.lookup('new-newer.example')).toContain('adult');
  });

  it("a gateway process's state swaps to lists installed by another process", async () => {
    const ctx = await context(t.store);
    // The gateway: a connection of its own to the same database.
    const own = await openStore(
      t.dialect === 'sqlite'
        ? { sqlitePath: t.store.sqliteFile! }
        : { url: TEST_DATABASE_URL, sqlitePath: '', pgSchema: t.store.schema },
    );
    const swapped: CategoryIndex[] = [];
    const gateway = { replaceLists: async (index: CategoryIndex) => void swapped.push(index) };
    const watch = watchInstalledLists(own, gateway, { intervalMs: 60_000 });
    try {
      await watch.check();
      expect(swapped).toHaveLength(0);
      // The console (another process) installs new lists.
      await updateLists(depsOf(ctx), { url: `${base}/newer.tar.gz` }, { actor, current: [] });
      await watch.check();
      expect(swapped).toHaveLength(1);
      expect(swapped[0]!.lookup('new-newer.example')).toContain('adult');
      await watch.check();
      expect(swapped).toHaveLength(1);
      const row = await t.store.db
        .selectFrom('kv')
        .select('key')
        .where('key', '=', LISTS_KEY)
        .execute();
      expect(row).toHaveLength(1);
    } finally {
      watch();
      await own.destroy();
    }
  });
});

describe('shrunkCategories', () => {
  const relevant = new Set(['adult', 'chat']);
  it('names the policy categories that lost more than the limit, and only those', () => {
    const before = [
      { name: 'adult', domains: 100, urls: 0 },
      { name: 'chat', domains: 10, urls: 0 },
      { name: 'games', domains: 100, urls: 0 },
    ];
    const after = [
      { name: 'adult', domains: 40, urls: 0 },
      { name: 'games', domains: 1, urls: 0 },
    ];
    expect(shrunkCategories(before, after, relevant, 0.5).map((s) => s.name)).toEqual([
      'adult',
      'chat',
    ]);
  });

  it('never refuses lists that only grew', () => {
    const counts = fc.array(
      fc.record({
        name: fc.constantFrom('adult', 'chat', 'games'),
        domains: fc.nat(1000),
        urls: fc.nat(1000),
      }),
    );
    fc.assert(
      fc.property(counts, fc.nat(1000), fc.double({ min: 0, max: 1, noNaN: true }), (b, g, m) => {
        const before = [...new Map(b.map((c) => [c.name, c])).values()];
        const after = before.map((c) => ({ ...c, domains: c.domains + g }));
        expect(shrunkCategories(before, after, relevant, m)).toEqual([]);
      }),
    );
  });
});
