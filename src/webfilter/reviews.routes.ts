// Site-review requests over HTTP, mounted at /api/webfilter/reviews: the requests made from block
// pages (open ones to decide, decided ones to look back on) and the decision on one, allow or
// decline with a note. An allowed site is in force at once in this process.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import { actorOf } from '../auth/principal.ts';
import { Decision, DecisionResult, ListQuery, ReviewList } from './reviews.schema.ts';
import { createReviewsService } from './reviews.service.ts';
import { refreshWebFilter } from './runtime.ts';

export const reviewsRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const reviews = createReviewsService(ctx);

    app.get(
      '/',
      {
        config: { permission: 'webfilter.reviews.read' },
        schema: {
          tags: ['webfilter'],
          summary:
            'Requests to review a blocked site, made from block pages: who asked, when, why, and the categories and clauses that blocked it',
          querystring: ListQuery,
          response: { 200: ReviewList },
        },
      },
      async (request) => reviews.list(request.query.status),
    );

    app.post(
      '/:id/decision',
      {
        config: { permission: 'webfilter.reviews.decide' },
        schema: {
          tags: ['webfilter'],
          summary:
            "Allow a requested site (it goes on the school's allow list, MIS-1) or decline the request, with a note e-mailed to the person who asked",
          params: z.object({ id: z.string().max(64) }),
          body: Decision,
          response: { 200: DecisionResult },
        },
      },
      async (request) => {
        const result = await reviews.decide(
          request.params.id,
          request.body,
          actorOf(request.principal),
        );
        if (result.request.status === 'allowed') await refreshWebFilter(ctx.store);
        return result;
      },
    );
  };
