// The route modules, each mounted under its prefix. A module exports a factory taking the
// AppContext and returning a Fastify plugin.
import type { FastifyPluginAsync } from 'fastify';
import { attentionRoutes } from '../attention/routes.ts';
import { auditRoutes } from '../audit/routes.ts';
import { authRoutes } from '../auth/routes.ts';
import { directoryRoutes } from '../directory/routes.ts';
import { policyDocumentRoutes } from '../governance/policy-document/routes.ts';
import { mailRoutes } from '../mail/routes.ts';
import { packRoutes } from '../policy/packs.routes.ts';
import { policyRoutes } from '../policy/routes.ts';
import { securityRoutes } from '../security/routes.ts';
import { reviewsRoutes } from '../webfilter/reviews.routes.ts';
import { webfilterRoutes } from '../webfilter/routes.ts';
import type { AppContext } from './context.ts';

export interface ModuleRoutes {
  prefix: string;
  plugin: FastifyPluginAsync;
}

export function moduleRoutes(ctx: AppContext): ModuleRoutes[] {
  return [
    { prefix: '/api/audit', plugin: auditRoutes(ctx) },
    { prefix: '/api/auth', plugin: authRoutes(ctx) },
    { prefix: '/api', plugin: directoryRoutes(ctx) },
    { prefix: '/api/policy', plugin: policyRoutes(ctx) },
    { prefix: '/api/policy', plugin: policyDocumentRoutes(ctx) },
    { prefix: '/api/attention', plugin: attentionRoutes(ctx) },
    { prefix: '/api/policy/packs', plugin: packRoutes(ctx) },
    { prefix: '/api/webfilter', plugin: webfilterRoutes(ctx) },
    { prefix: '/api/webfilter/reviews', plugin: reviewsRoutes(ctx) },
    { prefix: '/api/mail', plugin: mailRoutes(ctx) },
    { prefix: '/api/security', plugin: securityRoutes(ctx) },
  ];
}
