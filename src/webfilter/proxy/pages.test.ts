import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { blockPage, errorPage, escapeHtml } from './pages.ts';

const policy = compileShipped();

describe('block pages', () => {
  it('SYS-5: names the site, the category, the clause with its link, and the person', () => {
    const html = blockPage({
      policy,
      publicUrl: 'https://custos.school.test/',
      host: 'facebook.com',
      url: 'http://facebook.com/',
      decision: {
        reason: 'category',
        categories: ['social_networks'],
        clauseIds: ['SYS-5', 'MIS-2(h)'],
        person: {
          id: 'p',
          label: 'amy@school.test',
          kind: 'employee',
          groups: [],
          withdrawal: null,
          restrictedHosts: new Set(),
          personalUse: [],
        },
        device: null,
      },
      review: { action: 'http://facebook.com/.custos/review', token: 't' },
    });
    expect(html).toContain('Social networking');
    expect(html).toContain('href="https://custos.school.test/policy#SYS-5"');
    expect(html).toContain('href="https://custos.school.test/policy#MIS-2"');
    expect(html).toContain('amy@school.test');
    expect(html).toContain('<form method="post" action="http://facebook.com/.custos/review">');
  });

  it('SYS-6: says the device is not registered when nobody is known', () => {
    const html = blockPage({
      policy,
      publicUrl: 'http://x',
      host: 'a.example',
      url: 'http://a.example/',
      decision: {
        reason: 'unregistered-device',
        categories: [],
        clauseIds: ['SYS-6'],
        person: null,
        device: null,
      },
    });
    expect(html).toContain('this device is not registered (SYS-6)');
    expect(html).not.toContain('<form');
  });

  it('escapes whatever the URL, host and categories hold', () => {
    fc.assert(
      fc.property(
        fc.string().map((s) => `<x-evil "${s}'>`),
        (s) => {
          const html = blockPage({
            policy,
            publicUrl: 'http://x',
            host: s,
            url: s,
            decision: {
              reason: 'category',
              categories: [s],
              clauseIds: [s],
              person: null,
              device: null,
            },
            review: { action: s, token: s },
          });
          expect(html).not.toContain('<x-evil');
          expect(errorPage('unreachable', s, s)).not.toContain('<x-evil');
          expect(escapeHtml(s)).not.toMatch(/[<>"']/);
        },
      ),
    );
  });
});
