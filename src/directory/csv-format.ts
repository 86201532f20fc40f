// The directory's CSV columns, shared by import and export so that an export re-imports
// unchanged. Header names are matched case- and space-insensitively, with common aliases.

export const CSV_COLUMNS = [
  'staff_id',
  'email',
  'given_name',
  'family_name',
  'kind',
  'groups',
  'roles',
  'start_date',
  'leave_date',
  'status',
  'supervised_use',
] as const;

export type CsvColumn = (typeof CSV_COLUMNS)[number];

export const REQUIRED_COLUMNS: readonly CsvColumn[] = [
  'email',
  'given_name',
  'family_name',
  'kind',
];

/** Separator of several groups or roles in one cell. */
export const LIST_SEPARATOR = ';';

const ALIASES: Record<CsvColumn, string[]> = {
  staff_id: [
    'staff id',
    'staff number',
    'staff no',
    'employee id',
    'employee number',
    'payroll number',
  ],
  email: ['email', 'e-mail', 'email address', 'e-mail address', 'work email'],
  given_name: [
    'given name',
    'first name',
    'forename',
    'forenames',
    'firstname',
    'legal forename',
    'preferred forename',
  ],
  family_name: ['family name', 'surname', 'last name', 'lastname', 'legal surname'],
  kind: ['kind', 'person kind', 'staff type', 'staff kind'],
  groups: ['groups', 'group', 'teams', 'team', 'departments', 'department'],
  roles: ['roles', 'role'],
  start_date: ['start date', 'started', 'date started', 'employment start date'],
  leave_date: ['leave date', 'leaving date', 'end date', 'date left'],
  status: ['status'],
  supervised_use: ['supervised use', 'supervised', 'supervised use only', 'supervision'],
};

const squash = (header: string) =>
  header
    .trim()
    .toLowerCase()
    .replace(/[\s_.-]+/g, ' ')
    .trim();

const LOOKUP = new Map<string, CsvColumn>();
for (const column of CSV_COLUMNS) {
  LOOKUP.set(squash(column), column);
  for (const alias of ALIASES[column]) LOOKUP.set(squash(alias), column);
}
// "e-mail" squashes to "e mail"; make the unspaced form match too.
for (const [key, column] of [...LOOKUP]) LOOKUP.set(key.replaceAll(' ', ''), column);

/** The column a header names, or null when it is not one of ours. */
export function columnOf(header: string): CsvColumn | null {
  const key = squash(header);
  return LOOKUP.get(key) ?? LOOKUP.get(key.replaceAll(' ', '')) ?? null;
}
