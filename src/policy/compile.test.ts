import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../test/support/policy-pack.ts';
import { permissionsOf, totpRequiredFor } from './compiled.ts';

describe('compiled policy', () => {
  const policy = compileShipped();

  it('is frozen: objects, arrays, Maps and Sets refuse changes', () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(() => {
      (policy as { name: string }).name = 'other';
    }).toThrow(TypeError);
    expect(() => {
      (policy.document.versions as unknown as unknown[]).push({ version: 6 });
    }).toThrow(TypeError);
    expect(() => (policy.clauses as Map<string, unknown>).set('X-1', {})).toThrow(TypeError);
    expect(() => (policy.clauses as Map<string, unknown>).delete('SYS-5')).toThrow(TypeError);
    expect(() => (policy.web.everyone.block as Set<string>).add('news')).toThrow(TypeError);
    expect(() => (policy.roles.get('staff')!.permissions as Set<string>).clear()).toThrow(
      TypeError,
    );
    expect(() => {
      (policy.mail.rules[0] as { action: string }).action = 'allow';
    }).toThrow(TypeError);
    expect(policy.clauses.has('SYS-5')).toBe(true);
    expect(policy.web.everyone.block.has('adult')).toBe(true);
  });

  it('PWD-2, PWD-5: carries the password rule and the idle lock', () => {
    expect(policy.auth.password).toMatchObject({ minLength: 8, requireSpecial: true });
    expect(policy.auth.password.clauseIds).toEqual(['PWD-2']);
    expect(policy.auth.idleLockMinutes).toBe(10);
  });

  it('grants permissions by role and asks TOTP of privileged roles', () => {
    expect([...permissionsOf(policy, ['it_support'])]).toContain('accounts.manage');
    expect(permissionsOf(policy, ['staff']).has('audit.read')).toBe(false);
    expect(permissionsOf(policy, ['staff', 'dpo']).has('audit.read')).toBe(true);
    expect(totpRequiredFor(policy, ['staff', 'headteacher'])).toBe(true);
    expect(totpRequiredFor(policy, ['staff', 'governor'])).toBe(false);
  });

  it('derives each clause section from its id', () => {
    for (const clause of policy.clauses.values()) {
      expect(clause.id.startsWith(`${clause.section}-`)).toBe(true);
    }
  });
});
