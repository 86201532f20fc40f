import { afterEach, expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { closeRelays, startRelay } from '../../test/support/smtp-relay.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { startBackgroundJobs } from './background.ts';
import { listOutbox } from './outbox.ts';

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
});
