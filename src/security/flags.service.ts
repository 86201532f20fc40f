// Security flags for review: a second sign-in of one account from another address while the
// first session is live (PWD-4), and account lockouts. Raised by the auth module; read and marked
// reviewed here. Reading them is itself audited: they say who signed in from where.
import type { AppContext } from '../api/context.ts';
import type { Actor } from '../audit/service.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson } from '../store/columns.ts';

export interface SecurityFlag {
  id: string;
  kind: string;
  clauseIds: string[];
  details: Record<string, unknown>;
  createdAt: string;
  reviewedAt: string | null;
  reviewedBy: string | null;
  account: { id: string; personId: string; name: string; email: string } | null;
}

type FlagsContext = Pick<AppContext, 'store' | 'audit' | 'clock'>;

export function createSecurityFlagsService(ctx: FlagsContext) {
  const db = ctx.store.db;
  return {
    async countOpen(): Promise<number> {
      const row = await db
        .selectFrom('security_flags')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('reviewed_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async list(options: { open: boolean }, actor: Actor): Promise<SecurityFlag[]> {
      let query = db
        .selectFrom('security_flags')
        .leftJoin('accounts', 'accounts.id', 'security_flags.account_id')
        .leftJoin('people', 'people.id', 'accounts.person_id')
        .select([
          'security_flags.id',
          'security_flags.kind',
          'security_flags.clause_ids',
          'security_flags.details',
          'security_flags.created_at',
          'security_flags.reviewed_at',
          'security_flags.reviewed_by',
          'accounts.id as accountId',
          'people.id as personId',
          'people.given_name',
          'people.family_name',
          'people.email',
        ])
        .orderBy('security_flags.created_at', 'desc')
        .limit(500);
      if (options.open) query = query.where('security_flags.reviewed_at', 'is', null);
      const rows = await query.execute();
      await ctx.audit.append({
        actor,
        action: 'security.flags-read',
        clauseIds: ['PWD-4'],
        details: { open: options.open, count: rows.length },
      });
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        clauseIds: fromJson<string[]>(r.clause_ids, []),
        details: fromJson<Record<string, unknown>>(r.details, {}),
        createdAt: r.created_at,
        reviewedAt: r.reviewed_at,
        reviewedBy: r.reviewed_by,
        account:
          r.accountId && r.personId
            ? {
                id: r.accountId,
                personId: r.personId,
                name: `${r.given_name ?? ''} ${r.family_name ?? ''}`.trim(),
                email: r.email ?? '',
              }
            : null,
      }));
    },

    async review(id: string, note: string, actor: Actor): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const flag = await trx
          .selectFrom('security_flags')
          .select(['id', 'reviewed_at', 'clause_ids'])
          .where('id', '=', id)
          .executeTakeFirst();
        if (!flag) throw new AppError('not_found', 'There is no such flag. Reload the list.');
        if (flag.reviewed_at) {
          throw new AppError('conflict', 'This flag has already been reviewed.');
        }
        await trx
          .updateTable('security_flags')
          .set({ reviewed_at: ctx.clock().toISOString(), reviewed_by: actor.label })
          .where('id', '=', id)
          .execute();
        await ctx.audit.append(
          {
            actor,
            action: 'security.flag-reviewed',
            target: { type: 'security-flag', id },
            clauseIds: fromJson<string[]>(flag.clause_ids, ['PWD-4']),
            reason: note,
          },
          trx,
        );
      });
    },
  };
}
