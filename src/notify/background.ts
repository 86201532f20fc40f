// What `custos serve` runs in the background: the policy versions recorded on first start
// (GOV-4), then every notifications.checkIntervalMinutes the reminder checks (GOV-1, GOV-5) and
// the delivery of the outbox. The list of checks is the place to add a later module's own.
import type { AppContext } from '../api/context.ts';
import { policyDocumentServiceOf } from '../governance/policy-document/service.ts';
import { type ScheduledCheck, type ScheduledJobs, startScheduledJobs } from './jobs.ts';
import { createSender } from './sender.ts';

export async function startBackgroundJobs(
  ctx: AppContext,
  options: { firstRunMs?: number } = {},
): Promise<ScheduledJobs> {
  const policyDocument = policyDocumentServiceOf(ctx);
  await policyDocument.ensureSeeded();
  const checks: ScheduledCheck[] = [
    {
      name: 'policy document reminders (GOV-1, GOV-5)',
      run: async (now) => {
        const { acceptanceReminders, reviewReminders } =
          await policyDocument.runScheduledReminders(now);
        if (acceptanceReminders || reviewReminders) {
          ctx.log.info({ acceptanceReminders, reviewReminders }, 'policy reminders queued');
        }
      },
    },
  ];
  const { notifications } = ctx.config;
  return startScheduledJobs({
    checks,
    sender: notifications.enabled
      ? createSender({ store: ctx.store, config: notifications, log: ctx.log, clock: ctx.clock })
      : null,
    intervalMs: notifications.checkIntervalMinutes * 60_000,
    deliverIntervalMs: notifications.deliverIntervalSeconds * 1000,
    log: ctx.log,
    clock: ctx.clock,
    ...(options.firstRunMs === undefined ? {} : { firstRunMs: options.firstRunMs }),
  });
}
