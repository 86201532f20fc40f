import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ListLoadError,
  type LoadProgress,
  loadCategories,
  loadCategoryFolder,
  loadCategoryTarball,
  loadListFile,
} from './loader.ts';

const root = join(import.meta.dirname, '../../../');
const mini = join(root, 'test/fixtures/lists/ut1-mini');
const shipped = join(root, 'lists/ut1');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'custos-lists-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof ListLoadError ? error.code : `other: ${String(error)}`;
  }
};

/** The upstream layout: blacklists/CATEGORY/{domains,urls,usage}, with an alias link. */
async function upstreamCopy(name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await cp(mini, join(dir, 'blacklists'), { recursive: true });
  await symlink('social_networks', join(dir, 'blacklists', 'social'));
  return dir;
}

describe('a squidGuard/UT1 folder', () => {
  it('loads every category with its counts and usage', async () => {
    const { index, report } = await loadCategoryFolder(mini);
    expect(report.categories.map((c) => c.name)).toEqual([
      'chat',
      'child',
      'social_networks',
      'webmail',
    ]);
    const webmail = report.categories.find((c) => c.name === 'webmail')!;
    expect(webmail).toMatchObject({ domains: 54, urls: 9, skipped: 0 });
    expect(webmail.usage?.lists).toEqual(['black', 'white']);
    expect(report.categories.find((c) => c.name === 'child')!.usage?.lists).toEqual(['white']);
    expect(report.totalSkipped).toBe(0);
    expect(report.names).toBe(index.size);
    expect(report.ignored).toContain(
      'social_networks/expressions: not a domains, urls or usage file',
    );
  });

  it('SYS-5: answers for the loaded names and URLs', async () => {
    const { index } = await loadCategoryFolder(mini);
    expect(index.lookup('www.facebook.com')).toContain('social_networks');
    expect(index.lookup('mail.google.com')).toEqual(['webmail']);
    expect(index.lookup('discord.com')).toContain('chat');
    expect(index.lookupUrl('home.pl', '/webmail/')).toEqual(['webmail']);
    expect(index.lookupUrl('212.19.193.108', '/servlet/login')).toEqual(['chat']);
  });

  it('enters blacklists/ and leaves alias links out', async () => {
    const dir = await upstreamCopy('unpacked');
    const { report } = await loadCategoryFolder(dir);
    expect(report.categories).toHaveLength(4);
    expect(report.ignored).toContain('social: a link (an upstream alias), not loaded twice');
  });

  it('loads only the categories asked for', async () => {
    const { index } = await loadCategoryFolder(mini, { only: ['webmail'] });
    expect(index.categories()).toEqual(['webmail']);
    expect(index.lookup('facebook.com')).toEqual([]);
  });

  it('reports bad lines with their category, file and line number', async () => {
    const dir = join(work, 'garbage');
    await mkdir(join(dir, 'webmail'), { recursive: true });
    await writeFile(
      join(dir, 'webmail', 'domains'),
      'gmail.com\nbad name\n\u0000\nhotmail.com\r\n',
    );
    const { index, report } = await loadCategoryFolder(dir);
    expect(index.size).toBe(2);
    expect(report.totalSkipped).toBe(2);
    expect(report.skipped.map((s) => [s.category, s.file, s.line])).toEqual([
      ['webmail', 'domains', 2],
      ['webmail', 'domains', 3],
    ]);
  });

  it('leaves out a folder whose name is not a usable category name, saying so', async () => {
    const dir = join(work, 'odd-names');
    await mkdir(join(dir, 'Web Mail'), { recursive: true });
    await mkdir(join(dir, 'webmail'), { recursive: true });
    await writeFile(join(dir, 'Web Mail', 'domains'), 'gmail.com\n');
    await writeFile(join(dir, 'webmail', 'domains'), 'hotmail.com\n');
    const { index, report } = await loadCategoryFolder(dir);
    expect(index.categories()).toEqual(['webmail']);
    expect(report.ignored).toContain(
      'Web Mail: "Web Mail" is not a usable category name (lower case letters, digits, - and _), not loaded',
    );
  });

  it('tells progress category by category, then indexing', async () => {
    const seen: LoadProgress[] = [];
    await loadCategoryFolder(mini, { onProgress: (p) => seen.push(p) });
    expect(seen[0]).toEqual({ phase: 'reading', category: 'chat', done: 0, total: 4 });
    expect(seen.map((p) => p.phase)).toContain('indexing');
    expect(seen.at(-1)).toEqual({ phase: 'done', category: null, done: 1, total: 1 });
  });

  it('refuses a folder with no categories', async () => {
    const dir = join(work, 'empty');
    await mkdir(join(dir, 'notes'), { recursive: true });
    await writeFile(join(dir, 'README'), 'nothing here');
    expect(await codeOf(loadCategoryFolder(dir))).toBe('no_categories');
    expect(await codeOf(loadCategoryFolder(join(work, 'missing')))).toBe('not_found');
  });

  it('refuses a file over the size cap, saying which and how to proceed', async () => {
    const error = await loadCategoryFolder(mini, { maxFileBytes: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ListLoadError);
    expect((error as ListLoadError).code).toBe('too_large');
    expect((error as ListLoadError).message).toMatch(/over the 0\.0 MiB limit; raise maxFileBytes/);
    expect(await codeOf(loadCategoryFolder(mini, { maxTotalBytes: 1000 }))).toBe('too_large');
  });
});

describe('the shipped lists/ut1', () => {
  it('loads without a skipped line', async () => {
    const { index, report } = await loadCategoryFolder(shipped);
    expect(report.totalSkipped).toBe(0);
    expect(report.categories.length).toBeGreaterThanOrEqual(34);
    for (const c of [
      'audio-video',
      'chat',
      'social_networks',
      'webmail',
      'forums',
      'gambling',
      'adult',
    ]) {
      expect(index.categories()).toContain(c);
    }
    // SYS-5: facebook.com is in social_networks; well-known web mail is in webmail.
    expect(index.lookup('facebook.com')).toContain('social_networks');
    expect(index.lookup('www.facebook.com')).toContain('social_networks');
    expect(index.lookup('mail.google.com')).toContain('webmail');
    expect(index.lookup('outlook.com')).toContain('webmail');
    expect(index.lookup('youtube.com')).toContain('audio-video');
    // WEB-1: adult is shipped as urls only
    expect(index.countFor('adult')).toBe(0);
    expect(index.lookupUrl('adultstuffonly.com', '/Browse/x')).toContain('adult');
  });
});

describe('the upstream tar.gz', () => {
  it('streams blacklists/CATEGORY/... and gives the same answers as the folder', async () => {
    const dir = await upstreamCopy('for-tar');
    const file = join(work, 'blacklists.tar.gz');
    await create({ gzip: true, file, cwd: dir, portable: true }, ['blacklists']);
    const seen: LoadProgress[] = [];
    const fromTar = await loadCategoryTarball(file, { onProgress: (p) => seen.push(p) });
    const fromFolder = await loadCategoryFolder(mini);
    expect(fromTar.report.categories).toEqual(fromFolder.report.categories);
    expect(fromTar.report.ignored).toContain(
      'blacklists/social: a link (an upstream alias), not loaded twice',
    );
    for (const host of ['facebook.com', 'www.gmail.com', 'discord.com', 'example.org']) {
      expect(fromTar.index.lookup(host)).toEqual(fromFolder.index.lookup(host));
    }
    expect(fromTar.index.lookupUrl('home.pl', '/webmail')).toEqual(['webmail']);
    expect(seen.some((p) => p.phase === 'reading' && p.total > 0 && p.done === p.total)).toBe(true);
    expect((await loadCategories(file)).index.size).toBe(fromFolder.index.size);
  });

  it('refuses an archive with no categories, a corrupt one and one over the size cap', async () => {
    const dir = join(work, 'no-lists');
    await mkdir(join(dir, 'blacklists'), { recursive: true });
    await writeFile(join(dir, 'blacklists', 'README'), 'x');
    const empty = join(work, 'empty.tar.gz');
    await create({ gzip: true, file: empty, cwd: dir }, ['blacklists']);
    expect(await codeOf(loadCategoryTarball(empty))).toBe('no_categories');

    const corrupt = join(work, 'corrupt.tar.gz');
    await writeFile(
      corrupt,
      Buffer.from('this is not an archive at all, just some text'.repeat(20)),
    );
    expect(await codeOf(loadCategoryTarball(corrupt))).toBe('invalid_archive');

    const full = join(work, 'full.tar.gz');
    await create({ gzip: true, file: full, cwd: await upstreamCopy('for-cap') }, ['blacklists']);
    expect(await codeOf(loadCategoryTarball(full, { maxFileBytes: 200 }))).toBe('too_large');
  });
});

describe('one list file as a named category', () => {
  it('loads a hosts file, detecting its format', async () => {
    const { index, report } = await loadListFile(join(root, 'test/fixtures/lists/hosts.txt'), {
      category: 'social_networks',
    });
    expect(index.lookup('www.instagram.com')).toEqual(['social_networks']);
    expect(report.categories[0]).toMatchObject({ name: 'social_networks', domains: 9, skipped: 7 });
    expect(report.skipped[0]).toMatchObject({ line: 2, file: 'hosts.txt' });
  });

  it('takes the format as a parameter', async () => {
    const { index } = await loadListFile(join(root, 'test/fixtures/lists/adblock.txt'), {
      category: 'social_networks',
      format: 'adblock',
    });
    expect(index.lookup('facebook.com')).toEqual(['social_networks']);
    expect(index.lookup('mail.google.com')).toEqual([]);
  });

  it('refuses a file over the cap and a bad category name', async () => {
    const file = join(root, 'test/fixtures/lists/hosts.txt');
    expect(
      await codeOf(loadListFile(file, { category: 'social_networks', maxFileBytes: 10 })),
    ).toBe('too_large');
    expect(await codeOf(loadListFile(file, { category: 'Social Networks' }))).toBe('invalid_name');
  });
});
