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
