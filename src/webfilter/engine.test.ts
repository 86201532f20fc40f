import { describe, expect, it } from 'vitest';
import { compileShipped, replaceOnce } from '../../test/support/policy-pack.ts';
import { buildIndex, createOverlay } from './categories/index.ts';
import { createWebEngine } from './engine.ts';
import { buildSubjectSnapshot, packGroupIndex, type SubjectRows } from './subjects.ts';

const policy = compileShipped();
const index = createOverlay(
  buildIndex([
    { name: 'webmail', domains: ['mail.example-webmail.com'] },
    { name: 'social_networks', domains: ['facebook.com'] },
    { name: 'adult', domains: ['adult.example'] },
    { name: 'shopping', domains: ['shop.example'] },
    { name: 'child_abuse', domains: ['harm.example'] },
  ]),
  { allow: ['allowed.facebook.com'], deny: ['denied.example'] },
);

const noon = new Date(2026, 10, 27, 12, 30);

function rows(overrides: Partial<SubjectRows> = {}): SubjectRows {
  return {
    people: [
      {
        id: 'teacher',
        email: 'amy@school.example',
        kind: 'employee',
        status: 'active',
        groups: ['Teaching staff'],
      },
      {
        id: 'head',
        email: 'head@school.example',
        kind: 'employee',
        status: 'active',
        groups: ['Senior leadership'],
      },
      { id: 'left', email: 'gone@school.example', kind: 'employee', status: 'left', groups: [] },
    ],
    packGroups: packGroupIndex(policy.groups),
    devices: [
      {
        id: 'laptop-1',
        person_id: 'teacher',
        label: 'Amy laptop',
        ip: '10.0.0.21',
        status: 'approved',
      },
      {
        id: 'laptop-2',
        person_id: 'head',
        label: 'Head laptop',
        ip: '10.0.0.22',
        status: 'pending',
      },
    ],
    withdrawals: [],
    restrictions: [],
    personalUse: [],
    ...overrides,
  };
}

const engineWith = (r: SubjectRows = rows(), p = policy) =>
  createWebEngine(p, index, buildSubjectSnapshot(r));

describe('web decisions', () => {
  it('SYS-5: blocks webmail for staff, identified by their registered device', () => {
    const d = engineWith().decide({
      clientIp: '10.0.0.21',
      host: 'x.mail.example-webmail.com',
      now: noon,
    });
    expect(d).toMatchObject({ action: 'block', reason: 'category', categories: ['webmail'] });
    expect(d.clauseIds).toContain('SYS-5');
    expect(d.person?.id).toBe('teacher');
  });

  it('SYS-5: blocks social networking for staff; the leadership group may reach it', () => {
    const engine = engineWith();
    expect(
      engine.decide({ clientIp: '', personId: 'teacher', host: 'facebook.com', now: noon }).action,
    ).toBe('block');
    expect(
      engine.decide({ clientIp: '', personId: 'head', host: 'facebook.com', now: noon }).action,
    ).toBe('allow');
  });

  it('WEB-1, MIS-2(a): pornography is blocked for everyone and alerts', () => {
    const d = engineWith().decide({
      clientIp: '',
      personId: 'head',
      host: 'adult.example',
      now: noon,
    });
    expect(d).toMatchObject({ action: 'block', alert: true });
    expect(d.clauseIds).toEqual(expect.arrayContaining(['WEB-1', 'MIS-2(a)']));
  });

  it('SYS-6: an unregistered device (or a pending one) reaches nothing', () => {
    const engine = engineWith();
    const unknown = engine.decide({ clientIp: '10.9.9.9', host: 'www.gov.uk', now: noon });
    expect(unknown).toMatchObject({
      action: 'block',
      reason: 'unregistered-device',
      clauseIds: ['SYS-6'],
    });
    const pending = engine.decide({ clientIp: '10.0.0.22', host: 'www.gov.uk', now: noon });
    expect(pending.reason).toBe('unregistered-device');
  });

  it('allows an unlisted site for a known person', () => {
    const d = engineWith().decide({ clientIp: '10.0.0.21', host: 'www.gov.uk', now: noon });
    expect(d).toMatchObject({ action: 'allow', reason: 'none', clauseIds: [] });
  });

  it("the school's allow list lets a listed subdomain through", () => {
    const d = engineWith().decide({
      clientIp: '',
      personId: 'teacher',
      host: 'allowed.facebook.com',
      now: noon,
    });
    expect(d).toMatchObject({ action: 'allow', reason: 'allow-list' });
  });

  it("the school's deny list blocks an uncategorised site", () => {
    const d = engineWith().decide({
      clientIp: '',
      personId: 'head',
      host: 'www.denied.example',
      now: noon,
    });
    expect(d).toMatchObject({
      action: 'block',
      reason: 'school-deny',
      categories: ['school-deny'],
    });
  });

  it('BRE-2: a person whose internet access is withdrawn reaches nothing', () => {
    const engine = engineWith(
      rows({ withdrawals: [{ id: 'w1', person_id: 'teacher', web: 1, reason: 'investigation' }] }),
    );
    const d = engine.decide({ clientIp: '10.0.0.21', host: 'www.gov.uk', now: noon });
    expect(d).toMatchObject({ action: 'block', reason: 'withdrawn', clauseIds: ['BRE-2'] });
  });

  it('BRE-2: a withdrawal of e-mail only leaves the web alone', () => {
    const engine = engineWith(
      rows({ withdrawals: [{ id: 'w1', person_id: 'teacher', web: 0, reason: 'mail misuse' }] }),
    );
    expect(engine.decide({ clientIp: '10.0.0.21', host: 'www.gov.uk', now: noon }).action).toBe(
      'allow',
    );
  });

  it('PER-4: a per-person restriction blocks that site and its subdomains for that person only', () => {
    const engine = engineWith(
      rows({ restrictions: [{ person_id: 'teacher', host: 'bbc.co.uk' }] }),
    );
    const d = engine.decide({
      clientIp: '',
      personId: 'teacher',
      host: 'www.bbc.co.uk',
      now: noon,
    });
    expect(d).toMatchObject({ action: 'block', reason: 'restricted', clauseIds: ['PER-4'] });
    expect(
      engine.decide({ clientIp: '', personId: 'head', host: 'www.bbc.co.uk', now: noon }).action,
    ).toBe('allow');
  });

  it('PER-1/2: a personal-use authorisation lifts a PER-2 block inside its window only', () => {
    const auth = {
      id: 'a1',
      person_id: 'teacher',
      starts_on: '2026-11-01',
      ends_on: '2026-12-31',
      daily_from: '12:00',
      daily_to: '13:00',
      categories: '[]',
    };
    const engine = engineWith(rows({ personalUse: [auth] }));
    const lunch = engine.decide({
      clientIp: '',
      personId: 'teacher',
      host: 'shop.example',
      now: noon,
    });
    expect(lunch).toMatchObject({ action: 'allow', reason: 'personal-use' });
    const afternoon = engine.decide({
      clientIp: '',
      personId: 'teacher',
      host: 'shop.example',
      now: new Date(2026, 10, 27, 15, 0),
    });
    expect(afternoon).toMatchObject({ action: 'block', clauseIds: ['PER-2'] });
    const afterEnd = engine.decide({
      clientIp: '',
      personId: 'teacher',
      host: 'shop.example',
      now: new Date(2027, 0, 5, 12, 30),
    });
    expect(afterEnd.action).toBe('block');
  });

  it('PER-2: a personal-use authorisation never lifts a SYS-5 block', () => {
    const auth = {
      id: 'a1',
      person_id: 'teacher',
      starts_on: '2026-01-01',
      ends_on: null,
      daily_from: null,
      daily_to: null,
      categories: '[]',
    };
    const engine = engineWith(rows({ personalUse: [auth] }));
    expect(
      engine.decide({ clientIp: '', personId: 'teacher', host: 'facebook.com', now: noon }).action,
    ).toBe('block');
  });

  it('SYS-6: in block-categories mode an unregistered device gets only the listed categories', () => {
    const lenient = compileShipped((t) =>
      replaceOnce(t, '    mode: block-all', '    mode: block-categories\n    block: [webmail]'),
    );
    const engine = engineWith(rows(), lenient);
    expect(engine.decide({ clientIp: '10.9.9.9', host: 'www.gov.uk', now: noon }).action).toBe(
      'allow',
    );
    const d = engine.decide({ clientIp: '10.9.9.9', host: 'mail.example-webmail.com', now: noon });
    expect(d.action).toBe('block');
    expect(d.clauseIds).toContain('SYS-6');
  });

  it('a person who has left is not a known person any more', () => {
    const d = engineWith().decide({
      clientIp: '',
      personId: 'left',
      host: 'www.gov.uk',
      now: noon,
    });
    expect(d.reason).toBe('unregistered-device');
  });
});
