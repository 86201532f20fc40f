import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { closeRelays, startRelay as relay } from '../../test/support/smtp-relay.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { loadConfig } from '../config/config.ts';
import { enqueue, listOutbox, type OutgoingMessage } from './outbox.ts';
import { createSender, retryDelayMs } from './sender.ts';

const configFor = (port: number) =>
  loadConfig({
    env: {},
    overrides: {
      'notifications.enabled': true,
      'notifications.from': 'Custos <custos@palfreyinfant.example>',
      'notifications.smtp.host': '127.0.0.1',
      'notifications.smtp.port': port,
    },
  }).notifications;

const message = (n: number): OutgoingMessage => ({
  kind: 'policy.acceptance-reminder',
  to: { address: `person${n}@palfreyinfant.example`, personId: null },
  subject: `Reminder ${n}`,
  text: `Please read the policy (${n}).`,
  html: `<p>Please read the policy (${n}).</p>`,
  dedupeKey: `test:${n}`,
});

const log = pino({ level: 'silent' });

afterEach(closeRelays);

describeEachStore('the notification sender', (db) => {
  it('delivers queued messages through the relay and marks them sent only after it accepted them', async () => {
    const smtp = await relay();
    const now = new Date('2025-03-03T09:00:00Z');
    await enqueue(db.store.db, [message(1), message(2)], now.toISOString());
    const sender = createSender({
      store: db.store,
      config: configFor(smtp.port),
      log,
      clock: () => now,
    });
    expect(await sender.runOnce()).toEqual({ sent: 2, failed: 0 });
    sender.close();

    const byTo = [...smtp.received].sort((a, b) => a.to[0]!.localeCompare(b.to[0]!));
    expect(byTo.map((m) => m.to)).toEqual([
      ['person1@palfreyinfant.example'],
      ['person2@palfreyinfant.example'],
    ]);
    expect(byTo[0]).toMatchObject({
      from: 'custos@palfreyinfant.example',
      subject: 'Reminder 1',
      text: 'Please read the policy (1).',
    });
    expect(byTo[0]!.html).toContain('<p>Please read the policy (1).</p>');
    expect(byTo[0]!.headers.get('x-custos-notification')).toBe('policy.acceptance-reminder');
    const rows = await listOutbox(db.store.db);
    expect(rows.every((r) => r.sentAt === now.toISOString() && r.attempts === 1)).toBe(true);
    expect(rows.every((r) => r.messageId)).toBe(true);

    // Sent is sent: a second run sends nothing again.
    const again = createSender({ store: db.store, config: configFor(smtp.port), log });
    expect(await again.runOnce()).toEqual({ sent: 0, failed: 0 });
    again.close();
    expect(smtp.received).toHaveLength(2);
  });

  it('leaves messages queued with the error when the relay is down, and delivers them once it is back and the wait is over', async () => {
    const down = await relay();
    await down.close();
    let now = new Date('2025-03-03T09:00:00Z');
    const clock = () => now;
    await enqueue(db.store.db, [message(1), message(2)], now.toISOString());

    const failing = createSender({ store: db.store, config: configFor(down.port), log, clock });
    expect(await failing.runOnce()).toEqual({ sent: 0, failed: 1 });
    failing.close();
    const rows = await listOutbox(db.store.db);
    const first = rows.find((r) => r.attempts === 1);
    const second = rows.find((r) => r !== first);
    expect(first).toMatchObject({ sentAt: null, attempts: 1 });
    expect(first!.lastError).toMatch(/ECONNREFUSED|connect/i);
    expect(first!.nextAttemptAt).toBe('2025-03-03T09:01:00.000Z');
    // The relay is down: the second message was not tried this run.
    expect(second).toMatchObject({ sentAt: null, attempts: 0, lastError: null });

    const up = await relay();
    const sender = createSender({ store: db.store, config: configFor(up.port), log, clock });
    expect(await sender.runOnce()).toEqual({ sent: 1, failed: 0 });
    expect(up.received.map((m) => m.subject)).toEqual([second!.subject]);
    now = new Date('2025-03-03T09:01:00Z');
    expect(await sender.runOnce()).toEqual({ sent: 1, failed: 0 });
    sender.close();
    expect(up.received.map((m) => m.subject)).toEqual([second!.subject, first!.subject]);
    expect(await listOutbox(db.store.db, { pending: true })).toEqual([]);
  });

  it('keeps a message the relay refuses with a temporary error, waiting longer after each failure', async () => {
    const busy = await relay({ refuse: true });
    let now = new Date('2025-03-03T09:00:00Z');
    const clock = () => now;
    await enqueue(db.store.db, [message(1)], now.toISOString());
    const sender = createSender({ store: db.store, config: configFor(busy.port), log, clock });
    expect(await sender.runOnce()).toEqual({ sent: 0, failed: 1 });
    now = new Date('2025-03-03T09:01:00Z');
    expect(await sender.runOnce()).toEqual({ sent: 0, failed: 1 });
    sender.close();
    const [row] = await listOutbox(db.store.db);
    expect(row).toMatchObject({ sentAt: null, attempts: 2 });
    expect(row!.lastError).toContain('Mailbox busy');
    expect(row!.nextAttemptAt).toBe('2025-03-03T09:03:00.000Z');
  });

  it('queues a message with the same dedupe key only once', async () => {
    const at = '2025-03-03T09:00:00.000Z';
    expect(await enqueue(db.store.db, [message(1), message(2)], at)).toHaveLength(2);
    expect(await enqueue(db.store.db, [message(1), message(3)], at)).toHaveLength(1);
    expect(await listOutbox(db.store.db)).toHaveLength(3);
  });
});

it('waits double after each failure, up to the configured longest wait', () => {
  expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 360) / 60_000)).toEqual([1, 2, 4, 8, 360]);
});
