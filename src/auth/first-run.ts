// The first run: while no account exists, `custos serve` prints a one-time link to the setup page,
// where the School Business Manager creates their own account. There is no default password.
import type { AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';
import { createAccountsService } from './accounts.service.ts';

export const FIRST_RUN_HOURS = 24;

/** The kind given to the first School Business Manager: the pack's employee kind, else its first. */
export function employeeKind(policy: PolicyHolder): string {
  const kinds = [...policy.current().personKinds.keys()];
  return (
    kinds.find((k) => k === 'employee') ?? kinds.find((k) => /employee|staff/i.test(k)) ?? kinds[0]!
  );
}

export interface FirstRunContext {
  config: Config;
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  clock?: () => Date;
}

/** The setup link when no account exists yet (a new one each time; older ones stop working). */
export async function ensureFirstRunLink(ctx: FirstRunContext): Promise<string | null> {
  const accounts = createAccountsService(ctx);
  return ctx.store.db.transaction().execute(async (trx) => {
    if (await accounts.anyAccountExists(trx)) return null;
    const token = await accounts.issueToken(
      'first-run',
      null,
      FIRST_RUN_HOURS,
      { id: null, label: 'system' },
      trx,
    );
    return `${ctx.config.server.publicUrl.replace(/\/+$/, '')}/setup#token=${token}`;
  });
}
