import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  UNALLOCATED_NI_PREFIXES,
  upnLetter,
  validNhs,
  validNi,
  validUpn,
} from '../../../test/fixtures/mail-rules/generators.ts';
import {
  isValidNhsNumber,
  isValidNiNumber,
  isValidUpn,
  nhsCheckDigit,
  upnCheckLetter,
} from './identifiers.ts';

/** The same string with the digit at a chosen digit position changed to another digit. */
function changeDigit(value: string, which: number, by: number): string {
  const positions = [...value].flatMap((c, i) => (/\d/.test(c) ? [i] : []));
  const at = positions[which % positions.length]!;
  const changed = (Number(value[at]) + 1 + (by % 9)) % 10;
  return value.slice(0, at) + changed + value.slice(at + 1);
}

describe('MAIL-12: Unique Pupil Numbers (DfE check letter)', () => {
  it('MAIL-12: accepts UPNs whose check letter is right, permanent and temporary', () => {
    expect(isValidUpn('B801200005001')).toBe(true);
    expect(isValidUpn('P207000016049')).toBe(true);
    expect(isValidUpn('M80120000500A')).toBe(true); // temporary: a letter at position 13
    expect(isValidUpn('C93600001901T')).toBe(true);
    expect(isValidUpn('b801200005001')).toBe(true); // written in lower case
  });

  it('MAIL-12: refuses a wrong check letter, a wrong length, I O S, and letters in the middle', () => {
    expect(isValidUpn('A801200005001')).toBe(false);
    expect(isValidUpn('Q207000016049')).toBe(false);
    expect(isValidUpn('B80120000500')).toBe(false);
    expect(isValidUpn('B8012000050011')).toBe(false);
    expect(isValidUpn('X80120000A001')).toBe(false);
    expect(upnCheckLetter('80120000500I')).toBeNull(); // I is never a UPN letter
    expect(upnCheckLetter('80120000500S')).toBeNull();
  });

  it('MAIL-12: the check letter weights positions 2..13 and takes the sum mod 23', () => {
    // B801200005001: 8*2 + 1*4 + 2*5 + 5*10 + 1*13 = 93 = 4*23 + 1 -> B
    expect(upnCheckLetter('801200005001')).toBe('B');
    // a temporary UPN's final letter counts as its place in the table (A = 0)
    expect(upnCheckLetter('80120000500A')).toBe(upnCheckLetter('801200005000'));
  });

  it('MAIL-12: every generated UPN is valid, and changing any one digit makes it invalid', () => {
    fc.assert(
      fc.property(validUpn, fc.nat(), fc.nat(), (upn, which, by) => {
        expect(isValidUpn(upn)).toBe(true);
        expect(isValidUpn(changeDigit(upn, which, by))).toBe(false);
      }),
    );
  });

  it('MAIL-12: changing the check letter of a UPN makes it invalid', () => {
    fc.assert(
      fc.property(validUpn, upnLetter, (upn, letter) => {
        fc.pre(letter !== upn[0]);
        expect(isValidUpn(letter + upn.slice(1))).toBe(false);
      }),
    );
  });
});

describe('MAIL-12: NHS numbers (mod 11)', () => {
  it('MAIL-12: accepts valid NHS numbers, bare or grouped 3-3-4 with spaces or hyphens', () => {
    expect(isValidNhsNumber('943 476 5919')).toBe(true);
    expect(isValidNhsNumber('9434765919')).toBe(true);
    expect(isValidNhsNumber('943-476-5919')).toBe(true);
    expect(isValidNhsNumber('401 023 2137')).toBe(true);
    expect(isValidNhsNumber('450 557 7104')).toBe(true);
  });

  it('MAIL-12: refuses a wrong check digit, check value 10, placeholders and other groupings', () => {
    expect(isValidNhsNumber('943 476 5918')).toBe(false);
    expect(isValidNhsNumber('1234567890')).toBe(false); // the check would be 10
    expect(nhsCheckDigit('123456789')).toBeNull();
    expect(isValidNhsNumber('0000000000')).toBe(false);
    expect(isValidNhsNumber('9999999999')).toBe(false);
    expect(isValidNhsNumber('943 476-5919')).toBe(false); // mixed separators
    expect(isValidNhsNumber('9434 76 5919')).toBe(false);
    expect(isValidNhsNumber('94347659190')).toBe(false);
  });

  it('MAIL-12: every generated NHS number is valid, and changing any one digit makes it invalid', () => {
    fc.assert(
      fc.property(validNhs, fc.nat(), fc.nat(), (nhs, which, by) => {
        expect(isValidNhsNumber(nhs)).toBe(true);
        expect(isValidNhsNumber(changeDigit(nhs, which, by))).toBe(false);
      }),
    );
  });
});

describe('MAIL-12: National Insurance numbers (HMRC format rules)', () => {
  it('MAIL-12: accepts numbers HMRC could issue, with or without spaces', () => {
    expect(isValidNiNumber('AB 12 34 56 C')).toBe(true);
    expect(isValidNiNumber('AB123456C')).toBe(true);
    expect(isValidNiNumber('AB 123456 D')).toBe(true);
    expect(isValidNiNumber('OA123456A')).toBe(true); // O may come first, not second
    expect(isValidNiNumber('jg103759a')).toBe(true);
  });

  it("MAIL-12: refuses HMRC's specimen QQ 12 34 56 C and every rule's breach", () => {
    expect(isValidNiNumber('QQ 12 34 56 C')).toBe(false);
    for (const first of 'DFIQUV') expect(isValidNiNumber(`${first}A123456A`)).toBe(false);
    for (const second of 'DFIQUVO') expect(isValidNiNumber(`A${second}123456A`)).toBe(false);
    for (const prefix of UNALLOCATED_NI_PREFIXES)
      expect(isValidNiNumber(`${prefix}123456A`)).toBe(false);
    expect(isValidNiNumber('AB123456E')).toBe(false);
    expect(isValidNiNumber('AB12345C')).toBe(false);
    expect(isValidNiNumber('AB1234567C')).toBe(false);
    expect(isValidNiNumber('AB  123456C')).toBe(false);
  });

  it('MAIL-12: every generated number is valid', () => {
    fc.assert(
      fc.property(validNi, (ni) => {
        expect(isValidNiNumber(ni)).toBe(true);
      }),
    );
  });
});
