// The route modules, each mounted under its prefix. A module exports a factory taking the
// AppContext and returning a Fastify plugin.
import type { FastifyPluginAsync } from 'fastify';
import { auditRoutes } from '../audit/routes.ts';
import { authRoutes } from '../auth/routes.ts';
import { directoryRoutes } from '../directory/routes.ts';
import { policyRoutes } from '../policy/routes.ts';
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
  ];
}
