// Security flags over HTTP (PWD-4): list them, mark one reviewed with a note.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { actorOf } from '../auth/principal.ts';
import { createSecurityFlagsService } from './flags.service.ts';

const flag = z.object({
  id: z.string(),
  kind: z.string(),
  clauseIds: z.array(z.string()),
  details: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  reviewedAt: z.string().nullable(),
  reviewedBy: z.string().nullable(),
  account: z
    .object({ id: z.string(), personId: z.string(), name: z.string(), email: z.string() })
    .nullable(),
});

export const securityRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const flags = createSecurityFlagsService(ctx);
    app.get(
      '/flags',
      {
        config: { permission: 'security.flags.read' },
        schema: {
          tags: ['security'],
          summary: 'Security flags: concurrent sign-ins (PWD-4) and lockouts, newest first',
          querystring: z.object({ open: z.enum(['true', 'false']).default('true') }),
          response: { 200: z.object({ flags: z.array(flag) }) },
        },
      },
      async (request) => ({
        flags: await flags.list(
          { open: request.query.open === 'true' },
          actorOf(request.principal),
        ),
      }),
    );
    app.post(
      '/flags/:id/review',
      {
        config: { permission: 'security.flags.review' },
        schema: {
          tags: ['security'],
          summary: 'Mark a flag reviewed, with what was found',
          params: z.object({ id: z.string().max(100) }),
          body: z.object({ note: z.string().trim().min(3).max(2000) }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        await flags.review(request.params.id, request.body.note, actorOf(request.principal));
        return reply.status(204).send(null);
      },
    );
  };
