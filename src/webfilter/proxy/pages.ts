// The pages the proxy answers with itself: the block page (what was blocked, why, under which
// clause, for whom, and a form to ask for a review) and the error pages that say what to do next.
// Small, self-contained HTML with no external resources: the browser may reach nothing else.
import type { CompiledPolicy } from '../../policy/compiled.ts';
import type { WebDecision } from '../engine.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}' +
  'h1{font-size:1.5rem}dt{font-weight:600;margin-top:.75rem}dd{margin:0}' +
  'textarea{width:100%;min-height:5rem}button{margin-top:.5rem;padding:.4rem 1rem}' +
  '.muted{color:#555;font-size:.9rem}';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** The clause anchor in the policy page: 'MIS-2(a)' is a part of clause MIS-2. */
export const clauseAnchor = (ref: string): string => {
  const paren = ref.indexOf('(');
  return paren < 0 ? ref : ref.slice(0, paren);
};

export function clauseLinks(policy: CompiledPolicy, publicUrl: string, refs: readonly string[]) {
  const base = publicUrl.replace(/\/+$/, '');
  return refs.map((ref) => {
    const clause = policy.clauses.get(ref) ?? policy.clauses.get(clauseAnchor(ref));
    const title = clause ? ` (${escapeHtml(clause.title)})` : '';
    return `<a href="${escapeHtml(`${base}/policy#${encodeURIComponent(clauseAnchor(ref))}`)}">${escapeHtml(ref)}</a>${title}`;
  });
}

export const REASON_TEXT: Record<string, string> = {
  category: 'The site is in a category the policy does not allow for you.',
  'school-deny': "The site is on the school's own block list.",
  restricted: 'Access to this site has been restricted for you (PER-4).',
  withdrawn: 'Your internet access has been withdrawn (BRE-2).',
  'unregistered-device':
    'This device is not in the school’s device register, so it may not use the school’s network (SYS-6).',
  download: 'Programs and scripts may not be downloaded on school systems.',
};

export interface BlockPageInput {
  readonly policy: CompiledPolicy;
  readonly publicUrl: string;
  readonly host: string;
  readonly url: string;
  readonly decision: Pick<WebDecision, 'reason' | 'categories' | 'clauseIds' | 'person' | 'device'>;
  /** The reason as shown when it is not the engine's (blocked downloads). */
  readonly reasonKey?: string;
  /** Where the review form posts, and its anti-forgery token; no form when absent. */
  readonly review?: { readonly action: string; readonly token: string } | undefined;
}

export function blockPage(input: BlockPageInput): string {
  const { policy, decision } = input;
  const reasonKey = input.reasonKey ?? decision.reason;
  const categoryNames = decision.categories
    .map(
      (c) => policy.web.categories.get(c)?.name ?? (c === 'school-deny' ? 'School block list' : c),
    )
    .map(escapeHtml);
  const who = decision.person
    ? escapeHtml(decision.person.label)
    : decision.device
      ? `the device “${escapeHtml(decision.device.label)}”`
      : 'this device is not registered (SYS-6)';
  const clauses = clauseLinks(policy, input.publicUrl, decision.clauseIds);
  const rows = [
    `<dt>Site</dt><dd>${escapeHtml(input.host)}</dd>`,
    `<dt>Why</dt><dd>${escapeHtml(REASON_TEXT[reasonKey] ?? 'The policy does not allow it.')}${
      categoryNames.length ? `<br>Category: ${categoryNames.join(', ')}` : ''
    }</dd>`,
    clauses.length ? `<dt>Policy clause</dt><dd>${clauses.join(', ')}</dd>` : '',
    `<dt>For</dt><dd>${who}</dd>`,
  ].join('');
  const form = input.review
    ? `<h2>Ask for a review</h2><p>If you need this site for your work, say why. The School Business Manager will look at your request.</p>` +
      `<form method="post" action="${escapeHtml(input.review.action)}">` +
      `<input type="hidden" name="url" value="${escapeHtml(input.url)}">` +
      `<input type="hidden" name="token" value="${escapeHtml(input.review.token)}">` +
      `<label for="reason">Why you need it</label><textarea id="reason" name="reason" maxlength="2000" required></textarea>` +
      `<button type="submit">Ask for a review</button></form>`
    : '';
  return page(
    `Blocked: ${input.host}`,
    `<h1>This site is blocked</h1><p>${escapeHtml(policy.document.school)} does not allow this site under its ${escapeHtml(policy.document.title)}.</p><dl>${rows}</dl>${form}<p class="muted">This attempt has been recorded, as the policy says.</p>`,
  );
}

export function reviewRecordedPage(host: string): string {
  return page(
    'Review requested',
    `<h1>Your request has been recorded</h1><p>The School Business Manager will review access to <strong>${escapeHtml(host)}</strong>. You do not need to ask again.</p>`,
  );
}

export type ErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'refused-target'
  | 'unknown-host'
  | 'bad-request'
  | 'overloaded';

const ERRORS: Record<ErrorKind, { status: number; title: string; next: string }> = {
  unreachable: {
    status: 502,
    title: 'The site could not be reached',
    next: 'The site may be down or refusing connections. Try again in a few minutes; if other sites work and this one keeps failing, the problem is likely at the site. If no site works, tell IT support.',
  },
  timeout: {
    status: 504,
    title: 'The site took too long to answer',
    next: 'The site is slow or down. Try again in a few minutes. If every site is slow, tell IT support.',
  },
  'refused-target': {
    status: 403,
    title: 'The proxy does not connect to this address',
    next: 'The name leads to an address inside the school network or on this server, which the proxy does not reach. If you need an internal site, ask IT support to add it to proxy.allowedTargets or to the direct list in proxy.pac.',
  },
  'unknown-host': {
    status: 502,
    title: 'No such site',
    next: 'The name could not be found. Check the spelling of the address.',
  },
  'bad-request': {
    status: 400,
    title: 'The request was not understood',
    next: 'The browser sent a request the proxy cannot pass on. Reload the page; if it keeps happening, tell IT support which address you tried.',
  },
  overloaded: {
    status: 503,
    title: 'The proxy is busy',
    next: 'Too many connections are open. Try again in a moment.',
  },
};

export function errorStatus(kind: ErrorKind): number {
  return ERRORS[kind].status;
}

export function errorPage(kind: ErrorKind, host: string, detail: string): string {
  const e = ERRORS[kind];
  return page(
    e.title,
    `<h1>${escapeHtml(e.title)}</h1><dl><dt>Site</dt><dd>${escapeHtml(host)}</dd><dt>What happened</dt><dd>${escapeHtml(detail)}</dd><dt>What to do</dt><dd>${escapeHtml(e.next)}</dd></dl>`,
  );
}
