// /healthz answers while the process runs; /readyz only when the store answers and a policy is
// loaded, so a load balancer or systemd can tell "alive" from "able to serve". /readyz also says
// whether the mail gateway's virus scanner answers, and warns when mail.clamd.failOpen is on: the
// web filter and the console serve without clamd, so it is a warning, not "not ready".
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scannerStatus } from '../mail/clamd.ts';
import type { AppContext } from './context.ts';
import { errorBody } from './errors.ts';

export const healthRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/healthz',
      {
        config: { permission: 'public' },
        schema: {
          tags: ['health'],
          summary: 'Liveness: the process is running',
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        config: { permission: 'public' },
        schema: {
          tags: ['health'],
          summary:
            'Readiness: the store answers and a policy is loaded; with the virus scanner status and warnings',
        },
      },
      async (_request, reply) => {
        try {
          await ctx.store.ping();
        } catch (error) {
          return reply.status(503).send(
            errorBody('not_ready', 'The database does not answer.', {
              store: ctx.store.describe,
              reason: error instanceof Error ? error.message : String(error),
            }),
          );
        }
        const policy = ctx.policy.current();
        const scanner = await scannerStatus(ctx.config.mail.clamd);
        const warnings = !scanner.answering || scanner.failOpen ? [scanner.message] : [];
        return {
          status: 'ready',
          store: ctx.store.dialect,
          policy: policy.name,
          mail: {
            scanner: scanner.answering ? 'answering' : 'not answering',
            failOpen: scanner.failOpen,
          },
          warnings,
        };
      },
    );
  };
