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
  const time = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  // randomUUID's version digit is at 14: keep its random tail (variant bits included).
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${crypto.randomUUID().slice(15)}`;
}

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
