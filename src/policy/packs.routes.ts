// Policy packs over HTTP, mounted at /api/policy/packs: upload (checked and kept with its
// problems), list, read one, apply a valid one (GOV-1, GOV-6). See docs/policy-pack.md.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { actorOf } from '../auth/principal.ts';
import { AppError } from '../shared/errors.ts';
import { MAX_PACK_BYTES } from './loader.ts';
import { createPackService, findAppliedPack, summariseCompiled } from './packs.ts';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const packError = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  key: z.string(),
  message: z.string(),
});

export const packSummarySchema = z.object({
  name: z.string(),
  clauses: z.number(),
  roles: z.number(),
  webCategories: z.number(),
  requestTypes: z.number(),
  mailRules: z.number(),
  groups: z.number(),
  personKinds: z.number(),
});

const who = z.object({ id: z.string().nullable(), label: z.string() });

export const storedPackSchema = z.object({
  id: z.string(),
  name: z.string(),
  fileName: z.string(),
  sha256: z.string(),
  sizeBytes: z.number(),
  valid: z.boolean(),
  errors: z.array(packError),
  summary: packSummarySchema.nullable(),
  uploadedAt: z.string(),
  uploadedBy: who,
  appliedAt: z.string().nullable(),
  appliedBy: who.nullable(),
  inForce: z.boolean(),
});

const idParams = z.object({ id: z.string().max(100) });
const jsonBody = z.object({ yaml: z.string(), fileName: z.string().max(200).optional() });

export const packRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const packs = createPackService({
      store: ctx.store,
      audit: ctx.audit,
      policy: ctx.policy,
      clock: ctx.clock,
    });

    app.addContentTypeParser(
      ['text/plain', ...YAML_TYPES],
      { parseAs: 'buffer', bodyLimit: MAX_PACK_BYTES * 2 },
      (_request, body, done) => done(null, body),
    );

    app.get(
      '/',
      {
        config: { permission: 'policy.manage' },
        schema: {
          tags: ['policy'],
          summary:
            'Uploaded policy packs, newest first: who uploaded them, when, SHA-256, valid, applied, in force',
          response: {
            200: z.object({
              packs: z.array(storedPackSchema),
              inForce: z.object({
                source: z.enum(['database', 'folder']),
                id: z.string().nullable(),
                summary: packSummarySchema,
              }),
            }),
          },
        },
      },
      async () => {
        const applied = await findAppliedPack(ctx.store);
        return {
          packs: await packs.list(),
          inForce: {
            source: applied ? ('database' as const) : ('folder' as const),
            id: applied?.id ?? null,
            summary: summariseCompiled(ctx.policy.current()),
          },
        };
      },
    );

    app.post(
      '/',
      {
        config: { permission: 'policy.manage' },
        bodyLimit: MAX_PACK_BYTES * 2,
        schema: {
          tags: ['policy'],
          summary:
            'Upload a policy.yaml (text/plain, application/yaml, JSON { yaml, fileName } or multipart field "file"); it is checked and kept with its problems, and applies nothing',
          querystring: z.object({
            fileName: z.string().max(200).optional().describe('the name errors are reported under'),
          }),
          response: { 201: storedPackSchema },
        },
      },
      async (request, reply) => {
        let bytes: Uint8Array;
        let fileName: string | undefined;
        if (request.isMultipart()) {
          const file = await request.file({ limits: { fileSize: MAX_PACK_BYTES + 1, files: 1 } });
          if (file?.fieldname !== 'file') {
            throw new AppError(
              'bad_request',
              'Send policy.yaml in a multipart field called "file", or as the body with Content-Type application/yaml.',
            );
          }
          bytes = await file.toBuffer();
          if (file.file.truncated) {
            throw new AppError(
              'payload_too_large',
              `The file is larger than ${MAX_PACK_BYTES} bytes, the most a policy pack may be. Check that this is the pack's policy.yaml.`,
            );
          }
          fileName = file.filename;
        } else if (Buffer.isBuffer(request.body)) {
          bytes = request.body;
          fileName = request.query.fileName;
        } else if (jsonBody.safeParse(request.body).success) {
          const body = jsonBody.parse(request.body);
          bytes = Buffer.from(body.yaml, 'utf8');
          fileName = body.fileName;
        } else {
          throw new AppError(
            'bad_request',
            'Send the text of policy.yaml as the body (Content-Type application/yaml), as JSON { "yaml": "..." }, or as a multipart field called "file".',
          );
        }
        const stored = await packs.upload({ bytes, fileName }, actorOf(request.principal));
        return reply.status(201).send(stored);
      },
    );

    app.get(
      '/:id',
      {
        config: { permission: 'policy.manage' },
        schema: {
          tags: ['policy'],
          summary: 'One uploaded pack, with its text',
          params: idParams,
          response: { 200: storedPackSchema.extend({ yaml: z.string() }) },
        },
      },
      async (request) => {
        const found = await packs.get(request.params.id);
        if (!found) {
          throw new AppError(
            'not_found',
            `There is no uploaded policy pack with id ${request.params.id}. GET /api/policy/packs lists them.`,
          );
        }
        return found;
      },
    );

    app.post(
      '/:id/apply',
      {
        config: { permission: 'policy.manage' },
        schema: {
          tags: ['policy'],
          summary:
            'Make a valid uploaded pack the one in force, at once and for every process (GOV-1, GOV-6)',
          params: idParams,
          response: {
            200: z.object({
              pack: storedPackSchema,
              summary: packSummarySchema,
              previous: packSummarySchema,
            }),
          },
        },
      },
      async (request) => {
        const principal = request.principal;
        return packs.apply(request.params.id, {
          ...actorOf(principal),
          roles: principal?.roles ?? [],
        });
      },
    );
  };
