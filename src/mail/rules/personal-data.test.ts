import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validNhs, validNi, validUpn } from '../../../test/fixtures/mail-rules/generators.ts';
import { prose } from '../../../test/fixtures/mail-rules/messages.ts';
import {
  countBankDetails,
  countDatesOfBirth,
  countNhsNumbers,
  countNiNumbers,
  countUpns,
  detectPersonalData,
} from './personal-data.ts';

describe('MAIL-12: identifiers in text', () => {
  it('MAIL-12: counts valid UPNs, NI and NHS numbers in running text, each distinct value once', () => {
    const text = [
      'Pupils joining: B801200005001 (Amelia), M80120000500A (temporary, Oliver).',
      'Amelia again: B801200005001.',
      'Staff NI: AB 12 34 56 C and JG103759A; NHS 943 476 5919.',
    ].join('\n');
    expect(countUpns(text)).toBe(2);
    expect(countNiNumbers(text)).toBe(2);
    expect(countNhsNumbers(text)).toBe(1);
  });

  it('MAIL-12: look-alikes that fail the check are not counted', () => {
    const text = [
      'Order A801200005001 and invoice Q207000016049.', // wrong check letters
      'NI example QQ 12 34 56 C, prefix BG123456A.', // HMRC specimen, unallocated prefix
      'Reference 943 476 5918, phone 1234567890, placeholder 0000000000.',
    ].join(' ');
    expect(detectPersonalData(text, ['upn', 'ni-number', 'nhs-number'])).toEqual({});
  });

  it('MAIL-12: numbers inside longer numbers or words are not identifiers', () => {
    expect(countNhsNumbers('ISBN 9789434765919')).toBe(0);
    expect(countNhsNumbers('tel 01 943 476 5919 2')).toBe(0);
    expect(countUpns('XB801200005001')).toBe(0);
    expect(countUpns('B8012000050012')).toBe(0);
    expect(countNiNumbers('XAB123456C')).toBe(0);
  });

  it('MAIL-12: phone numbers and postcodes are not taken for identifiers', () => {
    const text =
      'Call 020 7946 0958 or 07700 900123 or 0161 496 0000; write to SW1A 1AA or B33 8TH.';
    expect(detectPersonalData(text, ['upn', 'ni-number', 'nhs-number', 'bank-details'])).toEqual(
      {},
    );
  });

  it('MAIL-12: every generated valid number is found in surrounding text', () => {
    fc.assert(
      fc.property(validUpn, validNi, validNhs, (upn, ni, nhs) => {
        const text = `Dear Sir, the pupil (UPN ${upn}) has NI number ${ni}, NHS no. ${nhs}. Thanks`;
        expect(countUpns(text)).toBe(1);
        expect(countNiNumbers(text)).toBe(1);
        expect(countNhsNumbers(text)).toBe(1);
      }),
    );
  });
});

describe('MAIL-12: dates of birth with a name', () => {
  it('MAIL-12: a date near DOB, date of birth or born and a name is counted, in UK forms', () => {
    expect(countDatesOfBirth('Amelia Smith (DOB 12/03/2015) starts on Monday.')).toBe(1);
    expect(countDatesOfBirth('Name: Oliver Jones, date of birth: 3rd March 2016.')).toBe(1);
    expect(countDatesOfBirth('Isla Brown, born 2015-03-12, Year 2.')).toBe(1);
    expect(countDatesOfBirth("Noah O'Brien D.O.B. 1.9.16")).toBe(1);
    expect(countDatesOfBirth('Zoë Ward was born on 29 Feb 2016 in Leeds.')).toBe(1);
    expect(countDatesOfBirth('Freddie, DoB: March 4, 2017')).toBe(1);
    expect(countDatesOfBirth('Jack Smith-Jones, date of birth 04-Mar-2017')).toBe(1);
  });

  it('MAIL-12: counts each distinct date once', () => {
    const text = [
      'Amelia Smith DOB 12/03/2015',
      'Oliver Jones DOB 14/07/2015',
      'Amelia Smith DOB 12/03/2015 (repeated)',
    ].join('\n');
    expect(countDatesOfBirth(text)).toBe(2);
  });

  it('MAIL-12: a date alone, a birth without a name, or a date that does not exist is not counted', () => {
    expect(countDatesOfBirth('Amelia Smith joined on 12/03/2015.')).toBe(0);
    expect(countDatesOfBirth('He was born on 12 March 2015.')).toBe(0);
    expect(countDatesOfBirth('Amelia, DOB 31/02/2015')).toBe(0);
    expect(countDatesOfBirth('Amelia, DOB 29/02/2015')).toBe(0); // not a leap year
    expect(countDatesOfBirth('Amelia, DOB 12/13/2015')).toBe(0);
  });

  it('MAIL-12: the keyword must be within 40 characters of the date', () => {
    const far = `Amelia Smith DOB: see the form that was attached last week, ${'x '.repeat(20)}12/03/2015`;
    expect(countDatesOfBirth(far)).toBe(0);
  });
});

describe('MAIL-12: bank details', () => {
  it('MAIL-12: a sort code near an 8-digit account number is counted', () => {
    expect(countBankDetails('Sort code 20-00-00, account 12345678.')).toBe(1);
    expect(countBankDetails('Account 12345678\nSort code: 20 00 00')).toBe(1);
    expect(countBankDetails('sort code 200000 acc no 12345678')).toBe(1);
  });

  it('MAIL-12: a sort code or an account number alone is not bank details', () => {
    expect(countBankDetails('Sort code 20-00-00.')).toBe(0);
    expect(countBankDetails('Order number 12345678.')).toBe(0);
    expect(countBankDetails('We meet in room 20 00 00 and call 12345678.')).toBe(0);
    expect(
      countBankDetails(`Sort code 20-00-00. ${'Nothing else here. '.repeat(5)} Order 12345678`),
    ).toBe(0);
  });
});

describe('MAIL-12: detectors on any text', () => {
  const detectors = ['upn', 'ni-number', 'nhs-number', 'date-of-birth-with-name', 'bank-details'];

  it('MAIL-12: random text never throws', () => {
    const alphabet = fc.constantFrom(...'0123456789 -/.ABCDGMQZbodrn:\n'.split(''), 'DOB', 'born');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 300 }), (parts) => {
        const counts = detectPersonalData(parts.join(''), detectors as never);
        for (const n of Object.values(counts)) expect(n).toBeGreaterThan(0);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (text) => {
        detectPersonalData(text, detectors as never);
      }),
    );
  });

  it('MAIL-12: hostile text stays fast: 50 KB of near-misses and keywords', () => {
    const hostile = [
      '12-34-56 '.repeat(3000),
      'born 12/03/2015 Amelia '.repeat(1000),
      '1234567890 '.repeat(1000),
      'AB 12 34 56 '.repeat(1000),
    ].join('');
    const started = performance.now();
    const counts = detectPersonalData(hostile, detectors as never);
    expect(performance.now() - started).toBeLessThan(250);
    expect(counts['date-of-birth-with-name']).toBe(1);
  });

  it('MAIL-12: 50 KB of ordinary text takes a few milliseconds at most', () => {
    const text = prose(50_000);
    detectPersonalData(text, detectors as never);
    const started = performance.now();
    for (let i = 0; i < 10; i++) detectPersonalData(text, detectors as never);
    expect((performance.now() - started) / 10).toBeLessThan(5);
  });
});
