// `custos init`, `custos user add` and `custos user reset-password`: accounts from a terminal.
// Passwords are typed with hidden input, or read from standard input (--password-stdin) for
// scripts; they never appear in arguments, where other users of the machine could see them.
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { AppContext } from '../../api/context.ts';
import type { Actor } from '../../audit/service.ts';
import { createAccountsService } from '../../auth/accounts.service.ts';
import { employeeKind } from '../../auth/first-run.ts';
import { createDirectoryService } from '../../directory/service.ts';
import { AppError } from '../../shared/errors.ts';
import { EXIT, openRuntime } from '../runtime.ts';
import { runtimeOptions } from './system.ts';

export const RESET_LINK_HOURS = 72;

type Ctx = Pick<AppContext, 'config' | 'store' | 'audit' | 'policy' | 'sessions' | 'clock'>;

const cliActor = (): Actor => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return { id: null, label: `cli:${user}` };
};

const base = (ctx: Ctx) => ctx.config.server.publicUrl.replace(/\/+$/, '');

export interface InitInput {
  givenName: string;
  familyName: string;
  email: string;
  password: string;
}

/** Creates the first School Business Manager; refuses once any account exists. */
export async function initFirstSbm(ctx: Ctx, input: InitInput, actor = cliActor()) {
  const accounts = createAccountsService(ctx);
  const directory = createDirectoryService(ctx);
  if (!ctx.policy.current().roles.has('sbm')) {
    throw new AppError('conflict', 'The policy pack has no role "sbm" to give the first person.');
  }
  return ctx.store.db.transaction().execute(async (trx) => {
    if (await accounts.anyAccountExists(trx)) {
      throw new AppError(
        'conflict',
        'Custos already has accounts. Use "custos user add" to add people, or sign in.',
      );
    }
    const person = await directory.createPerson(
      { ...input, kind: employeeKind(ctx.policy), roles: ['sbm'] },
      actor,
      trx,
    );
    await accounts.createAccount(person, input.password, actor, trx);
    await ctx.audit.append(
      {
        actor,
        action: 'setup.completed',
        target: { type: 'person', id: person.id },
        clauseIds: ['PWD-2'],
        details: { via: 'custos init' },
      },
      trx,
    );
    return person;
  });
}

export interface AddUserInput {
  email: string;
  givenName?: string | undefined;
  familyName?: string | undefined;
  kind?: string | undefined;
  roles: string[];
  password: string | null;
}

/** Adds an account (creating the person if missing); without a password, a one-time link. */
export async function addUser(ctx: Ctx, input: AddUserInput, actor = cliActor()) {
  const accounts = createAccountsService(ctx);
  const directory = createDirectoryService(ctx);
  const existing = await directory.findByEmail(input.email);
  if (existing && (await accounts.findByPersonId(existing.id))) {
    throw new AppError(
      'conflict',
      `${existing.email} already has an account. Use "custos user reset-password ${existing.email}" to give a new password.`,
    );
  }
  if (!existing && (!input.givenName || !input.familyName || !input.kind)) {
    throw new AppError(
      'bad_request',
      `No one in the directory has the address ${input.email}. Give --given, --family and --kind to add them.`,
    );
  }
  return ctx.store.db.transaction().execute(async (trx) => {
    let person = existing;
    if (!person) {
      person = await directory.createPerson(
        {
          email: input.email,
          givenName: input.givenName!,
          familyName: input.familyName!,
          kind: input.kind!,
          roles: input.roles,
        },
        actor,
        trx,
      );
    } else if (input.roles.some((r) => !person!.roles.includes(r))) {
      await directory.setRoles(
        person.id,
        [...new Set([...person.roles, ...input.roles])],
        actor,
        trx,
      );
    }
    const account = await accounts.createAccount(person, input.password, actor, trx);
    const link =
      input.password === null
        ? `${base(ctx)}/set-password#token=${await accounts.issueToken('password-reset', account.id, RESET_LINK_HOURS, actor, trx)}`
        : null;
    return { person, account, link };
  });
}

/** A new password (or a one-time link); the account is unlocked and its sessions end. */
export async function resetPassword(
  ctx: Ctx,
  input: { email: string; password: string | null },
  actor = cliActor(),
) {
  const accounts = createAccountsService(ctx);
  const account = await accounts.findByEmail(input.email);
  if (!account) throw new AppError('not_found', `No account has the address ${input.email}.`);
  if (input.password !== null) {
    await accounts.setPassword(account.id, input.password, actor, {
      reason: 'custos user reset-password',
    });
    return { link: null };
  }
  return ctx.store.db.transaction().execute(async (trx) => {
    const token = await accounts.issueToken(
      'password-reset',
      account.id,
      RESET_LINK_HOURS,
      actor,
      trx,
    );
    await accounts.unlockAccount(account.id, actor, trx);
    await ctx.sessions.revokeAllFor(account.id, trx);
    return { link: `${base(ctx)}/set-password#token=${token}` };
  });
}

/** Removes the authenticator app; the person sets up a new one at their next sign-in. */
export async function resetTotp(ctx: Ctx, input: { email: string }, actor = cliActor()) {
  const accounts = createAccountsService(ctx);
  const account = await accounts.findByEmail(input.email);
  if (!account) throw new AppError('not_found', `No account has the address ${input.email}.`);
  await accounts.resetTotp(account.id, actor);
}

/** The first line of standard input, without its line ending. */
export async function readPasswordFromStdin(input: NodeJS.ReadableStream = process.stdin) {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function ask(question: string, hidden = false): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stdout.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => resolve(answer));
      muted = hidden;
    });
  } finally {
    rl.close();
    if (hidden) process.stdout.write('\n');
  }
}

async function newPassword(fromStdin: boolean | undefined): Promise<string | null> {
  if (fromStdin) return readPasswordFromStdin();
  if (!process.stdin.isTTY) {
    throw new AppError(
      'bad_request',
      'Standard input is not a terminal: pass the password with --password-stdin.',
    );
  }
  for (;;) {
    const first = await ask('Password: ', true);
    const second = await ask('Password again: ', true);
    if (first === second) return first;
    console.error('The two passwords differ. Try again.');
  }
}

function fail(error: unknown): void {
  if (error instanceof AppError) {
    console.error(error.message);
    process.exitCode = error.code === 'bad_request' ? EXIT.usage : EXIT.failure;
    return;
  }
  throw error;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerAccountCommands(program: Command): void {
  program
    .command('init')
    .description(
      'Create the first account, the School Business Manager, from the terminal (instead of the setup link that "custos serve" prints).',
    )
    .option('--given <name>', 'given name (asked when missing)')
    .option('--family <name>', 'family name (asked when missing)')
    .option('--email <address>', 'e-mail address (asked when missing)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(
      async (opts: {
        given?: string;
        family?: string;
        email?: string;
        passwordStdin?: boolean;
      }) => {
        const runtime = await openRuntime(runtimeOptions(program));
        try {
          if (await createAccountsService(runtime).anyAccountExists()) {
            throw new AppError(
              'conflict',
              'Custos already has accounts. Use "custos user add" to add people, or sign in.',
            );
          }
          const needsAsking = !opts.given || !opts.family || !opts.email;
          if (needsAsking && !process.stdin.isTTY) {
            throw new AppError(
              'bad_request',
              'Standard input is not a terminal: give --given, --family, --email and --password-stdin.',
            );
          }
          const givenName = opts.given ?? (await ask('Given name: '));
          const familyName = opts.family ?? (await ask('Family name: '));
          const email = opts.email ?? (await ask('E-mail address: '));
          const password = (await newPassword(opts.passwordStdin))!;
          const person = await initFirstSbm(runtime, { givenName, familyName, email, password });
          console.log(
            `Created ${person.givenName} ${person.familyName} <${person.email}>, School Business Manager.`,
          );
          console.log(
            `Sign in at ${base(runtime)}/sign-in. At the first sign-in you will set up an authenticator app (TOTP), which this role requires.`,
          );
        } catch (error) {
          fail(error);
        } finally {
          await runtime.close();
        }
      },
    );

  const user =
    program.commands.find((c) => c.name() === 'user') ??
    program.command('user').description('Accounts of people (see docs/accounts.md).');

  user
    .command('add')
    .description(
      'Give a person an account, adding them to the directory if missing. Without --password-stdin, prints a one-time link to set the password.',
    )
    .argument('<email>', 'e-mail address')
    .option('--given <name>', 'given name (for a new person)')
    .option('--family <name>', 'family name (for a new person)')
    .option('--kind <kind>', 'person kind from the policy pack (for a new person)')
    .option('--role <role>', 'role from the policy pack; repeat for several', collect, [])
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(
      async (
        email: string,
        opts: {
          given?: string;
          family?: string;
          kind?: string;
          role: string[];
          passwordStdin?: boolean;
        },
      ) => {
        const runtime = await openRuntime(runtimeOptions(program));
        try {
          const password = opts.passwordStdin ? await readPasswordFromStdin() : null;
          const result = await addUser(runtime, {
            email,
            givenName: opts.given,
            familyName: opts.family,
            kind: opts.kind,
            roles: opts.role,
            password,
          });
          console.log(`Account created for ${result.person.email}.`);
          if (result.link) {
            console.log(
              `Send this one-time link to set the password (valid ${RESET_LINK_HOURS} hours):\n${result.link}`,
            );
          }
        } catch (error) {
          fail(error);
        } finally {
          await runtime.close();
        }
      },
    );

  user
    .command('reset-password')
    .description(
      'Reset a password: prints a one-time link, or sets the password from standard input. Also unlocks the account and ends its sessions.',
    )
    .argument('<email>', 'e-mail address')
    .option('--password-stdin', 'read the new password from the first line of standard input')
    .action(async (email: string, opts: { passwordStdin?: boolean }) => {
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        const password = opts.passwordStdin ? await readPasswordFromStdin() : null;
        const result = await resetPassword(runtime, { email, password });
        if (result.link) {
          console.log(
            `Send this one-time link to set a new password (valid ${RESET_LINK_HOURS} hours):\n${result.link}`,
          );
        } else {
          console.log(
            `The password of ${email} is set; the account is unlocked and its sessions ended.`,
          );
        }
      } catch (error) {
        fail(error);
      } finally {
        await runtime.close();
      }
    });

  user
    .command('reset-totp')
    .description(
      'Remove the authenticator app of an account (lost phone); the person sets up a new one at their next sign-in. Ends its sessions.',
    )
    .argument('<email>', 'e-mail address')
    .action(async (email: string) => {
      const runtime = await openRuntime(runtimeOptions(program));
      try {
        await resetTotp(runtime, { email });
        console.log(
          `The authenticator app of ${email} is removed; a new one is set up at the next sign-in.`,
        );
      } catch (error) {
        fail(error);
      } finally {
        await runtime.close();
      }
    });
}
