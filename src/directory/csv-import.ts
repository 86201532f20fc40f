// Imports people from a CSV file, all or nothing. Every bad row is reported with its physical line
// (the header is line 1), its column and the reason; if any row is bad nothing is stored.
// Otherwise the whole file is applied in one transaction with its audit entries. Rows match
// existing people by staff id, then by e-mail; unchanged rows write nothing, so importing the
// same file twice changes nothing the second time.
import { isUtf8 } from 'node:buffer';
import { CsvError, parse } from 'csv-parse';
import type { Kysely, Transaction } from 'kysely';
import type { Actor, AuditInput, AuditLog } from '../audit/service.ts';
import type { CompiledPolicy } from '../policy/compiled.ts';
import { newId } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import {
  CSV_COLUMNS,
  type CsvColumn,
  columnOf,
  LIST_SEPARATOR,
  REQUIRED_COLUMNS,
} from './csv-format.ts';
import {
  changesBetween,
  clausesFor,
  type NormalisedPerson,
  personColumns,
  toPerson,
} from './person.ts';
import * as repo from './repository.ts';
import {
  groupNameProblem,
  isFormulaLike,
  isValidEmail,
  kindIds,
  MAX_CELL_LENGTH,
  MAX_NAME_LENGTH,
  PERSON_STATUSES,
  type PersonStatus,
  parseBoolean,
  parseDate,
  resolveKind,
  resolveRole,
  resolveStatus,
  roleIds,
  sortedUnique,
} from './rules.ts';

export const DEFAULT_MAX_ROWS = 200_000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Beyond this many errors the rest are counted, not listed. */
export const MAX_LISTED_ERRORS = 10_000;
const DEFAULT_PREVIEW_LIMIT = 1000;

export type ImportPhase = 'parsing' | 'checking' | 'saving';

export interface ImportOptions {
  actor: Actor;
  dryRun?: boolean;
  onProgress?: (p: { phase: ImportPhase; done: number; total: number }) => void;
  maxRows?: number;
  maxBytes?: number;
  /** How many planned changes a dry run lists (default 1000). */
  previewLimit?: number;
}

export interface ImportError {
  /** Physical line in the file, header = 1; 0 for the file as a whole. */
  line: number;
  column?: string;
  message: string;
}

export interface ImportPreviewRow {
  line: number;
  action: 'create' | 'update';
  email: string;
  staffId: string | null;
  /** The fields that would change (updates). */
  changes?: string[];
}

export interface ImportResult {
  /** True when the changes were stored (not a dry run and no errors). */
  applied: boolean;
  dryRun: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  errors: ImportError[];
  /** Header names that are not ours and were ignored. */
  ignoredColumns: string[];
  preview?: ImportPreviewRow[];
}

export interface ImportDeps {
  store: Store;
  audit: AuditLog;
  policy: CompiledPolicy;
  clock?: () => Date;
}

/** One row as read from the file; optional fields are undefined when the column is absent. */
interface ParsedRow {
  line: number;
  staffId: string | null | undefined;
  email: string;
  givenName: string;
  familyName: string;
  kind: string;
  groups: string[] | undefined;
  roles: string[] | undefined;
  startDate: string | null | undefined;
  leaveDate: string | null | undefined;
  status: PersonStatus | null | undefined; // null: empty cell, keep as is
  supervisedUse: boolean | undefined;
}

class Errors {
  readonly list: ImportError[] = [];
  more = 0;
  add(line: number, column: string | undefined, message: string) {
    if (this.list.length >= MAX_LISTED_ERRORS) {
      this.more++;
      return;
    }
    this.list.push(column ? { line, column, message } : { line, message });
  }
  get count() {
    return this.list.length + this.more;
  }
  result(): ImportError[] {
    if (this.more === 0) return this.list;
    return [
      ...this.list,
      {
        line: 0,
        message: `... and ${this.more} more errors not listed; fix the ones above first.`,
      },
    ];
  }
}

const EXCEL_HINT =
  'In Excel choose File > Save As and the type "CSV UTF-8 (Comma delimited) (*.csv)", then import that file.';

/** Offset of the first byte that is not valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= bytes.length) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

type Decoded = { ok: true; text: string } | { ok: false; error: ImportError };

/** UTF-8 with or without BOM; UTF-16 LE/BE with BOM. Anything else is refused with its line. */
export function decodeCsv(input: Buffer | string): Decoded {
  if (typeof input === 'string') {
    return { ok: true, text: input.charCodeAt(0) === 0xfeff ? input.slice(1) : input };
  }
  const utf16 =
    input.length >= 2 && input[0] === 0xff && input[1] === 0xfe
      ? 'utf-16le'
      : input.length >= 2 && input[0] === 0xfe && input[1] === 0xff
        ? 'utf-16be'
        : null;
  if (utf16) {
    try {
      const text = new TextDecoder(utf16, { fatal: true }).decode(input.subarray(2));
      return { ok: true, text };
    } catch {
      return {
        ok: false,
        error: {
          line: 0,
          message: `The file starts as UTF-16 text but is not valid UTF-16 throughout. ${EXCEL_HINT}`,
        },
      };
    }
  }
  const body =
    input.length >= 3 && input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf
      ? input.subarray(3)
      : input;
  if (isUtf8(body)) return { ok: true, text: body.toString('utf8') };
  const offset = firstInvalidUtf8(body);
  const at = Math.max(offset, 0);
  const line = lineAt(body, at);
  const byte = body[at] ?? 0;
  return {
    ok: false,
    error: {
      line,
      message: `Line ${line} is not UTF-8 text (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} at position ${at + (body === input ? 0 : 3)}); the file was probably saved in another encoding such as Windows-1252 or Latin-1. ${EXCEL_HINT}`,
    },
  };
}

const splitList = (value: string): string[] =>
  value
    .split(LIST_SEPARATOR)
    .map((v) => v.trim())
    .filter((v) => v !== '');

function formulaReason(raw: string): string | null {
  const first = raw[0];
  if (first === '\t' || first === '\r')
    return 'starts with a tab or carriage return, which spreadsheets treat as the start of a formula; spreadsheet formulas are not accepted. Remove the leading character.';
  const value = raw.trim();
  if (isFormulaLike(value))
    return `starts with "${value[0]}", which spreadsheets run as a formula (for example =HYPERLINK(...)); spreadsheet formulas are not accepted. Remove it or type the value without the leading character.`;
  if (value[0] === "'" && isFormulaLike(value.slice(1)))
    return 'is a spreadsheet formula behind an apostrophe; spreadsheet formulas are not accepted. Type the value without the leading characters.';
  return null;
}

/** Reads and checks the file; returns rows that are individually valid. */
async function parseRows(
  text: string,
  policy: CompiledPolicy,
  errors: Errors,
  options: ImportOptions,
): Promise<{
  rows: ParsedRow[];
  records: number;
  columns: Set<CsvColumn>;
  ignored: string[];
  fatal: boolean;
}> {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const rows: ParsedRow[] = [];
  const parser = parse({
    relax_column_count: true,
    // A stray quote inside an unquoted cell (=HYPERLINK("x","y") typed without quoting) is read
    // as text, so the row gets a precise reason and the rows after it are still checked.
    relax_quotes: true,
    info: true,
    skip_empty_lines: false,
    bom: false,
    max_record_size: 1_000_000,
  });
  parser.end(text);
  let header: (CsvColumn | null)[] | null = null;
  let width = 0;
  const columns = new Set<CsvColumn>();
  const ignored: string[] = [];
  let lastLine = 0;
  let records = 0;
  const total = text.length;
  const seenStaff = new Map<string, number>();
  const seenEmail = new Map<string, number>();
  const kinds = kindIds(policy).join(', ');
  const roles = roleIds(policy).join(', ');
  try {
    for await (const item of parser as AsyncIterable<{
      record: string[];
      info: { lines: number; bytes: number };
    }>) {
      const line = lastLine + 1;
      lastLine = item.info.lines;
      const cells = item.record;
      if (cells.every((c) => c.trim() === '')) continue; // blank line
      if (!header) {
        header = cells.map((h) => columnOf(h));
        width = cells.length;
        const seen = new Map<CsvColumn, string>();
        let fatal = false;
        cells.forEach((name, i) => {
          const column = header![i];
          if (!column) {
            if (name.trim() !== '') ignored.push(name.trim());
            return;
          }
          const other = seen.get(column);
          if (other !== undefined) {
            errors.add(
              line,
              column,
              `the headers "${other}" and "${name.trim()}" both mean ${column}; keep one of them`,
            );
            fatal = true;
          }
          seen.set(column, name.trim());
          columns.add(column);
        });
        const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
        if (missing.length) {
          const found = cells.map((c) => `"${c.trim()}"`).join(', ');
          const delimiterHint =
            cells.length === 1 && /[;\t]/.test(cells[0]!)
              ? ' The header looks separated by semicolons or tabs; save the file as "CSV UTF-8 (Comma delimited)".'
              : '';
          errors.add(
            line,
            undefined,
            `Required column(s) missing: ${missing.join(', ')}. Found: ${found}. The columns are ${CSV_COLUMNS.join(', ')} (${REQUIRED_COLUMNS.join(', ')} required).${delimiterHint}`,
          );
          fatal = true;
        }
        if (fatal) return { rows, records, columns, ignored, fatal: true };
        continue;
      }
      records++;
      if (records > maxRows) {
        errors.add(
          line,
          undefined,
          `The file has more than ${maxRows.toLocaleString('en-GB')} rows, the most one import takes. Split it into several files and import each.`,
        );
        return { rows, records, columns, ignored, fatal: true };
      }
      if (records % 2000 === 0)
        options.onProgress?.({ phase: 'parsing', done: Math.min(item.info.bytes, total), total });
      if (cells.length !== width) {
        errors.add(
          line,
          undefined,
          `this row has ${cells.length} values but the header has ${width}; check for a comma inside a value that is not in quotes`,
        );
        continue;
      }
      const cell: Partial<Record<CsvColumn, string>> = {};
      let bad = false;
      header.forEach((column, i) => {
        if (!column) return;
        const raw = cells[i]!;
        if (raw.length > MAX_CELL_LENGTH) {
          errors.add(
            line,
            column,
            `the value is ${raw.length} characters long; the most is ${MAX_CELL_LENGTH}`,
          );
          bad = true;
          return;
        }
        const formula = formulaReason(raw);
        if (formula) {
          errors.add(line, column, `the value ${formula}`);
          bad = true;
          return;
        }
        cell[column] = raw.trim();
      });
      if (bad) continue;
      const before = errors.count;
      const err = (column: CsvColumn, message: string) => errors.add(line, column, message);

      const email = (cell.email ?? '').toLowerCase();
      if (!email) err('email', 'the e-mail address is empty');
      else if (!isValidEmail(email)) err('email', `"${cell.email}" is not an e-mail address`);
      const givenName = cell.given_name ?? '';
      const familyName = cell.family_name ?? '';
      if (!givenName) err('given_name', 'the given name is empty');
      else if (givenName.length > MAX_NAME_LENGTH)
        err('given_name', `the given name is longer than ${MAX_NAME_LENGTH} characters`);
      if (!familyName) err('family_name', 'the family name is empty');
      else if (familyName.length > MAX_NAME_LENGTH)
        err('family_name', `the family name is longer than ${MAX_NAME_LENGTH} characters`);
      const kind = resolveKind(policy, cell.kind ?? '');
      if (!kind)
        err(
          'kind',
          cell.kind
            ? `"${cell.kind}" is not a person kind in the policy; use one of: ${kinds}`
            : `the kind is empty; use one of: ${kinds}`,
        );
      let staffId: string | null | undefined;
      if (columns.has('staff_id')) staffId = cell.staff_id || null;
      let groups: string[] | undefined;
      if (columns.has('groups')) {
        groups = splitList(cell.groups ?? '');
        for (const g of groups) {
          const problem = groupNameProblem(g);
          if (problem) err('groups', `"${g}": ${problem}`);
        }
      }
      let roleList: string[] | undefined;
      if (columns.has('roles')) {
        roleList = [];
        for (const r of splitList(cell.roles ?? '')) {
          const role = resolveRole(policy, r);
          if (role) roleList.push(role);
          else err('roles', `"${r}" is not a role in the policy; use one of: ${roles}`);
        }
        roleList = sortedUnique(roleList);
      }
      const date = (column: 'start_date' | 'leave_date'): string | null | undefined => {
        if (!columns.has(column)) return undefined;
        const value = cell[column] ?? '';
        if (!value) return null;
        const parsed = parseDate(value);
        if (!parsed)
          err(
            column,
            `"${value}" is not a date; write it as DD/MM/YYYY (for example 01/09/2024) or YYYY-MM-DD`,
          );
        return parsed;
      };
      const startDate = date('start_date');
      const leaveDate = date('leave_date');
      if (startDate && leaveDate && leaveDate < startDate)
        err(
          'leave_date',
          `the leave date ${leaveDate} is before the start date ${startDate}; check both dates`,
        );
      let status: PersonStatus | null | undefined;
      if (columns.has('status')) {
        const value = cell.status ?? '';
        status = value ? resolveStatus(value) : null;
        if (value && !status)
          err('status', `"${value}" is not a status; use one of: ${PERSON_STATUSES.join(', ')}`);
      }
      let supervisedUse: boolean | undefined;
      if (columns.has('supervised_use')) {
        const value = parseBoolean(cell.supervised_use ?? '');
        if (value === null)
          err(
            'supervised_use',
            `"${cell.supervised_use}" is not yes or no (also true/false, y/n, 1/0)`,
          );
        supervisedUse = value ?? false;
      }
      if (staffId) {
        const other = seenStaff.get(staffId);
        if (other !== undefined)
          err('staff_id', `the staff id ${staffId} is also on line ${other}; each person once`);
        else seenStaff.set(staffId, line);
      }
      if (email) {
        const other = seenEmail.get(email);
        if (other !== undefined)
          err('email', `the e-mail address ${email} is also on line ${other}; each person once`);
        else seenEmail.set(email, line);
      }
      if (errors.count !== before) continue;
      rows.push({
        line,
        staffId,
        email,
        givenName,
        familyName,
        kind: kind!,
        groups,
        roles: roleList,
        startDate,
        leaveDate,
        status,
        supervisedUse,
      });
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const at = (error as unknown as { lines?: number }).lines ?? lastLine + 1;
      errors.add(
        at,
        undefined,
        `the file cannot be read as CSV here: ${error.message.replace(/^Invalid [^:]*: /, '')}. Check the quotes on this line.`,
      );
      return { rows, records, columns, ignored, fatal: true };
    }
    throw error;
  }
  if (!header) {
    errors.add(
      1,
      undefined,
      `The file is empty. It needs a header line with the columns ${CSV_COLUMNS.join(', ')}.`,
    );
    return { rows, records, columns, ignored, fatal: true };
  }
  options.onProgress?.({ phase: 'parsing', done: total, total });
  return { rows, records, columns, ignored, fatal: false };
}

interface Plan {
  row: ParsedRow;
  existing: (NormalisedPerson & { id: string }) | null;
  after: NormalisedPerson;
  changes: Record<string, { from: unknown; to: unknown }>;
}

const describeRow = (p: { id: string; email: string; staffId?: string | null }) =>
  `${p.email}${p.staffId ? ` (staff id ${p.staffId})` : ''}`;

/** Matches rows to people and works out what would change. */
async function planRows(
  db: Kysely<Database>,
  rows: ParsedRow[],
  errors: Errors,
  options: ImportOptions,
): Promise<{ plans: Plan[]; groupNames: Map<string, repo.GroupRow | null> }> {
  const plans: Plan[] = [];
  // Group names, case-insensitive, to the stored group (or null: created on save).
  const groupNames = new Map<string, repo.GroupRow | null>();
  const fileGroups = new Map<string, string>();
  for (const row of rows)
    for (const g of row.groups ?? [])
      if (!fileGroups.has(g.toLowerCase())) fileGroups.set(g.toLowerCase(), g);
  const stored = await repo.groupsByLowerNames(db, [...fileGroups.keys()]);
  for (const [lower, spelled] of fileGroups) {
    groupNames.set(
      lower,
      stored.get(lower) ?? { id: '', name: spelled, description: '', created_at: '' },
    );
  }
  const canonical = (names: string[]) =>
    sortedUnique(names.map((n) => groupNames.get(n.toLowerCase())!.name));

  const matchedBy = new Map<string, number>(); // person id -> line
  const step = 1000;
  for (let i = 0; i < rows.length; i += step) {
    const part = rows.slice(i, i + step);
    const found = await repo.peopleByKeys(
      db,
      part.flatMap((r) => (r.staffId ? [r.staffId] : [])),
      part.map((r) => r.email),
    );
    const byStaff = new Map<string, repo.PersonRow>();
    const byEmail = new Map<string, repo.PersonRow>();
    for (const p of found) {
      if (p.staff_id) byStaff.set(p.staff_id, p);
      byEmail.set(p.email, p);
    }
    const ids = found.map((p) => p.id);
    const [groupsOf, rolesOf] = await Promise.all([
      repo.groupNamesOf(db, ids),
      repo.rolesOf(db, ids),
    ]);
    for (const row of part) {
      const match = (row.staffId ? byStaff.get(row.staffId) : undefined) ?? byEmail.get(row.email);
      const emailOwner = byEmail.get(row.email);
      if (match && emailOwner && emailOwner.id !== match.id) {
        errors.add(
          row.line,
          'email',
          `the staff id ${row.staffId} belongs to ${describeRow({ id: match.id, email: match.email, staffId: match.staff_id })} but the e-mail address ${row.email} belongs to another person, ${describeRow({ id: emailOwner.id, email: emailOwner.email, staffId: emailOwner.staff_id })}; correct one of them`,
        );
        continue;
      }
      if (match) {
        const other = matchedBy.get(match.id);
        if (other !== undefined) {
          errors.add(
            row.line,
            row.staffId && match.staff_id === row.staffId ? 'staff_id' : 'email',
            `this row and line ${other} both match the same person, ${describeRow({ id: match.id, email: match.email, staffId: match.staff_id })}; each person once`,
          );
          continue;
        }
        matchedBy.set(match.id, row.line);
      }
      const existing = match
        ? (() => {
            const p = toPerson(match, groupsOf.get(match.id) ?? [], rolesOf.get(match.id) ?? []);
            return {
              id: p.id,
              staffId: p.staffId,
              email: p.email,
              givenName: p.givenName,
              familyName: p.familyName,
              kind: p.kind,
              status: p.status,
              startDate: p.startDate,
              leaveDate: p.leaveDate,
              supervisedUse: p.supervisedUse,
              groups: p.groups,
              roles: p.roles,
            };
          })()
        : null;
      const after: NormalisedPerson = {
        // An empty staff id cell never removes a stored one.
        staffId: row.staffId ?? existing?.staffId ?? null,
        email: row.email,
        givenName: row.givenName,
        familyName: row.familyName,
        kind: row.kind,
        status: row.status ?? existing?.status ?? 'active',
        startDate: row.startDate === undefined ? (existing?.startDate ?? null) : row.startDate,
        leaveDate: row.leaveDate === undefined ? (existing?.leaveDate ?? null) : row.leaveDate,
        supervisedUse: row.supervisedUse ?? existing?.supervisedUse ?? false,
        groups: row.groups === undefined ? (existing?.groups ?? []) : canonical(row.groups),
        roles: row.roles ?? existing?.roles ?? [],
      };
      if (after.startDate && after.leaveDate && after.leaveDate < after.startDate) {
        errors.add(
          row.line,
          'leave_date',
          `the leave date ${after.leaveDate} would be before the stored start date ${after.startDate}; give both dates`,
        );
        continue;
      }
      const changes = existing ? changesBetween(existing, after) : {};
      plans.push({ row, existing, after, changes });
    }
    options.onProgress?.({
      phase: 'checking',
      done: Math.min(i + step, rows.length),
      total: rows.length,
    });
  }
  return { plans, groupNames };
}

async function savePlans(
  db: Transaction<Database>,
  deps: ImportDeps,
  plans: Plan[],
  groupNames: Map<string, repo.GroupRow | null>,
  options: ImportOptions,
  summary: Record<string, unknown>,
): Promise<void> {
  const at = (deps.clock ?? (() => new Date()))().toISOString();
  const { actor } = options;
  const entries: AuditInput[] = [];
  const toSave = plans.filter((p) => !p.existing || Object.keys(p.changes).length > 0);
  const total = toSave.length;
  let done = 0;
  const progress = () => options.onProgress?.({ phase: 'saving', done, total });

  // Groups named in the file that do not exist yet.
  const newGroups: repo.GroupRow[] = [];
  const used = new Set<string>();
  for (const p of toSave) for (const g of p.after.groups) used.add(g.toLowerCase());
  for (const lower of used) {
    const g = groupNames.get(lower);
    if (g && g.id === '') {
      g.id = newId();
      g.created_at = at;
      newGroups.push(g);
    }
  }
  await repo.insertGroups(db, newGroups);
  for (const g of newGroups)
    entries.push({
      actor,
      action: 'group.created',
      target: { type: 'group', id: g.id },
      details: { name: g.name, source: 'import' },
    });
  const groupId = (name: string) => groupNames.get(name.toLowerCase())?.id;
  // Groups a person already belongs to that the file does not name: look them up by name.
  const missingNames = new Set<string>();
  for (const p of toSave)
    for (const g of p.existing?.groups ?? []) if (!groupId(g)) missingNames.add(g.toLowerCase());
  for (const [lower, row] of await repo.groupsByLowerNames(db, [...missingNames]))
    groupNames.set(lower, row);

  const creates = toSave.filter((p) => !p.existing);
  const ids = new Map<Plan, string>();
  const peopleRows = creates.map((p) => {
    const id = newId();
    ids.set(p, id);
    return { id, ...personColumns(p.after), created_at: at, updated_at: at };
  });
  const memberships: { person_id: string; group_id: string }[] = [];
  const roles: { person_id: string; role: string }[] = [];
  for (const part of repo.chunks(peopleRows, 1000)) {
    await repo.insertPeople(db, part);
    done += part.length;
    progress();
  }
  for (const p of creates) {
    const id = ids.get(p)!;
    for (const g of p.after.groups) memberships.push({ person_id: id, group_id: groupId(g)! });
    for (const role of p.after.roles) roles.push({ person_id: id, role });
    entries.push({
      actor,
      action: 'person.created',
      target: { type: 'person', id },
      clauseIds: clausesFor(p.after, 'created'),
      details: { ...p.after, source: 'import', line: p.row.line },
    });
  }
  await repo.addMemberships(db, memberships);
  await repo.addRoles(db, roles);

  // Updates change e-mail addresses and staff ids one by one; a file that swaps two people's
  // addresses is refused earlier, so the unique indexes cannot trip part-way.
  for (const p of toSave) {
    if (!p.existing) continue;
    const id = p.existing.id;
    await repo.updatePerson(db, id, { ...personColumns(p.after), updated_at: at });
    if ('groups' in p.changes) {
      const before = new Set(p.existing.groups.map((g) => groupId(g)!));
      const after = new Set(p.after.groups.map((g) => groupId(g)!));
      await repo.removeMemberships(
        db,
        id,
        [...before].filter((g) => !after.has(g)),
      );
      await repo.addMemberships(
        db,
        [...after].filter((g) => !before.has(g)).map((group_id) => ({ person_id: id, group_id })),
      );
    }
    if ('roles' in p.changes) {
      await repo.removeRoles(
        db,
        id,
        p.existing.roles.filter((r) => !p.after.roles.includes(r)),
      );
      await repo.addRoles(
        db,
        p.after.roles
          .filter((r) => !p.existing!.roles.includes(r))
          .map((role) => ({ person_id: id, role })),
      );
    }
    entries.push({
      actor,
      action: 'person.updated',
      target: { type: 'person', id },
      clauseIds: clausesFor(p.after, p.changes),
      details: { email: p.after.email, changes: p.changes, source: 'import', line: p.row.line },
    });
    done++;
    if (done % 1000 === 0) progress();
  }
  entries.push({
    actor,
    action: 'people.imported',
    clauseIds: ['SCP-1'],
    details: summary,
  });
  await deps.audit.appendMany(entries, db);
  progress();
}

/**
 * Imports people from CSV text or bytes. Never throws for anything in the file: every problem is
 * an entry in `errors`, and when there is one nothing is stored.
 */
export async function importPeople(
  deps: ImportDeps,
  input: Buffer | string,
  options: ImportOptions,
): Promise<ImportResult> {
  const dryRun = options.dryRun ?? false;
  const errors = new Errors();
  const result = (
    counts: { created: number; updated: number; unchanged: number; rows: number },
    extra: Partial<ImportResult> = {},
  ): ImportResult => ({
    applied: false,
    dryRun,
    ...counts,
    errors: errors.result(),
    ignoredColumns: [],
    ...extra,
  });
  const zero = { created: 0, updated: 0, unchanged: 0, rows: 0 };
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) {
    errors.add(
      0,
      undefined,
      `The file is ${(size / 1048576).toFixed(1)} MiB, more than the ${(maxBytes / 1048576).toFixed(0)} MiB one import takes. Split it into several files and import each.`,
    );
    return result(zero);
  }
  const decoded = decodeCsv(input);
  if (!decoded.ok) {
    errors.add(decoded.error.line, undefined, decoded.error.message);
    return result(zero);
  }
  const parsed = await parseRows(decoded.text, deps.policy, errors, options);
  const ignoredColumns = parsed.ignored;
  if (parsed.fatal) return result(zero, { ignoredColumns });

  const run = async (
    db: Kysely<Database>,
    trx: Transaction<Database> | null,
  ): Promise<ImportResult> => {
    const { plans, groupNames } = await planRows(db, parsed.rows, errors, options);
    let created = 0;
    let updated = 0;
    let unchanged = 0;
    for (const p of plans) {
      if (!p.existing) created++;
      else if (Object.keys(p.changes).length) updated++;
      else unchanged++;
    }
    const counts = { created, updated, unchanged, rows: parsed.records };
    // With errors, the counts describe the good rows only, and nothing is stored.
    if (errors.count > 0) return result(counts, { ignoredColumns });
    if (dryRun) {
      const limit = options.previewLimit ?? DEFAULT_PREVIEW_LIMIT;
      const preview: ImportPreviewRow[] = [];
      for (const p of plans) {
        if (preview.length >= limit) break;
        if (!p.existing)
          preview.push({
            line: p.row.line,
            action: 'create',
            email: p.after.email,
            staffId: p.after.staffId,
          });
        else if (Object.keys(p.changes).length)
          preview.push({
            line: p.row.line,
            action: 'update',
            email: p.after.email,
            staffId: p.after.staffId,
            changes: Object.keys(p.changes),
          });
      }
      return result(counts, { ignoredColumns, preview });
    }
    if (trx && created + updated > 0) {
      await savePlans(trx, deps, plans, groupNames, options, {
        rows: parsed.rows.length,
        created,
        updated,
        unchanged,
      });
    }
    return result(counts, { ignoredColumns, applied: true });
  };

  if (dryRun) return run(deps.store.db, null);
  return deps.store.db.transaction().execute((trx) => run(trx, trx));
}
