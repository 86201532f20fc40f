// The password rule for local accounts (PWD-2): length, letters, numbers, special characters,
// not one of the 10,000 most common passwords, not built from the person's own name or e-mail.
// Pure apart from reading the common-password list once; every failing part is reported so the
// person can fix them all at once.
import { readFileSync } from 'node:fs';
import type { PasswordRule } from '../policy/compiled.ts';

export type PasswordPart = 'length' | 'letter' | 'digit' | 'special' | 'common' | 'name' | 'email';

export interface PasswordFailure {
  part: PasswordPart;
  message: string;
}

export type PasswordCheck = { ok: true } | { ok: false; failures: PasswordFailure[] };

export interface PersonNames {
  givenName: string;
  familyName: string;
  email: string;
}

/** Shortest name or e-mail part that is looked for inside a password. */
export const MIN_PERSONAL_PART = 3;

// Both src/auth and dist/auth are two folders below the package root.
const COMMON_FILE = new URL('../../assets/common-passwords.txt', import.meta.url);
let common: Set<string> | undefined;

export function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const lines = readFileSync(COMMON_FILE, 'utf8').split('\n');
    common = new Set(lines.map((line) => line.trim().toLowerCase()).filter((line) => line !== ''));
  }
  return common;
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;
const SPECIAL = /[^\p{L}\p{N}]/u;
const TRAILING_NON_LETTERS = /[^\p{L}]+$/u;

/** Case- and width-insensitive form for "contains" checks; upper case has no context rules. */
const fold = (value: string): string => value.normalize('NFKC').toUpperCase();

/** Whether the password is on the common list, as typed or with trailing numbers/symbols off. */
export function isCommonPassword(password: string): boolean {
  const list = commonPasswords();
  const lower = password.normalize('NFKC').toLowerCase();
  if (list.has(lower)) return true;
  const stripped = lower.replace(TRAILING_NON_LETTERS, '');
  return stripped !== '' && stripped !== lower && list.has(stripped);
}

/** The parts of a name or address worth looking for: the whole and each word of 3+ characters. */
function personalParts(value: string): string[] {
  const folded = fold(value.trim());
  const parts = new Set<string>();
  const joined = folded.replace(/[\s'’.\-_+]+/gu, '');
  if ([...joined].length >= MIN_PERSONAL_PART) parts.add(joined);
  for (const word of folded.split(/[\s'’.\-_+]+/u)) {
    if ([...word].length >= MIN_PERSONAL_PART) parts.add(word);
  }
  return [...parts];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function checkPassword(
  password: string,
  rule: PasswordRule,
  person?: PersonNames,
): PasswordCheck {
  const failures: PasswordFailure[] = [];
  const length = [...password].length;
  if (length < rule.minLength) {
    failures.push({
      part: 'length',
      message: `at least ${plural(rule.minLength, 'character')} (this has ${length})`,
    });
  }
  if (rule.requireLetter && !LETTER.test(password)) {
    failures.push({ part: 'letter', message: 'at least one letter' });
  }
  if (rule.requireDigit && !DIGIT.test(password)) {
    failures.push({ part: 'digit', message: 'at least one number' });
  }
  if (rule.requireSpecial && !SPECIAL.test(password)) {
    failures.push({
      part: 'special',
      message: 'at least one special character (a symbol such as ! ? # % or a space)',
    });
  }
  if (rule.refuseCommon && isCommonPassword(password)) {
    failures.push({ part: 'common', message: 'is one of the 10,000 most common passwords' });
  }
  if (rule.refusePersonalInfo && person) {
    const folded = fold(password);
    if (personalParts(person.familyName).some((part) => folded.includes(part))) {
      failures.push({ part: 'name', message: 'contains your surname' });
    }
    if (personalParts(person.givenName).some((part) => folded.includes(part))) {
      failures.push({ part: 'name', message: 'contains your given name' });
    }
    const local = person.email.split('@')[0] ?? '';
    if (personalParts(local).some((part) => folded.includes(part))) {
      failures.push({ part: 'email', message: 'contains the first part of your e-mail address' });
    }
  }
  return failures.length === 0 ? { ok: true } : { ok: false, failures };
}

/** One sentence for an error message: "The password needs at least 8 characters (this has 6); ...". */
export function describePasswordFailures(failures: readonly PasswordFailure[]): string {
  const needs = failures.filter((f) => !['common', 'name', 'email'].includes(f.part));
  const refusals = failures.filter((f) => ['common', 'name', 'email'].includes(f.part));
  const sentences: string[] = [];
  if (needs.length > 0) {
    sentences.push(`The password needs ${needs.map((f) => f.message).join(', ')}.`);
  }
  if (refusals.length > 0) {
    sentences.push(
      `The password ${refusals.map((f) => f.message).join(' and ')}. Choose another (PWD-2).`,
    );
  } else {
    sentences.push('Choose another (PWD-2).');
  }
  return sentences.join(' ');
}
