import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { mailChecks } from '../checks.ts';
import { type JudgeDeps, judge, ScannerUnavailableError } from './pipeline.ts';

const policy = compileShipped();
const checks = mailChecks();
const SCHOOL = 'palfreyinfant.co.uk';

/** The checks alone: no store, vault, next hop or outbox exists here to be touched. */
const deps = (over: Partial<JudgeDeps> = {}): JudgeDeps => ({
  log: pino({ level: 'silent' }),
  inspect: checks.inspect,
  scan: async () => ({ status: 'clean' }),
  evaluate: checks.evaluate,
  failOpen: false,
  ...over,
});

const mail = (text: string) => ({
  direction: 'outbound' as const,
  authUser: null,
  envelope: { from: `office@${SCHOOL}`, to: ['payroll@example.org'] },
  raw: Buffer.from(
    `From: office@${SCHOOL}\r\nTo: payroll@example.org\r\nSubject: New starter\r\n\r\n${text}\r\n`,
  ),
});

describe("judge(), the relay's checks on their own", () => {
  it('MAIL-12: says what the pack says of a message, with nothing but the checks', async () => {
    const j = await judge(mail('Her National Insurance number is AB 12 34 56 C.'), policy, deps());
    expect(j.action).toBe('hold');
    expect(j.verdicts.map((v) => v.rule)).toContain('personal-data-external');
    expect(j.inspection.subject).toBe('New starter');
  });

  it('SYS-7: a virus found by the scanner is a reject verdict', async () => {
    const j = await judge(
      mail('Hello.'),
      policy,
      deps({ scan: async () => ({ status: 'infected', signature: 'Eicar-Test-Signature' }) }),
    );
    expect(j.action).toBe('reject');
    expect(j.verdicts[0]).toMatchObject({ rule: 'virus', clauseIds: ['SYS-7'] });
  });

  it('SYS-4: a scanner that is away stops the judgement, unless fail-open tags the message instead', async () => {
    const away = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    await expect(judge(mail('Hello.'), policy, deps({ scan: away }))).rejects.toBeInstanceOf(
      ScannerUnavailableError,
    );
    const open = await judge(mail('Hello.'), policy, deps({ scan: away, failOpen: true }));
    expect(open.verdicts.map((v) => [v.rule, v.action])).toEqual([['virus-scan-skipped', 'tag']]);
  });
});
