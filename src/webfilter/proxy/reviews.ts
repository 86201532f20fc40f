// Review requests from the block page: a person asks the School Business Manager to look again
// at a blocked site. The proxy records the request with what was blocked and why, and audits it;
// handling the requests is the console's job.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../../audit/service.ts';
import { newId, toJson } from '../../store/columns.ts';
import type { Store } from '../../store/database.ts';

export interface ReviewRequestInput {
  host: string;
  url: string;
  personId: string | null;
  personLabel: string | null;
  deviceId: string | null;
  clientIp: string;
  categories: readonly string[];
  clauseIds: readonly string[];
  reason: string;
}

export const MAX_REVIEW_REASON = 2000;

export async function recordReviewRequest(
  deps: { store: Store; audit: AuditLog; clock: () => Date },
  input: ReviewRequestInput,
): Promise<string> {
  const id = newId();
  const at = deps.clock().toISOString();
  await deps.store.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('site_review_requests')
      .values({
        id,
        host: input.host,
        url: input.url.slice(0, 2000),
        person_id: input.personId,
        device_id: input.deviceId,
        client_ip: input.clientIp,
        categories: toJson(input.categories),
        clause_ids: toJson(input.clauseIds),
        reason: input.reason.slice(0, MAX_REVIEW_REASON),
        status: 'open',
        created_at: at,
        decided_by: null,
        decided_at: null,
        decision_note: null,
      })
      .execute();
    await deps.audit.append(
      {
        actor: {
          id: input.personId,
          label: input.personLabel ?? `device at ${input.clientIp}`,
        },
        action: 'web.review-requested',
        target: { type: 'site_review_request', id },
        clauseIds: input.clauseIds,
        reason: input.reason.slice(0, 500),
        details: { host: input.host, deviceId: input.deviceId, ip: input.clientIp },
      },
      trx,
    );
  });
  return id;
}

/**
 * Tokens that tie a review form to the block page that showed it (host and client address), so
 * another site cannot make a browser file requests in its user's name.
 */
export function createReviewTokens(secret: Buffer = randomBytes(32)) {
  const sign = (host: string, ip: string) =>
    createHmac('sha256', secret).update(`${host}\n${ip}`).digest('base64url');
  return {
    issue: sign,
    verify(token: string, host: string, ip: string): boolean {
      const expected = Buffer.from(sign(host, ip));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
