import { afterEach, expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { closeRelays, startRelay } from '../../test/support/smtp-relay.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { startBackgroundJobs } from './background.ts';
import { enqueue, listOutbox } from './outbox.ts';

afterEach(closeRelays);

describeEachStore('the scheduled checks of custos serve', (db) => {
  it('GOV-5, GOV-1: a run queues the reminders that are due and the relay receives them', async () => {
    const relay = await startRelay();
    let now = new Date('2025-11-01T09:00:00Z');
    const ctx = await testContext(db.store, {
      clock: () => now,
      config: {
        'notifications.enabled': true,
        'notifications.smtp.host': '127.0.0.1',
        'notifications.smtp.port': relay.port,
        'notifications.acceptanceReminderDays': 7,
        'notifications.reviewReminderDays': 30,
      },
    });
    const sbm = await signedInAs(ctx, ['sbm']);
    const jobs = await startBackgroundJobs(ctx, { firstRunMs: 3_600_000 });
    try {
      // Versions are recorded at start; nobody has been waiting seven days yet.
      await jobs.runNow();
      expect(relay.received).toEqual([]);

      now = new Date('2025-11-10T09:00:00Z');
      await jobs.runNow();
      const subjects = relay.received.map((m) => m.subject).sort();
      expect(subjects).toEqual([
        'Reminder: please read and accept the Electronic Information and Communications Policy',
        'The review of the Electronic Information and Communications Policy falls due on 04/12/2025',
      ]);
      expect(relay.received.every((m) => m.to[0] === `${sbm.personId}@school.test`)).toBe(true);
      expect(await listOutbox(db.store.db, { pending: true })).toEqual([]);

      await jobs.runNow();
      expect(relay.received).toHaveLength(2);
    } finally {
      await jobs.stop();
    }
  });

  it('MIS-2(j): a queued alert is delivered within the delivery interval, not at the next hourly check', async () => {
    const relay = await startRelay();
    const ctx = await testContext(db.store, {
      config: {
        'notifications.enabled': true,
        'notifications.smtp.host': '127.0.0.1',
        'notifications.smtp.port': relay.port,
        'notifications.checkIntervalMinutes': 60,
        'notifications.deliverIntervalSeconds': 0.2,
      },
    });
    const jobs = await startBackgroundJobs(ctx, { firstRunMs: 3_600_000 });
    try {
      await enqueue(
        db.store.db,
        [
          {
            kind: 'web-alert',
            to: { address: 'dsl@school.test' },
            subject: 'Web alert: an attempt on a blocked site',
            text: 'An attempt was made.',
          },
        ],
        new Date().toISOString(),
      );
      await expect
        .poll(() => relay.received.map((m) => m.subject), { timeout: 5000 })
        .toEqual(['Web alert: an attempt on a blocked site']);
    } finally {
      await jobs.stop();
    }
  });
});
