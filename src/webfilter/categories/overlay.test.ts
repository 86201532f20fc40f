import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseList } from './formats.ts';
import { buildIndex } from './matcher.ts';
import { createOverlay, SCHOOL_DENY } from './overlay.ts';
import { CategoryStore, emptyIndex } from './store.ts';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/lists');
const schoolList = (file: string) => parseList(readFileSync(join(fixtures, file), 'utf8')).domains;

const base = buildIndex([
  { name: 'audio-video', domains: ['youtube.com', 'youtube-nocookie.com'] },
  { name: 'webmail', domains: ['mail.google.com'], urls: ['home.pl/webmail'] },
  { name: 'social_networks', domains: ['facebook.com'] },
]);
const overlay = createOverlay(base, {
  allow: schoolList('school-allow.txt'),
  deny: schoolList('school-deny.txt'),
});

describe("the school's allow list beats the categories", () => {
  it('SYS-5: an allowed name and its subdomains have no categories', () => {
    expect(base.lookup('www.youtube-nocookie.com')).toEqual(['audio-video']);
    expect(overlay.lookup('www.youtube-nocookie.com')).toEqual([]);
    expect(overlay.classify('youtube-nocookie.com')).toEqual({ list: 'allow', categories: [] });
  });

  it('SYS-5: names the school did not allow keep their categories', () => {
    expect(overlay.lookup('youtube.com')).toEqual(['audio-video']);
    expect(overlay.classify('facebook.com')).toEqual({
      list: null,
      categories: ['social_networks'],
    });
  });

  it('allows URL categories away too', () => {
    const allowHome = createOverlay(base, { allow: ['home.pl'] });
    expect(base.lookupUrl('home.pl', '/webmail')).toEqual(['webmail']);
    expect(allowHome.lookupUrl('home.pl', '/webmail')).toEqual([]);
  });
});

describe("the school's deny list adds school-deny", () => {
  it('a denied name gets school-deny on top of its categories', () => {
    expect(overlay.lookup('chatgpt.com')).toEqual([SCHOOL_DENY]);
    expect(overlay.lookup('mail.google.com')).toEqual([SCHOOL_DENY, 'webmail']);
    expect(overlay.classifyUrl('maps.google.com', '/')).toEqual({
      list: 'deny',
      categories: [SCHOOL_DENY],
    });
  });

  it('the more specific entry wins: allow classroom.google.com under a denied google.com', () => {
    expect(overlay.lookup('classroom.google.com')).toEqual([]);
    expect(overlay.lookup('a.classroom.google.com')).toEqual([]);
    expect(overlay.lookup('docs.google.com')).toEqual([SCHOOL_DENY]);
  });

  it('a name in both lists is denied', () => {
    const both = createOverlay(base, { allow: ['facebook.com'], deny: ['FACEBOOK.com'] });
    expect(both.lookup('facebook.com')).toEqual([SCHOOL_DENY, 'social_networks']);
  });

  it('lists school-deny among the categories and counts it', () => {
    expect(overlay.categories()).toContain(SCHOOL_DENY);
    expect(overlay.countFor(SCHOOL_DENY)).toBe(2);
    expect(overlay.countFor('audio-video')).toBe(2);
    expect(overlay.allowCount).toBe(2);
    expect(overlay.size).toBe(base.size);
  });

  it('returns shared frozen arrays', () => {
    expect(overlay.lookup('chatgpt.com')).toBe(overlay.lookup('www.chatgpt.com'));
    expect(Object.isFrozen(overlay.lookup('chatgpt.com'))).toBe(true);
  });

  it('refuses an invalid entry', () => {
    expect(() => createOverlay(base, { deny: ['not a name'] })).toThrow(/deny list/);
  });

  it('leaves the base index unchanged', () => {
    expect(base.lookup('chatgpt.com')).toEqual([]);
    expect(base.lookup('youtube-nocookie.com')).toEqual(['audio-video']);
  });
});

describe('CategoryStore', () => {
  it('swaps the index in one step and returns the one it replaced', () => {
    const store = new CategoryStore(emptyIndex());
    const before = store.current();
    expect(before.lookup('facebook.com')).toEqual([]);
    expect(store.version).toBe(1);
    const replaced = store.swap(overlay);
    expect(replaced).toBe(before);
    expect(store.current().lookup('facebook.com')).toEqual(['social_networks']);
    expect(store.version).toBe(2);
  });

  it('a request that took the old index keeps answering from it after a swap', () => {
    const store = new CategoryStore(base);
    const held = store.current();
    store.swap(overlay);
    expect(held.lookup('chatgpt.com')).toEqual([]);
    expect(store.current().lookup('chatgpt.com')).toEqual([SCHOOL_DENY]);
  });
});
