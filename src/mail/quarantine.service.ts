// The quarantine as the console works with it (MAIL-5, MAIL-12, MAIL-13, SYS-4, SYS-8): the held
// messages with what the reviewer needs to decide (who, to whom, the subject, the attachments'
// names and real types, and each verdict with its clauses), never the body (MON-2). A message
// marked Private or Personal shows that it is, and its subject and file names are withheld
// (MON-3); it can still be released or deleted on the gateway's reasons. Releasing hands the
// message to the gateway's next hop (quarantine.ts); deleting destroys the sealed content.
import type { AuditLog } from '../audit/service.ts';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import { type Actor, QuarantineError } from './quarantine.ts';
import * as repo from './repository.ts';
import { addressOf } from './rules/index.ts';
import type { DecisionResult, HeldMessage } from './schema.ts';
import { type GatewayQuarantine, quarantineFor } from './service.ts';
import type { AttachmentInfo, Direction, MailAction, Verdict } from './types.ts';
import { attachmentView, verdictView } from './views.ts';

export interface QuarantineServiceDeps {
  config: Config;
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  clock: () => Date;
}

const CODES = { 404: 'not_found', 409: 'conflict', 502: 'next_hop_refused' } as const;

function toHeld(policy: ReturnType<PolicyHolder['current']>, row: repo.HeldRow): HeldMessage {
  const marked = row.private === 1;
  const attachments = fromJson<AttachmentInfo[]>(row.attachments, []);
  const sender = row.envelope_from;
  // The From header only when it names someone else than the envelope sender.
  const headerFrom =
    row.header_from && addressOf(row.header_from) !== addressOf(sender) ? row.header_from : null;
  return {
    id: row.id,
    receivedAt: row.received_at,
    direction: row.direction as Direction,
    sender,
    headerFrom,
    recipients: fromJson<string[]>(row.envelope_to, []),
    subject: marked ? null : row.subject,
    private: marked,
    size: row.size,
    attachments: attachments.map((a) => attachmentView(a, marked)),
    action: row.action as MailAction,
    verdicts: fromJson<Verdict[]>(row.verdicts, []).map((v) => {
      const view = verdictView(policy, v);
      return marked ? { ...view, reason: withoutNames(view.reason, attachments) } : view;
    }),
  };
}

/**
 * A verdict's reason with the attachments' file names taken out: a reason about an attachment
 * names it ("report.zip is an encrypted archive ..."), and a Private message's names are withheld.
 */
function withoutNames(reason: string, attachments: readonly AttachmentInfo[]): string {
  const names = [...new Set(attachments.map((a) => a.name).filter((n): n is string => !!n))];
  // Longest first, so that a name inside another ("a.pdf" in "data.pdf") is not cut in two.
  names.sort((a, b) => b.length - a.length);
  return names.reduce(
    (text, name) => text.split(name).join('an attachment (name withheld)'),
    reason,
  );
}

/**
 * The quarantine for the console. The vault and the next hops are opened on the first decision
 * (a console that only lists needs neither) and closed by close().
 */
export function createQuarantineService(deps: QuarantineServiceDeps) {
  let gateway: GatewayQuarantine | null = null;
  const quarantine = () => {
    gateway ??= quarantineFor(deps);
    return gateway;
  };

  async function decide(
    id: string,
    status: DecisionResult['status'],
    actor: Actor,
    note: string,
  ): Promise<DecisionResult> {
    const before = await repo.heldById(deps.store, id);
    if (!before) throw new AppError('not_found', 'There is no such message. Reload the list.');
    if (before.status !== 'held') {
      throw new AppError(
        'conflict',
        `This message is no longer held: it was ${before.status} meanwhile. Reload the list.`,
      );
    }
    try {
      if (status === 'released') await quarantine().release(id, actor, note);
      else await quarantine().delete(id, actor, note);
    } catch (error) {
      if (error instanceof QuarantineError) {
        throw new AppError(CODES[error.status], error.message);
      }
      throw error;
    }
    const after = await repo.decisionOf(deps.store, id);
    return {
      id,
      status,
      senderTold: before.direction === 'outbound' && before.envelope_from !== '',
      nextHopReply: status === 'released' ? (after?.next_hop_reply ?? null) : null,
    };
  }

  return {
    async list(): Promise<{ messages: HeldMessage[]; held: number }> {
      const policy = deps.policy.current();
      const [rows, summary] = await Promise.all([
        repo.listHeld(deps.store),
        repo.heldSummary(deps.store),
      ]);
      return { messages: rows.map((r) => toHeld(policy, r)), held: summary.count };
    },

    release: (id: string, actor: Actor, note: string) => decide(id, 'released', actor, note),
    delete: (id: string, actor: Actor, note: string) => decide(id, 'deleted', actor, note),

    close() {
      gateway?.close();
      gateway = null;
    },
  };
}
