// The shape of policy-packs/<name>/policy.yaml. Every object is strict, so a misspelt key is an
// error (with a suggestion) rather than a silently ignored rule. Cross-references between
// sections (clause ids, roles, groups, person kinds) are checked by the loader after this schema.
import { z } from 'zod';
import { isPermission, PERMISSIONS } from '../auth/permissions.ts';

/** A clause id as REQUIREMENTS.md writes it: SYS-5, MAIL-12. */
export const CLAUSE_ID = /^[A-Z]{2,4}-\d{1,2}$/;
/** A reference to a clause, optionally to one of its parts: SYS-5, MIS-2(a), MON-1(4b). */
export const CLAUSE_REF = /^([A-Z]{2,4}-\d{1,2})(?:\(([a-z0-9]{1,3})\))?$/;
const ID = /^[a-z][a-z0-9_]*$/;
const CATEGORY = /^[a-z][a-z0-9_-]*$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

const text = z.string().trim().min(1, 'must not be empty');
const id = (what: string) =>
  z.string().regex(ID, `${what} ids are lower case letters, digits and _ (for example it_support)`);
const date = z
  .string()
  .regex(ISO_DATE, 'write dates as YYYY-MM-DD (for example 2024-12-04)')
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'is not a real date');
const clauseRef = z
  .string()
  .regex(CLAUSE_REF, 'write clause ids as in REQUIREMENTS.md, e.g. SYS-5 or MIS-2(a)');
const clauseIds = z.array(clauseRef).min(1, 'cite at least one clause id');
const category = z
  .string()
  .regex(CATEGORY, 'category names are lower case letters, digits, - and _ (e.g. social_networks)');

const permission = z.string().superRefine((value, ctx) => {
  if (value !== '*' && !isPermission(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown permission '${value}'; known permissions: ${Object.keys(PERMISSIONS).join(', ')} (or '*' for all)`,
    });
  }
});

export const DocumentSchema = z.strictObject({
  title: text,
  school: text,
  website: z.url().optional(),
  owner: z.strictObject({ role: id('role'), name: text }),
  approval: z.strictObject({
    body: text,
    date,
    signatory: text.nullable(),
  }),
  reviewIntervalMonths: z.number().int().min(1).max(60),
  versions: z
    .array(
      z.strictObject({
        version: z.number().int().positive(),
        description: text,
        date: date.nullable(),
      }),
    )
    .min(1, 'list at least the version in force'),
});

export const ClauseSchema = z.strictObject({
  title: text,
  /** The policy's own words (or, for INC, the sentence or law the clause derives from). */
  text,
  /** Lettered or numbered items inside the clause, cited as MIS-2(a). */
  parts: z
    .record(z.string().regex(/^[a-z0-9]{1,3}$/, 'part names are like a, b, 4a'), text)
    .optional(),
});

export const RoleSchema = z.strictObject({
  name: text,
  description: text,
  permissions: z.array(permission),
  requireTotp: z.boolean().default(false),
});

const approvers = z
  .strictObject({
    anyOf: z.array(id('role')).min(1).optional(),
    allOf: z.array(id('role')).min(1).optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.anyOf === undefined) === (value.allOf === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'give exactly one of anyOf (one approval from any of these roles) or allOf (an approval from each role)',
      });
    }
  });

export const RequestTypeSchema = z.strictObject({
  name: text,
  description: text,
  clauseIds,
  approvers,
  /** Roles told when such a request is made (for example IT support for password disclosure). */
  notify: z.array(id('role')).default([]),
  /** A register or assessment the request opens: a DPIA for data sharing (SYS-3, INC-2). */
  opens: z.enum(['dpia']).optional(),
  /** The authorisation must carry an end date (PER-1: a privilege that can be withdrawn). */
  requiresEndDate: z.boolean().default(false),
});

export const GroupSchema = z.strictObject({ name: text, description: text });

const webAccess = z.strictObject({
  block: z.array(category).default([]),
  /** Categories this group may reach although a group or kind rule blocks them; never overrides `everyone`. */
  allow: z.array(category).default([]),
});

export const WebCategorySchema = z.strictObject({
  name: text,
  clauseIds,
  /** Tell the alert roles at once when someone tries to reach it (MIS-2(j), pornography). */
  alert: z.boolean().default(false),
});

export const WebSchema = z.strictObject({
  categories: z.record(category, WebCategorySchema),
  everyone: z.strictObject({ block: z.array(category).min(1), clauseIds }),
  groups: z.record(id('group'), webAccess).default({}),
  /** Groups every person belongs to for web rules, whatever their directory groups (e.g. staff). */
  defaultGroups: z.array(id('group')).default([]),
  personKinds: z.record(id('person kind'), webAccess).default({}),
  alerts: z.strictObject({ notify: z.array(id('role')).min(1), clauseIds }),
  unregisteredDevices: z.strictObject({
    mode: z.enum(['block-all', 'block-categories']),
    block: z.array(category).default([]),
    clauseIds,
  }),
  downloads: z.strictObject({
    blockExecutables: z.boolean(),
    extensions: z.array(z.string().regex(/^[a-z0-9]{1,10}$/, 'an extension without the dot')),
    clauseIds,
  }),
  blockPage: z.strictObject({ url: z.url() }),
  dns: z.strictObject({
    blockAnswer: z.enum(['block-page', '0.0.0.0', 'nxdomain']),
    blockPageAddress: z.union([z.ipv4(), z.ipv6()]).nullable(),
  }),
  /**
   * SafeSearch through the providers' own "safe" host names (WEB-1), on the DNS filter and the
   * proxy. Without this section nothing is rewritten.
   */
  safeSearch: z
    .strictObject({
      google: z.boolean().default(true),
      bing: z.boolean().default(true),
      duckduckgo: z.boolean().default(true),
      /** YouTube Restricted Mode: strict hides more than moderate; off leaves YouTube alone. */
      youtube: z.enum(['strict', 'moderate', 'off']).default('moderate'),
      clauseIds,
    })
    .optional(),
});

const direction = z.enum(['outbound', 'inbound', 'both']);
export const MAIL_ACTIONS = ['allow', 'tag', 'warn-sender', 'hold', 'reject'] as const;
const mailAction = z.enum(MAIL_ACTIONS);
export const PERSONAL_DATA_DETECTORS = [
  'upn',
  'ni-number',
  'nhs-number',
  'date-of-birth-with-name',
  'bank-details',
] as const;

const ruleBase = {
  id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'rule ids are lower case with - (e.g. chain-letters)'),
  description: text,
  clauseIds,
  direction,
  action: mailAction,
  /** Apply only when a recipient is outside the school's own domains. */
  externalOnly: z.boolean().default(false),
  notify: z.array(id('role')).default([]),
};

const pattern = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value, 'iu');
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
});

export const MailRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...ruleBase, kind: z.literal('word-list'), words: z.array(text).min(1) }),
  z.strictObject({ ...ruleBase, kind: z.literal('pattern'), patterns: z.array(pattern).min(1) }),
  z.strictObject({
    ...ruleBase,
    kind: z.literal('personal-data'),
    detectors: z.array(z.enum(PERSONAL_DATA_DETECTORS)).min(1),
  }),
  z.strictObject({
    ...ruleBase,
    kind: z.literal('recipient-threshold'),
    threshold: z.number().int().min(1),
  }),
  z.strictObject({
    ...ruleBase,
    kind: z.literal('attachment-type'),
    extensions: z.array(z.string().regex(/^[a-z0-9]{1,10}$/, 'an extension without the dot')),
  }),
]);

const attachmentAction = z.enum(['allow', 'hold', 'reject']);
const attachmentDirection = z.strictObject({
  executables: attachmentAction,
  scripts: attachmentAction,
  encryptedArchives: attachmentAction,
});

export const MailSchema = z.strictObject({
  /** The school's own mail domains: everything else is external. */
  domains: z
    .array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'a domain such as school.org.uk'))
    .min(1),
  personalUse: z.strictObject({
    default: z.enum(['authorisation-required', 'incidental-allowed']),
    clauseIds,
  }),
  disclaimer: z.strictObject({ text, clauseIds }),
  recipientThreshold: z.strictObject({
    max: z.number().int().min(2),
    allStaffAddresses: z.array(z.email()).default([]),
    action: mailAction,
    clauseIds,
  }),
  attachments: z.strictObject({
    executables: z.array(z.string().regex(/^[a-z0-9]{1,10}$/)).min(1),
    scripts: z.array(z.string().regex(/^[a-z0-9]{1,10}$/)).min(1),
    inbound: attachmentDirection,
    outbound: attachmentDirection,
    clauseIds,
  }),
  virusDetected: z.strictObject({ notify: z.array(id('role')).min(1), clauseIds }),
  rules: z.array(MailRuleSchema).default([]),
});

const purpose = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,30}$/, 'ids are short, lower case: 1, 4a, crime'),
  text,
  clauseIds,
});

export const MonitoringSchema = z.strictObject({
  purposes: z.array(purpose).min(1),
  contentGrounds: z.array(purpose).min(1),
  webGrounds: z.array(purpose).min(1),
  mailCases: z.strictObject({ openedBy: z.array(id('role')).min(1), clauseIds }),
  webCases: z.strictObject({ openedBy: z.array(id('role')).min(1), clauseIds }),
  contentAccess: z.strictObject({
    approvers: z.array(id('role')).min(1),
    secondApprover: z.boolean().default(false),
    grantHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30),
    clauseIds,
  }),
  privateMarkers: z.strictObject({
    headers: z.array(z.strictObject({ name: text, values: z.array(text).min(1) })),
    subjectMarkers: z.array(text),
    clauseIds,
  }),
});

export const RECORD_KINDS = [
  'audit-log',
  'web-activity',
  'mail-metadata',
  'mail-content',
  'incidents',
  'breaches',
  'requests',
  'monitoring-cases',
  'subject-access-requests',
  'sessions',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

const period = z
  .strictObject({
    months: z.number().int().min(1).max(1200).optional(),
    days: z.number().int().min(1).max(36500).optional(),
    reason: text,
    clauseIds: clauseIds.default(['INC-5']),
  })
  .superRefine((value, ctx) => {
    if ((value.months === undefined) === (value.days === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of months or days' });
    }
  });

export const RetentionSchema = z.strictObject(
  Object.fromEntries(RECORD_KINDS.map((kind) => [kind, period])) as Record<
    RecordKind,
    typeof period
  >,
);

export const AuthSchema = z.strictObject({
  password: z.strictObject({
    minLength: z.number().int().min(8, 'PWD-2 asks for at least 8 characters').max(128),
    requireLetter: z.boolean(),
    requireDigit: z.boolean(),
    requireSpecial: z.boolean(),
    refuseCommon: z.boolean(),
    refusePersonalInfo: z.boolean(),
    clauseIds,
  }),
  idleLockMinutes: z.number().int().min(1).max(240),
});

export const PolicyPackSchema = z.strictObject({
  /** Version of this file format, so later releases can read older packs. */
  format: z.literal(1),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a short name such as palfrey-infant'),
  document: DocumentSchema,
  clauses: z.record(
    z.string().regex(CLAUSE_ID, 'clause ids look like SYS-5 or MAIL-12'),
    ClauseSchema,
  ),
  personKinds: z.record(id('person kind'), z.strictObject({ name: text })),
  roles: z.record(id('role'), RoleSchema),
  groups: z.record(id('group'), GroupSchema),
  approvals: z.record(
    z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, 'request type ids are lower case with - (e.g. equipment-move)'),
    RequestTypeSchema,
  ),
  web: WebSchema,
  mail: MailSchema,
  monitoring: MonitoringSchema,
  retention: RetentionSchema,
  auth: AuthSchema,
});

export type PolicyPack = z.infer<typeof PolicyPackSchema>;
export type MailRule = z.infer<typeof MailRuleSchema>;
