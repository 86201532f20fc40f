// The pack's mail section as it is in force, for reading in the console: the content rules with
// what each looks for, the disclaimer (MAIL-4), the attachment policy (SYS-7, SYS-8) and the
// checks the gateway makes whatever the pack says. Changes are made in the pack (Settings).
import type { CompiledPolicy, MailRuleDef } from '../policy/compiled.ts';
import { FROM_ADDRESS_CLAUSES } from './rules/index.ts';
import { DETECTOR_NAMES } from './rules/personal-data.ts';
import type { MailRules } from './schema.ts';
import { clauseRefs } from './views.ts';

const detectorName = (d: string) => DETECTOR_NAMES[d as keyof typeof DETECTOR_NAMES]?.[1] ?? d;

function matchesOf(rule: MailRuleDef): string[] {
  switch (rule.kind) {
    case 'word-list':
      return [...rule.words];
    case 'pattern':
      return [...rule.patterns];
    case 'personal-data':
      return rule.detectors.map(detectorName);
    case 'attachment-type':
      return [...rule.extensions];
    case 'recipient-threshold':
      return [];
  }
}

export function mailRulesOf(policy: CompiledPolicy): MailRules {
  const mail = policy.mail;
  const roleName = (id: string) => policy.roles.get(id)?.name ?? id;
  return {
    domains: [...mail.domains],
    personalUse: {
      default: mail.personalUse.default,
      clauses: clauseRefs(policy, mail.personalUse.clauseIds),
    },
    disclaimer: {
      text: mail.disclaimer.text,
      clauses: clauseRefs(policy, mail.disclaimer.clauseIds),
    },
    recipientThreshold: {
      max: mail.recipientThreshold.max,
      allStaffAddresses: [...mail.recipientThreshold.allStaffAddresses],
      action: mail.recipientThreshold.action,
      clauses: clauseRefs(policy, mail.recipientThreshold.clauseIds),
    },
    attachments: {
      executables: [...mail.attachments.executables],
      scripts: [...mail.attachments.scripts],
      inbound: { ...mail.attachments.inbound },
      outbound: { ...mail.attachments.outbound },
      clauses: clauseRefs(policy, mail.attachments.clauseIds),
    },
    virusDetected: {
      notify: mail.virusDetected.notify.map(roleName),
      clauses: clauseRefs(policy, mail.virusDetected.clauseIds),
    },
    rules: mail.rules.map((rule) => ({
      id: rule.id,
      description: rule.description,
      kind: rule.kind,
      direction: rule.direction,
      externalOnly: rule.externalOnly,
      action: rule.action,
      notify: rule.notify.map(roleName),
      clauses: clauseRefs(policy, rule.clauseIds),
      matches: matchesOf(rule),
      threshold: rule.kind === 'recipient-threshold' ? rule.threshold : null,
    })),
    builtIn: [
      {
        rule: 'virus',
        name: 'Virus scan',
        what: `Every message is scanned by clamd; a virus is refused and ${mail.virusDetected.notify.map(roleName).join(', ') || 'nobody'} told at once. When clamd does not answer, mail waits (4xx) until it does.`,
        clauses: clauseRefs(policy, ['SYS-4', ...mail.virusDetected.clauseIds]),
      },
      {
        rule: 'limits',
        name: 'Could not be checked completely',
        what: 'A message nested too deep, with too many parts or too large once unpacked is held, as it could not be checked whole.',
        clauses: clauseRefs(policy, ['SYS-4', 'SYS-8']),
      },
      {
        rule: 'from-address',
        name: "From address not the sender's own",
        what: 'Outbound mail sent with SMTP AUTH to the gateway whose From is not the signed-in sender (or a shared mailbox they may use) is held.',
        clauses: clauseRefs(policy, FROM_ADDRESS_CLAUSES),
      },
      {
        rule: 'private',
        name: 'Marked Private or Personal',
        what: 'A Sensitivity header or a subject marker of the pack marks a message private: its record says so, and the console withholds its subject and file names.',
        clauses: clauseRefs(policy, policy.monitoring.privateMarkers.clauseIds),
      },
    ],
  };
}
