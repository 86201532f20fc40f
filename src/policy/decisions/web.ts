// What the web and DNS filter block for whom (SYS-5, SYS-6, WEB-1, WEB-2, MIS-2), and why.
import type { CompiledPolicy } from '../compiled.ts';

export interface WebSubject {
  /** The person's kind (SCP-1), or null when the device belongs to no known person. */
  readonly kind: string | null;
  readonly groups: Iterable<string>;
  /** false for a device missing from the device register (SYS-6). Defaults to registered. */
  readonly deviceRegistered?: boolean;
}

const unique = (ids: Iterable<string>) => [...new Set(ids)];

function citedFor(policy: CompiledPolicy, category: string, extra: readonly string[] = []) {
  return unique([...(policy.web.categories.get(category)?.clauseIds ?? []), ...extra]);
}

/**
 * Every category blocked for this subject, each with the clause ids that block it. Everyone's
 * blocks always apply; group and kind blocks add up; a group's `allow` lifts a group or kind block
 * but never an everyone block. An unregistered device in block-categories mode adds its list.
 */
export function webCategoriesBlockedFor(
  policy: CompiledPolicy,
  subject: WebSubject,
): Map<string, string[]> {
  const { web } = policy;
  // A known person is also in the pack's default groups (SYS-5 applies to all staff).
  const groups =
    subject.kind === null ? [...subject.groups] : unique([...web.defaultGroups, ...subject.groups]);
  const rules = [
    ...groups.map((g) => web.groups.get(g)),
    subject.kind === null ? undefined : web.personKinds.get(subject.kind),
  ].filter((r) => r !== undefined);
  const allowed = new Set(rules.flatMap((r) => [...r.allow]));
  const out = new Map<string, string[]>();
  for (const rule of rules) {
    for (const category of rule.block) {
      if (!allowed.has(category)) out.set(category, citedFor(policy, category));
    }
  }
  if (subject.deviceRegistered === false && web.unregisteredDevices.mode === 'block-categories') {
    for (const category of web.unregisteredDevices.block) {
      out.set(category, citedFor(policy, category, web.unregisteredDevices.clauseIds));
    }
  }
  for (const category of web.everyone.block) out.set(category, citedFor(policy, category));
  return out;
}

export type WebVerdict =
  | { readonly action: 'allow' }
  | {
      readonly action: 'block';
      readonly reason: 'category' | 'unregistered-device';
      /** The blocked categories of the site (empty for an unregistered device in block-all mode). */
      readonly categories: readonly string[];
      readonly clauseIds: readonly string[];
      /** Tell the alert roles at once (MIS-2(j), pornography). */
      readonly alert: boolean;
    };

/** The verdict for a site in these categories (a site may be in several). */
export function webVerdict(
  policy: CompiledPolicy,
  subject: WebSubject,
  siteCategories: Iterable<string>,
): WebVerdict {
  const categories = unique(siteCategories);
  const alert = categories.some((c) => policy.web.categories.get(c)?.alert === true);
  if (subject.deviceRegistered === false && policy.web.unregisteredDevices.mode === 'block-all') {
    return {
      action: 'block',
      reason: 'unregistered-device',
      categories: [],
      clauseIds: [...policy.web.unregisteredDevices.clauseIds],
      alert,
    };
  }
  const blocked = webCategoriesBlockedFor(policy, subject);
  const hits = categories.filter((c) => blocked.has(c));
  if (hits.length === 0) return { action: 'allow' };
  return {
    action: 'block',
    reason: 'category',
    categories: hits,
    clauseIds: unique(hits.flatMap((c) => blocked.get(c) ?? [])),
    alert,
  };
}

/** The extension a download or attachment really has: 'invoice.pdf.exe ' -> 'exe'. */
export function extensionOf(fileName: string): string | null {
  const base =
    fileName
      .replace(/[\s.]+$/u, '')
      .split(/[/\\]/)
      .at(-1) ?? '';
  const dot = base.lastIndexOf('.');
  if (dot <= 0 && !base.startsWith('.')) return null;
  const ext = base.slice(dot + 1).toLowerCase();
  return ext === '' ? null : ext;
}

/** Whether the proxy blocks a download by its file name (SYS-2, SYS-4). */
export function downloadVerdict(
  policy: CompiledPolicy,
  fileName: string,
): { readonly blocked: boolean; readonly clauseIds: readonly string[] } {
  const { downloads } = policy.web;
  const ext = extensionOf(fileName);
  const blocked = downloads.blockExecutables && ext !== null && downloads.extensions.has(ext);
  return { blocked, clauseIds: blocked ? [...downloads.clauseIds] : [] };
}

/** How the DNS filter answers a blocked name. */
export function dnsBlockAnswer(
  policy: CompiledPolicy,
): { readonly answer: 'address'; readonly address: string } | { readonly answer: 'nxdomain' } {
  const { dns } = policy.web;
  if (dns.blockAnswer === 'nxdomain') return { answer: 'nxdomain' };
  if (dns.blockAnswer === 'block-page' && dns.blockPageAddress) {
    return { answer: 'address', address: dns.blockPageAddress };
  }
  return { answer: 'address', address: '0.0.0.0' };
}
