// The audit trail over HTTP: filter entries, verify the chain.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { actorOf } from '../auth/principal.ts';

const entry = z.object({
  seq: z.number(),
  at: z.string(),
  actorId: z.string().nullable(),
  actorLabel: z.string(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  clauseIds: z.array(z.string()),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export const auditRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/entries',
      {
        config: { permission: 'audit.read' },
        schema: {
          tags: ['audit'],
          summary: 'Audit entries, newest first',
          querystring: z.object({
            actorId: z.string().max(100).optional(),
            action: z.string().max(100).optional(),
            clauseId: z
              .string()
              .regex(/^[A-Z]{2,4}-\d{1,2}$/, 'a clause id such as SYS-5')
              .optional(),
            targetType: z.string().max(50).optional(),
            targetId: z.string().max(100).optional(),
            from: z.string().max(40).optional(),
            to: z.string().max(40).optional(),
            beforeSeq: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ entries: z.array(entry) }) },
        },
      },
      async (request) => ({ entries: await ctx.audit.list(request.query) }),
    );

    app.post(
      '/verify',
      {
        config: { permission: 'audit.verify' },
        schema: {
          tags: ['audit'],
          summary: 'Verify the whole chain; names the first broken entry',
          response: {
            200: z.object({
              ok: z.boolean(),
              entries: z.number(),
              brokenAt: z.number().optional(),
              problem: z.string().optional(),
              lastHash: z.string().optional(),
            }),
          },
        },
      },
      async (request) => {
        const result = await ctx.audit.verify();
        await ctx.audit.append({
          actor: actorOf(request.principal),
          action: 'audit.verified',
          details: { ok: result.ok, entries: result.entries },
        });
        return result;
      },
    );
  };
