// "Needs my attention": what waits for the signed-in person, gathered from providers. Each
// provider looks at one concern (the policy review, acceptance, the directory ...) and answers
// only what the person may see. A later module adds its provider to ATTENTION_PROVIDERS in
// providers.ts.
import type { AppContext } from '../api/context.ts';
import type { Principal } from '../auth/principal.ts';

export type AttentionSeverity = 'info' | 'warning' | 'critical';

export interface AttentionItem {
  /** Stable for the same concern, so the console can key and tests can find it. */
  id: string;
  kind: string;
  title: string;
  detail: string;
  clauseIds: string[];
  /** Where in the console to act on it. */
  href: string;
  /** What the link says ("Read and accept"). */
  action: string;
  severity: AttentionSeverity;
  /** YYYY-MM-DD, when the item has a date by which to act. */
  due?: string | undefined;
  count?: number | undefined;
}

export type AttentionProvider = (
  ctx: AppContext,
  principal: Principal,
) => Promise<readonly AttentionItem[]>;

const RANK: Record<AttentionSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** Every provider's items, most severe first, then soonest due. A failing provider is logged. */
export async function attentionFor(
  ctx: AppContext,
  principal: Principal,
  providers: readonly AttentionProvider[],
): Promise<AttentionItem[]> {
  const lists = await Promise.all(
    providers.map((provider) =>
      provider(ctx, principal).catch((error: unknown) => {
        ctx.log.error({ err: error }, 'an attention provider failed; its items are left out');
        return [] as AttentionItem[];
      }),
    ),
  );
  return lists
    .flat()
    .sort(
      (a, b) =>
        RANK[a.severity] - RANK[b.severity] || (a.due ?? '9999').localeCompare(b.due ?? '9999'),
    );
}
