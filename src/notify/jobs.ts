// The scheduled checks `custos serve` runs: each check looks for what is due (reminders) and
// queues it in the outbox, then the sender delivers what waits. Checks are plain async
// functions, so a later module adds its own to the list it passes in. Runs never overlap.
import type { Logger } from 'pino';
import type { Sender } from './sender.ts';

export interface ScheduledCheck {
  name: string;
  run(now: Date): Promise<void>;
}

export interface ScheduledJobs {
  /** One run now (checks, then delivery); resolves when it is done. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduledJobs(deps: {
  checks: readonly ScheduledCheck[];
  /** Null when notifications are turned off: checks still queue, nothing is sent. */
  sender: Sender | null;
  intervalMs: number;
  /** How often the outbox alone is delivered between the checks (alerts must not wait an hour). */
  deliverIntervalMs?: number;
  log: Logger;
  clock?: () => Date;
  /** Delay before the first run after start. */
  firstRunMs?: number;
}): ScheduledJobs {
  const { checks, sender, log } = deps;
  const clock = deps.clock ?? (() => new Date());
  let running: Promise<void> | null = null;
  let stopped = false;

  async function deliver(): Promise<void> {
    if (!sender) return;
    try {
      const { sent, failed } = await sender.runOnce();
      if (sent || failed) log.info({ sent, failed }, 'notifications delivered');
    } catch (error) {
      log.error({ err: error }, 'sending notifications failed; they stay queued');
    }
  }

  async function once(): Promise<void> {
    for (const check of checks) {
      try {
        await check.run(clock());
      } catch (error) {
        log.error({ err: error, check: check.name }, 'scheduled check failed; it runs again later');
      }
    }
    await deliver();
  }

  const runNow = () => {
    running ??= once().finally(() => {
      running = null;
    });
    return running;
  };

  const tick = () => {
    if (!stopped) void runNow();
  };
  const first = setTimeout(tick, deps.firstRunMs ?? 5_000);
  const timer = setInterval(tick, deps.intervalMs);
  // Between the checks, only the outbox; never beside a full run.
  const delivery =
    sender && deps.deliverIntervalMs
      ? setInterval(() => {
          if (!stopped && !running) {
            running = deliver().finally(() => {
              running = null;
            });
          }
        }, deps.deliverIntervalMs)
      : null;
  first.unref();
  timer.unref();
  delivery?.unref();

  return {
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      if (delivery) clearInterval(delivery);
      await running;
      sender?.close();
    },
  };
}
