import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { RECORD_KINDS } from '../schema.ts';
import { retentionCutoff, retentionFor } from './retention.ts';

const policy = compileShipped();

describe('retention', () => {
  it('INC-5: every kind of record has a period and a reason', () => {
    for (const kind of RECORD_KINDS) {
      const period = retentionFor(policy, kind);
      expect((period.months ?? 0) + (period.days ?? 0)).toBeGreaterThan(0);
      expect(period.reason.length).toBeGreaterThan(10);
      expect(period.clauseIds).toContain('INC-5');
    }
  });

  it('INC-5: the cut-off counts days exactly and calendar months in UTC', () => {
    const now = new Date('2025-03-31T12:00:00.000Z');
    expect(retentionFor(policy, 'web-activity').days).toBe(90);
    expect(retentionCutoff(policy, 'web-activity', now).toISOString()).toBe(
      new Date(now.getTime() - 90 * 86_400_000).toISOString(),
    );
    expect(retentionFor(policy, 'subject-access-requests').months).toBe(24);
    expect(retentionCutoff(policy, 'subject-access-requests', now).toISOString()).toBe(
      '2023-03-31T12:00:00.000Z',
    );
    // Twelve months before 29 February is the last day of the shorter February.
    expect(
      retentionCutoff(policy, 'mail-metadata', new Date('2024-02-29T00:00:00Z')).toISOString(),
    ).toBe('2023-02-28T00:00:00.000Z');
  });
});
