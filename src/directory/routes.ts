// The directory over HTTP, mounted at /api: people (search, read, create, change, import,
// export) and groups. Routes parse, call the directory service and answer.
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import {
  PeopleAbilitiesSchema,
  PersonAbilitiesSchema,
  peopleAbilities,
  personAbilities,
} from '../auth/abilities.ts';
import { actorOf } from '../auth/principal.ts';
import { AppError } from '../shared/errors.ts';
import { DEFAULT_MAX_BYTES, type ImportResult } from './csv-import.ts';
import { PERSON_STATUSES } from './rules.ts';
import { createDirectoryService } from './service.ts';

const status = z.enum(PERSON_STATUSES);
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

export const personSchema = z.object({
  id: z.string(),
  staffId: z.string().nullable(),
  email: z.string(),
  givenName: z.string(),
  familyName: z.string(),
  kind: z.string(),
  status,
  startDate: z.string().nullable(),
  leaveDate: z.string().nullable(),
  supervisedUse: z.boolean(),
  groups: z.array(z.string()),
  roles: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const personInputSchema = z.object({
  email: z.string().max(254),
  givenName: z.string().max(200),
  familyName: z.string().max(200),
  kind: z.string().max(100).describe('a person kind id from the policy pack (SCP-1)'),
  staffId: z.string().max(500).nullable().optional(),
  groups: z.array(z.string().max(100)).max(200).optional().describe('group names'),
  roles: z.array(z.string().max(100)).max(50).optional().describe('role ids from the policy pack'),
  startDate: day.nullable().optional(),
  leaveDate: day.nullable().optional().describe('PWD-8'),
  status: status.optional(),
  supervisedUse: z.boolean().optional().describe('PWD-6: terminals only under supervision'),
});

const groupSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  members: z.number(),
  createdAt: z.string(),
});

const importResultSchema = z.object({
  applied: z.boolean(),
  dryRun: z.boolean(),
  rows: z.number(),
  created: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  errors: z.array(
    z.object({ line: z.number(), column: z.string().optional(), message: z.string() }),
  ),
  ignoredColumns: z.array(z.string()),
  preview: z
    .array(
      z.object({
        line: z.number(),
        action: z.enum(['create', 'update']),
        email: z.string(),
        staffId: z.string().nullable(),
        changes: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

const idParams = z.object({ id: z.string().max(100) });

function rejection(result: ImportResult): AppError {
  const shown = result.errors.slice(0, 5).map((e) => {
    const where = e.line > 0 ? `line ${e.line}${e.column ? `, ${e.column}` : ''}: ` : '';
    return `${where}${e.message}`;
  });
  const more = result.errors.length > 5 ? ` (and ${result.errors.length - 5} more)` : '';
  return new AppError(
    'import_rejected',
    `Nothing was imported: the file has ${result.errors.length} problem(s)${more}. Fix them and import the whole file again. ${shown.join(' | ')}`,
    result,
  );
}

export const directoryRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const directory = createDirectoryService({
      store: ctx.store,
      audit: ctx.audit,
      policy: ctx.policy,
      clock: ctx.clock,
    });

    app.addContentTypeParser('text/csv', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    app.get(
      '/people',
      {
        config: { permission: 'people.read' },
        schema: {
          tags: ['directory'],
          summary: 'Search people by name, e-mail or staff id, with filters and paging',
          querystring: z.object({
            q: z.string().max(200).optional(),
            kind: z.string().max(100).optional(),
            group: z.string().max(100).optional(),
            role: z.string().max(100).optional(),
            status: status.optional(),
            limit: z.coerce.number().int().min(1).max(5000).default(50),
            offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
            sort: z
              .string()
              .regex(/^-?(name|email|staffId|kind|status|created|updated)$/)
              .default('name'),
          }),
          response: {
            200: z.object({
              total: z.number(),
              limit: z.number(),
              offset: z.number(),
              people: z.array(personSchema),
              abilities: PeopleAbilitiesSchema,
            }),
          },
        },
      },
      async (request) => ({
        ...(await directory.search(request.query)),
        abilities: peopleAbilities(request.principal),
      }),
    );

    app.get(
      '/people/export',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Every person as CSV, in the columns the import reads',
          produces: ['text/csv'],
        },
      },
      async (request, reply) => {
        await ctx.audit.append({
          actor: actorOf(request.principal),
          action: 'people.exported',
          details: { people: await directory.countPeople() },
        });
        const stream = new PassThrough();
        directory.exportPeople(stream).then(
          () => stream.end(),
          (error: unknown) => {
            request.log.error({ err: error }, 'people export failed part-way');
            stream.destroy(error instanceof Error ? error : new Error(String(error)));
          },
        );
        const date = ctx.clock().toISOString().slice(0, 10);
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="people-${date}.csv"`)
          .send(stream);
      },
    );

    app.get(
      '/people/:id',
      {
        config: { permission: 'people.read' },
        schema: {
          tags: ['directory'],
          summary: 'One person, with what the signed-in person may do with the record',
          params: idParams,
          response: { 200: personSchema.extend({ abilities: PersonAbilitiesSchema }) },
        },
      },
      async (request) => {
        const person = await directory.getPerson(request.params.id);
        if (!person)
          throw new AppError(
            'not_found',
            `There is no person with id ${request.params.id}. Search to find them.`,
          );
        return { ...person, abilities: personAbilities(request.principal, person) };
      },
    );

    app.post(
      '/people',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Add a person (SCP-1 kind from the policy)',
          body: personInputSchema,
          response: { 201: personSchema },
        },
      },
      async (request, reply) => {
        const person = await directory.createPerson(request.body, actorOf(request.principal));
        return reply.status(201).send(person);
      },
    );

    app.patch(
      '/people/:id',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Change a person: only the fields sent change',
          params: idParams,
          body: personInputSchema.partial(),
          response: { 200: personSchema },
        },
      },
      async (request) =>
        directory.updatePerson(request.params.id, request.body, actorOf(request.principal)),
    );

    app.post(
      '/people/import',
      {
        config: { permission: 'people.manage' },
        bodyLimit: DEFAULT_MAX_BYTES + 1024 * 1024,
        schema: {
          tags: ['directory'],
          summary:
            'Import people from CSV (text/csv body or multipart field "file"); all or nothing. dryRun=true previews.',
          querystring: z.object({
            dryRun: z
              .enum(['true', 'false', '1', '0'])
              .optional()
              .transform((v) => v === 'true' || v === '1'),
          }),
          response: { 200: importResultSchema },
        },
      },
      async (request) => {
        let input: Buffer;
        if (request.isMultipart()) {
          const file = await request.file({ limits: { fileSize: DEFAULT_MAX_BYTES, files: 1 } });
          if (file?.fieldname !== 'file')
            throw new AppError(
              'bad_request',
              'Send the CSV in a multipart field called "file", or as the body with Content-Type text/csv.',
            );
          input = await file.toBuffer();
        } else if (Buffer.isBuffer(request.body)) {
          input = request.body;
        } else {
          throw new AppError(
            'unsupported_media_type',
            'Send the CSV as the body with Content-Type text/csv, or as multipart form data with a field called "file".',
          );
        }
        const result = await directory.importPeople(input, {
          actor: actorOf(request.principal),
          dryRun: request.query.dryRun,
        });
        if (!result.dryRun && result.errors.length > 0) throw rejection(result);
        return result;
      },
    );

    app.get(
      '/groups',
      {
        config: { permission: 'people.read' },
        schema: {
          tags: ['directory'],
          summary: 'Every group with its number of members',
          response: { 200: z.object({ groups: z.array(groupSchema) }) },
        },
      },
      async () => ({ groups: await directory.listGroups() }),
    );

    app.post(
      '/groups',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Create a group',
          body: z.object({
            name: z.string().max(100),
            description: z.string().max(500).optional(),
          }),
          response: { 201: groupSchema },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await directory.createGroup(request.body, actorOf(request.principal))),
    );

    app.patch(
      '/groups/:id',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Rename a group or change its description',
          params: idParams,
          body: z.object({
            name: z.string().max(100).optional(),
            description: z.string().max(500).optional(),
          }),
          response: { 200: groupSchema },
        },
      },
      async (request) =>
        directory.updateGroup(request.params.id, request.body, actorOf(request.principal)),
    );

    app.delete(
      '/groups/:id',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Delete a group; its members stay in the directory',
          params: idParams,
          response: { 200: z.object({ membersRemoved: z.number() }) },
        },
      },
      async (request) => directory.deleteGroup(request.params.id, actorOf(request.principal)),
    );

    app.post(
      '/groups/:id/members',
      {
        config: { permission: 'people.manage' },
        schema: {
          tags: ['directory'],
          summary: 'Add and remove members of a group by person id',
          params: idParams,
          body: z.object({
            add: z.array(z.string().max(100)).max(10_000).default([]),
            remove: z.array(z.string().max(100)).max(10_000).default([]),
          }),
          response: { 200: groupSchema },
        },
      },
      async (request) => {
        const actor = actorOf(request.principal);
        const { id } = request.params;
        return ctx.store.db.transaction().execute(async (trx) => {
          let group = await directory.addMembers(id, request.body.add, actor, trx);
          if (request.body.remove.length)
            group = await directory.removeMembers(id, request.body.remove, actor, trx);
          return group;
        });
      },
    );
  };
