// Check-digit and format rules for the UK identifiers the personal-data rule looks for (MAIL-12).
// A string that merely looks like an identifier is not counted: only one that passes the issuer's
// own validation, so order numbers and phone numbers are not taken for a pupil's UPN.

/** The DfE's 23 check letters: A-Z without I, O and S. Index = remainder mod 23. */
export const UPN_LETTERS = 'ABCDEFGHJKLMNPQRTUVWXYZ';

/**
 * The check letter for the 12 characters after it (positions 2-13 of a UPN), or null when they
 * are not 11 digits followed by a digit or, for a temporary UPN, one of the 23 letters. Each
 * character is weighted by its position (2..13); a temporary UPN's final letter counts as its
 * index in UPN_LETTERS (A=0 ... Z=22).
 */
export function upnCheckLetter(body: string): string | null {
  if (body.length !== 12) return null;
  let sum = 0;
  for (let i = 0; i < 12; i++) {
    const c = body.charCodeAt(i);
    let value: number;
    if (c >= 48 && c <= 57) value = c - 48;
    else if (i === 11) {
      value = UPN_LETTERS.indexOf(body[i]!);
      if (value < 0) return null;
    } else return null;
    sum += value * (i + 2);
  }
  return UPN_LETTERS[sum % 23]!;
}

/** A Unique Pupil Number, permanent (A + 12 digits) or temporary (A + 11 digits + letter). */
export function isValidUpn(value: string): boolean {
  const upn = value.trim().toUpperCase();
  if (upn.length !== 13) return false;
  const check = upnCheckLetter(upn.slice(1));
  return check !== null && check === upn[0];
}

/** Prefixes HMRC never allocates (NIM39110). */
const NI_UNALLOCATED = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);
// First letter: not D, F, I, Q, U, V. Second letter: not those, nor O.
const NI_FORMAT = /^([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])$/;

/**
 * A National Insurance number by HMRC's format rules: two prefix letters (first not D F I Q U V,
 * second not D F I Q U V O, and not BG GB KN NK NT TN ZZ), six digits, suffix A-D. Single spaces
 * between the groups are allowed ("AB 12 34 56 C"). HMRC's specimen QQ 12 34 56 C is not valid.
 */
export function isValidNiNumber(value: string): boolean {
  const m = NI_FORMAT.exec(value.trim().toUpperCase());
  return m !== null && !NI_UNALLOCATED.has(m[1]!);
}

/**
 * The NHS number check digit for the first nine digits: weights 10 down to 2, 11 minus the sum
 * mod 11, where 11 becomes 0; null when the result is 10 (no NHS number starts so).
 */
export function nhsCheckDigit(nine: string): number | null {
  if (!/^\d{9}$/.test(nine)) return null;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (nine.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return null;
  return check === 11 ? 0 : check;
}

const NHS_FORMAT = /^(\d{3})([ -]?)(\d{3})\2(\d{4})$/;

/**
 * An NHS number: ten digits, bare or grouped 3-3-4 with spaces or hyphens, with a valid mod-11
 * check digit. Ten identical digits (0000000000, a placeholder) are refused.
 */
export function isValidNhsNumber(value: string): boolean {
  const m = NHS_FORMAT.exec(value.trim());
  if (m === null) return false;
  const digits = `${m[1]}${m[3]}${m[4]}`;
  if (/^(\d)\1{9}$/.test(digits)) return false;
  return nhsCheckDigit(digits.slice(0, 9)) === digits.charCodeAt(9) - 48;
}
