// The quarantine: messages held for review (MAIL-5, MAIL-12, MAIL-13, SYS-4 ...), their content
// sealed in the vault. The reviewer (the School Business Manager by default) releases a message,
// which is then delivered as it arrived (outbound mail gains the disclaimer, MAIL-4), or deletes
// it with a reason; the sender is told, and every action is audited with its clause ids.
import type { AuditLog } from '../audit/service.ts';
import { enqueue } from '../notify/outbox.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import { fromJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Vault } from '../vault/vault.ts';
import type { Deliverer } from './relay/deliver.ts';
import type { Direction, Verdict } from './types.ts';

export class QuarantineError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409 | 502,
  ) {
    super(message);
  }
}

export interface Actor {
  id: string;
  label: string;
}

export interface QuarantineDeps {
  store: Store;
  audit: AuditLog;
  vault: Vault;
  policy: () => CompiledPolicy;
  deliver: Record<Direction, Deliverer>;
  addDisclaimer: (raw: Buffer, policy: CompiledPolicy) => Buffer;
  clock?: () => Date;
}

export function createQuarantine(deps: QuarantineDeps) {
  const { store, audit, vault } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function heldRow(id: string) {
    const row = await store.db
      .selectFrom('mail_messages')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new QuarantineError('There is no such message.', 404);
    if (row.status !== 'held') {
      throw new QuarantineError(`This message is no longer held (it was ${row.status}).`, 409);
    }
    return row;
  }

  const clausesOf = (verdicts: string) => [
    ...new Set(fromJson<Verdict[]>(verdicts, []).flatMap((v) => v.clauseIds)),
  ];

  async function tellSender(
    row: {
      id: string;
      direction: string;
      envelope_from: string;
      person_id: string | null;
      subject: string;
    },
    released: boolean,
    reason: string,
    at: string,
  ) {
    if (row.direction !== 'outbound' || !row.envelope_from) return;
    await enqueue(
      store.db,
      [
        {
          kind: released ? 'mail.released' : 'mail.deleted',
          to: { address: row.envelope_from, personId: row.person_id },
          subject: released
            ? `Your message "${row.subject}" has been sent`
            : `Your message "${row.subject}" was not sent`,
          text: released
            ? `Your message "${row.subject}" was reviewed and has now been sent.\n\n${reason}`
            : `Your message "${row.subject}" was reviewed and will not be sent.\n\nReason: ${reason}\n\nIf you need to send this information, ask the School Business Manager for the safe way to do it.`,
          related: { type: 'mail', id: row.id },
          dedupeKey: `mail:${row.id}:${released ? 'released' : 'deleted'}`,
        },
      ],
      at,
    );
  }

  return {
    /** Delivers a held message to its recipients; 502 when the next hop refuses it. */
    async release(id: string, actor: Actor, note: string): Promise<void> {
      const row = await heldRow(id);
      if (!row.content_id) throw new QuarantineError('The held content is missing.', 409);
      const content = await store.db
        .selectFrom('mail_content')
        .selectAll()
        .where('id', '=', row.content_id)
        .executeTakeFirstOrThrow();
      let raw: Buffer;
      try {
        raw = vault.open(
          {
            keyId: content.key_id,
            wrappedKey: Buffer.from(content.wrapped_key),
            iv: Buffer.from(content.iv),
            tag: Buffer.from(content.tag),
            ciphertext: Buffer.from(content.ciphertext),
          },
          content.id,
        );
      } catch {
        // Another key than the one that sealed it (a new vault.key, or a machine without the
        // gateway's): nothing is lost while the right key can be restored.
        throw new QuarantineError(
          `The held content cannot be opened with this server's vault key (mail.vaultKeyFile; the content needs key ${content.key_id}). Restore the gateway's vault key from its backup; the message stays held.`,
          409,
        );
      }
      const direction = row.direction as Direction;
      const policy = deps.policy();
      const out = direction === 'outbound' ? deps.addDisclaimer(raw, policy) : raw;
      const delivery = await deps.deliver[direction].send(
        { from: row.envelope_from, to: fromJson<string[]>(row.envelope_to, []) },
        out,
      );
      if (!delivery.ok) {
        throw new QuarantineError(
          `The next mail server did not take the message: ${delivery.reply}. It stays held; try again later.`,
          502,
        );
      }
      const at = clock().toISOString();
      await store.db
        .updateTable('mail_messages')
        .set({
          status: 'released',
          decided_by: actor.id,
          decided_at: at,
          decision_reason: note,
          next_hop_reply: delivery.reply.slice(0, 1000),
          updated_at: at,
        })
        .where('id', '=', id)
        .execute();
      await audit.append({
        actor,
        action: 'mail.released',
        target: { type: 'mail', id },
        clauseIds: clausesOf(row.verdicts),
        reason: note,
      });
      await tellSender(row, true, note, at);
    },

    /** Deletes a held message's content for good, keeping the record of what it was. */
    async delete(id: string, actor: Actor, reason: string): Promise<void> {
      const row = await heldRow(id);
      const at = clock().toISOString();
      await store.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('mail_messages')
          .set({
            status: 'deleted',
            content_id: null,
            decided_by: actor.id,
            decided_at: at,
            decision_reason: reason,
            updated_at: at,
          })
          .where('id', '=', id)
          .execute();
        if (row.content_id) {
          await trx.deleteFrom('mail_content').where('id', '=', row.content_id).execute();
        }
      });
      await audit.append({
        actor,
        action: 'mail.deleted',
        target: { type: 'mail', id },
        clauseIds: clausesOf(row.verdicts),
        reason,
      });
      await tellSender(row, false, reason, at);
    },
  };
}
