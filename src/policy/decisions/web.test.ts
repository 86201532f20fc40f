import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileShipped, replaceOnce } from '../../../test/support/policy-pack.ts';
import {
  dnsBlockAnswer,
  downloadVerdict,
  extensionOf,
  webCategoriesBlockedFor,
  webVerdict,
} from './web.ts';

const policy = compileShipped();
const staff = { kind: 'employee', groups: ['staff', 'teaching'] };

describe('web categories', () => {
  it('SYS-5: blocks webmail, streaming, chat and social networking for staff', () => {
    const blocked = webCategoriesBlockedFor(policy, staff);
    for (const category of ['webmail', 'audio-video', 'chat', 'social_networks']) {
      expect(blocked.get(category), category).toContain('SYS-5');
    }
  });

  it('SYS-5: blocks webmail for a person filed under no directory group (default groups)', () => {
    const blocked = webCategoriesBlockedFor(policy, { kind: 'employee', groups: [] });
    expect(blocked.get('webmail')).toContain('SYS-5');
    const withoutDefaults = compileShipped((yaml) =>
      replaceOnce(yaml, 'defaultGroups: [staff]', 'defaultGroups: []'),
    );
    expect(
      webCategoriesBlockedFor(withoutDefaults, { kind: 'employee', groups: [] }).has('webmail'),
    ).toBe(false);
  });

  it('WEB-2: blocks chat and forums, citing WEB-2', () => {
    const blocked = webCategoriesBlockedFor(policy, staff);
    expect(blocked.get('forums')).toContain('WEB-2');
    expect(blocked.get('chat')).toContain('WEB-2');
  });

  it('WEB-1, MIS-2: blocks gross-misconduct categories for everyone, even with no groups', () => {
    const blocked = webCategoriesBlockedFor(policy, { kind: null, groups: [] });
    expect(blocked.get('adult')).toEqual(['WEB-1', 'MIS-2(a)']);
    expect(blocked.get('gambling')).toEqual(['MIS-2(h)']);
    expect(blocked.get('warez')).toEqual(['MIS-2(f)', 'MIS-2(g)']);
    expect(blocked.get('child_abuse')).toContain('MIS-2(j)');
    expect(blocked.has('webmail')).toBe(false);
  });

  it('a group allow lifts a group block but never an everyone block', () => {
    const leadership = { kind: 'employee', groups: ['staff', 'leadership'] };
    const blocked = webCategoriesBlockedFor(policy, leadership);
    expect(blocked.has('social_networks')).toBe(false);
    expect(blocked.has('webmail')).toBe(true);
    const edited = compileShipped((t) =>
      replaceOnce(t, '      allow: [social_networks]', '      allow: [social_networks, adult]'),
    );
    expect(webCategoriesBlockedFor(edited, leadership).has('adult')).toBe(true);
  });

  it('SCP-1: rules can differ by person kind', () => {
    // Without the default staff group, only the kind rule blocks webmail for volunteers.
    const noDefaults = compileShipped((t) =>
      replaceOnce(t, 'defaultGroups: [staff]', 'defaultGroups: []'),
    );
    const volunteer = webCategoriesBlockedFor(noDefaults, { kind: 'volunteer', groups: [] });
    const governor = webCategoriesBlockedFor(noDefaults, { kind: 'governor', groups: [] });
    expect(volunteer.has('webmail')).toBe(true);
    expect(governor.has('webmail')).toBe(false);
  });

  it('everyone-blocked categories stay blocked whatever the groups and kind (property)', () => {
    const groups = [...policy.groups.keys()];
    const kinds = [null, ...policy.personKinds.keys()];
    fc.assert(
      fc.property(fc.subarray(groups), fc.constantFrom(...kinds), (g, kind) => {
        const blocked = webCategoriesBlockedFor(policy, { kind, groups: g });
        for (const category of policy.web.everyone.block) expect(blocked.has(category)).toBe(true);
      }),
    );
  });
});

describe('web verdicts', () => {
  it('SYS-5: a site in the webmail category is blocked for staff, citing SYS-5', () => {
    expect(webVerdict(policy, staff, ['webmail'])).toEqual({
      action: 'block',
      reason: 'category',
      categories: ['webmail'],
      clauseIds: ['SYS-5'],
      alert: false,
    });
    expect(webVerdict(policy, staff, ['news'])).toEqual({ action: 'allow' });
  });

  it('MIS-2(j): an attempt on material harmful to a child alerts at once', () => {
    const verdict = webVerdict(policy, staff, ['child_abuse']);
    expect(verdict).toMatchObject({ action: 'block', alert: true });
    expect(webVerdict(policy, staff, ['adult'])).toMatchObject({ alert: true });
    expect(webVerdict(policy, staff, ['gambling'])).toMatchObject({ alert: false });
  });

  it('SYS-6: an unregistered device is blocked everywhere in block-all mode', () => {
    const device = { kind: null, groups: [], deviceRegistered: false };
    expect(webVerdict(policy, device, ['news'])).toMatchObject({
      action: 'block',
      reason: 'unregistered-device',
      clauseIds: ['SYS-6'],
    });
    const relaxed = compileShipped((t) =>
      replaceOnce(
        t,
        '    mode: block-all\n',
        '    mode: block-categories\n    block: [webmail, social_networks]\n',
      ),
    );
    expect(webVerdict(relaxed, device, ['news'])).toEqual({ action: 'allow' });
    expect(webVerdict(relaxed, device, ['webmail'])).toMatchObject({
      action: 'block',
      clauseIds: ['SYS-5', 'SYS-6'],
    });
  });

  it('SYS-2: blocks executable downloads by their real extension', () => {
    expect(downloadVerdict(policy, 'setup.EXE').blocked).toBe(true);
    expect(downloadVerdict(policy, 'invoice.pdf.exe').clauseIds).toContain('SYS-2');
    expect(downloadVerdict(policy, 'report.pdf').blocked).toBe(false);
    expect(extensionOf('notes')).toBeNull();
    expect(extensionOf('virus.exe. ')).toBe('exe');
  });

  it('answers blocked DNS names with the block page address', () => {
    expect(dnsBlockAnswer(policy)).toEqual({ answer: 'address', address: '10.0.0.10' });
    const nx = compileShipped((t) =>
      replaceOnce(t, 'blockAnswer: block-page', 'blockAnswer: nxdomain'),
    );
    expect(dnsBlockAnswer(nx)).toEqual({ answer: 'nxdomain' });
  });
});
