import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/app.ts';
import { addPerson } from '../../test/support/seed.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import {
  importLogFile,
  lineId,
  parseDansGuardianLine,
  parseLogLine,
  parseSquidLine,
} from './log-import.ts';
import { loadSubjectRows } from './subjects.repository.ts';
import { buildSubjectSnapshot, packGroupIndex } from './subjects.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/logs');
const actor = { id: null, label: 'cli:test' };

describe('log line parsers', () => {
  it('reads a Squid native line: time, client, denial, CONNECT without a path, user', () => {
    const ok = parseSquidLine(
      '1700000001.456     45 192.0.2.11 TCP_TUNNEL/200 5230 CONNECT www.facebook.com:443 alice@school.test HIER_DIRECT/157.240.1.35 -',
    );
    expect(ok).toMatchObject({
      ok: true,
      record: {
        clientIp: '192.0.2.11',
        user: 'alice@school.test',
        method: 'CONNECT',
        host: 'www.facebook.com',
        path: null,
        status: 200,
        bytes: 5230,
        durationMs: 45,
        denied: false,
      },
    });
    if (ok.ok) expect(ok.record.at.toISOString()).toBe('2023-11-14T22:13:21.456Z');
    const denied = parseSquidLine(
      '1700000002.789      0 192.0.2.12 TCP_DENIED/403 3907 GET http://chat.example:8080/room/1 - HIER_NONE/- text/html',
    );
    expect(denied).toMatchObject({
      ok: true,
      record: { host: 'chat.example', path: '/room/1', denied: true, user: null, status: 403 },
    });
  });

  it('reads e2guardian format 1 with a denial reason holding spaces, and format 3', () => {
    const denied = parseDansGuardianLine(
      '2024.1.31 9:15:09 - 192.0.2.12 https://www.facebook.com:443 *DENIED* Banned site: facebook.com CONNECT 0 0 Social networking 1 403 - Pupils -',
    );
    expect(denied).toMatchObject({
      ok: true,
      record: {
        host: 'www.facebook.com',
        path: null,
        method: 'CONNECT',
        denied: true,
        status: 403,
      },
    });
    if (denied.ok) expect(denied.record.at.getHours()).toBe(9);
    const tabbed = parseLogLine(
      'e2guardian',
      '2024.1.31\t9:15:02\tbob\t192.0.2.11\thttp://www.bbc.co.uk/news\t\tGET\t52311\t0\t\t1\t200\ttext/html',
    );
    expect(tabbed).toMatchObject({
      ok: true,
      record: { user: 'bob', host: 'www.bbc.co.uk', path: '/news', denied: false, bytes: 52311 },
    });
    const squidLike = parseLogLine(
      'e2guardian',
      '1706692510.120 80 192.0.2.13 TCP_MISS/200 1200 GET http://www.gov.uk/ - DEFAULT_PARENT/127.0.0.1 text/html',
    );
    expect(squidLike).toMatchObject({ ok: true, record: { host: 'www.gov.uk', path: '/' } });
  });

  it('never throws on garbage, and whatever it accepts has a normalised host', () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom('GET', 'CONNECT', 'TCP_DENIED/403', '*DENIED*', '-', '2024.1.31', '9:00:00'),
      fc.constantFrom('1700000000.1', '192.0.2.1', 'http://a.example/', '[::1]:443', 'x:99999'),
    );
    const line = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.array(token, { maxLength: 14 }).map((t) => t.join(' ')),
    );
    fc.assert(
      fc.property(line, fc.constantFrom('squid' as const, 'e2guardian' as const), (l, format) => {
        const parsed = parseLogLine(format, l);
        if (parsed.ok) {
          expect(parsed.record.host).toBe(parsed.record.host.toLowerCase());
          expect(parsed.record.host).not.toMatch(/[\s/]/);
          expect(Number.isNaN(parsed.record.at.getTime())).toBe(false);
          expect(parsed.record.bytes).toBeGreaterThanOrEqual(0);
        } else {
          expect(parsed.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the row id depends on file, line number and text only', () => {
    expect(lineId('a.log', 1, 'x')).toBe(lineId('a.log', 1, 'x'));
    expect(lineId('a.log', 1, 'x')).not.toBe(lineId('a.log', 2, 'x'));
    expect(lineId('a.log', 1, 'x')).toHaveLength(32);
  });
});

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'custos-logs-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describeEachStore('log import', (t) => {
  async function deps() {
    const ctx = await testContext(t.store);
    const now = new Date().toISOString();
    const alice = await addPerson(t.store, {
      email: 'alice@school.test',
      givenName: 'Alice',
      familyName: 'Example',
      kind: [...ctx.policy.current().personKinds.keys()][0]!,
      now,
    });
    const rows = await loadSubjectRows(t.store, packGroupIndex(ctx.policy.current().groups));
    return {
      alice,
      deps: {
        store: t.store,
        audit: ctx.audit,
        subjects: buildSubjectSnapshot(rows),
        categoriesOf: (host: string) => (host.includes('facebook') ? ['social_networks'] : []),
      },
    };
  }

  it('WEB-6: imports a Squid log once, counts skipped lines by number, and a re-import adds nothing', async () => {
    const { alice, deps: d } = await deps();
    const file = path.join(FIXTURES, 'squid-access.log');
    const first = await importLogFile(d, file, 'squid', { actor });
    expect(first).toMatchObject({ lines: 5, imported: 4, alreadyThere: 0, skipped: 1 });
    expect(first.problems[0]).toMatchObject({ line: 4 });
    const again = await importLogFile(d, file, 'squid', { actor });
    expect(again).toMatchObject({ imported: 0, alreadyThere: 4, skipped: 1 });
    const rows = await t.store.db.selectFrom('web_activity').selectAll().orderBy('at').execute();
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.source === 'import')).toBe(true);
    // One log line is one request: a row of one hit, as the filters' own records count them.
    expect(rows.every((r) => Number(r.hits) === 1 && r.last_at === null)).toBe(true);
    expect(rows[0]).toMatchObject({ search_terms: 'volcanoes', decision: 'allow' });
    expect(rows[1]).toMatchObject({ person_id: alice, host: 'www.facebook.com' });
    expect(JSON.parse(rows[1]!.categories)).toEqual(['social_networks']);
    expect(rows[2]).toMatchObject({ decision: 'block', host: 'chat.example' });
    const audit = await t.store.db
      .selectFrom('audit_log')
      .select('clause_ids')
      .where('action', '=', 'webfilter.log-imported')
      .execute();
    expect(audit).toHaveLength(2);
    expect(JSON.parse(audit[0]!.clause_ids)).toEqual(['WEB-6', 'WEB-7']);
  });

  it('imports an e2guardian log in either format, and hostile lines only count as skipped', async () => {
    const { deps: d } = await deps();
    const text = await readFile(path.join(FIXTURES, 'e2guardian-access.log'), 'utf8');
    const hostile = [
      '\u0000\u0000',
      'x'.repeat(70_000),
      '2024.1.31 9:00:00 - 999.1.1.1 http://a/ GET 1 0',
    ];
    const file = path.join(work, 'access.log');
    await writeFile(file, `${text}${hostile.join('\n')}\n`);
    const result = await importLogFile(d, file, 'e2guardian', { actor });
    expect(result).toMatchObject({ imported: 3, skipped: 4 });
    expect(result.problems.map((p) => p.line)).toEqual([4, 5, 6, 7]);
    const blocked = await t.store.db
      .selectFrom('web_activity')
      .select(['host', 'decision'])
      .where('decision', '=', 'block')
      .execute();
    expect(blocked).toEqual([{ host: 'www.facebook.com', decision: 'block' }]);
  });
});
