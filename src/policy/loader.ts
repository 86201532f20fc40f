// Placeholder signature; replaced by the real loader (src/policy/loader.ts) in the policy work.
import type { CompiledPolicy } from './compiled.ts';

export interface PackError {
  file: string;
  line: number;
  column: number;
  key: string;
  message: string;
}

export type LoadResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: PackError[] };

export const formatPackError = (e: PackError): string =>
  `${e.file}:${e.line}:${e.column} ${e.key}: ${e.message}`;

export async function loadPolicyPack(dir: string): Promise<LoadResult> {
  throw new Error(`policy loader not written yet (${dir})`);
}
