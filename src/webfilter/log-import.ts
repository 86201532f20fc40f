// Import of the logs of a school's current filter into web_activity (source 'import'), so that
// reports and monitoring cases cover the time before Custos, or a school that keeps its filter.
// The parsers are pure: one line in, one record or one reason out. The writer streams the file,
// looks each site up in the lists in force, finds the person by the log's user name (their
// directory e-mail) or the device by address, and inserts rows whose id is a hash of the file
// name, line number and line, so importing the same file twice adds nothing.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Insertable } from 'kysely';
import type { Actor, AuditLog } from '../audit/service.ts';
import { toJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import type { WebActivityTable } from '../store/schema.ts';
import { searchTermsOf } from './activity.ts';
import { normaliseHost } from './categories/index.ts';
import type { SubjectSnapshot } from './subjects.ts';

export type LogFormat = 'squid' | 'e2guardian';

/** Importing history is recording internet use (WEB-6) where monitoring applies (WEB-7). */
export const LOG_IMPORT_CLAUSES = ['WEB-6', 'WEB-7'] as const;
/** Lines longer than this are skipped: no log line of either filter comes near it. */
export const MAX_LOG_LINE = 65_536;
/** Skipped lines kept with their text for the report (all are counted). */
export const MAX_REPORTED = 20;

export interface LogRecord {
  at: Date;
  clientIp: string;
  /** The ident / user column; null for "-". */
  user: string | null;
  method: string | null;
  host: string;
  /** Path and query for plain HTTP; null for CONNECT (HTTPS) where the filter saw no path. */
  path: string | null;
  status: number | null;
  bytes: number;
  durationMs: number;
  denied: boolean;
}

export type ParsedLine = { ok: true; record: LogRecord } | { ok: false; reason: string };

const METHODS = new Set([
  'GET',
  'POST',
  'HEAD',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  'PROPFIND',
  'ICP_QUERY',
  'NONE',
]);

const fail = (reason: string): ParsedLine => ({ ok: false, reason });

/** The host and path of a logged URL: `http://host:port/path?q`, or `host:443` for CONNECT. */
export function splitLoggedUrl(
  url: string,
  method: string | null,
): { host: string; path: string | null } | null {
  let rest = url;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  let cut = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '/' || c === '?' || c === '#') {
      cut = i;
      break;
    }
  }
  let authority = rest.slice(0, cut);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let hostText = authority;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return null;
    hostText = authority.slice(0, end + 1);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0 && authority.indexOf(':') === colon) {
      if (!/^\d{1,5}$/.test(authority.slice(colon + 1))) return null;
      hostText = authority.slice(0, colon);
    }
  }
  const n = normaliseHost(hostText);
  if (!n.ok) return null;
  const https = method === 'CONNECT' || scheme?.[1]?.toLowerCase() === 'https';
  if (https) return { host: n.host, path: null };
  const tail = rest.slice(cut).replace(/#.*$/, '');
  return { host: n.host, path: tail === '' ? '/' : tail.startsWith('/') ? tail : `/${tail}` };
}

const nonNegativeInt = (text: string | undefined): number | null =>
  text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : null;

const userOf = (text: string | undefined): string | null => {
  if (!text || text === '-') return null;
  try {
    return decodeURIComponent(text).slice(0, 254);
  } catch {
    return text.slice(0, 254);
  }
};

/**
 * Squid's native access.log, and e2guardian's log format 3 (the same layout):
 * `time elapsed client action/code size method URL ident hierarchy/from content-type`.
 */
export function parseSquidLine(line: string): ParsedLine {
  const f = line.trim().split(/\s+/);
  if (f.length < 7) return fail('too few fields for the Squid native format');
  const [time, elapsed, client, actionCode, size, method, url, ident] = f;
  if (!/^\d{9,11}(\.\d{1,6})?$/.test(time!)) return fail('the first field is not a Unix time');
  const at = new Date(Number(time) * 1000);
  if (Number.isNaN(at.getTime())) return fail('the time is out of range');
  const duration = nonNegativeInt(elapsed);
  if (duration === null) return fail('the elapsed time is not a number');
  const ip = normaliseHost(client!);
  if (!ip.ok) return fail('the client address is not an address');
  const ac = /^([A-Z_]+)\/(\d{1,3})$/.exec(actionCode!);
  if (!ac) return fail('the action/code field is not like TCP_MISS/200');
  const bytes = nonNegativeInt(size);
  if (bytes === null) return fail('the size is not a number');
  const verb = method!.toUpperCase();
  if (!METHODS.has(verb)) return fail(`"${method!.slice(0, 20)}" is not a request method`);
  const target = splitLoggedUrl(url!, verb);
  if (!target) return fail('the URL has no usable host');
  const code = Number(ac[2]);
  return {
    ok: true,
    record: {
      at,
      clientIp: ip.host,
      user: userOf(ident),
      method: verb,
      host: target.host,
      path: target.path,
      status: code === 0 ? null : code,
      bytes,
      durationMs: duration,
      denied: ac[1]!.includes('DENIED'),
    },
  };
}

/**
 * e2guardian's log format 1 (the DansGuardian format), fields separated by spaces or tabs:
 * `date time user ip url [*DENIED* reason] method size naughtiness ...`, date as 2024.1.31 and
 * time local. The reason may hold spaces, so the method is found after the URL.
 */
export function parseDansGuardianLine(line: string): ParsedLine {
  const f = line.trim().split(/[ \t]+/);
  if (f.length < 7) return fail('too few fields for the e2guardian format');
  const [date, time, user, client, url] = f;
  const d = /^(\d{4})[.-](\d{1,2})[.-](\d{1,2})$/.exec(date!);
  const t = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(time!);
  if (!d || !t) return fail('the line does not start with a date and time');
  const at = new Date(
    Number(d[1]),
    Number(d[2]) - 1,
    Number(d[3]),
    Number(t[1]),
    Number(t[2]),
    Number(t[3]),
  );
  if (Number.isNaN(at.getTime()) || at.getMonth() !== Number(d[2]) - 1)
    return fail('the date is not a real date');
  const ip = normaliseHost(client!);
  if (!ip.ok) return fail('the client address is not an address');
  let m = 5;
  while (m < f.length - 1 && !(METHODS.has(f[m]!) && nonNegativeInt(f[m + 1]) !== null)) m++;
  if (m >= f.length - 1) return fail('no request method and size after the URL');
  const verb = f[m]!;
  const reason = f.slice(5, m).join(' ');
  const target = splitLoggedUrl(url!, verb);
  if (!target) return fail('the URL has no usable host');
  // After method and size: naughtiness, category, filter group, code, MIME type ...
  const code = f.slice(m + 2).find((x) => /^[1-5]\d\d$/.test(x));
  return {
    ok: true,
    record: {
      at,
      clientIp: ip.host,
      user: userOf(user),
      method: verb,
      host: target.host,
      path: target.path,
      status: code ? Number(code) : null,
      bytes: nonNegativeInt(f[m + 1]) ?? 0,
      durationMs: 0,
      denied: reason.includes('*DENIED*'),
    },
  };
}

/** A line of either filter's log: e2guardian's files may be in format 1 or in format 3. */
export function parseLogLine(format: LogFormat, line: string): ParsedLine {
  if (line.length > MAX_LOG_LINE) return fail(`longer than ${MAX_LOG_LINE} characters`);
  if (format === 'squid') return parseSquidLine(line);
  return /^\d{9,11}(\.\d+)?\s/.test(line.trimStart())
    ? parseSquidLine(line)
    : parseDansGuardianLine(line);
}

/** The row id of one log line: re-importing a file finds the same ids. */
export function lineId(fileName: string, lineNumber: number, line: string): string {
  return createHash('sha256')
    .update(`${fileName}\n${lineNumber}\n${line}`)
    .digest('hex')
    .slice(0, 32);
}

export interface ImportProgress {
  done: number;
  total: number;
}

export interface LogImportResult {
  lines: number;
  imported: number;
  alreadyThere: number;
  skipped: number;
  /** The first MAX_REPORTED skipped lines. */
  problems: { line: number; reason: string; text: string }[];
  identified: number;
}

export interface LogImportDeps {
  store: Store;
  audit: AuditLog;
  subjects: SubjectSnapshot;
  /** The site's categories in the lists in force. */
  categoriesOf(host: string, path: string | null): readonly string[];
}

export function toActivityRow(
  id: string,
  record: LogRecord,
  deps: Pick<LogImportDeps, 'subjects' | 'categoriesOf'>,
): Insertable<WebActivityTable> {
  const person = record.user
    ? (deps.subjects.peopleByEmail.get(record.user.toLowerCase()) ?? null)
    : null;
  const device = deps.subjects.devicesByIp.get(record.clientIp) ?? null;
  return {
    id,
    at: record.at.toISOString(),
    source: 'import',
    person_id: person?.id ?? device?.personId ?? null,
    device_id: device?.id ?? null,
    client_ip: record.clientIp,
    method: record.method,
    host: record.host,
    path: record.path ? record.path.slice(0, 2000) : null,
    categories: toJson(deps.categoriesOf(record.host, record.path)),
    decision: record.denied ? 'block' : 'allow',
    reason: 'imported',
    clause_ids: toJson([]),
    status: record.status,
    bytes: record.bytes,
    duration_ms: record.durationMs,
    search_terms: searchTermsOf(record.host, record.path),
    hits: 1, // one log line, one request
    last_at: null,
  };
}

const BATCH = 500;

/** Streams `file` into web_activity; skipped lines are counted, never fatal. */
export async function importLogFile(
  deps: LogImportDeps,
  file: string,
  format: LogFormat,
  options: { actor: Actor; onProgress?: (p: ImportProgress) => void },
): Promise<LogImportResult> {
  const total = (await stat(file)).size;
  const name = path.basename(file);
  const result: LogImportResult = {
    lines: 0,
    imported: 0,
    alreadyThere: 0,
    skipped: 0,
    problems: [],
    identified: 0,
  };
  let batch: Insertable<WebActivityTable>[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const res = await deps.store.db
      .insertInto('web_activity')
      .values(rows)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    const inserted = Number(res.numInsertedOrUpdatedRows ?? 0);
    result.imported += inserted;
    result.alreadyThere += rows.length - inserted;
  };
  let done = 0;
  let lastReport = 0;
  const lines = createInterface({
    input: createReadStream(file, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    result.lines++;
    done += Buffer.byteLength(line) + 1;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const parsed = parseLogLine(format, line);
    if (!parsed.ok) {
      result.skipped++;
      if (result.problems.length < MAX_REPORTED) {
        result.problems.push({
          line: result.lines,
          reason: parsed.reason,
          text: line.slice(0, 200),
        });
      }
      continue;
    }
    const row = toActivityRow(lineId(name, result.lines, line), parsed.record, deps);
    if (row.person_id) result.identified++;
    batch.push(row);
    if (batch.length >= BATCH) {
      await flush();
      if (done - lastReport > total / 100) {
        lastReport = done;
        options.onProgress?.({ done: Math.min(done, total), total });
      }
    }
  }
  await flush();
  options.onProgress?.({ done: total, total });
  await deps.audit.append({
    actor: options.actor,
    action: 'webfilter.log-imported',
    clauseIds: LOG_IMPORT_CLAUSES,
    details: {
      file: name,
      format,
      lines: result.lines,
      imported: result.imported,
      alreadyThere: result.alreadyThere,
      skipped: result.skipped,
    },
  });
  return result;
}
