// Delivers the outbox through the configured mail relay with nodemailer. A message is marked
// sent only once the relay has accepted it (the 250 after DATA); a failure leaves it queued with
// its error and a later attempt time, waits doubling from one minute up to retryMaxMinutes. No
// message is ever dropped. Delivery is at least once: a crash between the relay's answer and
// the database write sends that message again on the next run.
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Store } from '../store/database.ts';
import { toOutboxMessage } from './outbox.ts';

export type NotificationsConfig = Config['notifications'];

export interface SendResult {
  sent: number;
  failed: number;
}

export interface Sender {
  /** Sends every message that is due now, one after another; answers what happened. */
  runOnce(): Promise<SendResult>;
  close(): void;
}

/** How long a run holds a message it is sending, so another process does not send it too. */
const CLAIM_MS = 10 * 60_000;
const BATCH = 50;
/** nodemailer's codes for a relay that cannot be reached or refuses us as a whole. */
const RELAY_DOWN = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EAUTH', 'ETLS']);

/** Wait before attempt n+1 after n failed attempts: 1, 2, 4, 8 ... minutes, at most `maxMinutes`. */
export function retryDelayMs(attempts: number, maxMinutes: number): number {
  const minutes = Math.min(2 ** Math.max(attempts - 1, 0), maxMinutes);
  return Math.round(minutes * 60_000);
}

export function createSender(deps: {
  store: Store;
  config: NotificationsConfig;
  log: Logger;
  clock?: () => Date;
}): Sender {
  const { store, config, log } = deps;
  const clock = deps.clock ?? (() => new Date());
  const db = store.db;
  const transport = nodemailer.createTransport({
    host: config.smtp.host,
    port: config.smtp.port,
    secure: config.smtp.secure,
    ...(config.smtp.user
      ? { auth: { user: config.smtp.user, pass: config.smtp.password ?? '' } }
      : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });

  async function claim(id: string, expected: string, now: Date): Promise<boolean> {
    const result = await db
      .updateTable('notification_outbox')
      .set({ next_attempt_at: new Date(now.getTime() + CLAIM_MS).toISOString() })
      .where('id', '=', id)
      .where('sent_at', 'is', null)
      .where('next_attempt_at', '=', expected)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  return {
    async runOnce() {
      const result: SendResult = { sent: 0, failed: 0 };
      const now = clock();
      const due = await db
        .selectFrom('notification_outbox')
        .selectAll()
        .where('sent_at', 'is', null)
        .where('next_attempt_at', '<=', now.toISOString())
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(BATCH)
        .execute();
      for (const row of due) {
        if (!(await claim(row.id, row.next_attempt_at, now))) continue;
        const message = toOutboxMessage(row);
        const attempts = message.attempts + 1;
        try {
          const info = await transport.sendMail({
            from: config.from,
            to: message.to,
            subject: message.subject,
            text: message.text,
            ...(message.html ? { html: message.html } : {}),
            headers: { 'X-Custos-Notification': message.kind, 'Auto-Submitted': 'auto-generated' },
          });
          await db
            .updateTable('notification_outbox')
            .set({
              sent_at: clock().toISOString(),
              attempts,
              last_error: null,
              message_id: info.messageId ?? null,
            })
            .where('id', '=', message.id)
            .execute();
          result.sent++;
        } catch (error) {
          const text = error instanceof Error ? error.message : String(error);
          const next = new Date(clock().getTime() + retryDelayMs(attempts, config.retryMaxMinutes));
          await db
            .updateTable('notification_outbox')
            .set({
              attempts,
              last_error: `${clock().toISOString()} ${text}`.slice(0, 2000),
              next_attempt_at: next.toISOString(),
            })
            .where('id', '=', message.id)
            .execute();
          result.failed++;
          const code = (error as { code?: unknown }).code;
          const relayDown = typeof code === 'string' && RELAY_DOWN.has(code);
          log.warn(
            { id: message.id, kind: message.kind, attempts, next: next.toISOString(), err: text },
            'notification not delivered; it stays queued',
          );
          // The relay cannot be reached: the rest wait for the next run instead of each failing.
          if (relayDown) break;
        }
      }
      return result;
    },
    close() {
      transport.close();
    },
  };
}
