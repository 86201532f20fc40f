import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { buildIndex, createOverlay } from '../categories/index.ts';
import { createWebEngine, type WebEngine } from '../engine.ts';
import { buildSubjectSnapshot, packGroupIndex, type SubjectRows } from '../subjects.ts';
import { DecisionCache } from './decisions.ts';
import { newParsedQuery, parseQuery } from './wire.ts';

const policy = compileShipped();
const index = createOverlay(
  buildIndex([
    { name: 'social_networks', domains: ['facebook.com'] },
    { name: 'shopping', domains: ['shop.example'] },
  ]),
  {},
);

function rows(personalUse: SubjectRows['personalUse'] = []): SubjectRows {
  return {
    people: [
      {
        id: 'teacher',
        email: 'amy@school.example',
        kind: 'employee',
        status: 'active',
        groups: [],
      },
    ],
    packGroups: packGroupIndex(policy.groups),
    devices: [
      {
        id: 'laptop',
        person_id: 'teacher',
        label: 'Amy laptop',
        ip: '10.0.0.21',
        status: 'approved',
      },
    ],
    withdrawals: [],
    restrictions: [],
    personalUse,
  };
}

const engineWith = (r = rows()) => createWebEngine(policy, index, buildSubjectSnapshot(r));
const NOW = new Date(2026, 10, 27, 12, 30, 15).getTime();

/** A query for `name` (type A), as a client sends it. */
function query(name: string): Buffer {
  const labels = name
    .split('.')
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** What the DNS filter does for a query: the kept decision, or a new one decided and kept. */
function lookup(
  cache: DecisionCache,
  engine: WebEngine,
  clientIp: string,
  host: string,
  now = NOW,
) {
  const q = newParsedQuery();
  parseQuery(query(host), q);
  const entry = cache.find(engine, clientIp, q);
  if (entry >= 0) {
    const outcome = cache.outcome(entry);
    if (outcome.validUntil > now) return { outcome, kept: true, entry };
  }
  const decided = engine.decide({ clientIp, host, now: new Date(now) });
  const outcome = cache.keep(clientIp, q, entry, decided, now);
  return { outcome, kept: false, entry: cache.kept };
}

describe('DNS decision cache', () => {
  it('keeps a decision per client and question until another engine is in force', () => {
    const cache = new DecisionCache(1000);
    const engine = engineWith();
    const first = lookup(cache, engine, '10.0.0.21', 'facebook.com');
    expect(first).toMatchObject({ kept: false, outcome: { decision: { action: 'block' } } });
    expect(lookup(cache, engine, '10.0.0.21', 'facebook.com')).toMatchObject({ kept: true });
    expect(lookup(cache, engine, '10.0.0.21', 'FaceBook.com')).toMatchObject({ kept: true });
    // A policy, list or register change makes a new engine object: nothing decided before counts.
    const next = engineWith();
    expect(lookup(cache, next, '10.0.0.21', 'facebook.com')).toMatchObject({ kept: false });
    expect(cache.size).toBe(1);
  });

  it('SYS-6: never answers one client with the decision made for another', () => {
    const cache = new DecisionCache(1000);
    const engine = engineWith();
    const staff = lookup(cache, engine, '10.0.0.21', 'www.gov.uk');
    expect(staff.outcome.decision.action).toBe('allow');
    const stranger = lookup(cache, engine, '10.9.9.9', 'www.gov.uk');
    expect(stranger).toMatchObject({ kept: false });
    expect(stranger.outcome.decision).toMatchObject({
      action: 'block',
      reason: 'unregistered-device',
    });
    expect(lookup(cache, engine, '10.0.0.21', 'www.gov.uk').outcome.decision.action).toBe('allow');
  });

  it('PER-1/2: a decision for a person with personal-use hours holds to the end of its minute only', () => {
    const lunch = {
      id: 'a1',
      person_id: 'teacher',
      starts_on: '2026-01-01',
      ends_on: null,
      daily_from: '12:00',
      daily_to: '12:31',
      categories: '[]',
    };
    const cache = new DecisionCache(1000);
    const engine = engineWith(rows([lunch]));
    const during = lookup(cache, engine, '10.0.0.21', 'shop.example');
    expect(during.outcome.decision).toMatchObject({ action: 'allow', reason: 'personal-use' });
    expect(during.outcome.validUntil).toBe(new Date(2026, 10, 27, 12, 31).getTime());
    expect(lookup(cache, engine, '10.0.0.21', 'shop.example', NOW + 40_000)).toMatchObject({
      kept: true,
    });
    // 12:31: the window has closed, and the kept decision with it; the entry now holds the block.
    const after = lookup(cache, engine, '10.0.0.21', 'shop.example', NOW + 45_000);
    expect(after).toMatchObject({ kept: false, outcome: { decision: { action: 'block' } } });
    expect(lookup(cache, engine, '10.0.0.21', 'shop.example', NOW + 46_000)).toMatchObject({
      kept: true,
      outcome: { decision: { action: 'block' } },
    });
    expect(cache.size).toBe(1);
    // Anyone without personal-use hours: as long as the engine.
    const plain = lookup(cache, engineWith(), '10.0.0.21', 'shop.example');
    expect(plain.outcome.validUntil).toBe(Number.POSITIVE_INFINITY);
  });

  it('holds at most maxEntries, and keeps what is asked again before maxEntries/2 more are kept', () => {
    const cache = new DecisionCache(100);
    const engine = engineWith();
    lookup(cache, engine, '10.0.0.21', 'kept.example');
    for (let i = 0; i < 1000; i++) {
      lookup(cache, engine, '10.0.0.21', `n${i}.example`);
      if (i % 40 === 0) expect(lookup(cache, engine, '10.0.0.21', 'kept.example').kept).toBe(true);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(lookup(cache, engine, '10.0.0.21', 'n0.example').kept).toBe(false);
  });

  it('keeps nothing when maxEntries is 0', () => {
    const cache = new DecisionCache(0);
    const engine = engineWith();
    lookup(cache, engine, '10.0.0.21', 'facebook.com');
    expect(lookup(cache, engine, '10.0.0.21', 'facebook.com').kept).toBe(false);
  });

  it("shares one outcome among a client's equal decisions, never across clients", () => {
    const cache = new DecisionCache(1000);
    const engine = engineWith();
    const a = lookup(cache, engine, '10.0.0.21', 'facebook.com').outcome;
    const b = lookup(cache, engine, '10.0.0.21', 'www.facebook.com').outcome;
    expect(b).toBe(a);
    const other = lookup(cache, engine, '10.9.9.9', 'facebook.com').outcome;
    expect(other).not.toBe(a);
    const shop = lookup(cache, engine, '10.0.0.21', 'shop.example').outcome;
    expect(shop).not.toBe(a);
  });

  it('keeps the answer last served and the time of the last activity record with each entry', () => {
    const cache = new DecisionCache(1000);
    const engine = engineWith();
    const { entry } = lookup(cache, engine, '10.0.0.21', 'www.gov.uk');
    expect(cache.answer(entry)).toBeUndefined();
    expect(cache.recordedAt(entry)).toBe(Number.NEGATIVE_INFINITY);
    cache.setRecordedAt(entry, NOW);
    const again = lookup(cache, engine, '10.0.0.21', 'www.gov.uk');
    expect(cache.recordedAt(again.entry)).toBe(NOW);
  });
});
