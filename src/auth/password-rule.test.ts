import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PasswordRule } from '../policy/compiled.ts';
import {
  checkPassword,
  commonPasswords,
  describePasswordFailures,
  isCommonPassword,
} from './password-rule.ts';

const rule: PasswordRule = {
  minLength: 8,
  requireLetter: true,
  requireDigit: true,
  requireSpecial: true,
  refuseCommon: true,
  refusePersonalInfo: true,
  clauseIds: ['PWD-2'],
};

const person = { givenName: 'Amelia', familyName: 'Hartley', email: 'a.hartley@palfrey.sch.uk' };

const parts = (password: string, p = person) => {
  const result = checkPassword(password, rule, p);
  return result.ok ? [] : result.failures.map((f) => f.part);
};

describe('password rule', () => {
  it('PWD-2: ships a list of exactly 10,000 common passwords', () => {
    expect(commonPasswords().size).toBe(10_000);
    expect(commonPasswords().has('password')).toBe(true);
  });

  it('PWD-2: accepts a long password with letters, numbers and a special character', () => {
    expect(checkPassword('Tortoise-lantern-47', rule, person)).toEqual({ ok: true });
  });

  it('PWD-2: refuses a short password and says how long it is', () => {
    const result = checkPassword('Ab1!xy', rule, person);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failures).toContainEqual({
      part: 'length',
      message: 'at least 8 characters (this has 6)',
    });
  });

  it('PWD-2: counts characters, not UTF-16 code units', () => {
    // Seven emoji are fourteen code units but seven characters.
    expect(parts('😀😀😀😀😀a1')).toContain('length');
    expect(parts('ñandú-ßtraße-9')).toEqual([]);
  });

  it('PWD-2: lists every missing kind of character at once', () => {
    expect(parts('abcdefghij')).toEqual(expect.arrayContaining(['digit', 'special']));
    expect(parts('1234567890')).toEqual(expect.arrayContaining(['letter', 'special', 'common']));
    expect(parts('!!!!!!!!!!')).toEqual(expect.arrayContaining(['letter', 'digit']));
  });

  it('PWD-2: refuses one of the 10,000 most common passwords, whatever its case', () => {
    expect(isCommonPassword('PaSsWoRd')).toBe(true);
    const result = checkPassword('Password1!', rule);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failures).toEqual([
      { part: 'common', message: 'is one of the 10,000 most common passwords' },
    ]);
  });

  it('PWD-2: refuses a common password with numbers and symbols added at the end', () => {
    expect(isCommonPassword('Sunshine2024!!')).toBe(true);
    expect(isCommonPassword('Sunshine-lantern-2024!!')).toBe(false);
  });

  it('PWD-2: refuses a password that contains the person’s surname', () => {
    const result = checkPassword('xHARTLEYx-99', rule, person);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failures).toContainEqual({ part: 'name', message: 'contains your surname' });
  });

  it('PWD-2: refuses a password that contains the given name or the e-mail local part', () => {
    expect(parts('amelia-Garden-7')).toEqual(['name']);
    const other = { givenName: 'Jo', familyName: 'Li', email: 'teacher7@palfrey.sch.uk' };
    expect(parts('My-teacher7-pass', other)).toEqual(['email']);
    // Names shorter than three characters are not looked for.
    expect(parts('Jolly-Lion-2024', other)).toEqual([]);
  });

  it('PWD-2: explains every failing part in one message', () => {
    const result = checkPassword('hartley', rule, person);
    if (result.ok) throw new Error('expected a refusal');
    const text = describePasswordFailures(result.failures);
    expect(text).toContain('at least 8 characters (this has 7)');
    expect(text).toContain('at least one number');
    expect(text).toContain('contains your surname');
  });

  it('PWD-2: skips the parts the pack switches off', () => {
    const lax: PasswordRule = {
      ...rule,
      requireSpecial: false,
      refuseCommon: false,
      refusePersonalInfo: false,
    };
    expect(checkPassword('password123', lax, person)).toEqual({ ok: true });
  });
});

const nameArb = fc.stringMatching(/^[A-Z][a-zà-ÿ]{2,10}$/);
// Mostly passwords that pass the rule, so that the properties about accepted passwords have
// material, plus arbitrary strings.
const passwordArb = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 24 }), weight: 1 },
  {
    arbitrary: fc
      .tuple(
        fc.stringMatching(/^[A-Za-zñéü]{3,8}$/),
        fc.integer({ min: 0, max: 999 }),
        fc.constantFrom('!', '#', ' ', '-', '€'),
      )
      .map(([a, n, s]) => `${a}${s}${n}q${a.toUpperCase()}`),
    weight: 6,
  },
);
// The rule compares names after NFKC normalisation and upper-casing.
const fold = (s: string) => s.normalize('NFKC').toUpperCase();

describe('password rule properties', () => {
  it('PWD-2: any password accepted satisfies every part of the rule', () => {
    fc.assert(
      fc.property(passwordArb, nameArb, nameArb, (password, given, family) => {
        const p = { givenName: given, familyName: family, email: `${given}.${family}@x.uk` };
        if (!checkPassword(password, rule, p).ok) return;
        expect([...password].length).toBeGreaterThanOrEqual(8);
        expect(/\p{L}/u.test(password)).toBe(true);
        expect(/\p{Nd}/u.test(password)).toBe(true);
        expect(/[^\p{L}\p{N}]/u.test(password)).toBe(true);
        expect(commonPasswords().has(password.toLowerCase())).toBe(false);
        expect(fold(password).includes(fold(family))).toBe(false);
        expect(fold(password).includes(fold(given))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('PWD-2: adding the surname to an accepted password makes it refused', () => {
    fc.assert(
      fc.property(
        passwordArb,
        nameArb,
        fc.boolean(),
        fc.constantFrom('lower', 'upper', 'as-is'),
        (password, family, atEnd, casing) => {
          const p = { givenName: 'Zzq', familyName: family, email: 'zzq@x.uk' };
          fc.pre(checkPassword(password, rule, p).ok);
          const name =
            casing === 'lower'
              ? family.toLowerCase()
              : casing === 'upper'
                ? family.toUpperCase()
                : family;
          const longer = atEnd ? `${password}${name}` : `${name}${password}`;
          const result = checkPassword(longer, rule, p);
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.failures.map((f) => f.part)).toContain('name');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('PWD-2: never throws on any string, names included', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 64 }),
        fc.string({ unit: 'binary', maxLength: 16 }),
        fc.string({ unit: 'binary', maxLength: 16 }),
        fc.string({ unit: 'binary', maxLength: 32 }),
        (password, given, family, email) => {
          const result = checkPassword(password, rule, {
            givenName: given,
            familyName: family,
            email,
          });
          expect(typeof result.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
