// Test data builders shared across modules. testPolicy() is a small compiled policy: a few SCP-1
// person kinds and roles with permissions, enough for directory and auth tests without a pack.
import type { Permission } from '../src/auth/permissions.ts';
import type { Clause, CompiledPolicy, PersonKindDef, RoleDef } from '../src/policy/compiled.ts';

export interface TestPolicyOverrides {
  name?: string;
  personKinds?: PersonKindDef[];
  roles?: {
    id: string;
    name?: string;
    permissions?: Permission[];
    requiresTotp?: boolean;
  }[];
  clauses?: Clause[];
  password?: Partial<CompiledPolicy['auth']['password']>;
  idleLockMinutes?: number;
}

export const TEST_PERSON_KINDS: PersonKindDef[] = [
  { id: 'employee', name: 'Employee' },
  { id: 'agency', name: 'Agency worker' },
  { id: 'volunteer', name: 'Volunteer' },
  { id: 'governor', name: 'Governor' },
  { id: 'contractor', name: 'Contractor' },
];

export const TEST_ROLES: NonNullable<TestPolicyOverrides['roles']> = [
  {
    id: 'sbm',
    name: 'School Business Manager',
    permissions: [
      'policy.read',
      'policy.manage',
      'people.read',
      'people.manage',
      'accounts.manage',
      'audit.read',
      'audit.verify',
      'security.flags.read',
      'security.flags.review',
      'config.read',
    ],
    requiresTotp: true,
  },
  { id: 'it_support', name: 'IT support', permissions: ['people.read', 'accounts.manage'] },
  { id: 'staff', name: 'Staff', permissions: [] },
  { id: 'governor', name: 'Governor', permissions: ['policy.read'] },
];

export function testPolicy(overrides: TestPolicyOverrides = {}): CompiledPolicy {
  const kinds = overrides.personKinds ?? TEST_PERSON_KINDS;
  const roles = overrides.roles ?? TEST_ROLES;
  const clauses = overrides.clauses ?? [
    { id: 'SCP-1', title: 'Scope', text: 'Applies to employees, workers, ...', section: 'SCP' },
    { id: 'PWD-2', title: 'Passwords', text: 'At least 8 characters ...', section: 'PWD' },
    { id: 'PWD-6', title: 'Supervised use', text: 'Only under supervision ...', section: 'PWD' },
    { id: 'PWD-8', title: 'Leavers', text: 'Leavers hand over ...', section: 'PWD' },
  ];
  return {
    name: overrides.name ?? 'test',
    document: {
      title: 'Electronic Information and Communications Policy',
      school: 'Test School',
      owner: { role: 'sbm', name: 'School Business Manager' },
      reviewIntervalMonths: 12,
      approval: { body: 'Full Governing Body', date: '2024-09-01', signatory: null },
      versions: [{ version: 1, description: 'First version', date: '2024-09-01' }],
    },
    clauses: new Map(clauses.map((c) => [c.id, c])),
    roles: new Map(
      roles.map((r): [string, RoleDef] => [
        r.id,
        {
          id: r.id,
          name: r.name ?? r.id,
          description: r.name ?? r.id,
          permissions: new Set(r.permissions ?? []),
          requiresTotp: r.requiresTotp ?? false,
        },
      ]),
    ),
    personKinds: new Map(kinds.map((k) => [k.id, k])),
    auth: {
      password: {
        minLength: 8,
        requireLetter: true,
        requireDigit: true,
        requireSpecial: true,
        refuseCommon: true,
        refusePersonalInfo: true,
        clauseIds: ['PWD-2'],
        ...overrides.password,
      },
      idleLockMinutes: overrides.idleLockMinutes ?? 15,
    },
    groups: new Map(),
    approvals: new Map(),
    web: {
      categories: new Map(),
      everyone: { block: new Set(), clauseIds: [] },
      groups: new Map(),
      defaultGroups: [],
      personKinds: new Map(),
      alerts: { notify: [], clauseIds: [] },
      unregisteredDevices: { mode: 'block-categories', block: new Set(), clauseIds: [] },
      downloads: { blockExecutables: false, extensions: new Set(), clauseIds: [] },
      blockPage: { url: 'http://127.0.0.1:8080/blocked' },
      dns: { blockAnswer: 'nxdomain', blockPageAddress: null },
      safeSearch: { google: false, bing: false, duckduckgo: false, youtube: 'off', clauseIds: [] },
    },
    mail: {
      domains: ['school.example'],
      personalUse: { default: 'authorisation-required', clauseIds: [] },
      disclaimer: { text: '', clauseIds: [] },
      recipientThreshold: { max: 50, allStaffAddresses: [], action: 'warn-sender', clauseIds: [] },
      attachments: {
        executables: new Set(),
        scripts: new Set(),
        inbound: { executables: 'allow', scripts: 'allow', encryptedArchives: 'allow' },
        outbound: { executables: 'allow', scripts: 'allow', encryptedArchives: 'allow' },
        clauseIds: [],
      },
      virusDetected: { notify: [], clauseIds: [] },
      rules: [],
    },
    monitoring: {
      purposes: new Map(),
      contentGrounds: new Map(),
      webGrounds: new Map(),
      mailCases: { openedBy: [], clauseIds: [] },
      webCases: { openedBy: [], clauseIds: [] },
      contentAccess: { approvers: [], secondApprover: false, grantHours: 24, clauseIds: [] },
      privateMarkers: { headers: [], subjectMarkers: [], clauseIds: [] },
    },
    retention: new Map(),
    raw: {},
  };
}
