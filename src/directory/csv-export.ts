// Writes the directory as CSV in the import's columns, so that an export re-imports unchanged.
// Values a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection).
// People are read in pages by id and streamed, so memory stays flat for any directory size.
import { once } from 'node:events';
import { stringify } from 'csv-stringify';
import type { Store } from '../store/database.ts';
import { CSV_COLUMNS, LIST_SEPARATOR } from './csv-format.ts';
import * as repo from './repository.ts';
import { isFormulaLike } from './rules.ts';

export interface ExportOptions {
  pageSize?: number;
}

export const neutralise = (value: string): string => (isFormulaLike(value) ? `'${value}` : value);

export async function exportPeople(
  store: Store,
  out: NodeJS.WritableStream,
  options: ExportOptions = {},
): Promise<{ rows: number }> {
  const pageSize = options.pageSize ?? 2000;
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], eof: true });
  csv.pipe(out as NodeJS.WritableStream & { end(): void }, { end: false });
  let rows = 0;
  let after = '';
  for (;;) {
    const page = await store.db
      .selectFrom('people')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(pageSize)
      .execute();
    if (page.length === 0) break;
    const ids = page.map((p) => p.id);
    const [groups, roles] = await Promise.all([
      repo.groupNamesOf(store.db, ids),
      repo.rolesOf(store.db, ids),
    ]);
    for (const p of page) {
      const record = {
        staff_id: neutralise(p.staff_id ?? ''),
        email: neutralise(p.email),
        given_name: neutralise(p.given_name),
        family_name: neutralise(p.family_name),
        kind: neutralise(p.kind),
        groups: neutralise((groups.get(p.id) ?? []).join(LIST_SEPARATOR)),
        roles: neutralise((roles.get(p.id) ?? []).join(LIST_SEPARATOR)),
        start_date: p.start_date ?? '',
        leave_date: p.leave_date ?? '',
        status: p.status,
        supervised_use: p.supervised_use ? 'yes' : 'no',
      };
      if (!csv.write(record)) await once(csv, 'drain');
      rows++;
    }
    after = page[page.length - 1]!.id;
    if (page.length < pageSize) break;
  }
  csv.end();
  await once(csv, 'end');
  return { rows };
}

/** The whole export as one string (tests, small directories). */
export async function exportPeopleToString(store: Store): Promise<string> {
  const { PassThrough } = await import('node:stream');
  const sink = new PassThrough();
  const parts: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => parts.push(chunk));
  await exportPeople(store, sink);
  sink.end();
  return Buffer.concat(parts).toString('utf8');
}
