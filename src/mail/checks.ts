// The checks the relay runs on each message, from the libraries that make them: the MIME walk
// (inspect/), the pack's content rules (rules/) and the disclaimer (MAIL-4).
import type { CompiledPolicy } from '../policy/compiled.ts';
import { addDisclaimer } from './disclaimer.ts';
import { inspectWithPolicy } from './inspect/index.ts';
import { evaluateRules } from './rules/evaluate.ts';

export function mailChecks() {
  return {
    inspect: (raw: Buffer, policy: CompiledPolicy) => inspectWithPolicy(raw, policy),
    evaluate: evaluateRules,
    addDisclaimer: (raw: Buffer, policy: CompiledPolicy) =>
      addDisclaimer(raw, policy.mail.disclaimer).raw,
  };
}
