import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import {
  backtrackingRisk,
  CompiledPatterns,
  flagsFor,
  limitForPatterns,
  MAX_COUNTED_MATCHES,
  PATTERN_TEXT_LIMIT,
  patternText,
} from './patterns.ts';

const policy = compileShipped();
const shippedPatterns = policy.mail.rules.flatMap((r) => (r.kind === 'pattern' ? r.patterns : []));

describe('pattern text', () => {
  it('MAIL-9: white space runs, line breaks included, read as one space', () => {
    expect(patternText(' Re:  order ', 'we will\n  pay\r\nthe\tinvoice\u00a0now')).toBe(
      'Re: order\nwe will pay the invoice now',
    );
    const commitments = new CompiledPatterns(['\\bwe (will|shall) pay\\b']);
    expect(commitments.count(patternText('', 'Yes, we will\npay the invoice.'))).toEqual([
      { pattern: '\\bwe (will|shall) pay\\b', matches: 1 },
    ]);
  });

  it('patterns read at most PATTERN_TEXT_LIMIT characters, from the start', () => {
    const long = `${'a'.repeat(PATTERN_TEXT_LIMIT)}we will pay`;
    expect(limitForPatterns(long)).toHaveLength(PATTERN_TEXT_LIMIT);
    expect(new CompiledPatterns(['we will pay']).count(limitForPatterns(long))).toEqual([]);
  });
});

describe('pattern matching', () => {
  it('matches without regard to case and counts each pattern of a rule', () => {
    const chain = new CompiledPatterns([
      '\\bforward (this|it) to (\\d+|ten|five|everyone)\\b',
      '\\b(sponsor me|charity appeal|lost property)\\b',
    ]);
    const text = 'FORWARD THIS TO TEN friends. Lost Property: one glove. Please sponsor me!';
    expect(chain.count(text)).toEqual([
      { pattern: '\\bforward (this|it) to (\\d+|ten|five|everyone)\\b', matches: 1 },
      { pattern: '\\b(sponsor me|charity appeal|lost property)\\b', matches: 2 },
    ]);
  });

  it('patterns that cannot share one expression (the same group name) still run, one each', () => {
    const named = new CompiledPatterns(['(?<w>we) will pay', '(?<w>we) shall pay']);
    expect(named.groups).toHaveLength(2);
    expect(named.count('we will pay, we shall pay')).toEqual([
      { pattern: '(?<w>we) will pay', matches: 1 },
      { pattern: '(?<w>we) shall pay', matches: 1 },
    ]);
  });

  it('a pattern that matches the empty string does not loop, and counts are capped', () => {
    const empty = new CompiledPatterns(['x*']);
    expect(empty.count('abc')[0]!.matches).toBe(4);
    expect(empty.count('b'.repeat(5000))[0]!.matches).toBe(MAX_COUNTED_MATCHES);
  });

  it('runs without the u flag unless the pattern needs it, as \\b under iu is far slower', () => {
    expect(flagsFor('\\bwe will pay\\b')).toBe('gi');
    expect(flagsFor('\\p{Lu}\\p{Ll}+')).toBe('giu');
    expect(flagsFor('\\u{1F600}')).toBe('giu');
    const unicode = new CompiledPatterns(['\\bchère \\p{Lu}\\p{Ll}+']);
    expect(unicode.count('Chère Élodie')[0]!.matches).toBe(1);
  });
});

describe('catastrophic backtracking', () => {
  it('finds a repeated group that holds a repetition, and back-references', () => {
    expect(backtrackingRisk('(a+)+b')).toMatch(/repeated group/);
    expect(backtrackingRisk('^(\\w+\\s?)*$')).toMatch(/repeated group/);
    expect(backtrackingRisk('(?:x|y*){2,}z')).toMatch(/repeated group/);
    expect(backtrackingRisk('((ab)*c)+')).toMatch(/repeated group/);
    expect(backtrackingRisk('(a)\\1')).toMatch(/back-reference/);
  });

  it('passes the shipped patterns and other bounded shapes', () => {
    for (const pattern of shippedPatterns) expect(backtrackingRisk(pattern), pattern).toBeNull();
    expect(backtrackingRisk('(e-?mail )?')).toBeNull();
    expect(backtrackingRisk('(ab){2,5}')).toBeNull();
    expect(backtrackingRisk('[(+*)]+')).toBeNull();
    expect(backtrackingRisk('\\(a+\\)+')).toBeNull();
  });

  it('a risky pattern is left out and reported, the rest of the rule still runs', () => {
    const rule = new CompiledPatterns(['(a+)+$', 'we will pay']);
    expect(rule.refused).toEqual([{ pattern: '(a+)+$', reason: expect.any(String) }]);
    const started = performance.now();
    expect(rule.count(`${'a'.repeat(40)}!, we will pay`)).toEqual([
      { pattern: 'we will pay', matches: 1 },
    ]);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('the shipped patterns on hostile text at the limit stay within a few tens of milliseconds', () => {
    // ".*" patterns cost the square of the length when their start repeats without their end.
    const hostile = [
      'bad luck '.repeat(PATTERN_TEXT_LIMIT / 9),
      'is totally '.repeat(PATTERN_TEXT_LIMIT / 11),
      'we hereby agree to the '.repeat(PATTERN_TEXT_LIMIT / 23),
      `forward this to ${'9'.repeat(PATTERN_TEXT_LIMIT)}`,
    ];
    const all = new CompiledPatterns(shippedPatterns);
    for (const text of hostile) {
      const limited = limitForPatterns(patternText('', text));
      const started = performance.now();
      all.count(limited);
      expect(performance.now() - started).toBeLessThan(250);
    }
  });

  it('random text never throws', () => {
    const all = new CompiledPatterns(shippedPatterns);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (text) => {
        all.count(limitForPatterns(patternText(text, text)));
      }),
    );
  });
});
