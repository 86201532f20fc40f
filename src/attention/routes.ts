// GET /api/attention: what waits for the signed-in person.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { ATTENTION_PROVIDERS } from './providers.ts';
import { type AttentionProvider, attentionFor } from './service.ts';

const AttentionItem = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  detail: z.string(),
  clauseIds: z.array(z.string()),
  href: z.string(),
  action: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  due: z.string().optional(),
  count: z.number().optional(),
});

export const attentionRoutes =
  (
    ctx: AppContext,
    providers: readonly AttentionProvider[] = ATTENTION_PROVIDERS,
  ): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/',
      {
        config: { permission: 'authenticated' },
        schema: {
          tags: ['attention'],
          summary:
            'Needs my attention: what waits for the signed-in person, from what they may see',
          response: { 200: z.object({ items: z.array(AttentionItem) }) },
        },
      },
      async (request) => ({ items: await attentionFor(ctx, request.principal!, providers) }),
    );
  };
