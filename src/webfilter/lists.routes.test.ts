import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';
import { stopWebFilter } from './runtime.ts';

const MINI = path.resolve(import.meta.dirname, '../../test/fixtures/lists/ut1-mini');
let work: string;
let tarball: Buffer;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'custos-lists-routes-'));
  const dir = path.join(work, 'src');
  await mkdir(path.join(dir, 'blacklists', 'chat'), { recursive: true });
  await mkdir(path.join(dir, 'blacklists', 'social_networks'), { recursive: true });
  await mkdir(path.join(dir, 'blacklists', 'webmail'), { recursive: true });
  await mkdir(path.join(dir, 'blacklists', 'child'), { recursive: true });
  for (const c of ['chat', 'social_networks', 'webmail', 'child']) {
    const old = await readFile(path.join(MINI, c, 'domains'), 'utf8');
    await writeFile(path.join(dir, 'blacklists', c, 'domains'), `${old}\nnew-${c}.example\n`);
  }
  const file = path.join(work, 'lists.tar.gz');
  await create({ gzip: true, file, cwd: dir, portable: true }, ['blacklists']);
  tarball = await readFile(file);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describeEachStore('web filter lists routes', (db) => {
  async function setup() {
    const dataDir = await mkdtemp(path.join(work, 'data-'));
    const ctx = await testContext(db.store, { config: { 'webfilter.lists': MINI, dataDir } });
    const { app } = await buildApp(ctx);
    return { ctx, app };
  }

  it('MIS-1: a host added to the deny list is blocked at once, audited, and a duplicate refused', async () => {
    const { ctx, app } = await setup();
    try {
      const it = await signedInAs(ctx, ['it_support']);
      const staff = await signedInAs(ctx, ['staff']);
      const test = () =>
        app.inject({
          method: 'GET',
          url: `/api/webfilter/test?url=school-says-no.example&person=${staff.personId}`,
          headers: it.headers,
        });
      expect((await test()).json().action).toBe('allow');
      const added = await app.inject({
        method: 'POST',
        url: '/api/webfilter/school-lists',
        headers: it.headers,
        payload: { list: 'deny', host: 'School-Says-No.Example.', reason: 'not for work' },
      });
      expect(added.statusCode).toBe(201);
      expect(added.json()).toMatchObject({ list: 'deny', host: 'school-says-no.example' });
      expect((await test()).json()).toMatchObject({ action: 'block', reason: 'school-deny' });

      const again = await app.inject({
        method: 'POST',
        url: '/api/webfilter/school-lists',
        headers: it.headers,
        payload: { list: 'allow', host: 'school-says-no.example', reason: 'changed my mind' },
      });
      expect(again.statusCode).toBe(409);
      const bad = await app.inject({
        method: 'POST',
        url: '/api/webfilter/school-lists',
        headers: it.headers,
        payload: { list: 'allow', host: 'not a host/../', reason: 'x' },
      });
      expect(bad.statusCode).toBe(400);

      const listed = await app.inject({
        method: 'GET',
        url: '/api/webfilter/school-lists',
        headers: it.headers,
      });
      expect(listed.json().entries).toHaveLength(1);
      const removed = await app.inject({
        method: 'DELETE',
        url: `/api/webfilter/school-lists/${added.json().id}`,
        headers: it.headers,
      });
      expect(removed.statusCode).toBe(204);
      expect((await test()).json().action).toBe('allow');
      const audit = await db.store.db
        .selectFrom('audit_log')
        .select(['action', 'clause_ids'])
        .where('action', 'like', 'webfilter.list-entry.%')
        .orderBy('seq')
        .execute();
      expect(audit.map((a) => a.action)).toEqual([
        'webfilter.list-entry.added',
        'webfilter.list-entry.removed',
      ]);
      expect(JSON.parse(audit[0]!.clause_ids)).toEqual(['MIS-1']);
    } finally {
      await app.close();
      await stopWebFilter(db.store);
    }
  });

  it('SYS-5: the lists status shows counts and, per group, what is blocked under which clauses', async () => {
    const { ctx, app } = await setup();
    try {
      const it = await signedInAs(ctx, ['it_support']);
      const res = await app.inject({
        method: 'GET',
        url: '/api/webfilter/lists',
        headers: it.headers,
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.source).toBe(MINI);
      expect(body.installed).toBeNull();
      const social = body.categories.find((c: { id: string }) => c.id === 'social_networks');
      expect(social.domains).toBeGreaterThan(0);
      expect(social.inPolicy).toBe(true);
      const anyBlocked = [social.everyone, ...Object.values(social.groups)].some(
        (v) => (v as { blocked: boolean }).blocked,
      );
      expect(anyBlocked).toBe(true);
    } finally {
      await app.close();
      await stopWebFilter(db.store);
    }
  });

  it("SYS-5: each group shows what applies to its members, the default groups' blocks included", async () => {
    const { ctx, app } = await setup();
    try {
      const it = await signedInAs(ctx, ['it_support']);
      const res = await app.inject({
        method: 'GET',
        url: '/api/webfilter/lists',
        headers: it.headers,
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.defaultGroups).toEqual(['staff']);
      // Every group of the pack, including those with no web rule of their own.
      expect(body.groups.map((g: { id: string }) => g.id)).toEqual(
        expect.arrayContaining(['staff', 'teaching', 'leadership', 'governors', 'visitors']),
      );
      const category = (id: string) => body.categories.find((c: { id: string }) => c.id === id);
      const social = category('social_networks');
      // Teaching has no rule of its own: its members are in "staff" too (web.defaultGroups).
      expect(social.groups.teaching).toEqual({
        blocked: true,
        clauses: ['SYS-5', 'MIS-2(h)'],
        rule: null,
      });
      expect(social.groups.staff).toMatchObject({ blocked: true, rule: 'block' });
      // Leadership's own allow lifts the staff block.
      expect(social.groups.leadership).toEqual({ blocked: false, clauses: [], rule: 'allow' });
      expect(category('audio-video').groups.leadership).toMatchObject({
        blocked: true,
        clauses: ['SYS-5'],
        rule: null,
      });
      expect(category('shopping').groups.governors).toMatchObject({ blocked: true, rule: null });
      // Everyone's blocks stay as the pack says them, for people and unknown devices alike.
      expect(social.everyone).toEqual({ blocked: false, clauses: [] });
      expect(category('adult').groups.governors).toMatchObject({ blocked: true });
    } finally {
      await app.close();
      await stopWebFilter(db.store);
    }
  });

  it('an uploaded tarball is installed as a job and the new lists are in force', async () => {
    const { ctx, app } = await setup();
    try {
      const it = await signedInAs(ctx, ['it_support']);
      const started = await app.inject({
        method: 'POST',
        url: '/api/webfilter/lists/update',
        headers: { ...it.headers, 'content-type': 'application/gzip' },
        payload: tarball,
      });
      expect(started.statusCode).toBe(202);
      const id = started.json().id;
      let job = started.json();
      for (let i = 0; i < 100 && job.phase !== 'done' && job.phase !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (
          await app.inject({
            method: 'GET',
            url: `/api/webfilter/lists/update/${id}`,
            headers: it.headers,
          })
        ).json();
      }
      expect(job).toMatchObject({ phase: 'done', error: null });
      const status = (
        await app.inject({ method: 'GET', url: '/api/webfilter/lists', headers: it.headers })
      ).json();
      expect(status.installed.sha256).toMatch(/^[0-9a-f]{64}$/);
      const test = await app.inject({
        method: 'GET',
        url: '/api/webfilter/test?url=new-chat.example',
        headers: it.headers,
      });
      expect(test.json().categories.map((c: { id: string }) => c.id)).toContain('chat');

      const refused = await app.inject({
        method: 'POST',
        url: '/api/webfilter/lists/update',
        headers: it.headers,
        payload: { from: 'somewhere' },
      });
      expect(refused.statusCode).toBe(400);
    } finally {
      await app.close();
      await stopWebFilter(db.store);
    }
  });
});
