// Retention per kind of record (INC-5): how long, why, and the cut-off before which records go.
import type { CompiledPolicy, RetentionPeriod } from '../compiled.ts';
import type { RecordKind } from '../schema.ts';

export function retentionFor(policy: CompiledPolicy, kind: RecordKind): RetentionPeriod {
  const period = policy.retention.get(kind);
  // The schema requires every record kind, so a compiled policy always has one.
  if (!period) throw new Error(`The policy has no retention period for ${kind}.`);
  return period;
}

/**
 * Records created before the returned instant are due for deletion. Months are calendar months
 * in UTC; a day that does not exist in the target month falls back to that month's last day.
 */
export function retentionCutoff(policy: CompiledPolicy, kind: RecordKind, now: Date): Date {
  const period = retentionFor(policy, kind);
  if (period.days !== null) return new Date(now.getTime() - period.days * 86_400_000);
  const months = period.months ?? 0;
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth() - months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      y,
      m,
      Math.min(now.getUTCDate(), lastDay),
      now.getUTCHours(),
      now.getUTCMinutes(),
      now.getUTCSeconds(),
      now.getUTCMilliseconds(),
    ),
  );
}
