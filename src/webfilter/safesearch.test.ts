import { describe, expect, it } from 'vitest';
import { compileShipped, replaceOnce } from '../../test/support/policy-pack.ts';
import type { WebDecision } from './engine.ts';
import {
  GOOGLE_SEARCH_DOMAINS,
  SAFE_HOSTS,
  safeSearchTable,
  safeSearchTarget,
  withSafeSearch,
} from './safesearch.ts';

const policy = compileShipped();

describe('SafeSearch names (WEB-1)', () => {
  it('sends every Google search domain, with and without www., to forcesafesearch.google.com', () => {
    for (const host of [
      'www.google.com',
      'google.com',
      'www.google.co.uk',
      'google.co.uk',
      'www.google.cat',
    ]) {
      expect(safeSearchTarget(host, policy)).toMatchObject({
        provider: 'google',
        safeHost: 'forcesafesearch.google.com',
        clauseIds: ['WEB-1'],
      });
    }
    expect(GOOGLE_SEARCH_DOMAINS.length).toBeGreaterThan(180);
    expect(new Set(GOOGLE_SEARCH_DOMAINS).size).toBe(GOOGLE_SEARCH_DOMAINS.length);
    for (const d of GOOGLE_SEARCH_DOMAINS) expect(d).toMatch(/^google\.[a-z]{2,3}(\.[a-z]{2})?$/);
  });

  it('sends Bing to strict.bing.com, DuckDuckGo to safe.duckduckgo.com, YouTube to restrict.youtube.com (strict in the shipped pack)', () => {
    expect(safeSearchTarget('www.bing.com', policy)?.safeHost).toBe('strict.bing.com');
    expect(safeSearchTarget('bing.com', policy)?.safeHost).toBe('strict.bing.com');
    expect(safeSearchTarget('duckduckgo.com', policy)?.safeHost).toBe('safe.duckduckgo.com');
    expect(safeSearchTarget('www.duckduckgo.com', policy)?.safeHost).toBe('safe.duckduckgo.com');
    for (const host of [
      'www.youtube.com',
      'm.youtube.com',
      'youtubei.googleapis.com',
      'youtube.googleapis.com',
      'www.youtube-nocookie.com',
    ]) {
      expect(safeSearchTarget(host, policy)?.safeHost).toBe('restrict.youtube.com');
    }
  });

  it('leaves every other name alone, the safe names and look-alikes included', () => {
    for (const host of [
      'mail.google.com',
      'forcesafesearch.google.com',
      'strict.bing.com',
      'safe.duckduckgo.com',
      'restrict.youtube.com',
      'www.google.co.uk.example',
      'notgoogle.com',
      'google.example',
      'www.gov.uk',
    ]) {
      expect(safeSearchTarget(host, policy)).toBeNull();
    }
  });

  it('follows the pack: moderate YouTube, a provider switched off, no section at all', () => {
    const moderate = compileShipped((t) => replaceOnce(t, 'youtube: strict', 'youtube: moderate'));
    expect(safeSearchTarget('www.youtube.com', moderate)?.safeHost).toBe(
      SAFE_HOSTS.youtubeModerate,
    );
    const partial = compileShipped((t) =>
      replaceOnce(replaceOnce(t, 'youtube: strict', 'youtube: off'), 'bing: true', 'bing: false'),
    );
    expect(safeSearchTarget('www.youtube.com', partial)).toBeNull();
    expect(safeSearchTarget('www.bing.com', partial)).toBeNull();
    expect(safeSearchTarget('www.google.com', partial)?.safeHost).toBe(SAFE_HOSTS.google);
    const none = compileShipped((t) => t.replace(/\n {2}safeSearch:\n( {4}.*\n)+/, '\n'));
    expect(none.web.safeSearch.youtube).toBe('off');
    expect(safeSearchTable(none).size).toBe(0);
  });

  it('records a rewritten decision with reason safe-search, its clauses added, one array for equal decisions', () => {
    const decision: WebDecision = {
      action: 'allow',
      reason: 'none',
      categories: [],
      clauseIds: Object.freeze([]) as readonly string[],
      alert: false,
      person: null,
      device: null,
    };
    const target = safeSearchTarget('www.google.com', policy)!;
    const a = withSafeSearch(decision, target);
    const b = withSafeSearch({ ...decision }, target);
    expect(a).toMatchObject({ action: 'allow', reason: 'safe-search', clauseIds: ['WEB-1'] });
    expect(a.clauseIds).toBe(b.clauseIds);
  });
});
