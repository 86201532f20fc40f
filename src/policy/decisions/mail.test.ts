import { describe, expect, it } from 'vitest';
import { compileShipped, replaceOnce } from '../../../test/support/policy-pack.ts';
import {
  attachmentVerdict,
  isExternalAddress,
  mailRulesFor,
  personalUseAllowed,
  recipientWarning,
  strongestAction,
} from './mail.ts';

const policy = compileShipped();

describe('mail decisions', () => {
  it('SYS-8: rejects executables and scripts inbound and outbound', () => {
    for (const direction of ['inbound', 'outbound'] as const) {
      expect(attachmentVerdict(policy, direction, { fileName: 'update.exe' })).toMatchObject({
        action: 'reject',
        reason: 'executable',
        clauseIds: ['SYS-7', 'SYS-8'],
      });
      expect(attachmentVerdict(policy, direction, { fileName: 'run.vbs' }).action).toBe('reject');
    }
    expect(attachmentVerdict(policy, 'inbound', { fileName: 'letter.pdf' })).toEqual({
      action: 'allow',
      reason: null,
      clauseIds: [],
    });
  });

  it('SYS-4: holds encrypted archives inbound (they cannot be scanned) but lets them out', () => {
    expect(
      attachmentVerdict(policy, 'inbound', { fileName: 'a.zip', encryptedArchive: true }).action,
    ).toBe('hold');
    expect(
      attachmentVerdict(policy, 'outbound', { fileName: 'a.zip', encryptedArchive: true }).action,
    ).toBe('allow');
  });

  it('MAIL-1, PER-2: personal e-mail needs an authorisation by default; the pack can switch it', () => {
    expect(personalUseAllowed(policy, false)).toEqual({
      allowed: false,
      clauseIds: ['MAIL-1', 'PER-2'],
    });
    expect(personalUseAllowed(policy, true).allowed).toBe(true);
    const relaxed = compileShipped((t) =>
      replaceOnce(t, 'default: authorisation-required', 'default: incidental-allowed'),
    );
    expect(personalUseAllowed(relaxed, false).allowed).toBe(true);
  });

  it('MAIL-2: warns above the recipient threshold and on the all-staff list', () => {
    const many = Array.from({ length: 16 }, (_, i) => `p${i}@palfreyinfant.co.uk`);
    expect(recipientWarning(policy, many)).toMatchObject({ action: 'warn-sender', why: 'count' });
    expect(recipientWarning(policy, many.slice(0, 15))).toBeNull();
    expect(recipientWarning(policy, ['AllStaff@palfreyinfant.co.uk'])).toMatchObject({
      why: 'all-staff-list',
      clauseIds: ['MAIL-2'],
    });
  });

  it('MAIL-9, MAIL-12: knows which recipients are external', () => {
    expect(isExternalAddress(policy, 'head@palfreyinfant.co.uk')).toBe(false);
    expect(isExternalAddress(policy, 'x@mail.palfreyinfant.co.uk')).toBe(false);
    expect(isExternalAddress(policy, 'x@notpalfreyinfant.co.uk')).toBe(true);
    expect(isExternalAddress(policy, 'no-at-sign')).toBe(true);
  });

  it('MAIL-5, MAIL-13: rules apply by direction', () => {
    const outbound = mailRulesFor(policy, 'outbound').map((r) => r.id);
    const inbound = mailRulesFor(policy, 'inbound').map((r) => r.id);
    expect(outbound).toContain('offensive-language');
    expect(outbound).not.toContain('sexually-explicit-inbound');
    expect(inbound).toContain('sexually-explicit-inbound');
    expect(inbound).toContain('chain-letters'); // direction: both
  });

  it('MIS-2: every mail rule cites a clause', () => {
    for (const rule of policy.mail.rules) expect(rule.clauseIds.length).toBeGreaterThan(0);
  });

  it('orders actions from allow to reject', () => {
    expect(strongestAction(['tag', 'hold', 'warn-sender'])).toBe('hold');
    expect(strongestAction([])).toBe('allow');
    expect(strongestAction(['reject', 'allow'])).toBe('reject');
  });
});
