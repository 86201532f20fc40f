import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../auth/permissions.ts';
import {
  checkPackText,
  firstInvalidUtf8,
  formatPackError,
  loadPolicyPack,
  loadPolicyPackFromBytes,
  loadPolicyPackFromText,
  MAX_PACK_BYTES,
  type PackError,
} from './loader.ts';

const PACK_DIR = 'policy-packs/palfrey-infant';
const SHIPPED = readFileSync(path.join(PACK_DIR, 'policy.yaml'), 'utf8');
const POLICY_TEXT = readFileSync(
  'spec/electronic-information-and-communications-policy.txt',
  'utf8',
);
const REQUIREMENTS = readFileSync('spec/REQUIREMENTS.md', 'utf8');

/** The clause ids of REQUIREMENTS.md: the first cell of every table row. */
const requirementIds = [...REQUIREMENTS.matchAll(/^\| ([A-Z]{2,4}-\d{1,2}) \|/gm)].map(
  (m) => m[1]!,
);

/** Replaces one exact occurrence in the shipped text; returns the text and the 1-based line. */
function mutate(find: string, replace: string): { text: string; line: number } {
  const at = SHIPPED.indexOf(find);
  expect(at, `the shipped pack contains ${JSON.stringify(find)}`).toBeGreaterThanOrEqual(0);
  expect(SHIPPED.indexOf(find, at + 1), `${JSON.stringify(find)} occurs once`).toBe(-1);
  const text = SHIPPED.slice(0, at) + replace + SHIPPED.slice(at + find.length);
  return { text, line: SHIPPED.slice(0, at).split('\n').length };
}

function errorsOf(text: string, file = 'policy.yaml'): PackError[] {
  const result = checkPackText(text, file);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

function ddmmyyToIso(value: string): string {
  const [d, m, y] = value.split('.');
  const year = y!.length === 2 ? `20${y}` : y!;
  return `${year}-${m!.padStart(2, '0')}-${d!.padStart(2, '0')}`;
}

describe('the shipped pack', () => {
  it('GOV-1: loads from its folder without errors', async () => {
    const result = await loadPolicyPack(PACK_DIR);
    if (!result.ok) throw new Error(result.errors.map(formatPackError).join('\n'));
    expect(result.policy.name).toBe('palfrey-infant');
    expect(result.policy.document.owner).toEqual({ role: 'sbm', name: 'Ms Bains' });
  });

  it('names every clause id of spec/REQUIREMENTS.md, and no other', async () => {
    const result = await loadPolicyPack(PACK_DIR);
    if (!result.ok) throw new Error('pack does not load');
    expect(requirementIds.length).toBeGreaterThan(60);
    expect([...result.policy.clauses.keys()].sort()).toEqual([...new Set(requirementIds)].sort());
  });

  it('quotes the policy: each non-INC clause text appears in the policy text (ignoring spacing)', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    const squash = (s: string) => s.replace(/\s+/g, ' ').toLowerCase();
    // The policy has a stray '[' in PER-4 ("considers that [personal use"); the pack drops it.
    const policy = squash(POLICY_TEXT.replace('that [personal', 'that personal'));
    for (const clause of loaded.policy.clauses.values()) {
      if (clause.section === 'INC') continue;
      // A clause may join sentences from one passage; each sentence must be the policy's own.
      const sentences = clause.text
        .split(/(?<=[.;:])\s+(?=[A-Z])/)
        .map((s) => squash(s).replace(/[.;:)]+$/, ''))
        .filter((s) => s.length > 15);
      for (const sentence of sentences) {
        // List items are joined with '; ' (and '; and '), so compare item by item.
        const fragments = sentence
          .split(/[;:] /)
          .map((f) => f.replace(/^(and|or) /, ''))
          .filter((f) => f.length > 10);
        for (const fragment of fragments) {
          expect(policy.includes(fragment), `${clause.id}: "${fragment}"`).toBe(true);
        }
      }
    }
  });

  it('MIS-2: quotes the gross-misconduct items (a) to (j) word for word', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    const parts = loaded.policy.clauses.get('MIS-2')!.parts!;
    const items = [...POLICY_TEXT.matchAll(/^- \(([a-j])\) (.+)$/gm)].map((m) => [
      m[1],
      m[2]!.trim(),
    ]);
    expect(items).toHaveLength(10);
    expect(Object.entries(parts)).toEqual(items);
  });

  it('GOV-4: keeps the five versions of the change history with the policy’s dates', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    const rows = [...POLICY_TEXT.matchAll(/^(\d)\t([^\t]+)\t([\d.]*)$/gm)].map((m) => ({
      version: Number(m[1]),
      description: m[2]!.trim(),
      date: m[3] ? ddmmyyToIso(m[3]) : null,
    }));
    expect(rows).toHaveLength(5);
    expect(loaded.policy.document.versions).toEqual(rows);
    expect(loaded.policy.document.versions[1]!.date).toBeNull();
  });

  it('GOV-3: records approval by the Full Governing Body on the policy’s date, unsigned', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    const date = /^Date: (\d{2}\.\d{2}\.\d{4})$/m.exec(POLICY_TEXT)![1]!;
    expect(loaded.policy.document.approval).toEqual({
      body: 'Full Governing Body',
      date: ddmmyyToIso(date),
      signatory: null,
    });
  });

  it('SCP-1: has the eleven person kinds the scope names', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    expect([...loaded.policy.personKinds.keys()].sort()).toEqual(
      [
        'employee',
        'worker',
        'temporary_worker',
        'agency_worker',
        'intern',
        'volunteer',
        'apprentice',
        'governor',
        'trustee',
        'consultant',
        'contractor',
      ].sort(),
    );
  });

  it('grants every permission to the SBM and TOTP to sbm, headteacher and it_support', () => {
    const loaded = loadPolicyPackFromText(SHIPPED);
    if (!loaded.ok) throw new Error('pack does not load');
    const { roles } = loaded.policy;
    expect([...roles.get('sbm')!.permissions].sort()).toEqual(Object.keys(PERMISSIONS).sort());
    const totp = [...roles.values()].filter((r) => r.requiresTotp).map((r) => r.id);
    expect(totp.sort()).toEqual(['headteacher', 'it_support', 'sbm']);
  });
});

describe('broken packs: every problem names file, line and key', () => {
  it('reports a YAML syntax error at its line', () => {
    const { text, line } = mutate(
      '  school: Palfrey Infant School\n',
      '  school: Palfrey: Infant School\n',
    );
    const errors = errorsOf(text, 'packs/x/policy.yaml');
    expect(errors[0]).toMatchObject({ file: 'packs/x/policy.yaml', line, key: '(yaml)' });
    expect(errors[0]!.message).toMatch(/^YAML syntax/);
    const tabbed = mutate('    name: Ms Bains\n', '\tname: Ms Bains\n');
    const tabErrors = errorsOf(tabbed.text);
    expect(tabErrors[0]).toMatchObject({ line: tabbed.line, column: 1 });
    expect(tabErrors[0]!.message).toContain('Tabs');
  });

  it('PWD-2 roles: names an unknown permission and the role that grants it', () => {
    const { text, line } = mutate(
      '    permissions: [policy.read, policy.acceptance.read, people.read, security.flags.read]\n',
      '    permissions: [policy.read, policy.acceptance.read, people.reed, security.flags.read]\n',
    );
    const [error, ...rest] = errorsOf(text);
    expect(rest).toEqual([]);
    expect(error).toMatchObject({ line, key: 'roles.slt.permissions[2]' });
    expect(error!.message).toContain("unknown permission 'people.reed'");
    expect(error!.column).toBe(
      '    permissions: [policy.read, policy.acceptance.read, '.length + 1,
    );
  });

  it('names an unknown key and suggests the one meant', () => {
    const { text, line } = mutate(
      '    staff:\n      block: [audio-video',
      '    staff:\n      blok: [audio-video',
    );
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: line + 1, column: 7, key: 'web.groups.staff.blok' });
    expect(errors[0]!.message).toBe(
      "unknown key 'blok' in web.groups.staff; did you mean 'block'?",
    );
  });

  it('names a value of the wrong type', () => {
    const { text, line } = mutate('  reviewIntervalMonths: 12 ', '  reviewIntervalMonths: twelve ');
    const errors = errorsOf(text);
    expect(errors).toEqual([
      {
        file: 'policy.yaml',
        line,
        column: '  reviewIntervalMonths: '.length + 1,
        key: 'document.reviewIntervalMonths',
        message: "expected a number, found text 'twelve'",
      },
    ]);
  });

  it('SYS-8: names a rule citing a clause that is not in the pack, and a missing part', () => {
    const { text, line } = mutate(
      '    clauseIds: [SYS-7, SYS-8]\n',
      '    clauseIds: [SYS-7, SYS-99, MIS-2(k)]\n',
    );
    const errors = errorsOf(text);
    expect(errors.map((e) => [e.line, e.key])).toEqual([
      [line, 'mail.attachments.clauseIds[1]'],
      [line, 'mail.attachments.clauseIds[2]'],
    ]);
    expect(errors[0]!.message).toContain('clause SYS-99 is not in the clauses section');
    expect(errors[1]!.message).toContain('MIS-2 has no part (k)');
  });

  it('names an approver role that does not exist', () => {
    const { text, line } = mutate(
      '    approvers: { allOf: [headteacher, sbm] }',
      '    approvers: { allOf: [headteacher, bursar] }',
    );
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      line,
      key: 'approvals.network-drive-disclosure.approvers.allOf[1]',
    });
    expect(errors[0]!.message).toContain("unknown role 'bursar'");
  });

  it('SCP-1: names a web rule for a person kind that does not exist', () => {
    const { text, line } = mutate(
      '    volunteer:\n      block: [webmail]',
      '    volunteers:\n      block: [webmail]',
    );
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line, column: 5, key: 'web.personKinds.volunteers' });
  });

  it('names a duplicate key at the second occurrence', () => {
    const { text, line } = mutate(
      '  sbm:\n    name: School Business Manager\n',
      '  sbm:\n    name: School Business Manager\n    name: Bursar\n',
    );
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: line + 2, column: 5, key: 'roles.sbm.name' });
  });

  it('points a missing key at its parent mapping', () => {
    const { text } = mutate('  school: Palfrey Infant School\n', '');
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    const documentLine = SHIPPED.split('\n').indexOf('document:') + 1;
    expect(errors[0]).toMatchObject({ line: documentLine, column: 1, key: 'document.school' });
    expect(errors[0]!.message).toContain("missing key 'school' in document");
  });

  it('reports every problem at once, not just the first', () => {
    let text = SHIPPED;
    text = text.replace('  reviewIntervalMonths: 12 ', '  reviewIntervalMonths: x ');
    text = text.replace(
      '    permissions: [policy.read, policy.acceptance.read, people.read, security.flags.read]',
      '    permissions: [nope]',
    );
    text = text.replace('    clauseIds: [SYS-7, SYS-8]', '    clauseIds: [SYS-77]');
    const keys = errorsOf(text).map((e) => e.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        'document.reviewIntervalMonths',
        'roles.slt.permissions[0]',
        'mail.attachments.clauseIds[0]',
      ]),
    );
  });

  it('refuses a file that is not UTF-8, naming where', () => {
    const bytes = Buffer.concat([
      Buffer.from('format: 1\nname: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\n'),
    ]);
    const result = loadPolicyPackFromBytes(bytes, 'p/policy.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ file: 'p/policy.yaml', line: 2, column: 10 });
    expect(result.errors[0]!.message).toContain('not UTF-8');
  });

  it('refuses an empty file', () => {
    for (const text of ['', '\n\n   \n']) {
      const errors = errorsOf(text);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ line: 1, column: 1 });
      expect(errors[0]!.message).toContain('empty');
    }
  });

  it('refuses a huge file without parsing it', () => {
    const result = loadPolicyPackFromText(`# ${'x'.repeat(MAX_PACK_BYTES)}\n`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]!.message).toContain('at most');
  });

  it('reports a missing folder, a folder without policy.yaml and a file given as folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-pack-'));
    const missing = await loadPolicyPack(path.join(dir, 'nope'));
    const empty = await loadPolicyPack(dir);
    writeFileSync(path.join(dir, 'file.txt'), 'x');
    const file = await loadPolicyPack(path.join(dir, 'file.txt'));
    for (const r of [missing, empty, file]) expect(r.ok).toBe(false);
    if (missing.ok || empty.ok || file.ok) return;
    expect(missing.errors[0]!.message).toContain('does not exist');
    expect(empty.errors[0]!.file).toBe(path.join(dir, 'policy.yaml'));
    expect(empty.errors[0]!.message).toContain('there is no policy.yaml');
    expect(file.errors[0]!.message).toContain('is not a folder');
  });

  it('loads a copy of the pack from another folder, naming that folder in errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'custos-pack-'));
    mkdirSync(path.join(dir, 'mine'));
    writeFileSync(path.join(dir, 'mine', 'policy.yaml'), SHIPPED.replace('format: 1', 'format: 2'));
    const result = await loadPolicyPack(path.join(dir, 'mine'));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors[0]!.file).toBe(path.join(dir, 'mine', 'policy.yaml'));
      expect(result.errors[0]!.key).toBe('format');
    }
  });
});

describe('robustness', () => {
  const lines = SHIPPED.split('\n');
  // Each mutation picks its line modulo the current length, as earlier ones may have removed lines.
  const at = (ls: string[], i: number) => i % ls.length;
  const mutation = fc.oneof(
    fc.nat().map((i) => (ls: string[]) => ls.toSpliced(at(ls, i), 1)),
    fc.nat().map((i) => (ls: string[]) => ls.toSpliced(at(ls, i), 0, ls[at(ls, i)]!)),
    fc.tuple(fc.nat(), fc.integer({ min: -3, max: 3 })).map(([i, shift]) => (ls: string[]) => {
      const line = ls[at(ls, i)]!;
      return ls.with(at(ls, i), shift >= 0 ? ' '.repeat(shift) + line : line.slice(-shift));
    }),
    fc
      .tuple(
        fc.nat(),
        fc.oneof(
          fc.string(),
          fc.constantFrom('null', '[]', '{}', '-1', 'true', '&a x', '*a', '"', "'", '{ a: [1, }'),
        ),
      )
      .map(([i, value]) => (ls: string[]) => {
        const line = ls[at(ls, i)]!;
        const colon = line.indexOf(': ');
        return ls.with(at(ls, i), colon >= 0 ? `${line.slice(0, colon + 2)}${value}` : value);
      }),
  );

  it('never throws on a mutated pack; every error has a line ≥ 1 and a key', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const text = mutations.reduce((ls, m) => m(ls), lines).join('\n');
        const result = loadPolicyPackFromText(text, 'policy.yaml');
        if (!result.ok) {
          expect(result.errors.length).toBeGreaterThan(0);
          for (const e of result.errors) {
            expect(e.line).toBeGreaterThanOrEqual(1);
            expect(e.column).toBeGreaterThanOrEqual(1);
            expect(e.line).toBeLessThanOrEqual(text.split('\n').length + 1);
            expect(e.key.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const result = loadPolicyPackFromBytes(bytes);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('firstInvalidUtf8 agrees with the platform decoder', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let valid = true;
        try {
          decoder.decode(bytes);
        } catch {
          valid = false;
        }
        expect(firstInvalidUtf8(bytes) === -1).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });
});
