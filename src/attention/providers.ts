// The providers of "Needs my attention". A module that has something to ask of people adds its
// provider here.
import { createDirectoryService } from '../directory/service.ts';
import { policyDocumentAttention } from '../governance/policy-document/attention.ts';
import type { AttentionProvider } from './service.ts';

/** An empty directory: the people who manage it are asked to import the staff (SCP-1). */
const directoryAttention: AttentionProvider = async (ctx, principal) => {
  if (!principal.permissions.has('people.manage')) return [];
  const directory = createDirectoryService({
    store: ctx.store,
    audit: ctx.audit,
    policy: ctx.policy,
    clock: ctx.clock,
  });
  if ((await directory.countPeople()) > 1) return [];
  return [
    {
      id: 'directory-empty',
      kind: 'directory.empty',
      title: 'Add your staff to the directory',
      detail:
        'The directory has no one but you. Import everyone the policy applies to (SCP-1) from a CSV file exported from your MIS or HR system; the filters and registers work from it.',
      clauseIds: ['SCP-1'],
      href: '/people/import',
      action: 'Import people',
      severity: 'info',
    },
  ];
};

export const ATTENTION_PROVIDERS: readonly AttentionProvider[] = [
  directoryAttention,
  policyDocumentAttention,
];
