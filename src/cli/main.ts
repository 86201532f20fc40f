// The `custos` command.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.ts';
import { registerAccountCommands } from './commands/accounts.ts';
import { registerListCommands } from './commands/lists.ts';
import { registerPeopleCommands } from './commands/people.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerSystemCommands } from './commands/system.ts';
import { EXIT, StartupError } from './runtime.ts';

export function buildProgram(): Command {
  const program = new Command('custos')
    .description(
      "Custos carries out a school's electronic communications policy. See docs/cli.md for every command.",
    )
    .option(
      '-c, --config <file>',
      'configuration file (YAML); default: CUSTOS_CONFIG or ./custos.yaml',
    )
    .showHelpAfterError()
    .exitOverride();
  registerSystemCommands(program);
  registerPeopleCommands(program);
  registerPolicyCommands(program);
  registerAccountCommands(program);
  registerListCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = EXIT.config;
      return;
    }
    if (error instanceof StartupError) {
      console.error(error.message);
      process.exitCode = error.exitCode;
      return;
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = EXIT.failure;
  }
}

await main(process.argv);
