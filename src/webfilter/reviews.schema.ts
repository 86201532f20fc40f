// The shapes of the site-review API (reviews.routes.ts): a request to review a blocked site as
// the console lists it, and the decision on one.
import { z } from 'zod';

export const ReviewStatus = z
  .enum(['open', 'allowed', 'refused'])
  .describe('open; allowed (the site went on the allow list); refused (declined)');

export const ReviewRequest = z.object({
  id: z.string(),
  host: z.string(),
  url: z.string().describe('the address that was blocked'),
  reason: z.string().describe("the requester's own words: why they need the site"),
  status: ReviewStatus,
  createdAt: z.string(),
  requester: z.object({
    personId: z.string().nullable(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    device: z.object({ id: z.string(), label: z.string() }).nullable(),
    ip: z.string(),
  }),
  categories: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      blockedForEveryone: z
        .boolean()
        .describe('the pack blocks it for everyone (WEB-1, MIS-2): allowing the site needs care'),
    }),
  ),
  clauses: z.array(z.object({ id: z.string(), title: z.string().nullable() })),
  decision: z.object({ by: z.string(), at: z.string(), note: z.string().nullable() }).nullable(),
});
export type ReviewRequest = z.infer<typeof ReviewRequest>;

export const ListQuery = z.object({
  status: z
    .enum(['open', 'decided'])
    .default('open')
    .describe('open: waiting, oldest first; decided: allowed or declined, newest first'),
});

export const ReviewList = z.object({
  requests: z.array(ReviewRequest),
  open: z.number().describe('how many wait for a decision'),
});

export const Decision = z.object({
  decision: z
    .enum(['allow', 'decline'])
    .describe(
      "allow: the host goes on the school's allow list, for everyone; decline: it stays blocked",
    ),
  note: z
    .string()
    .trim()
    .min(3)
    .max(2000)
    .describe('why; e-mailed to the person who asked, and kept in the audit trail'),
});
export type Decision = z.infer<typeof Decision>;

export const DecisionResult = z.object({
  request: ReviewRequest,
  /** Whether an e-mail to the person who asked was queued (no e-mail when nobody is known). */
  notified: z.boolean(),
});
