// The shapes of the policy document's API, as zod schemas (they also feed OpenAPI).
import { z } from 'zod';

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'write dates as YYYY-MM-DD (for example 2025-09-01)')
  .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'not a real date');

const words = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

export const VersionNumberParams = z.object({
  number: z.coerce.number().int().positive(),
});

export const Approval = z.object({
  body: z.string(),
  date: z.string(),
  signatory: z.string().nullable(),
});

export const PolicyVersion = z.object({
  number: z.number(),
  description: z.string(),
  releaseDate: z.string().nullable(),
  approval: Approval.nullable(),
  note: z.string().nullable(),
  status: z.enum(['current', 'superseded']),
  source: z.enum(['pack-history', 'published']),
  packName: z.string().nullable(),
  packSha256: z.string().nullable(),
  hasText: z.boolean(),
  publishedAt: z.string(),
  publishedBy: z.string(),
  supersededAt: z.string().nullable(),
  documentHtml: z.string(),
  documentPdf: z.string(),
});

export const VersionsResponse = z.object({
  current: z.number(),
  review: z
    .object({
      due: z.string(),
      state: z.enum(['ok', 'due-soon', 'overdue']),
      daysLeft: z.number(),
    })
    .nullable(),
  myAcceptance: z.object({ version: z.number(), acceptedAt: z.string().nullable() }),
  versions: z.array(PolicyVersion),
});

export const PublishBody = z.object({
  description: words(2000).describe('What changed, as the change history records it (GOV-4)'),
  releaseDate: isoDate.describe('Date of release of this version'),
  approval: z
    .object({
      body: words(200).describe('Who agreed it, e.g. Full Governing Body'),
      date: isoDate.describe('The date it was agreed'),
      signatory: words(200).describe('Who signed it'),
    })
    .describe('The approval record (GOV-3)'),
  note: z.string().trim().max(4000).optional(),
  notify: z.boolean().optional().describe('E-mail everyone in scope (default true)'),
});

export const AcceptResponse = z.object({
  version: z.number(),
  acceptedAt: z.string(),
  alreadyAccepted: z.boolean(),
});

export const AcceptanceQuery = z.object({
  group: z.string().max(200).optional(),
  kind: z.string().max(100).optional(),
  status: z.enum(['accepted', 'not-accepted']).optional(),
});

export const AcceptanceReport = z.object({
  version: z.object({ number: z.number(), publishedAt: z.string() }),
  totals: z.object({
    inScope: z.number(),
    accepted: z.number(),
    notAccepted: z.number(),
    percent: z.number(),
  }),
  groups: z.array(z.string()),
  kinds: z.array(z.object({ id: z.string(), name: z.string() })),
  people: z.array(
    z.object({
      personId: z.string(),
      name: z.string(),
      email: z.string(),
      kind: z.string(),
      groups: z.array(z.string()),
      startDate: z.string().nullable(),
      askedSince: z.string(),
      acceptedAt: z.string().nullable(),
      lastRemindedAt: z.string().nullable(),
    }),
  ),
});

export const RemindResponse = z.object({
  queued: z.number(),
  alreadyRemindedToday: z.number(),
  notificationsEnabled: z.boolean(),
});
