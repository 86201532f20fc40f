// `custos import people FILE` and `custos export people [FILE]`: the directory's CSV from a
// terminal. Progress goes to stderr (a bar on a terminal, a line every 10% otherwise); bad rows
// are printed as FILE:LINE: column: reason, one per line, so editors can jump to them.
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Actor } from '../../audit/service.ts';
import {
  DEFAULT_MAX_BYTES,
  type ImportError,
  type ImportPhase,
  type ImportResult,
} from '../../directory/csv-import.ts';
import { createDirectoryService } from '../../directory/service.ts';
import { EXIT, openRuntime } from '../runtime.ts';
import { runtimeOptions } from './system.ts';

const cliActor = (): Actor => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return { id: null, label: `cli:${user}` };
};

export function formatImportError(file: string, error: ImportError): string {
  if (error.line <= 0) return `${file}: ${error.message}`;
  return `${file}:${error.line}: ${error.column ? `${error.column}: ` : ''}${error.message}`;
}

export function summaryLine(result: ImportResult): string {
  const n = (v: number) => v.toLocaleString('en-GB');
  if (result.dryRun)
    return `Dry run, nothing stored: would create ${n(result.created)}, update ${n(result.updated)}; ${n(result.unchanged)} unchanged`;
  return `Imported: ${n(result.created)} created, ${n(result.updated)} updated, ${n(result.unchanged)} unchanged`;
}

/** A progress reporter writing to a stream: a redrawn bar on a TTY, else a line per 10%. */
export function progressReporter(
  out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown },
) {
  const tty = Boolean(out.isTTY);
  let lastPhase: ImportPhase | null = null;
  let lastTenth = -1;
  return {
    update(p: { phase: ImportPhase; done: number; total: number }) {
      const fraction = p.total > 0 ? Math.min(p.done / p.total, 1) : 1;
      if (p.phase !== lastPhase) {
        if (tty && lastPhase) out.write('\n');
        lastPhase = p.phase;
        lastTenth = -1;
      }
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        out.write(
          `\r${p.phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`,
        );
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        out.write(`${p.phase}: ${tenth * 10}%\n`);
      }
    },
    done() {
      if (tty && lastPhase) out.write('\n');
    },
  };
}

function parentCommand(program: Command, name: string, description: string): Command {
  return (
    program.commands.find((c) => c.name() === name) ??
    program.command(name).description(description)
  );
}

export function registerPeopleCommands(program: Command): void {
  parentCommand(program, 'import', 'Import data from files (see docs/cli.md).')
    .command('people')
    .description(
      'Import people from a CSV file (see docs/directory.md). All or nothing: any bad row stops the import and every bad row is listed.',
    )
    .argument('<file>', 'CSV file (UTF-8, or UTF-16 with a BOM)')
    .option('--dry-run', 'check the file and show what would change, storing nothing')
    .action(async (file: string, opts: { dryRun?: boolean }) => {
      let size: number;
      try {
        size = statSync(file).size;
      } catch (error) {
        console.error(`Cannot read ${file}: ${(error as Error).message}`);
        process.exitCode = EXIT.usage;
        return;
      }
      if (size > DEFAULT_MAX_BYTES) {
        console.error(
          `${file}: the file is ${(size / 1048576).toFixed(1)} MiB, more than the ${DEFAULT_MAX_BYTES / 1048576} MiB one import takes. Split it into several files and import each.`,
        );
        process.exitCode = EXIT.failure;
        return;
      }
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const directory = createDirectoryService(runtime);
        const progress = progressReporter(process.stderr);
        const result = await directory.importPeople(readFileSync(file), {
          actor: cliActor(),
          dryRun: opts.dryRun ?? false,
          onProgress: (p) => progress.update(p),
        });
        progress.done();
        for (const error of result.errors) console.error(formatImportError(file, error));
        if (result.errors.length > 0) {
          console.error(
            `Nothing was imported: ${result.errors.length} problem(s) in ${file}. Fix them and run the import again.`,
          );
          process.exitCode = EXIT.failure;
          return;
        }
        if (result.ignoredColumns.length)
          console.error(`Ignored columns: ${result.ignoredColumns.join(', ')}`);
        if (result.dryRun) {
          for (const p of result.preview ?? []) {
            console.log(
              `${file}:${p.line}: ${p.action} ${p.email}${p.changes ? ` (${p.changes.join(', ')})` : ''}`,
            );
          }
        }
        console.log(summaryLine(result));
      } finally {
        await runtime.close();
      }
    });

  parentCommand(program, 'export', 'Export data to files (see docs/cli.md).')
    .command('people')
    .description(
      'Export every person as CSV in the columns the import reads (stdout when no FILE).',
    )
    .argument('[file]', 'where to write the CSV')
    .action(async (file: string | undefined) => {
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const directory = createDirectoryService(runtime);
        await runtime.audit.append({
          actor: cliActor(),
          action: 'people.exported',
          details: { people: await directory.countPeople(), to: file ?? 'stdout' },
        });
        if (file) {
          const out = createWriteStream(file);
          const { rows } = await directory.exportPeople(out);
          out.end();
          await finished(out);
          console.error(`Exported ${rows.toLocaleString('en-GB')} people to ${file}`);
        } else {
          await directory.exportPeople(process.stdout);
        }
      } finally {
        await runtime.close();
      }
    });
}
