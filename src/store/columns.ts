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
