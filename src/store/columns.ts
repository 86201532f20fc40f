// The one place where the two databases differ in how values are stored. Repositories call these
// instead of writing dialect checks of their own.
import type { Bool } from './schema.ts';

export const nowIso = (clock: () => Date = () => new Date()): string => clock().toISOString();

export const toBool = (value: boolean): Bool => (value ? 1 : 0);
export const fromBool = (value: number | boolean | null | undefined): boolean =>
  value === 1 || value === true;

export const toJson = (value: unknown): string => JSON.stringify(value ?? null);
export function fromJson<T>(value: string | null | undefined, fallback: T): T {
  if (value === null || value === undefined || value === '') return fallback;
  return JSON.parse(value) as T;
}

export const newId = (): string => crypto.randomUUID();

/**
 * A time-ordered id in the UUIDv7 layout: 48 bits of milliseconds, then random bits. Text ids
 * written in time order then sort in time order, so a table that takes many rows a second (web
 * activity) appends to its primary key's B-tree instead of writing into random pages of it.
 */
export function newTimeId(ms: number = Date.now()): string {
  // Written as character codes and made into a string once: the web filter makes one for every
  // activity row and visit, and the pieces of a template cost more than the id.
  let time = Math.min(TIME_ID_MAX_MS, Math.max(0, Math.floor(ms)));
  for (let i = 12; i >= 0; i--) {
    if (i === 8) continue;
    idCodes[i] = HEX[time % 16]!;
    time = Math.floor(time / 16);
  }
  // The random tail: 18 hex digits and the variant's two random bits (10xx: 8, 9, a or b).
  if (poolAt + 10 > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  for (const at of RANDOM_AT) {
    const byte = pool[poolAt++]!;
    idCodes[at] = HEX[byte >> 4]!;
    idCodes[at + 1] = HEX[byte & 15]!;
  }
  const split = pool[poolAt++]!;
  idCodes[15] = HEX[split >> 4]!;
  idCodes[20] = HEX[split & 15]!;
  idCodes[19] = HEX[8 | (pool[poolAt++]! & 3)]!;
  return String.fromCharCode.apply(null, idCodes);
}

/** Milliseconds that fit the id's 48 bits (the year 10889). */
const TIME_ID_MAX_MS = 2 ** 48 - 1;
const HEX = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx, the dashes and the version in place. */
const idCodes = Array.from('00000000-0000-7000-8000-000000000000', (c) => c.charCodeAt(0));
/** Where a random byte's two hex digits go; 15 and 20 share one byte, and 19 is the variant. */
const RANDOM_AT = [16, 21, 24, 26, 28, 30, 32, 34];
/** Random bytes from the system's source, taken a few at a time. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** The last date after which isoAt() leaves the work to Date: 9999-12-31T23:59:59.999Z. */
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;
let isoMinute = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, for the records written thousands a second (web activity and
 * visits): the date up to the minute is made once a minute, and only the seconds and
 * milliseconds are written for each call. toISOString takes most of a microsecond here.
 */
export function isoAt(ms: number): string {
  const t = Math.floor(ms);
  if (!(t >= 0 && t <= LAST_FOUR_DIGIT_YEAR_MS)) return new Date(ms).toISOString();
  const minute = Math.floor(t / 60_000);
  if (minute !== isoMinute) {
    isoPrefix = new Date(minute * 60_000).toISOString().slice(0, 17); // 2026-12-01T09:04:
    isoMinute = minute;
  }
  const rest = t - minute * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${isoPrefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}
