import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBasic } from './auth.ts';

describe('proxy authentication', () => {
  it('reads Basic credentials', () => {
    const header = `Basic ${Buffer.from('amy@school.test:pa:ss word').toString('base64')}`;
    expect(parseBasic(header)).toEqual({ email: 'amy@school.test', password: 'pa:ss word' });
    expect(parseBasic(`basic ${Buffer.from('a:b').toString('base64')}`)).toEqual({
      email: 'a',
      password: 'b',
    });
  });

  it('refuses anything else without throwing', () => {
    for (const bad of [
      'Bearer abc',
      'Basic',
      'Basic !!!',
      `Basic ${Buffer.from('nocolon').toString('base64')}`,
      `Basic ${Buffer.from(':x').toString('base64')}`,
    ]) {
      expect(parseBasic(bad), bad).toBeNull();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        parseBasic(s);
        parseBasic(`Basic ${s}`);
      }),
    );
  });
});
