// "Test a message": what the gateway would do with an .eml and why, from the same checks the relay
// runs (the MIME walk, the virus scanner when it answers, the pack's rules) through the relay's
// own judge() (relay/pipeline.ts), which has no side effects: nothing is delivered, stored or told.
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { mailChecks } from './checks.ts';
import { ClamdClient, clamdOptionsFromConfig, ScannerUnavailable } from './clamd.ts';
import { judge } from './relay/pipeline.ts';
import { addressesIn, createDomainTest } from './rules/index.ts';
import type { TestResult } from './schema.ts';
import type { Direction, ScanResult, Verdict } from './types.ts';
import { attachmentView, verdictView } from './views.ts';

export interface TestMessageDeps {
  config: Config;
  policy: PolicyHolder;
  log: Logger;
}

/** How long a test waits for clamd to answer at all before saying it is away. */
const SCANNER_PROBE_MS = 2000;

const clausesOf = (verdicts: readonly Verdict[]) => [
  ...new Set(verdicts.flatMap((v) => v.clauseIds)),
];

function outcomeOf(
  direction: Direction,
  verdicts: readonly Verdict[],
  action: Verdict['action'],
  scanned: boolean,
  failOpen: boolean,
): string {
  const deciding = verdicts.filter((v) => v.action === action);
  const under = clausesOf(deciding).join(', ');
  const later = scanned
    ? ''
    : failOpen
      ? ' The virus scanner did not answer; with mail.clamd.failOpen on, the gateway would pass it unscanned.'
      : ' The virus scanner did not answer, so today the gateway would first defer it (4xx) until clamd is back; the verdicts are those of the other checks.';
  switch (action) {
    case 'reject':
      return `The gateway would refuse it (550) under ${under}: ${deciding[0]!.reason}. The sending server tells the sender.${later}`;
    case 'hold':
      return `The gateway would hold it for review under ${under}: the School Business Manager releases or deletes it${direction === 'outbound' ? ', and the sender is told it is held' : ''}.${later}`;
    case 'warn-sender':
      return direction === 'outbound'
        ? `The gateway would deliver it with the disclaimer and e-mail the sender a warning (${under}).${later}`
        : `The gateway would deliver it with an X-Custos-Verdict header naming ${under}.${later}`;
    case 'tag':
      return `The gateway would deliver it${direction === 'outbound' ? ' with the disclaimer and' : ''} with an X-Custos-Verdict header naming ${under}.${later}`;
    default:
      return `The gateway would deliver it${direction === 'outbound' ? ', adding the disclaimer (MAIL-4)' : ''}: no rule applies.${later}`;
  }
}

async function scanWith(
  config: Config,
  raw: Buffer,
): Promise<{ result: ScanResult | null; scan: TestResult['scan'] }> {
  const scanner = new ClamdClient({
    ...clamdOptionsFromConfig(config.mail.clamd),
    connectTimeoutMs: SCANNER_PROBE_MS,
  });
  const away = (error: unknown) => ({
    result: null,
    scan: {
      status: 'unavailable' as const,
      scanner: scanner.address,
      version: null,
      detail: `clamd at ${scanner.address} did not answer (${error instanceof Error ? error.message : String(error)}), so the message was not scanned for viruses. Start clamav-daemon, or check mail.clamd.*.`,
    },
  });
  let version: string;
  try {
    version = await scanner.version(SCANNER_PROBE_MS);
  } catch (error) {
    return away(error);
  }
  let result: ScanResult;
  try {
    result = await scanner.scan(raw);
  } catch (error) {
    if (error instanceof ScannerUnavailable) return away(error);
    throw error;
  }
  const detail =
    result.status === 'clean'
      ? 'No virus was found.'
      : result.status === 'infected'
        ? `A virus was found: ${result.signature}.`
        : result.message;
  return {
    result,
    scan: { status: result.status, scanner: scanner.address, version, detail },
  };
}

export function createTestMessageService(deps: TestMessageDeps) {
  const checks = mailChecks();

  return {
    async test(raw: Buffer, asked: Direction | undefined): Promise<TestResult> {
      const policy: CompiledPolicy = deps.policy.current();
      const inspection = await checks.inspect(raw, policy);
      const sender = addressesIn(inspection.from)[0] ?? null;
      const recipients = [
        ...new Set([...inspection.to, ...inspection.cc].flatMap((r) => addressesIn(r))),
      ];
      const internal = createDomainTest(policy.mail.domains);
      const direction: Direction =
        asked ?? (sender !== null && internal(sender) ? 'outbound' : 'inbound');
      const { result, scan } = await scanWith(deps.config, raw);
      // The message is looked into and scanned once, above; judge() is given those results.
      const judged = await judge(
        { direction, authUser: null, envelope: { from: sender ?? '', to: recipients }, raw },
        policy,
        {
          log: deps.log,
          inspect: async () => inspection,
          scan: result ? async () => result : null,
          evaluate: checks.evaluate,
          failOpen: false,
        },
      );
      return {
        direction,
        directionGuessed: asked === undefined,
        sender,
        recipients,
        subject: inspection.subject,
        private: inspection.private,
        size: raw.length,
        action: judged.action,
        outcome: outcomeOf(
          direction,
          judged.verdicts,
          judged.action,
          result !== null,
          deps.config.mail.clamd.failOpen,
        ),
        verdicts: judged.verdicts.map((v) => verdictView(policy, v)),
        attachments: inspection.attachments.map((a) => attachmentView(a)),
        problems: inspection.problems.map((p) => ({ code: p.code, message: p.message })),
        scan,
      };
    },
  };
}
