// What `custos import people` prints: FILE:LINE: column: reason for every bad row, the summary,
// and progress as a line per 10% when stderr is not a terminal.
import { describe, expect, it } from 'vitest';
import { formatImportError, progressReporter, summaryLine } from './people.ts';

describe('custos import people output', () => {
  it('prints each bad row as FILE:LINE: column: reason, and file-wide problems without a line', () => {
    expect(formatImportError('staff.csv', { line: 12, column: 'email', message: 'bad' })).toBe(
      'staff.csv:12: email: bad',
    );
    expect(formatImportError('staff.csv', { line: 3, message: 'too many values' })).toBe(
      'staff.csv:3: too many values',
    );
    expect(formatImportError('staff.csv', { line: 0, message: 'too big' })).toBe(
      'staff.csv: too big',
    );
  });

  it('summarises as "Imported: N created, N updated, N unchanged"', () => {
    const base = { applied: true, dryRun: false, rows: 4123, errors: [], ignoredColumns: [] };
    expect(summaryLine({ ...base, created: 120, updated: 3, unchanged: 4000 })).toBe(
      'Imported: 120 created, 3 updated, 4,000 unchanged',
    );
    expect(summaryLine({ ...base, dryRun: true, created: 1, updated: 0, unchanged: 2 })).toMatch(
      /^Dry run, nothing stored/,
    );
  });

  it('writes a progress line every 10% per phase when not on a terminal, and a bar on one', () => {
    const lines: string[] = [];
    const reporter = progressReporter({ isTTY: false, write: (s: string) => lines.push(s) });
    for (let done = 0; done <= 1000; done += 7)
      reporter.update({ phase: 'saving', done, total: 1000 });
    reporter.update({ phase: 'saving', done: 1000, total: 1000 });
    expect(lines).toEqual(Array.from({ length: 11 }, (_, i) => `saving: ${i * 10}%\n`));
    const tty: string[] = [];
    const bar = progressReporter({ isTTY: true, write: (s: string) => tty.push(s) });
    bar.update({ phase: 'checking', done: 50, total: 100 });
    expect(tty[0]).toMatch(/^\rchecking \[#{15}\.{15}\] {2}50%$/);
  });
});
