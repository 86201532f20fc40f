// `custos policy check DIR` validates a pack and names the file, line, column and key of every
// problem; `custos policy show [DIR]` prints the document record and its version history.
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.ts';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import { formatPackError, loadPolicyPack } from '../../policy/loader.ts';
import { EXIT } from '../runtime.ts';

/** Where the commands write; tests pass their own to capture output and the exit code. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

const trimSlash = (dir: string) => (dir.length > 1 ? dir.replace(/[/\\]+$/, '') : dir);

export function summarise(policy: CompiledPolicy) {
  return {
    name: policy.name,
    clauses: policy.clauses.size,
    roles: policy.roles.size,
    requestTypes: policy.approvals.size,
    webCategories: policy.web.categories.size,
    mailRules: policy.mail.rules.length,
  };
}

export function registerPolicyCommands(program: Command, io: CommandIo = processIo): void {
  const policy = program.command('policy').description('Check and show policy packs.');

  policy
    .command('check')
    .description(
      'Validate a policy pack folder. Prints every problem as file:line:column key: message and exits 1 if there is any.',
    )
    .argument('<dir>', 'the pack folder (the one holding policy.yaml)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const shown = trimSlash(dir);
      const result = await loadPolicyPack(dir);
      if (opts.json) {
        io.out(
          `${JSON.stringify(
            result.ok
              ? { ok: true, pack: shown, summary: summarise(result.policy), errors: [] }
              : { ok: false, pack: shown, errors: result.errors },
            null,
            2,
          )}\n`,
        );
      } else if (result.ok) {
        const s = summarise(result.policy);
        io.out(
          `${shown}: valid — ${s.clauses} clauses, ${s.roles} roles, ${s.requestTypes} request types, ${s.webCategories} web categories, ${s.mailRules} mail rules\n`,
        );
      } else {
        for (const error of result.errors) io.out(`${formatPackError(error)}\n`);
        io.err(
          `${shown}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}; fix them and run "custos policy check ${shown}" again.\n`,
        );
      }
      io.setExitCode(result.ok ? EXIT.ok : EXIT.failure);
    });

  policy
    .command('show')
    .description(
      'Print the document record and version history of a pack (default: the pack in force).',
    )
    .argument('[dir]', 'the pack folder; default: policy.pack from the configuration')
    .option('--json', 'print as JSON')
    .action(async (dir: string | undefined, opts: { json?: boolean }) => {
      const target =
        dir ?? loadConfig({ file: program.opts<{ config?: string }>().config }).policy.pack;
      const result = await loadPolicyPack(target);
      if (!result.ok) {
        for (const error of result.errors) io.err(`${formatPackError(error)}\n`);
        io.err(`The pack at ${target} is not valid; run "custos policy check ${target}".\n`);
        io.setExitCode(EXIT.failure);
        return;
      }
      const { document } = result.policy;
      if (opts.json) {
        io.out(`${JSON.stringify({ name: result.policy.name, document }, null, 2)}\n`);
        io.setExitCode(EXIT.ok);
        return;
      }
      const current = document.versions.at(-1);
      const lines = [
        `${document.title}`,
        `${document.school}`,
        '',
        `Owner:       ${document.owner.name} (${result.policy.roles.get(document.owner.role)?.name ?? document.owner.role})`,
        `Agreed by:   ${document.approval.body} on ${document.approval.date}`,
        `Signed by:   ${document.approval.signatory ?? '(not signed)'}`,
        `Review:      every ${document.reviewIntervalMonths} months`,
        `In force:    version ${current?.version ?? '?'}`,
        '',
        'Version  Date        Description',
        ...document.versions.map(
          (v) =>
            `${String(v.version).padEnd(8)} ${(v.date ?? '(no date)').padEnd(11)} ${v.description}`,
        ),
      ];
      io.out(`${lines.join('\n')}\n`);
      io.setExitCode(EXIT.ok);
    });
}
