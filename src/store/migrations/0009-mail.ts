// The mail gateway's records (MAIL-*, SYS-4/7/8, MON-2/3): one row per message that reached the
// relay, whatever became of it, with its envelope, headers, attachments and verdicts; and the
// encrypted content of the messages that are kept (quarantine, and what the pack retains).
import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bytes = ctx.dialect === 'postgres' ? 'bytea' : 'blob';
  await db.schema
    .createTable('mail_content')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull()) // which master key wrapped the data key
    .addColumn('wrapped_key', bytes, (c) => c.notNull())
    .addColumn('iv', bytes, (c) => c.notNull())
    .addColumn('tag', bytes, (c) => c.notNull())
    .addColumn('ciphertext', bytes, (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull()) // of the plain message
    .addColumn('sha256', 'text', (c) => c.notNull()) // of the plain message
    .execute();

  await db.schema
    .createTable('mail_messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull()) // inbound | outbound
    .addColumn('client_ip', 'text', (c) => c.notNull())
    .addColumn('helo', 'text')
    .addColumn('auth_user', 'text') // the SMTP AUTH user (outbound)
    .addColumn('person_id', 'text', (c) => c.references('people.id').onDelete('set null'))
    .addColumn('envelope_from', 'text', (c) => c.notNull())
    .addColumn('envelope_to', 'text', (c) => c.notNull()) // JSON array
    .addColumn('header_from', 'text')
    .addColumn('header_to', 'text', (c) => c.notNull()) // JSON array (To and Cc)
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('attachments', 'text', (c) => c.notNull()) // JSON: name, types, size, sha256, flags
    .addColumn('verdicts', 'text', (c) => c.notNull()) // JSON: rule, action, clause ids, reason
    .addColumn('action', 'text', (c) => c.notNull()) // the strictest verdict action
    .addColumn('private', 'integer', (c) => c.notNull()) // MON-3
    // pending (being delivered) | delivered | held | rejected | released | deleted | failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('next_hop_reply', 'text')
    .addColumn('content_id', 'text', (c) => c.references('mail_content.id').onDelete('set null'))
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_reason', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('mail_messages_received')
    .on('mail_messages')
    .column('received_at')
    .execute();
  await db.schema
    .createIndex('mail_messages_status')
    .on('mail_messages')
    .columns(['status', 'received_at'])
    .execute();
  await db.schema
    .createIndex('mail_messages_person')
    .on('mail_messages')
    .columns(['person_id', 'received_at'])
    .execute();
}
