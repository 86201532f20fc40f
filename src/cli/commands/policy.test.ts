import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { shippedPackText } from '../../../test/support/policy-pack.ts';
import { EXIT } from '../runtime.ts';
import { type CommandIo, registerPolicyCommands } from './policy.ts';

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let code: number | undefined;
  const io: CommandIo = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    setExitCode: (c) => {
      code = c;
    },
  };
  const program = new Command('custos').exitOverride().option('-c, --config <file>');
  registerPolicyCommands(program, io);
  await program.parseAsync(['node', 'custos', ...args]);
  return { out: out.join(''), err: err.join(''), code };
}

function brokenPack(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custos-cli-'));
  mkdirSync(path.join(dir, 'broken'));
  const text = shippedPackText()
    .replace('  reviewIntervalMonths: 12 ', '  reviewIntervalMonths: twelve ')
    .replace('    clauseIds: [SYS-7, SYS-8]', '    clauseIds: [SYS-77]');
  writeFileSync(path.join(dir, 'broken', 'policy.yaml'), text);
  return path.join(dir, 'broken');
}

describe('custos policy check', () => {
  it('prints a one-line summary and exits 0 for the shipped pack', async () => {
    const result = await run('policy', 'check', 'policy-packs/palfrey-infant/');
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toBe(
      'policy-packs/palfrey-infant: valid — 69 clauses, 8 roles, 10 request types, 23 web categories, 8 mail rules\n',
    );
  });

  it('prints every problem as file:line:column key: message and exits 1', async () => {
    const dir = brokenPack();
    const result = await run('policy', 'check', dir);
    expect(result.code).toBe(EXIT.failure);
    const lines = result.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    const file = path.join(dir, 'policy.yaml');
    expect(lines[0]).toMatch(
      new RegExp(
        `^${file.replaceAll('\\', '\\\\')}:\\d+:\\d+ document\\.reviewIntervalMonths: expected a number`,
      ),
    );
    expect(lines[1]).toMatch(/:\d+:\d+ mail\.attachments\.clauseIds\[0\]: clause SYS-77 is not/);
    expect(result.err).toContain('2 problems');
  });

  it('--json gives the errors as data', async () => {
    const dir = brokenPack();
    const result = await run('policy', 'check', dir, '--json');
    expect(result.code).toBe(EXIT.failure);
    const parsed = JSON.parse(result.out) as {
      ok: boolean;
      errors: { key: string; line: number }[];
    };
    expect(parsed.ok).toBe(false);
    expect(parsed.errors.map((e) => e.key)).toEqual([
      'document.reviewIntervalMonths',
      'mail.attachments.clauseIds[0]',
    ]);
    const ok = JSON.parse(
      (await run('policy', 'check', 'policy-packs/palfrey-infant', '--json')).out,
    );
    expect(ok).toMatchObject({ ok: true, summary: { clauses: 69, requestTypes: 10 } });
  });

  it('reports a folder that does not exist', async () => {
    const result = await run('policy', 'check', 'no/such/pack');
    expect(result.code).toBe(EXIT.failure);
    expect(result.out).toBe(
      'no/such/pack:1:1 (file): this folder does not exist; give the folder that holds policy.yaml\n',
    );
  });
});

describe('custos policy show', () => {
  it('GOV-3, GOV-4: prints the document record and the version history', async () => {
    const result = await run('policy', 'show', 'policy-packs/palfrey-infant');
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Owner:       Ms Bains (School Business Manager)');
    expect(result.out).toContain('Agreed by:   Full Governing Body on 2024-12-04');
    expect(result.out).toContain('Signed by:   (not signed)');
    expect(result.out).toMatch(
      /^2 {7} \(no date\) {3}Updated to include references to UK GDPR\.$/m,
    );
    expect(result.out).toMatch(/^5 {7} 2024-11-18 {2}Updated wording/m);
  });

  it('exits 1 on a broken pack', async () => {
    const result = await run('policy', 'show', brokenPack());
    expect(result.code).toBe(EXIT.failure);
    expect(result.err).toContain('is not valid');
  });
});
