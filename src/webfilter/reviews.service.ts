// Requests to review a blocked site (MIS-1, SYS-5): the proxy records them from the block page;
// here the School Business Manager or IT support work through them. Allowing puts the host on the
// school's allow list (for everyone: the list has no per-group entries); declining leaves it
// blocked. Either way the decision, its note and the allow-list entry are audited in one
// transaction with the e-mail to the person who asked.
import type { Actor, AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import { enqueue } from '../notify/outbox.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import { categoryName } from './mail.ts';
import { reviewDecidedMessage } from './reviews.messages.ts';
import * as repo from './reviews.repository.ts';
import type { Decision, ReviewRequest } from './reviews.schema.ts';
import { createSchoolListsService, SCHOOL_LIST_CLAUSES } from './school-lists.service.ts';

/** The pack's request type for site reviews; its clauses are cited when none is given. */
const SITE_REVIEW = 'site-review';

export interface ReviewsDeps {
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  config: Pick<Config, 'server'>;
  clock: () => Date;
}

const unique = (ids: Iterable<string>) => [...new Set(ids)];

const clauseTitle = (policy: CompiledPolicy, id: string) =>
  (policy.clauses.get(id) ?? policy.clauses.get(id.replace(/\(.*$/, '')))?.title ?? null;

function toRequest(policy: CompiledPolicy, row: repo.ReviewRow): ReviewRequest {
  const name = row.given_name !== null ? `${row.given_name} ${row.family_name ?? ''}`.trim() : null;
  return {
    id: row.id,
    host: row.host,
    url: row.url,
    reason: row.reason,
    status: row.status as ReviewRequest['status'],
    createdAt: row.created_at,
    requester: {
      personId: row.person_id,
      name,
      email: row.email,
      device:
        row.device_id && row.device_label ? { id: row.device_id, label: row.device_label } : null,
      ip: row.client_ip,
    },
    categories: fromJson<string[]>(row.categories, []).map((id) => ({
      id,
      name: categoryName(policy, id),
      blockedForEveryone: policy.web.everyone.block.has(id),
    })),
    clauses: fromJson<string[]>(row.clause_ids, []).map((id) => ({
      id,
      title: clauseTitle(policy, id),
    })),
    decision:
      row.status === 'open' || !row.decided_at
        ? null
        : { by: row.decided_by ?? '', at: row.decided_at, note: row.decision_note },
  };
}

export function createReviewsService(deps: ReviewsDeps) {
  const { store, audit } = deps;
  const school = createSchoolListsService(deps);

  return {
    countOpen: () => repo.countOpenReviews(store.db),

    async list(which: 'open' | 'decided'): Promise<{ requests: ReviewRequest[]; open: number }> {
      const policy = deps.policy.current();
      const [rows, open] = await Promise.all([
        repo.listReviews(store.db, which),
        repo.countOpenReviews(store.db),
      ]);
      return { requests: rows.map((r) => toRequest(policy, r)), open };
    },

    /** Allows or declines an open request; answers it as decided and whether its requester is told. */
    async decide(
      id: string,
      input: Decision,
      actor: Actor,
    ): Promise<{ request: ReviewRequest; notified: boolean }> {
      const policy = deps.policy.current();
      const at = deps.clock().toISOString();
      const note = input.note.trim();
      return store.db.transaction().execute(async (trx) => {
        const row = await repo.reviewById(trx, id);
        if (!row)
          throw new AppError('not_found', 'There is no such review request. Reload the list.');
        if (row.status !== 'open') {
          throw new AppError(
            'conflict',
            `This request was already ${row.status === 'allowed' ? 'allowed' : 'declined'} by ${row.decided_by ?? 'someone else'}. Reload the list.`,
          );
        }
        let entryId: string | null = null;
        if (input.decision === 'allow') {
          const existing = await school.entryFor(trx, row.host);
          if (existing?.list === 'deny') {
            throw new AppError(
              'conflict',
              `${row.host} is on the school's deny list. Remove it there (School lists) first if it should be allowed, then allow this request.`,
            );
          }
          // Already allowed (added by hand since the request was made): nothing more to add.
          entryId =
            existing?.id ??
            (
              await school.addIn(
                trx,
                { list: 'allow', host: row.host, reason: `Review request: ${note}`.slice(0, 500) },
                actor,
              )
            ).id;
        }
        const decided = await repo.markDecided(trx, id, {
          status: input.decision === 'allow' ? 'allowed' : 'refused',
          by: actor.label,
          at,
          note,
        });
        if (!decided) {
          throw new AppError(
            'conflict',
            'Someone else decided this request just now. Reload the list.',
          );
        }
        const requestClauses = fromJson<string[]>(row.clause_ids, []);
        const requester = row.person_id ? await repo.requesterOf(trx, row.person_id) : undefined;
        const told = requester && requester.status !== 'left' ? requester : null;
        const reviewer = (actor.id ? await repo.nameOf(trx, actor.id) : null) ?? actor.label;
        const queued = told
          ? await enqueue(
              trx,
              [
                reviewDecidedMessage(
                  policy,
                  { personId: told.id, email: told.email, givenName: told.given_name },
                  {
                    requestId: row.id,
                    host: row.host,
                    askedAt: row.created_at,
                    reason: row.reason,
                    clauseIds: requestClauses,
                    decision: input.decision,
                    note,
                    reviewer,
                  },
                  deps.config.server.publicUrl,
                ),
              ],
              at,
            )
          : [];
        await audit.append(
          {
            actor,
            action: input.decision === 'allow' ? 'web.review-allowed' : 'web.review-declined',
            target: { type: 'site_review_request', id },
            clauseIds: unique([
              ...(policy.approvals.get(SITE_REVIEW)?.clauseIds ?? SCHOOL_LIST_CLAUSES),
              ...requestClauses,
            ]),
            reason: note,
            details: {
              host: row.host,
              requesterId: row.person_id,
              allowListEntryId: entryId,
              requesterNotified: queued.length > 0,
            },
          },
          trx,
        );
        const updated = await repo.reviewById(trx, id);
        return { request: toRequest(policy, updated!), notified: queued.length > 0 };
      });
    },
  };
}
