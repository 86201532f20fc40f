// `custos lists update [--from URL|FILE]` and `custos lists status`: keep the category lists
// current from a terminal. Progress goes to stderr (redrawn on a terminal, a line per phase
// otherwise); running gateways pick the new lists up from the kv row they poll. Also
// `custos import squid-log|e2guardian-log FILE`: a current filter's history into the records.
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Actor } from '../../audit/service.ts';
import { createOverlay, loadCategories } from '../../webfilter/categories/index.ts';
import {
  ListUpdateError,
  listsInForce,
  type UpdateProgress,
  updateLists,
} from '../../webfilter/lists.service.ts';
import { importLogFile, type LogFormat } from '../../webfilter/log-import.ts';
import { loadSchoolLists, loadSubjectRows } from '../../webfilter/subjects.repository.ts';
import { buildSubjectSnapshot, packGroupIndex } from '../../webfilter/subjects.ts';
import { EXIT, openRuntime } from '../runtime.ts';
import { runtimeOptions } from './system.ts';

export const cliActor = (): Actor => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return { id: null, label: `cli:${user}` };
};

const MIB = 1024 * 1024;

/** Progress of an update as text: bytes while downloading, categories or bytes while checking. */
export function updateProgressReporter(out: { isTTY?: boolean; write(s: string): unknown }) {
  const tty = Boolean(out.isTTY);
  let lastPhase: string | null = null;
  let lastLine = 0;
  return {
    update(p: UpdateProgress | { phase: string; done: number; total: number }) {
      const changed = p.phase !== lastPhase;
      if (changed && tty && lastPhase) out.write('\n');
      lastPhase = p.phase;
      const amount =
        p.phase === 'downloading'
          ? `${(p.done / MIB).toFixed(1)} MiB${p.total ? ` of ${(p.total / MIB).toFixed(1)} MiB` : ''}`
          : p.total
            ? `${Math.floor((Math.min(p.done, p.total) / p.total) * 100)}%`
            : '';
      const text = `${p.phase} ${amount}`.trimEnd();
      if (tty) {
        out.write(`\r${text.padEnd(40)}`);
        return;
      }
      const now = Date.now();
      if (changed || now - lastLine > 5000) {
        lastLine = now;
        out.write(`${text}\n`);
      }
    },
    done() {
      if (tty && lastPhase) out.write('\n');
    },
  };
}

export function registerListCommands(program: Command): void {
  registerLogImportCommands(program);
  const lists = program.command('lists').description('The web filter category lists.');
  lists
    .command('update')
    .description(
      'Download the UT1 lists (webfilter.listsUrl) or take a tarball, check them and install them; running gateways switch to them without stopping.',
    )
    .option(
      '--from <url-or-file>',
      'an http(s) address or a .tar.gz file (default: webfilter.listsUrl)',
    )
    .option(
      '--file <path>',
      'a .tar.gz file already downloaded (for schools without internet access)',
    )
    .action(async (opts: { from?: string; file?: string }) => {
      if (opts.from && opts.file) {
        console.error('Give --from or --file, not both.');
        process.exitCode = EXIT.usage;
        return;
      }
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const given = opts.file ?? opts.from ?? runtime.config.webfilter.listsUrl;
        const from = /^https?:\/\//i.test(given) && !opts.file ? { url: given } : { file: given };
        const progress = updateProgressReporter(process.stderr);
        try {
          const result = await updateLists(
            {
              config: runtime.config,
              store: runtime.store,
              audit: runtime.audit,
              policy: runtime.policy.current(),
              clock: runtime.clock,
            },
            from,
            { actor: cliActor(), onProgress: (p) => progress.update(p) },
          );
          progress.done();
          const { installed } = result;
          console.log(
            `Installed ${installed.categories.length} categories (${installed.names.toLocaleString('en-GB')} names) from ${installed.source}`,
          );
          console.log(`  ${installed.path}  sha256 ${installed.sha256}`);
          console.log('Running gateways switch to them within a few seconds.');
        } catch (error) {
          progress.done();
          if (error instanceof ListUpdateError) {
            console.error(error.message);
            process.exitCode = EXIT.failure;
            return;
          }
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            console.error(`Cannot read ${given}: no such file.`);
            process.exitCode = EXIT.usage;
            return;
          }
          throw error;
        }
      } finally {
        await runtime.close();
      }
    });

  lists
    .command('status')
    .description('Which category lists are in force: installed ones or the configured folder.')
    .action(async () => {
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const { path, installed } = await listsInForce(runtime.config, runtime.store);
        if (!installed) {
          console.log(`In force: ${path} (webfilter.lists; no update installed yet)`);
          return;
        }
        console.log(`In force: ${installed.path}`);
        console.log(`  from ${installed.source} at ${installed.at}`);
        console.log(`  sha256 ${installed.sha256}`);
        console.log(
          `  ${installed.categories.length} categories, ${installed.names.toLocaleString('en-GB')} names`,
        );
      } finally {
        await runtime.close();
      }
    });
}

function parentCommand(program: Command, name: string, description: string): Command {
  return (
    program.commands.find((c) => c.name() === name) ??
    program.command(name).description(description)
  );
}

async function importLog(program: Command, file: string, format: LogFormat): Promise<void> {
  try {
    statSync(file);
  } catch (error) {
    console.error(`Cannot read ${file}: ${(error as Error).message}`);
    process.exitCode = EXIT.usage;
    return;
  }
  const runtime = await openRuntime(runtimeOptions(program));
  try {
    const progress = updateProgressReporter(process.stderr);
    const inForce = await listsInForce(runtime.config, runtime.store);
    const { index } = await loadCategories(inForce.path, {
      onProgress: (p) =>
        progress.update({
          phase: 'loading lists',
          done: p.phase === 'reading' ? p.done : p.total,
          total: p.total,
        }),
    });
    const policy = runtime.policy.current();
    const [rows, school] = await Promise.all([
      loadSubjectRows(runtime.store, packGroupIndex(policy.groups)),
      loadSchoolLists(runtime.store),
    ]);
    const overlay = createOverlay(index, school);
    const result = await importLogFile(
      {
        store: runtime.store,
        audit: runtime.audit,
        subjects: buildSubjectSnapshot(rows),
        categoriesOf: (host, path) =>
          (path === null ? overlay.classify(host) : overlay.classifyUrl(host, path)).categories,
      },
      file,
      format,
      {
        actor: cliActor(),
        onProgress: (p) => progress.update({ phase: 'importing', ...p }),
      },
    );
    progress.done();
    for (const p of result.problems) console.error(`${file}:${p.line}: ${p.reason}: ${p.text}`);
    if (result.skipped > result.problems.length) {
      console.error(`... and ${result.skipped - result.problems.length} more lines skipped.`);
    }
    const n = (v: number) => v.toLocaleString('en-GB');
    console.log(
      `Imported ${n(result.imported)} records from ${n(result.lines)} lines (${n(result.alreadyThere)} already imported, ${n(result.skipped)} skipped, ${n(result.identified)} matched to a person).`,
    );
    if (result.imported + result.alreadyThere === 0 && result.skipped > 0) {
      process.exitCode = EXIT.failure;
    }
  } finally {
    await runtime.close();
  }
}

export function registerLogImportCommands(program: Command): void {
  const imports = parentCommand(program, 'import', 'Import data from files (see docs/cli.md).');
  imports
    .command('squid-log')
    .description(
      'Import a Squid access.log (native format) into the web activity records; lines that do not parse are skipped and listed. Importing the same file again adds nothing.',
    )
    .argument('<file>', 'access.log')
    .action((file: string) => importLog(program, file, 'squid'));
  imports
    .command('e2guardian-log')
    .description(
      'Import an e2guardian access.log (log format 1 or 3) into the web activity records; lines that do not parse are skipped and listed. Importing the same file again adds nothing.',
    )
    .argument('<file>', 'access.log')
    .action((file: string) => importLog(program, file, 'e2guardian'));
}
