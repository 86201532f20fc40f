// The lists over HTTP, registered inside the /api/webfilter plugin: the category lists in force
// with their counts and who each is blocked for, updates run as a background job with progress,
// and the school's own allow and deny lists (changes take effect in this process at once; other
// processes re-read them on their refresh timer).
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { actorOf } from '../auth/principal.ts';
import { webCategoriesBlockedFor } from '../policy/decisions/web.ts';
import { AppError } from '../shared/errors.ts';
import {
  countsOf,
  installTarget,
  ListUpdateError,
  type UpdateProgress,
  updateLists,
} from './lists.service.ts';
import { webFilterFor } from './runtime.ts';
import { createSchoolListsService } from './school-lists.service.ts';

/** The largest tarball an upload may be (UT1 is about 20 MiB compressed). */
export const MAX_LISTS_UPLOAD_BYTES = 256 * 1024 * 1024;
const TARBALL_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];
/** Finished jobs are forgotten after this long. */
const JOB_KEEP_MS = 60 * 60 * 1000;

const blockedFor = z.object({
  blocked: z.boolean(),
  clauses: z.array(z.string()),
});

const blockedForGroup = blockedFor.extend({
  rule: z
    .enum(['block', 'allow'])
    .nullable()
    .describe("the group's own rule for the category in the pack (web.groups), if it has one"),
});

export const ListsStatus = z.object({
  source: z.string(),
  installed: z
    .object({ sha256: z.string(), from: z.string(), at: z.string(), names: z.number() })
    .nullable(),
  loadedAt: z.string(),
  names: z.number(),
  groups: z.array(z.object({ id: z.string(), name: z.string() })),
  defaultGroups: z
    .array(z.string())
    .describe(
      "web.defaultGroups: every person is in these for web rules, whatever else they're in",
    ),
  categories: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      inPolicy: z.boolean(),
      domains: z.number(),
      urls: z.number(),
      everyone: blockedFor,
      groups: z
        .record(z.string(), blockedForGroup)
        .describe(
          'What applies to a member of each group: its own rules with those of the default groups (not their kind)',
        ),
    }),
  ),
});

export const UpdateJob = z.object({
  id: z.string(),
  phase: z.enum(['downloading', 'checking', 'comparing', 'installing', 'done', 'failed']),
  done: z.number(),
  total: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  startedAt: z.string(),
});
type Job = z.infer<typeof UpdateJob>;

export const SchoolListEntry = z.object({
  id: z.string(),
  list: z.enum(['allow', 'deny']),
  host: z.string(),
  reason: z.string(),
  addedBy: z.string(),
  addedAt: z.string(),
});

export const AddSchoolListEntry = z.object({
  list: z.enum(['allow', 'deny']),
  host: z.string().min(1).max(253).describe('a host name (example.com) or an address'),
  reason: z.string().trim().min(1).max(500).describe('why the school added it'),
});

export const listsRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const jobs = new Map<string, Job>();
    const loadedAt = new Map<string, string>();
    const school = createSchoolListsService(ctx);

    app.addContentTypeParser(
      TARBALL_TYPES,
      { parseAs: 'buffer', bodyLimit: MAX_LISTS_UPLOAD_BYTES },
      (_request, body, done) => done(null, body),
    );

    app.get(
      '/lists',
      {
        config: { permission: 'webfilter.manage' },
        schema: {
          tags: ['webfilter'],
          summary:
            'The category lists in force: where from, entry counts, and for everyone and for a member of each group (with the default groups) whether each category is blocked and under which clauses',
          response: { 200: ListsStatus },
        },
      },
      async () => {
        const runtime = await webFilterFor(ctx);
        const policy = ctx.policy.current();
        const key = runtime.installed?.sha256 ?? runtime.source;
        if (!loadedAt.has(key)) loadedAt.set(key, ctx.clock().toISOString());
        const everyone = webCategoriesBlockedFor(policy, {
          kind: null,
          groups: [],
          deviceRegistered: true,
        });
        // A person in a group is also in the default groups (SYS-5 applies to all staff): each
        // group shows what applies to its members, not its own rule alone.
        const groups = [...new Set([...policy.groups.keys(), ...policy.web.groups.keys()])];
        const perGroup = new Map(
          groups.map((g) => [
            g,
            webCategoriesBlockedFor(policy, {
              kind: null,
              groups: [...new Set([...policy.web.defaultGroups, g])],
              deviceRegistered: true,
            }),
          ]),
        );
        const ruleOf = (group: string, category: string) => {
          const rule = policy.web.groups.get(group);
          if (rule?.block.has(category)) return 'block' as const;
          if (rule?.allow.has(category)) return 'allow' as const;
          return null;
        };
        const counts = new Map(countsOf(runtime.report).map((c) => [c.name, c]));
        const ids = [...new Set([...policy.web.categories.keys(), ...counts.keys()])].sort();
        const verdict = (m: Map<string, string[]>, id: string) => ({
          blocked: m.has(id),
          clauses: m.get(id) ?? [],
        });
        return {
          source: runtime.source,
          installed: runtime.installed
            ? {
                sha256: runtime.installed.sha256,
                from: runtime.installed.source,
                at: runtime.installed.at,
                names: runtime.installed.names,
              }
            : null,
          loadedAt: loadedAt.get(key)!,
          names: runtime.report.names,
          groups: groups.map((id) => ({ id, name: policy.groups.get(id)?.name ?? id })),
          defaultGroups: [...policy.web.defaultGroups],
          categories: ids.map((id) => ({
            id,
            name: policy.web.categories.get(id)?.name ?? id,
            inPolicy: policy.web.categories.has(id),
            domains: counts.get(id)?.domains ?? 0,
            urls: counts.get(id)?.urls ?? 0,
            everyone: verdict(everyone, id),
            groups: Object.fromEntries(
              groups.map((g) => [g, { ...verdict(perGroup.get(g)!, id), rule: ruleOf(g, id) }]),
            ),
          })),
        };
      },
    );

    app.post(
      '/lists/update',
      {
        config: { permission: 'webfilter.manage' },
        bodyLimit: MAX_LISTS_UPLOAD_BYTES,
        schema: {
          tags: ['webfilter'],
          summary:
            'Start an update of the category lists: JSON { "from": "configured" } downloads webfilter.listsUrl; a .tar.gz body (application/gzip) or multipart field "file" installs that file. Answers a job to follow.',
          response: { 202: UpdateJob },
        },
      },
      async (request, reply) => {
        if ([...jobs.values()].some((j) => j.phase !== 'done' && j.phase !== 'failed')) {
          throw new AppError(
            'conflict',
            'An update of the lists is already running. Follow it, then try again.',
          );
        }
        let upload: string | null = null;
        const incoming = () =>
          path.join(
            path.dirname(installTarget(ctx.config)),
            `.upload-${randomBytes(6).toString('hex')}.tar.gz`,
          );
        if (request.isMultipart()) {
          const file = await request.file({
            limits: { fileSize: MAX_LISTS_UPLOAD_BYTES, files: 1 },
          });
          if (file?.fieldname !== 'file') {
            throw new AppError(
              'bad_request',
              'Send the lists tarball in a multipart field called "file".',
            );
          }
          upload = incoming();
          await mkdir(path.dirname(upload), { recursive: true });
          await pipeline(file.file, createWriteStream(upload));
          if (file.file.truncated) {
            await rm(upload, { force: true });
            throw new AppError(
              'payload_too_large',
              `The file is larger than ${MAX_LISTS_UPLOAD_BYTES / 1048576} MiB. Check that it is the UT1 blacklists.tar.gz.`,
            );
          }
        } else if (Buffer.isBuffer(request.body)) {
          upload = incoming();
          await mkdir(path.dirname(upload), { recursive: true });
          await writeFile(upload, request.body);
        } else if (!z.object({ from: z.literal('configured') }).safeParse(request.body).success) {
          throw new AppError(
            'bad_request',
            'Send JSON { "from": "configured" } to download the lists from webfilter.listsUrl, or the .tar.gz itself (Content-Type application/gzip, or a multipart field "file").',
          );
        }
        const job: Job = {
          id: randomUUID(),
          phase: 'downloading',
          done: 0,
          total: 0,
          error: null,
          startedAt: ctx.clock().toISOString(),
        };
        jobs.set(job.id, job);
        const onProgress = (p: UpdateProgress) => {
          // The job is done only once the gateways hold the new lists (below), not when the
          // files are in place: until then it is still installing.
          job.phase = p.phase === 'done' ? 'installing' : p.phase;
          job.done = p.done;
          job.total = p.total;
        };
        const actor = actorOf(request.principal);
        const from = upload ? { file: upload } : { url: ctx.config.webfilter.listsUrl };
        void (async () => {
          try {
            const runtime = await webFilterFor(ctx);
            const result = await updateLists(
              {
                config: ctx.config,
                store: ctx.store,
                audit: ctx.audit,
                policy: ctx.policy.current(),
                clock: ctx.clock,
              },
              from,
              { actor, onProgress, current: countsOf(runtime.report) },
            );
            await runtime.state.replaceLists(result.index);
            runtime.listsReplaced(result.installed, result.report);
            job.phase = 'done';
          } catch (error) {
            job.phase = 'failed';
            job.error =
              error instanceof ListUpdateError
                ? { code: error.code, message: error.message }
                : { code: 'internal', message: (error as Error).message };
            ctx.log.warn({ err: error }, 'category lists update failed');
          } finally {
            if (upload) await rm(upload, { force: true });
            setTimeout(() => jobs.delete(job.id), JOB_KEEP_MS).unref();
          }
        })();
        return reply.status(202).send(job);
      },
    );

    app.get(
      '/lists/update/:id',
      {
        config: { permission: 'webfilter.manage' },
        schema: {
          tags: ['webfilter'],
          summary: 'Progress of an update of the category lists',
          params: z.object({ id: z.string().max(64) }),
          response: { 200: UpdateJob },
        },
      },
      async (request) => {
        const job = jobs.get(request.params.id);
        if (!job) {
          throw new AppError(
            'not_found',
            'No such update here. It may have finished over an hour ago, or run in another process.',
          );
        }
        return job;
      },
    );

    app.get(
      '/school-lists',
      {
        config: { permission: 'webfilter.manage' },
        schema: {
          tags: ['webfilter'],
          summary: "The school's own allow and deny lists",
          response: { 200: z.object({ entries: z.array(SchoolListEntry) }) },
        },
      },
      async () => ({ entries: await school.list() }),
    );

    app.post(
      '/school-lists',
      {
        config: { permission: 'webfilter.manage' },
        schema: {
          tags: ['webfilter'],
          summary:
            "Add a host to the school's allow or deny list (MIS-1); in force at once in this process",
          body: AddSchoolListEntry,
          response: { 201: SchoolListEntry },
        },
      },
      async (request, reply) => {
        const entry = await school.add(request.body, actorOf(request.principal));
        await (await webFilterFor(ctx)).state.refresh();
        return reply.status(201).send(entry);
      },
    );

    app.delete(
      '/school-lists/:id',
      {
        config: { permission: 'webfilter.manage' },
        schema: {
          tags: ['webfilter'],
          summary: "Remove a host from the school's allow or deny list (MIS-1)",
          params: z.object({ id: z.string().max(64) }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await school.remove(request.params.id, actorOf(request.principal));
        await (await webFilterFor(ctx)).state.refresh();
        return reply.status(204).send(null);
      },
    );
  };
