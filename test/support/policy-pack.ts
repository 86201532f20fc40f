// The shipped pack, compiled once, for tests of decisions over a real policy (test-only helper).
import { readFileSync } from 'node:fs';
import type { CompiledPolicy } from '../../src/policy/compiled.ts';
import { formatPackError, loadPolicyPackFromText } from '../../src/policy/loader.ts';

export const SHIPPED_PACK_FILE = new URL(
  '../../policy-packs/palfrey-infant/policy.yaml',
  import.meta.url,
);

export function shippedPackText(): string {
  return readFileSync(SHIPPED_PACK_FILE, 'utf8');
}

/** Compiles the shipped pack, or a variant of its text, failing loudly if it does not load. */
export function compileShipped(edit: (text: string) => string = (t) => t): CompiledPolicy {
  const loaded = loadPolicyPackFromText(edit(shippedPackText()), 'policy.yaml');
  if (!loaded.ok) throw new Error(loaded.errors.map(formatPackError).join('\n'));
  return loaded.policy;
}

/** Replaces text that must occur exactly once (so a test cannot silently edit nothing). */
export function replaceOnce(text: string, find: string, replace: string): string {
  const at = text.indexOf(find);
  if (at < 0 || text.indexOf(find, at + 1) >= 0) {
    throw new Error(`expected exactly one ${JSON.stringify(find)} in the pack`);
  }
  return text.slice(0, at) + replace + text.slice(at + find.length);
}
