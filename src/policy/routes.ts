// The policy over HTTP: the document record and clauses in force, one clause, and a check of a
// pack's text that applies nothing.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { PolicyAbilitiesSchema, policyAbilities } from '../auth/abilities.ts';
import { AppError } from '../shared/errors.ts';
import { checkPackText, MAX_PACK_BYTES } from './loader.ts';
import { CLAUSE_ID } from './schema.ts';

const clause = z.object({
  id: z.string(),
  title: z.string(),
  text: z.string(),
  section: z.string(),
  parts: z.record(z.string(), z.string()).optional(),
});

const packError = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  key: z.string(),
  message: z.string(),
});

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** The date the next review falls due: the current version's date (or the approval) plus the interval. */
export function nextReviewDue(document: {
  reviewIntervalMonths: number;
  approval: { date: string };
  versions: readonly { date: string | null }[];
}): string {
  const dated = document.versions.filter((v) => v.date !== null).map((v) => v.date as string);
  const from = [document.approval.date, ...dated].sort().at(-1)!;
  const d = new Date(`${from}T00:00:00Z`);
  const target = new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + document.reviewIntervalMonths, 1),
  );
  const lastDay = new Date(
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0),
  ).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target.toISOString().slice(0, 10);
}

export const policyRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) =>
      done(null, body),
    );

    app.get(
      '/',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary:
            'The policy in force: document record, version history and clauses (GOV-2, GOV-4)',
          response: {
            200: z.object({
              name: z.string(),
              document: z.object({
                title: z.string(),
                school: z.string(),
                owner: z.object({ role: z.string(), name: z.string() }),
                reviewIntervalMonths: z.number(),
                nextReviewDue: z.string(),
                approval: z.object({
                  body: z.string(),
                  date: z.string(),
                  signatory: z.string().nullable(),
                }),
                versions: z.array(
                  z.object({
                    version: z.number(),
                    description: z.string(),
                    date: z.string().nullable(),
                  }),
                ),
              }),
              clauses: z.array(clause),
              abilities: PolicyAbilitiesSchema,
            }),
          },
        },
      },
      async (request) => {
        const policy = ctx.policy.current();
        const { document } = policy;
        return {
          name: policy.name,
          document: {
            title: document.title,
            school: document.school,
            owner: { ...document.owner },
            reviewIntervalMonths: document.reviewIntervalMonths,
            nextReviewDue: nextReviewDue(document),
            approval: { ...document.approval },
            versions: document.versions.map((v) => ({ ...v })),
          },
          clauses: [...policy.clauses.values()].map((c) => ({ ...c })),
          abilities: policyAbilities(request.principal),
        };
      },
    );

    app.get(
      '/clauses/:id',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary: 'One clause of the policy in force, with the policy’s own words',
          params: z.object({ id: z.string().regex(CLAUSE_ID, 'a clause id such as SYS-5') }),
          response: { 200: clause },
        },
      },
      async (request) => {
        const found = ctx.policy.current().clauses.get(request.params.id);
        if (!found) {
          throw new AppError(
            'not_found',
            `There is no clause ${request.params.id} in the policy in force. GET /api/policy lists the clauses.`,
            { id: request.params.id },
          );
        }
        return { ...found };
      },
    );

    app.post(
      '/check',
      {
        config: { permission: 'policy.manage' },
        bodyLimit: MAX_PACK_BYTES * 2,
        schema: {
          tags: ['policy'],
          summary:
            'Validate the text of a policy pack (text/plain, application/yaml or JSON { yaml }) without applying it',
          body: z.union([
            z.string(),
            z.object({ yaml: z.string(), fileName: z.string().max(200).optional() }),
          ]),
          response: { 200: z.object({ ok: z.boolean(), errors: z.array(packError) }) },
        },
      },
      async (request) => {
        const body = request.body;
        const text = typeof body === 'string' ? body : body.yaml;
        const fileName = (typeof body === 'string' ? undefined : body.fileName) ?? 'policy.yaml';
        const result = checkPackText(text, fileName);
        return result.ok ? { ok: true, errors: [] } : { ok: false, errors: result.errors };
      },
    );
  };
