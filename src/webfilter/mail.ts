// What the web filter's e-mails have in common: UK dates and times, clause ids with their titles,
// and an HTML part that says the same as the text with the link as a link. Every value put into
// HTML is escaped: host names, reasons and notes come from people and from the network.
import { escapeHtml } from '../governance/policy-document/html.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';

const DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
  timeZone: 'Europe/London',
});

/** "14/03/2025 at 10:32:05" in UK time. */
export function ukDateTime(at: Date | string): string {
  const parts = Object.fromEntries(
    DATE_TIME.formatToParts(typeof at === 'string' ? new Date(at) : at).map((p) => [
      p.type,
      p.value,
    ]),
  );
  return `${parts.day}/${parts.month}/${parts.year} at ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** "WEB-1 (Illegal, offensive, bad-taste or immoral material)"; a part cites its clause's title. */
export function clauseWithTitle(policy: CompiledPolicy, id: string): string {
  const title = (policy.clauses.get(id) ?? policy.clauses.get(id.replace(/\(.*$/, '')))?.title;
  return title ? `${id} (${title})` : id;
}

export const categoryName = (policy: CompiledPolicy, id: string): string =>
  policy.web.categories.get(id)?.name ?? id;

export interface MailBody {
  /** Paragraphs of the message, in order. */
  paragraphs: string[];
  /** Label and value lines shown as a short table ("When", "Who" ...). */
  facts?: [string, string][];
  /** Points under "What to do next". */
  next?: string[];
  link: { href: string; label: string };
}

export function mailText(body: MailBody): string {
  const parts = [...body.paragraphs];
  if (body.facts?.length) parts.push(body.facts.map(([k, v]) => `${k}: ${v}`).join('\n'));
  if (body.next?.length) {
    parts.push(['What to do next:', ...body.next.map((n) => `- ${n}`)].join('\n'));
  }
  parts.push(`${body.link.label}: ${body.link.href}`);
  return `${parts.join('\n\n')}\n`;
}

export function mailHtml(body: MailBody): string {
  const e = escapeHtml;
  return [
    '<!doctype html><html lang="en-GB"><body style="font-family: Arial, sans-serif; line-height: 1.5">',
    ...body.paragraphs.map((p) => `<p>${e(p)}</p>`),
    body.facts?.length
      ? `<table style="border-collapse: collapse">${body.facts
          .map(
            ([k, v]) =>
              `<tr><th scope="row" style="text-align: left; padding: 2px 12px 2px 0; vertical-align: top">${e(k)}</th><td style="padding: 2px 0">${e(v)}</td></tr>`,
          )
          .join('')}</table>`
      : '',
    body.next?.length
      ? `<p><strong>What to do next</strong></p><ul>${body.next.map((n) => `<li>${e(n)}</li>`).join('')}</ul>`
      : '',
    `<p><a href="${e(body.link.href)}">${e(body.link.label)}</a></p>`,
    '</body></html>',
  ]
    .filter((line) => line !== '')
    .join('\n');
}
