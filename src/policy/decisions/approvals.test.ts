import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { approvalOutcome, approversFor, canApprove } from './approvals.ts';

const policy = compileShipped();

describe('approvals', () => {
  it('WEB-5: network-drive disclosure needs headteacher and sbm', () => {
    expect(approversFor(policy, 'network-drive-disclosure')).toEqual({
      mode: 'all',
      roles: ['headteacher', 'sbm'],
      clauseIds: ['WEB-5'],
    });
    const ht = { personId: 'p-ht', roles: ['headteacher', 'slt'] };
    const sbm = { personId: 'p-sbm', roles: ['sbm'] };
    expect(approvalOutcome(policy, 'network-drive-disclosure', [ht])).toMatchObject({
      complete: false,
      missingRoles: ['sbm'],
    });
    expect(approvalOutcome(policy, 'network-drive-disclosure', [ht, sbm])?.complete).toBe(true);
  });

  it('WEB-5: one person holding both roles is not two approvals', () => {
    const both = { personId: 'p1', roles: ['headteacher', 'sbm'] };
    const outcome = approvalOutcome(policy, 'network-drive-disclosure', [both, both]);
    expect(outcome?.complete).toBe(false);
    expect(outcome?.missingRoles).toHaveLength(1);
    // With a second person who is only the headteacher, the matching finds sbm for p1.
    const ht = { personId: 'p2', roles: ['headteacher'] };
    expect(approvalOutcome(policy, 'network-drive-disclosure', [both, ht])?.complete).toBe(true);
  });

  it('SYS-6: a device may be approved by the SBM or the SLT', () => {
    expect(approversFor(policy, 'device')).toMatchObject({ mode: 'any', roles: ['sbm', 'slt'] });
    expect(canApprove(policy, 'device', ['slt'])).toBe(true);
    expect(canApprove(policy, 'device', ['it_support'])).toBe(false);
    expect(approvalOutcome(policy, 'device', [{ personId: 'x', roles: ['slt'] }])?.complete).toBe(
      true,
    );
  });

  it('SYS-2: nobody approves their own software request', () => {
    const self = { personId: 'sbm-1', roles: ['sbm'] };
    expect(approvalOutcome(policy, 'software', [self], 'sbm-1')?.complete).toBe(false);
    expect(approvalOutcome(policy, 'software', [self], 'someone-else')?.complete).toBe(true);
  });

  it('PWD-3: password disclosure is authorised by the SLT and tells IT support', () => {
    expect(approversFor(policy, 'password-disclosure')?.roles).toContain('slt');
    expect(policy.approvals.get('password-disclosure')?.notify).toEqual(['it_support']);
  });

  it('SYS-3: data sharing opens a DPIA', () => {
    expect(policy.approvals.get('data-sharing')?.opens).toBe('dpia');
    expect(approversFor(policy, 'data-sharing')?.clauseIds).toContain('SYS-3');
  });

  it('has the ten request types, and none for an unknown type', () => {
    expect([...policy.approvals.keys()].sort()).toEqual(
      [
        'data-sharing',
        'device',
        'equipment-move',
        'network-drive-disclosure',
        'password-disclosure',
        'personal-use',
        'restricted-access',
        'site-review',
        'software',
        'website-editing',
      ].sort(),
    );
    expect(approversFor(policy, 'holiday')).toBeUndefined();
    expect(canApprove(policy, 'holiday', ['sbm'])).toBe(false);
  });
});
