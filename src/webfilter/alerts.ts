// Alerts on attempts to reach an alert category (MIS-2(j), pornography: `alert: true` in the
// pack's web.categories). The proxy and the DNS filter both report attempts here: each one is
// logged, audited as `web.alert` and, in the same transaction, queued in the outbox as an e-mail
// to every active account holding one of the pack's `web.alerts.notify` roles. Repeats by the
// same person (or device) for the same site within webfilter.alertRepeatMinutes are dropped.
// Called on the filters' hot path: it never throws and never makes them wait.
import type { Logger } from 'pino';
import type { Actor, AuditLog } from '../audit/service.ts';
import { enqueue, type OutgoingMessage } from '../notify/outbox.ts';
import { activeHoldersOf, type RoleRecipient } from '../notify/recipients.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import type { Store } from '../store/database.ts';
import type { WebDecision } from './engine.ts';
import { categoryName, clauseWithTitle, mailHtml, mailText, ukDateTime } from './mail.ts';

export const KIND_WEB_ALERT = 'web.alert';

export interface WebAlertAttempt {
  source: 'proxy' | 'dns';
  decision: WebDecision;
  host: string;
  clientIp: string;
  at: Date;
  /** DNS only: the type of the query (A, AAAA, HTTPS ...). */
  queryType?: string;
}

export interface WebAlerts {
  /** Reports an attempt. Returns at once; the audit entry and the e-mails follow. */
  attempt(attempt: WebAlertAttempt): void;
  /** Resolves once every attempt reported so far is written (stop, tests). */
  settled(): Promise<void>;
}

export interface WebAlertsDeps {
  store: Store;
  audit: AuditLog;
  /** The policy in force: its alert categories and `web.alerts` (who is told, under which clauses). */
  policy: () => CompiledPolicy;
  log?: Logger | undefined;
  /** The console's address, for the link in the e-mail. */
  publicUrl: string;
  /** webfilter.alertRepeatMinutes; 0 alerts on every attempt. */
  repeatMinutes: number;
}

const MAX_REMEMBERED = 10_000;

/** Who the attempt is put down to: the person when known, else the device, else the address. */
const subjectOf = (a: WebAlertAttempt) =>
  a.decision.person
    ? `person:${a.decision.person.id}`
    : a.decision.device
      ? `device:${a.decision.device.id}`
      : `ip:${a.clientIp}`;

export function createWebAlerts(deps: WebAlertsDeps): WebAlerts {
  const { log } = deps;
  const repeatMs = Math.max(0, deps.repeatMinutes) * 60_000;
  const lastAlerted = new Map<string, number>();
  const pending = new Set<Promise<void>>();

  /** True when this subject and host alerted less than repeatMs ago. */
  function isRepeat(key: string, now: number): boolean {
    if (repeatMs === 0) return false;
    const last = lastAlerted.get(key);
    if (last !== undefined && now - last < repeatMs) return true;
    if (lastAlerted.size >= MAX_REMEMBERED) {
      for (const [k, t] of lastAlerted) if (now - t >= repeatMs) lastAlerted.delete(k);
      if (lastAlerted.size >= MAX_REMEMBERED) lastAlerted.clear();
    }
    lastAlerted.set(key, now);
    return false;
  }

  async function record(a: WebAlertAttempt, subject: string): Promise<void> {
    const policy = deps.policy();
    const d = a.decision;
    const actor: Actor = d.person
      ? { id: d.person.id, label: d.person.label }
      : { id: null, label: d.device ? `device ${d.device.label}` : `device at ${a.clientIp}` };
    const at = a.at.toISOString();
    await deps.store.db.transaction().execute(async (trx) => {
      const recipients = await activeHoldersOf(trx, policy.web.alerts.notify);
      // Another gateway process may see the same attempt: one e-mail per repeat window.
      const window = repeatMs > 0 ? Math.floor(a.at.getTime() / repeatMs) : a.at.getTime();
      const messages = recipients.map((to) =>
        alertMessage(policy, to, a, deps.publicUrl, deps.repeatMinutes, {
          dedupeKey: `${KIND_WEB_ALERT}:${subject}:${a.host}:${window}:${to.personId}`,
        }),
      );
      const queued = await enqueue(trx, messages, at);
      await deps.audit.append(
        {
          actor,
          action: 'web.alert',
          target: { type: 'host', id: a.host },
          clauseIds: d.clauseIds,
          reason: `${alertCategories(policy, d)
            .map((c) => categoryName(policy, c))
            .join(', ')} ${a.source === 'dns' ? 'looked up' : 'requested'} from ${a.clientIp}`,
          details: {
            source: a.source,
            host: a.host,
            categories: [...d.categories],
            decision: d.action,
            deviceId: d.device?.id ?? null,
            ip: a.clientIp,
            ...(a.queryType ? { queryType: a.queryType } : {}),
            notifyRoles: [...policy.web.alerts.notify],
            alertClauseIds: [...policy.web.alerts.clauseIds],
            messagesQueued: queued.length,
          },
        },
        trx,
      );
    });
  }

  return {
    attempt(a) {
      try {
        const subject = subjectOf(a);
        if (isRepeat(`${subject}|${a.host}`, a.at.getTime())) return;
        const d = a.decision;
        log?.warn(
          {
            source: a.source,
            person: d.person?.label ?? null,
            device: d.device?.label ?? null,
            clientIp: a.clientIp,
            host: a.host,
            categories: d.categories,
            clauseIds: d.clauseIds,
            action: d.action,
          },
          'web alert: an attempt to reach a site in an alert category',
        );
        const done: Promise<void> = record(a, subject)
          .catch((err: unknown) =>
            log?.error(
              { err, host: a.host },
              'could not record the web alert or queue its e-mails',
            ),
          )
          .finally(() => pending.delete(done));
        pending.add(done);
      } catch (err) {
        log?.error({ err, host: a.host }, 'could not raise a web alert');
      }
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/** The site's categories that alert; all of its categories if none does (a changed pack). */
function alertCategories(policy: CompiledPolicy, d: WebDecision): readonly string[] {
  const alerting = d.categories.filter((c) => policy.web.categories.get(c)?.alert === true);
  return alerting.length > 0 ? alerting : d.categories;
}

/** The e-mail to one of the designated staff. */
export function alertMessage(
  policy: CompiledPolicy,
  to: RoleRecipient,
  a: WebAlertAttempt,
  publicUrl: string,
  repeatMinutes: number,
  options: { dedupeKey?: string | null } = {},
): OutgoingMessage {
  const d = a.decision;
  const categories = alertCategories(policy, d);
  const names = categories.map((c) => categoryName(policy, c)).join(', ') || 'an alert category';
  const alertClauses = policy.web.alerts.clauseIds;
  const who = d.person
    ? d.device
      ? `${d.person.label}, on the device "${d.device.label}" at ${a.clientIp}`
      : `${d.person.label}, from ${a.clientIp}`
    : d.device
      ? `The device "${d.device.label}" at ${a.clientIp} (no person is recorded for it)`
      : `A device at ${a.clientIp} that is not in the device register; who used it is not known`;
  const how =
    a.source === 'dns'
      ? `looked up through the DNS filter${a.queryType ? `, ${a.queryType} query` : ''}`
      : 'requested through the web proxy';
  const categoryLine = categories
    .map((c) => {
      const cited = policy.web.categories.get(c)?.clauseIds ?? [];
      return cited.length
        ? `${categoryName(policy, c)} (${cited.join(', ')})`
        : categoryName(policy, c);
    })
    .join('; ');
  const outcome =
    d.action === 'block'
      ? `Blocked under ${d.clauseIds.map((id) => clauseWithTitle(policy, id)).join(', ') || 'the policy'}. Nothing from the site was shown.`
      : 'Not blocked: the policy in force lets this person or device reach the site. Check the web rules of the policy pack.';
  const auditUrl = `${publicUrl.replace(/\/+$/, '')}/audit?action=web.alert&targetId=${encodeURIComponent(a.host)}`;
  const body = {
    paragraphs: [
      `Dear ${to.givenName},`,
      `The web filter saw an attempt to reach a site listed as ${names}. The policy asks that you are told at once${alertClauses.length ? ` (${alertClauses.join(', ')})` : ''}.`,
    ],
    facts: [
      ['Site', `${a.host} (${how})`],
      ['When', `${ukDateTime(a.at)}, UK time`],
      ['Who', who],
      ['Category', categoryLine],
      ['Outcome', outcome],
    ] as [string, string][],
    next: [
      'Do not open the site yourself to check it.',
      'Look at the entry in the audit trail (link below). One attempt can be an accident: a mistyped address, or a link or pop-up on another site.',
      'If it looks deliberate, or it happens again, the School may investigate under its Disciplinary Policy (MIS-3). Where a child may be at risk, follow the school’s safeguarding procedure at once; information may be handed to the police (MIS-4).',
      repeatMinutes > 0
        ? `Further attempts by the same person or device on this site within ${repeatMinutes} minutes are not e-mailed again.`
        : 'Every attempt is e-mailed.',
    ],
    link: { href: auditUrl, label: 'Open the alert in the audit trail' },
  };
  return {
    kind: KIND_WEB_ALERT,
    to: { address: to.email, personId: to.personId },
    subject: `Web filter alert: an attempt to reach a site listed as ${names}`,
    text: mailText(body),
    html: mailHtml(body),
    related: { type: 'host', id: a.host },
    dedupeKey: options.dedupeKey ?? null,
  };
}
