// Personal-data detectors for the MAIL-12 rule: UK identifiers found in a message's subject and
// text. Only values that pass the issuer's own checks are counted, each distinct value once, and
// the values themselves never leave this module: callers get counts.
import type { PERSONAL_DATA_DETECTORS } from '../../policy/schema.ts';
import { isValidNhsNumber, isValidNiNumber, isValidUpn } from './identifiers.ts';

/** The detectors a pack may name; a new one in the schema must be added here to compile. */
export type Detector = (typeof PERSONAL_DATA_DETECTORS)[number];

export const DETECTOR_NAMES: Readonly<Record<Detector, readonly [string, string]>> = {
  upn: ['Unique Pupil Number', 'Unique Pupil Numbers'],
  'ni-number': ['National Insurance number', 'National Insurance numbers'],
  'nhs-number': ['NHS number', 'NHS numbers'],
  'date-of-birth-with-name': ['date of birth with a name', 'dates of birth with names'],
  'bank-details': ['sort code with an account number', 'sort codes with account numbers'],
};

const UPN = /(?<![\p{L}\p{N}])[A-Za-z]\d{11}[0-9A-Za-z](?![\p{L}\p{N}])/gu;
const NI = /(?<![\p{L}\p{N}])[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d](?![\p{L}\p{N}])/gu;
const NHS = /(?<!\d[ -]?)\d{3}([ -]?)\d{3}\1\d{4}(?![ -]?\d)/g;

function distinct(text: string, regex: RegExp, valid: (value: string) => boolean): number {
  const seen = new Set<string>();
  for (const m of text.matchAll(regex)) {
    if (valid(m[0])) seen.add(m[0].replace(/[ -]/g, '').toUpperCase());
  }
  return seen.size;
}

export function countUpns(text: string): number {
  return distinct(text, UPN, isValidUpn);
}

export function countNiNumbers(text: string): number {
  return distinct(text, NI, isValidNiNumber);
}

export function countNhsNumbers(text: string): number {
  return distinct(text, NHS, isValidNhsNumber);
}

// --- dates of birth -------------------------------------------------------------------------

/** How far (characters) a DOB keyword may be from the date, and a name from the date. */
export const DOB_KEYWORD_DISTANCE = 40;
export const DOB_NAME_DISTANCE = 80;

const DOB_KEYWORD = /\b(?:d\.? ?o\.? ?b\b\.?|date of birth|birth ?date|born)\b/gi;
const MONTH =
  'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const MONTHS = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
] as const;
// 12/03/2015, 12-3-15, 12.03.2015 | 2015-03-12 | 12 March 2015, 12th of Mar. 2015, 12-Mar-2015
// | March 12, 2015. Numbers are read day first: this is the United Kingdom.
const DATE_FORMS = [
  String.raw`(?<d1>\d{1,2})(?<sep>[/.-])(?<m1>\d{1,2})\k<sep>(?<y1>\d{4}|\d{2})`,
  String.raw`(?<y2>\d{4})-(?<m2>\d{2})-(?<d2>\d{2})`,
  String.raw`(?<d3>\d{1,2})(?:st|nd|rd|th)?(?: of)?[ -](?<m3>${MONTH})\.?,?[ -](?<y3>\d{4}|\d{2})`,
  String.raw`(?<m4>${MONTH})\.? (?<d4>\d{1,2})(?:st|nd|rd|th)?,? (?<y4>\d{4})`,
];
const DATE = new RegExp(
  String.raw`(?<![\p{L}\p{N}])(?:${DATE_FORMS.join('|')})(?![\p{L}\p{N}]|[/.-]\d)`,
  'giu',
);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The date a match names, as YYYY-MM-DD, or null when there is no such day. */
function dateOf(groups: Record<string, string | undefined>): string | null {
  const day = Number(groups.d1 ?? groups.d2 ?? groups.d3 ?? groups.d4);
  const monthText = groups.m1 ?? groups.m2 ?? groups.m3 ?? groups.m4 ?? '';
  const month = /^\d+$/.test(monthText)
    ? Number(monthText)
    : MONTHS.indexOf(monthText.slice(0, 3).toLowerCase() as (typeof MONTHS)[number]) + 1;
  let year = Number(groups.y1 ?? groups.y2 ?? groups.y3 ?? groups.y4);
  if (year < 100) year += 2000;
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return null;
  if (year < 1900 || year > 2099) return null;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) {
    return null;
  }
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

// A capitalised word that can be a name: Amelia, O'Brien, McDonald, Smith-Jones, Zoë.
const NAME =
  /(?<![\p{L}\p{N}])\p{Lu}(?:\p{Ll}+|['’]\p{Lu}\p{Ll}+)(?:\p{Lu}\p{Ll}+)?(?:-\p{Lu}\p{Ll}+)?(?![\p{L}\p{N}])/gu;

/** Capitalised words that are not names: sentence openers, titles, months, forms' labels. */
const NOT_NAMES = new Set(
  `a about after also an and are as at attached baby before best birth born boy brother but by
  child class d date day daughter dear details do dob does father for from girl had has have he
  hello her hers him his hi i if in is it its kind many mother mr mrs ms miss dr name names new
  no nhs not note nursery of on or our parent parents please pupil pupils re reception regards
  school she sister sincerely so son student students subject surname forename thank thanks
  that the their them then there these they this those to today upn was we were when where which
  who with year yes you your yours fw fwd age aged date dates number numbers address
  january february march april may june july august september october november december jan
  feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday
  sunday mon tue wed thu fri sat sun`
    .split(/\s+/)
    .filter(Boolean),
);

function hasNameNear(text: string, from: number, to: number, skip: [number, number][]): boolean {
  const window = text.slice(Math.max(0, from), Math.min(text.length, to));
  const offset = Math.max(0, from);
  for (const m of window.matchAll(NAME)) {
    const at = offset + m.index;
    if (skip.some(([a, b]) => at < b && at + m[0].length > a)) continue;
    if (!NOT_NAMES.has(m[0].toLowerCase())) return true;
  }
  return false;
}

/** The keyword just before or just after [start, end), if within DOB_KEYWORD_DISTANCE. */
function keywordNear(
  keywords: readonly [number, number][],
  start: number,
  end: number,
): [number, number] | undefined {
  let lo = 0;
  let hi = keywords.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keywords[mid]![0] < end) lo = mid + 1;
    else hi = mid;
  }
  const after = keywords[lo];
  if (after && after[0] - end <= DOB_KEYWORD_DISTANCE) return after;
  const before = keywords[lo - 1];
  if (before && before[1] <= start && start - before[1] <= DOB_KEYWORD_DISTANCE) return before;
  return undefined;
}

/**
 * Dates (several UK forms) with "DOB", "date of birth", "birth date" or "born" within
 * DOB_KEYWORD_DISTANCE characters and a capitalised name within DOB_NAME_DISTANCE. Distinct
 * dates are counted. Keywords are rare, so only the text around them is searched for dates.
 */
export function countDatesOfBirth(text: string): number {
  const keywords = [...text.matchAll(DOB_KEYWORD)].map(
    (m) => [m.index, m.index + m[0].length] as [number, number],
  );
  if (keywords.length === 0) return 0;
  // Windows around the keywords, merged so no part of the text is searched twice.
  const windows: [number, number][] = [];
  const reach = DOB_KEYWORD_DISTANCE + 30; // room for the date itself
  for (const [a, b] of keywords) {
    const from = Math.max(0, a - reach);
    const to = Math.min(text.length, b + reach);
    const last = windows[windows.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else windows.push([from, to]);
  }
  const dates = new Set<string>();
  for (const [from, to] of windows) {
    for (const m of text.slice(from, to).matchAll(DATE)) {
      const date = dateOf(m.groups ?? {});
      if (date === null) continue;
      const start = from + m.index;
      const end = start + m[0].length;
      const keyword = keywordNear(keywords, start, end);
      if (!keyword) continue;
      const near = hasNameNear(text, start - DOB_NAME_DISTANCE, end + DOB_NAME_DISTANCE, [
        [start, end],
        keyword,
      ]);
      if (near) dates.add(date);
    }
  }
  return dates.size;
}

// --- bank details ---------------------------------------------------------------------------

/** How far (characters) an account number may be from the sort code. */
export const BANK_DISTANCE = 60;

// nn-nn-nn anywhere; just after the words "sort code", also nn nn nn and nnnnnn.
const SORT_CODE = /(?<![\d-])\d{2}(?:-\d{2}-\d{2}(?![\d-])|( ?)\d{2}\1\d{2}(?![\d-]| ?\d))/g;
const SORT_CODE_LABEL = /\bsort[ -]?code\W{0,3}$/i;
const ACCOUNT = /(?<![\d-])\d{8}(?![\d-])/g;

/** Sort codes with an 8-digit account number within BANK_DISTANCE characters. */
export function countBankDetails(text: string): number {
  const pairs = new Set<string>();
  for (const m of text.matchAll(SORT_CODE)) {
    const start = m.index;
    const end = start + m[0].length;
    if (!m[0].includes('-') && !SORT_CODE_LABEL.test(text.slice(Math.max(0, start - 14), start))) {
      continue;
    }
    const from = Math.max(0, start - BANK_DISTANCE);
    const window = text.slice(from, Math.min(text.length, end + BANK_DISTANCE));
    for (const a of window.matchAll(ACCOUNT)) {
      const at = from + a.index;
      if (at < end && at + 8 > start) continue;
      pairs.add(`${m[0].replace(/\D/g, '')}/${a[0]}`);
      break;
    }
  }
  return pairs.size;
}

const COUNTERS: Readonly<Record<Detector, (text: string) => number>> = {
  upn: countUpns,
  'ni-number': countNiNumbers,
  'nhs-number': countNhsNumbers,
  'date-of-birth-with-name': countDatesOfBirth,
  'bank-details': countBankDetails,
};

/** Counts per detector, only those found. */
export function detectPersonalData(
  text: string,
  detectors: readonly Detector[],
): Partial<Record<Detector, number>> {
  const counts: Partial<Record<Detector, number>> = {};
  for (const detector of detectors) {
    const n = COUNTERS[detector]?.(text) ?? 0;
    if (n > 0) counts[detector] = n;
  }
  return counts;
}
