// What happens to one message after DATA: look inside, scan for viruses, apply the pack's rules
// (judge(), free of side effects and used on its own by "test a message"), then refuse it, hold
// it in the encrypted quarantine, or stamp it (disclaimer, tag header, Received) and hand it to
// the next hop; record it either way. The order of writes is what keeps the promise "250 only
// when delivered or durably stored": a held message is committed (record and sealed content in
// one transaction) before the 250; a delivered one is recorded as pending before it is handed
// on, so that a database that is away turns into a 4xx before anything leaves.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/service.ts';
import { enqueue, type OutgoingMessage } from '../../notify/outbox.ts';
import { activeHoldersOf } from '../../notify/recipients.ts';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import { newTimeId, toJson } from '../../store/columns.ts';
import type { Store } from '../../store/database.ts';
import { createGroupCommit } from '../../store/group-commit.ts';
import type { Vault } from '../../vault/vault.ts';
import type { RuleInput } from '../rules/evaluate.ts';
import {
  type Inspection,
  type MailAction,
  type ScanResult,
  strictest,
  type Verdict,
} from '../types.ts';
import type { Deliverer } from './deliver.ts';
import { headerFor, prependTrace, receivedHeader } from './received.ts';
import { type IncomingMail, replyFor, type SmtpReply } from './server.ts';

/** The scanner is away (cannot connect, timed out): the message must wait, or pass unscanned. */
export class ScannerUnavailableError extends Error {}

/** What judging a message needs: the checks, and nothing that stores, sends or tells. */
export interface JudgeDeps {
  log: Logger;
  inspect: (raw: Buffer, policy: CompiledPolicy) => Promise<Inspection>;
  /**
   * null: no scanner configured (fail-open by configuration, said loudly at start). Throws
   * (ScannerUnavailableError or any error) when the scanner cannot answer.
   */
  scan: ((raw: Buffer) => Promise<ScanResult>) | null;
  evaluate: (input: RuleInput, policy: CompiledPolicy) => Verdict[];
  /** Pass mail unscanned when the scanner is away (never by default). */
  failOpen: boolean;
}

/** What the message the judge is asked about is: who sent it how, to whom, and its bytes. */
export type JudgedMail = Pick<IncomingMail, 'direction' | 'envelope' | 'authUser' | 'raw'>;

export interface PipelineDeps extends JudgeDeps {
  store: Store;
  audit: AuditLog;
  policy: () => CompiledPolicy;
  vault: Vault;
  addDisclaimer: (raw: Buffer, policy: CompiledPolicy) => Buffer;
  deliver: Record<IncomingMail['direction'], Deliverer>;
  /** Our host name, in the Received header (mail.relay.hostname); this machine's by default. */
  hostname?: string;
  clock?: () => Date;
}

export interface Judgement {
  inspection: Inspection;
  verdicts: Verdict[];
  action: MailAction;
}

const REPLY_TEXT: Record<'reject' | 'hold', (v: Verdict) => string> = {
  reject: (v) => `5.7.1 Refused under ${v.clauseIds.join(', ')}: ${v.reason}`,
  hold: (v) =>
    `2.0.0 Held for review under ${v.clauseIds.join(', ')}: ${v.reason}. The School Business Manager will release or delete it`,
};

/** One line, printable ASCII: what goes into an SMTP reply or a header. */
const ascii = (s: string, max = 300) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);

/**
 * Everything the policy says about a message, without side effects: the MIME walk, the virus
 * scan and the rules. Throws ScannerUnavailableError when the scanner is away and fail-open is off.
 */
export async function judge(
  mail: JudgedMail,
  policy: CompiledPolicy,
  deps: JudgeDeps,
): Promise<Judgement> {
  const inspection = await deps.inspect(mail.raw, policy);
  const verdicts: Verdict[] = [];
  if (deps.scan) {
    let result: ScanResult | null = null;
    try {
      result = await deps.scan(mail.raw);
    } catch (err) {
      if (!deps.failOpen) throw new ScannerUnavailableError((err as Error).message);
      deps.log.error(
        { err },
        'VIRUS SCANNER UNAVAILABLE: mail.clamd.failOpen is on, so this message passes UNSCANNED',
      );
      verdicts.push({
        rule: 'virus-scan-skipped',
        action: 'tag',
        clauseIds: ['SYS-4'],
        reason: 'the virus scanner was unavailable and fail-open is configured',
      });
    }
    if (result?.status === 'infected') {
      const v = policy.mail.virusDetected;
      verdicts.push({
        rule: 'virus',
        action: 'reject',
        clauseIds: v.clauseIds,
        reason: `a virus was found (${result.signature})`,
        details: { signature: result.signature },
        notify: v.notify,
      });
    } else if (result?.status === 'error') {
      verdicts.push({
        rule: 'virus-scan-error',
        action: 'hold',
        clauseIds: ['SYS-4'],
        reason: `the message could not be scanned (${result.message})`,
      });
    }
  }
  for (const problem of inspection.problems) {
    if (problem.code === 'bad-encoding' || problem.code === 'malformed-mime') continue;
    verdicts.push({
      rule: 'limits',
      action: 'hold',
      clauseIds: ['SYS-4', 'SYS-8'],
      reason: `it could not be checked completely: ${problem.message}`,
      details: { code: problem.code },
    });
  }
  verdicts.push(
    ...deps.evaluate(
      {
        direction: mail.direction,
        envelopeSender: mail.envelope.from || null,
        envelopeRecipients: mail.envelope.to,
        authenticatedAddress: mail.authUser,
        // The register of shared mailboxes comes with the governance registers.
        sharedMailboxes: [],
        inspection,
      },
      policy,
    ),
  );
  return { inspection, verdicts, action: strictest(verdicts.map((v) => v.action)) };
}

export function createMailPipeline(deps: PipelineDeps) {
  const { store, audit, log } = deps;
  // The records of messages passed on, committed together with those of other messages in
  // flight: each still durable before its message goes on, or before the answer.
  const records = createGroupCommit(store);
  const clock = deps.clock ?? (() => new Date());

  function recordRow(mail: IncomingMail, j: Judgement, id: string, status: string, at: string) {
    const i = j.inspection;
    return {
      id,
      received_at: at,
      direction: mail.direction,
      client_ip: mail.clientIp,
      helo: mail.helo,
      auth_user: mail.authUser,
      person_id: mail.personId,
      envelope_from: mail.envelope.from,
      envelope_to: toJson(mail.envelope.to),
      header_from: i.from,
      header_to: toJson([...i.to, ...i.cc]),
      subject: i.subject,
      message_id: i.messageId,
      size: mail.raw.length,
      attachments: toJson(i.attachments),
      verdicts: toJson(j.verdicts),
      action: j.action,
      private: i.private ? 1 : 0,
      status,
      next_hop_reply: null,
      content_id: null,
      decided_by: null,
      decided_at: null,
      decision_reason: null,
      updated_at: at,
    };
  }

  /** Tells the roles the verdicts name (virus: the School Business Manager, SYS-7). */
  async function notifyRoles(mail: IncomingMail, j: Judgement, id: string, at: string) {
    const messages: OutgoingMessage[] = [];
    for (const v of j.verdicts) {
      if (!v.notify?.length) continue;
      for (const r of await activeHoldersOf(store.db, v.notify)) {
        messages.push({
          kind: `mail.${v.rule}`,
          to: { address: r.email, personId: r.personId },
          subject: `Mail gateway: ${v.rule === 'virus' ? 'a virus was stopped' : `rule ${v.rule}`} (${v.clauseIds.join(', ')})`,
          text: [
            `Dear ${r.givenName},`,
            '',
            `A ${mail.direction} message from ${mail.envelope.from || '(no sender)'} to ${mail.envelope.to.join(', ')}, subject "${j.inspection.subject}", was ${j.action === 'reject' ? 'refused' : j.action === 'hold' ? 'held for review' : 'let through with a warning'}:`,
            `${v.reason} (${v.clauseIds.join(', ')}).`,
            '',
            j.action === 'hold'
              ? 'Release or delete it from the quarantine in the Custos console.'
              : 'No action is needed unless you want to look into it; the record is in the Custos console.',
            '',
            `Record ${id}`,
          ].join('\n'),
          related: { type: 'mail', id },
          dedupeKey: `mail:${id}:${v.rule}:${r.personId}`,
        });
      }
    }
    if (messages.length) await enqueue(store.db, messages, at);
  }

  /** The sender is told their message was held or delivered with a warning (warn-sender). */
  async function warnSender(mail: IncomingMail, j: Judgement, id: string, at: string) {
    if (mail.direction !== 'outbound' || !mail.envelope.from) return;
    const warnings = j.verdicts.filter((v) => v.action === 'warn-sender' || v.action === 'hold');
    if (!warnings.length) return;
    const held = j.action === 'hold';
    await enqueue(
      store.db,
      [
        {
          kind: held ? 'mail.held-notice' : 'mail.warning',
          to: { address: mail.envelope.from, personId: mail.personId },
          subject: held
            ? `Your message "${j.inspection.subject}" is held for review`
            : `About your message "${j.inspection.subject}"`,
          text: [
            held
              ? 'Your message has not been sent yet: it is held for the School Business Manager to review, because:'
              : 'Your message was sent. Please check it against the school policy, because:',
            ...warnings.map((v) => `- ${v.reason} (${v.clauseIds.join(', ')})`),
            '',
            'The Electronic Information and Communications Policy explains these rules. If you think this is a mistake, reply to the School Business Manager.',
          ].join('\n'),
          related: { type: 'mail', id },
          dedupeKey: `mail:${id}:sender`,
        },
      ],
      at,
    );
  }

  async function handle(mail: IncomingMail): Promise<SmtpReply> {
    const policy = deps.policy();
    const at = clock().toISOString();
    let j: Judgement;
    try {
      j = await judge(mail, policy, deps);
    } catch (err) {
      if (err instanceof ScannerUnavailableError) {
        log.error(
          { err },
          'the virus scanner is unavailable: mail is deferred (4xx) until it is back',
        );
        return { code: 451, message: '4.3.0 The virus scanner is unavailable; try again later' };
      }
      throw err;
    }
    const id = newTimeId();
    const deciding = j.verdicts.find((v) => v.action === j.action);
    const received = receivedHeader({
      helo: mail.helo,
      clientIp: mail.clientIp,
      clientName: mail.clientName ?? null,
      hostname: deps.hostname ?? hostname(),
      tls: mail.tls === true,
      authenticated: mail.authUser !== null,
      id,
      recipients: mail.envelope.to,
      at: new Date(at),
    });

    if (j.action === 'reject') {
      await store.db
        .insertInto('mail_messages')
        .values(recordRow(mail, j, id, 'rejected', at))
        .execute();
      await audit.append({
        actor: { id: null, label: 'mail-gateway' },
        action: j.verdicts.some((v) => v.rule === 'virus') ? 'mail.virus' : 'mail.rejected',
        target: { type: 'mail', id },
        clauseIds: [...new Set(j.verdicts.flatMap((v) => v.clauseIds))],
        reason: deciding!.reason,
        details: { direction: mail.direction, rules: j.verdicts.map((v) => v.rule) },
      });
      await notifyRoles(mail, j, id, at).catch((err: unknown) =>
        log.error({ err, id }, 'could not queue the notices for a refused message'),
      );
      return { code: 550, message: ascii(REPLY_TEXT.reject(deciding!)) };
    }

    if (j.action === 'hold') {
      // Sealed with its Received header: a release passes on exactly what was sealed (with the
      // disclaimer when outbound), and the trace says when and how the message came.
      const kept = prependTrace(mail.raw, received);
      const contentId = newTimeId();
      const sealed = deps.vault.seal(kept, contentId);
      await store.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('mail_content')
          .values({
            id: contentId,
            created_at: at,
            key_id: sealed.keyId,
            wrapped_key: sealed.wrappedKey,
            iv: sealed.iv,
            tag: sealed.tag,
            ciphertext: sealed.ciphertext,
            size: kept.length,
            sha256: createHash('sha256').update(kept).digest('hex'),
          })
          .execute();
        await trx
          .insertInto('mail_messages')
          .values({ ...recordRow(mail, j, id, 'held', at), content_id: contentId })
          .execute();
      });
      await audit.append({
        actor: { id: null, label: 'mail-gateway' },
        action: 'mail.held',
        target: { type: 'mail', id },
        clauseIds: [...new Set(j.verdicts.flatMap((v) => v.clauseIds))],
        reason: deciding!.reason,
        details: { direction: mail.direction, rules: j.verdicts.map((v) => v.rule) },
      });
      await Promise.all([notifyRoles(mail, j, id, at), warnSender(mail, j, id, at)]).catch(
        (err: unknown) => log.error({ err, id }, 'could not queue the notices for a held message'),
      );
      return { code: 250, message: ascii(REPLY_TEXT.hold(deciding!), 400) };
    }

    // allow, tag, warn-sender: stamp and deliver. The headers go on top as pieces of their own,
    // the Received header last and uppermost, so a large message is not copied to be stamped.
    const raw = mail.direction === 'outbound' ? deps.addDisclaimer(mail.raw, policy) : mail.raw;
    const tags = j.verdicts.filter((v) => v.action !== 'allow');
    const stamps = tags.length
      ? `${received}X-Custos-Verdict: ${ascii(tags.map((v) => `${v.rule} (${v.clauseIds.join(' ')})`).join('; '), 900)}\r\n`
      : received;
    const pieces = [headerFor(raw, stamps), raw];
    const pending = recordRow(mail, j, id, 'pending', at);
    await records.run(store.db.insertInto('mail_messages').values(pending));
    const delivery = await deps.deliver[mail.direction].send(mail.envelope, pieces);
    const status = delivery.ok ? 'delivered' : delivery.temporary ? 'failed' : 'rejected';
    try {
      const reply = delivery.reply.slice(0, 1000);
      const updatedAt = clock().toISOString();
      await records.run(
        store.db
          .updateTable('mail_messages')
          .set({ status, next_hop_reply: reply, updated_at: updatedAt })
          .where('id', '=', id),
      );
    } catch (err) {
      // Delivered already: the answer must still be 250, or the sender would send it twice.
      log.error({ err, id }, 'a delivered message could not be marked delivered');
    }
    if (delivery.ok) {
      await Promise.all([notifyRoles(mail, j, id, at), warnSender(mail, j, id, at)]).catch(
        (err: unknown) => log.error({ err, id }, 'could not queue the notices for a message'),
      );
    }
    return replyFor(delivery, id);
  }

  return { handle };
}
