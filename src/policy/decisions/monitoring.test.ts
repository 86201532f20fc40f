import { describe, expect, it } from 'vitest';
import { compileShipped, replaceOnce } from '../../../test/support/policy-pack.ts';
import {
  canOpenCase,
  contentAccessRule,
  contentGroundFor,
  privateMarking,
  purposeFor,
  webGroundFor,
} from './monitoring.ts';

const policy = compileShipped();

describe('monitoring decisions', () => {
  it('MON-1: knows the eight purposes 1, 2, 3, 4a-4e and no other', () => {
    expect([...policy.monitoring.purposes.keys()]).toEqual([
      '1',
      '2',
      '3',
      '4a',
      '4b',
      '4c',
      '4d',
      '4e',
    ]);
    expect(purposeFor(policy, '3')?.text).toBe('to record transactions');
    expect(purposeFor(policy, '4e')?.clauseIds).toEqual(['MON-1(4e)']);
    expect(purposeFor(policy, 'curiosity')).toBeUndefined();
  });

  it('MON-4: has the seven grounds for opening content', () => {
    expect(policy.monitoring.contentGrounds.size).toBe(7);
    expect(contentGroundFor(policy, 'crime')?.text).toBe(
      'for the purpose of preventing or detecting crime',
    );
  });

  it('WEB-6: has the two grounds for looking at one person’s browsing', () => {
    expect([...policy.monitoring.webGrounds.keys()]).toEqual([
      'inappropriate-material',
      'excessive-browsing',
    ]);
    expect(webGroundFor(policy, 'excessive-browsing')?.clauseIds).toContain('WEB-6');
  });

  it('MON-5, WEB-8: the SBM opens mail cases, IT support opens web cases', () => {
    expect(canOpenCase(policy, 'mail', ['sbm'])).toBe(true);
    expect(canOpenCase(policy, 'mail', ['it_support'])).toBe(false);
    expect(canOpenCase(policy, 'web', ['it_support'])).toBe(true);
    expect(canOpenCase(policy, 'web', ['staff'])).toBe(false);
  });

  it('MON-5: content access needs the SBM, one approval by default, two when the pack says so', () => {
    expect(contentAccessRule(policy)).toEqual({
      approverRoles: ['sbm'],
      approvalsNeeded: 1,
      grantHours: 72,
      clauseIds: ['MON-5'],
    });
    const strict = compileShipped((t) =>
      replaceOnce(t, 'secondApprover: false', 'secondApprover: true'),
    );
    expect(contentAccessRule(strict).approvalsNeeded).toBe(2);
  });

  it('MON-3: withholds messages marked Private or Personal by header or subject', () => {
    expect(
      privateMarking(policy, { headers: [['sensitivity', ' personal ']], subject: 'Hello' }),
    ).toMatchObject({ marked: true, clauseIds: ['MON-3'] });
    expect(privateMarking(policy, { headers: [], subject: '[Private] doctor' }).marked).toBe(true);
    expect(
      privateMarking(policy, { headers: [['Sensitivity', 'Normal']], subject: 'Trip money' }),
    ).toMatchObject({ marked: false, marker: null });
  });
});
