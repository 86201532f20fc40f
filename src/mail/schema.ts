// The shapes of the mail gateway's API (routes.ts): held messages as the reviewer sees them (never
// the body, MON-2), the decision on one, the activity in aggregate, the answer to "test a
// message", and the pack's mail rules as they are in force.
import { z } from 'zod';

export const Direction = z
  .enum(['inbound', 'outbound'])
  .describe('inbound: from the internet to the school; outbound: from the school to the internet');

export const Action = z
  .enum(['allow', 'tag', 'warn-sender', 'hold', 'reject'])
  .describe('allow, tag, warn-sender, hold or reject: what a rule asks for');

export const ClauseRef = z.object({ id: z.string(), title: z.string().nullable() });

export const VerdictView = z.object({
  rule: z.string().describe("the pack rule's id, or a built-in check: virus, attachment-type ..."),
  name: z.string().describe('the rule in words'),
  action: Action,
  reason: z.string().describe('what was found, in one phrase; counts, never matched personal data'),
  clauses: z.array(ClauseRef),
});
export type VerdictView = z.infer<typeof VerdictView>;

export const AttachmentView = z.object({
  path: z.string().describe("where it sits: '2' for a MIME part, '2/inner.exe' inside an archive"),
  name: z
    .string()
    .nullable()
    .describe('the file name the sender gave; null when none, or withheld for a Private message'),
  declaredType: z.string().nullable().describe('the Content-Type the sender declared'),
  detectedType: z.string().nullable().describe('the type its bytes show, when they show one'),
  extension: z.string().nullable(),
  size: z.number(),
  executable: z.boolean(),
  script: z.boolean(),
  macro: z.boolean(),
  encrypted: z.boolean(),
  depth: z.number().describe('0 for a part of the message; 1 inside an archive or a forwarded one'),
  disguised: z
    .boolean()
    .describe("its bytes say it is something else than its name's extension (a program as .pdf)"),
  description: z
    .string()
    .nullable()
    .describe(
      'what it is, in words ("invoice.pdf is really a Windows program"); null when withheld',
    ),
});
export type AttachmentView = z.infer<typeof AttachmentView>;

export const HeldMessage = z.object({
  id: z.string(),
  receivedAt: z.string(),
  direction: Direction,
  sender: z.string().describe('the envelope sender (MAIL FROM); empty for the null sender'),
  headerFrom: z.string().nullable().describe('the From header, when it differs from the sender'),
  recipients: z.array(z.string()).describe('the envelope recipients, Bcc included'),
  subject: z
    .string()
    .nullable()
    .describe('null when the message is marked Private or Personal (MON-3): withheld'),
  private: z.boolean().describe("marked 'Private' or 'Personal' (MON-3)"),
  size: z.number(),
  attachments: z.array(AttachmentView),
  action: Action,
  verdicts: z.array(VerdictView),
});
export type HeldMessage = z.infer<typeof HeldMessage>;

export const QuarantineList = z.object({
  messages: z.array(HeldMessage).describe('oldest first: the order to work through them'),
  held: z.number().describe('how many messages are held in all'),
});

export const QuarantineDecision = z.object({
  note: z
    .string()
    .trim()
    .min(3)
    .max(2000)
    .describe(
      'why; kept in the audit trail, and e-mailed to the sender of an outbound message with the outcome',
    ),
});

export const DecisionResult = z.object({
  id: z.string(),
  status: z.enum(['released', 'deleted']),
  senderTold: z.boolean().describe('an e-mail to the sender (outbound mail) was queued'),
  nextHopReply: z.string().nullable().describe("released: the next mail server's answer"),
});
export type DecisionResult = z.infer<typeof DecisionResult>;

export const ActivityQuery = z.object({
  from: z.string().date().optional().describe('first day, YYYY-MM-DD (UK time); a week ago'),
  to: z.string().date().optional().describe('last day, YYYY-MM-DD (UK time); today'),
});

const outcomes = {
  delivered: z.number().describe('handed to the next hop (with a warning or tag, if any)'),
  held: z.number().describe('held for review, and still held'),
  released: z.number().describe('held, then released'),
  deleted: z.number().describe('held, then deleted'),
  rejected: z.number().describe('refused (5xx), by a rule or by the next hop'),
  failed: z.number().describe('the next hop could not be reached: the sender was told to retry'),
};

export const Activity = z.object({
  from: z.string(),
  to: z.string(),
  total: z.object({ messages: z.number(), inbound: z.number(), outbound: z.number() }),
  byDay: z.array(
    z.object({ day: z.string(), direction: Direction, messages: z.number(), ...outcomes }),
  ),
  byRule: z.array(
    z.object({
      rule: z.string(),
      name: z.string(),
      action: Action,
      clauseIds: z.array(z.string()),
      messages: z.number().describe('messages with this verdict'),
    }),
  ),
  byRuleDay: z.array(z.object({ day: z.string(), rule: z.string(), messages: z.number() })),
  heldNow: z.number().describe('messages waiting in the quarantine now, whenever they came'),
});
export type Activity = z.infer<typeof Activity>;

export const TestQuery = z.object({
  direction: Direction.optional().describe(
    "which way to judge it; by default outbound when the From address is in the pack's mail domains, else inbound",
  ),
});

export const TestResult = z.object({
  direction: Direction,
  directionGuessed: z.boolean(),
  sender: z.string().nullable().describe('the From address the test used as the envelope sender'),
  recipients: z.array(z.string()).describe('To, Cc and Bcc: the envelope recipients of the test'),
  subject: z.string(),
  private: z.boolean(),
  size: z.number(),
  action: Action.describe('the strictest verdict: what the gateway would do'),
  outcome: z.string().describe('what the gateway would do with it, in a sentence'),
  verdicts: z.array(VerdictView),
  attachments: z.array(AttachmentView),
  problems: z.array(z.object({ code: z.string(), message: z.string() })),
  scan: z.object({
    status: z.enum(['clean', 'infected', 'error', 'unavailable']),
    scanner: z.string().describe('where clamd was asked'),
    version: z.string().nullable(),
    detail: z.string(),
  }),
});
export type TestResult = z.infer<typeof TestResult>;

const AttachmentActions = z.object({
  executables: z.string(),
  scripts: z.string(),
  encryptedArchives: z.string(),
});

export const MailRules = z.object({
  domains: z.array(z.string()).describe("the school's own domains: mail to them is inbound"),
  personalUse: z.object({ default: z.string(), clauses: z.array(ClauseRef) }),
  disclaimer: z.object({ text: z.string(), clauses: z.array(ClauseRef) }),
  recipientThreshold: z.object({
    max: z.number(),
    allStaffAddresses: z.array(z.string()),
    action: Action,
    clauses: z.array(ClauseRef),
  }),
  attachments: z.object({
    executables: z.array(z.string()),
    scripts: z.array(z.string()),
    inbound: AttachmentActions,
    outbound: AttachmentActions,
    clauses: z.array(ClauseRef),
  }),
  virusDetected: z.object({ notify: z.array(z.string()), clauses: z.array(ClauseRef) }),
  rules: z.array(
    z.object({
      id: z.string(),
      description: z.string(),
      kind: z.string(),
      direction: z.enum(['inbound', 'outbound', 'both']),
      externalOnly: z.boolean(),
      action: Action,
      notify: z.array(z.string()).describe('role names told at once'),
      clauses: z.array(ClauseRef),
      matches: z
        .array(z.string())
        .describe('the words, patterns, detectors or extensions the rule looks for'),
      threshold: z.number().nullable(),
    }),
  ),
  builtIn: z.array(
    z.object({ rule: z.string(), name: z.string(), what: z.string(), clauses: z.array(ClauseRef) }),
  ),
});
export type MailRules = z.infer<typeof MailRules>;
