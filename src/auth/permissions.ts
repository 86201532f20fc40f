// The catalogue of permissions. Code declares which permission each route needs; the policy pack
// says which roles hold which permissions. A permission not listed here cannot be granted by a
// pack (the pack check names it) nor required by a route (the server refuses to start).

export const PERMISSIONS = {
  'policy.read': 'Read the policy in force, its clauses and its version history',
  'policy.manage': 'Validate and apply policy packs, publish new versions',
  'policy.acceptance.read': 'See who has and has not accepted the policy in force (GOV-5)',
  'people.read': 'See the directory: people, groups, roles',
  'people.manage': 'Add, change, import and export people and groups',
  'accounts.manage': 'Create accounts, reset passwords and second factors, unlock accounts',
  'audit.read': 'Read the audit trail',
  'audit.verify': 'Verify the audit chain',
  'security.flags.read': 'See security flags such as concurrent sign-ins (PWD-4)',
  'security.flags.review': 'Mark security flags as reviewed',
  'config.read': 'See the effective configuration, secrets redacted',
  'webfilter.test': 'Test a web address: what the web filter does for a person or device, and why',
  'webfilter.reports':
    'See web activity in aggregate (by category, group and hour; not one person)',
  'webfilter.manage': "Update the category lists and keep the school's own allow and deny lists",
  'webfilter.reviews.read':
    'See the requests to review a blocked site made from block pages: who asked, why, and what blocked it',
  'webfilter.reviews.decide':
    "Allow a requested site (it goes on the school's allow list) or decline the request, with a note to the person who asked",
  'mail.quarantine.read':
    'See the messages the mail gateway holds for review: sender, recipients, subject (withheld when marked Private, MON-3), attachment names and types, and why each was held; never the body',
  'mail.quarantine.decide':
    'Release a held message to its recipients or delete it, with a note that is audited (and sent to the sender of outbound mail)',
  'mail.reports':
    'See mail gateway activity in aggregate (messages by day and direction, verdicts by rule and action; never one person)',
  'mail.test':
    "Test a message (.eml) against the pack's mail rules and the virus scanner without sending or keeping it, and read the mail rules in force",
} as const;

export type Permission = keyof typeof PERMISSIONS;

/**
 * What a route may declare instead of a permission: `public` (no session: health checks,
 * sign-in) and `authenticated` (any signed-in person, for their own things).
 */
export type RouteAccess = Permission | 'public' | 'authenticated';

export const isPermission = (value: string): value is Permission =>
  Object.hasOwn(PERMISSIONS, value);

export const allPermissions = (): Permission[] => Object.keys(PERMISSIONS) as Permission[];
