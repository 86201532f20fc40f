// Holds the compiled policy in force. Readers call current() on every decision, so applying a
// new pack takes effect at once without restarting anything.
import type { CompiledPolicy } from './compiled.ts';

export interface PolicyHolder {
  current(): CompiledPolicy;
  replace(next: CompiledPolicy): void;
  onChange(listener: (next: CompiledPolicy) => void): () => void;
}

export function createPolicyHolder(initial: CompiledPolicy): PolicyHolder {
  let policy = initial;
  const listeners = new Set<(next: CompiledPolicy) => void>();
  return {
    current: () => policy,
    replace(next) {
      policy = next;
      for (const listener of listeners) listener(next);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
