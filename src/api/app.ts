// The Fastify application: one error shape, OpenAPI, and deny-by-default access control. Every
// route must declare `config.permission`; a route without one stops the server from starting.
// One onRequest hook resolves the session and enforces the declared permission and CSRF.
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { isPermission, type RouteAccess } from '../auth/permissions.ts';
import { SESSION_COOKIE } from '../auth/session.service.ts';
import { AppError } from '../shared/errors.ts';
import { consoleRoutes } from './console.routes.ts';
import type { AppContext } from './context.ts';
import { errorBody, handleError, sendError } from './errors.ts';
import { healthRoutes } from './health.routes.ts';
import { moduleRoutes } from './modules.ts';

export interface RegisteredRoute {
  method: string;
  url: string;
  permission: RouteAccess;
}

export interface BuiltApp {
  app: FastifyInstance;
  routes: RegisteredRoute[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// Routes that the OpenAPI documentation plugin adds itself; they serve the public API description.
const DOCS_PREFIX = '/api/docs';

export class MissingPermissionError extends Error {
  constructor(method: string | string[], url: string, given: string | undefined) {
    super(
      `Route ${String(method)} ${url} ${given ? `declares an unknown permission '${given}'` : 'declares no permission'}. Every route needs config.permission: a permission from src/auth/permissions.ts, 'public' or 'authenticated'.`,
    );
    this.name = 'MissingPermissionError';
  }
}

export async function buildApp(
  ctx: AppContext,
  extra: FastifyPluginAsync[] = [],
): Promise<BuiltApp> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    requestTimeout: 120_000,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        errorBody(
          'not_found',
          `There is nothing at ${request.method} ${request.url.split('?')[0]}.`,
        ),
      ),
  );
  app.decorateRequest('principal', null);

  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(DOCS_PREFIX)) {
      route.config = { ...(route.config ?? {}), permission: 'public' };
    }
    const permission = (route.config as { permission?: string } | undefined)?.permission;
    if (
      !permission ||
      (permission !== 'public' && permission !== 'authenticated' && !isPermission(permission))
    ) {
      throw new MissingPermissionError(route.method, route.url, permission);
    }
    for (const method of [route.method].flat()) {
      // Fastify adds a HEAD route beside each GET with the same config; the GET stands for both.
      if (method === 'HEAD') continue;
      routes.push({ method, url: route.url, permission: permission as RouteAccess });
    }
  });

  await app.register(cookie);
  await app.register(multipart, {
    limits: { fileSize: config.server.bodyLimitBytes, files: 1, fields: 20 },
  });

  app.addHook('onRequest', async (request, reply) => {
    const permission = request.routeOptions.config.permission;
    if (!permission) return sendError(reply, new AppError('forbidden', 'This route is closed.'));
    const token = request.cookies[SESSION_COOKIE];
    const resolved = token ? await ctx.sessions.resolve(token) : { status: 'none' as const };
    if (resolved.status === 'ok') request.principal = resolved.principal;
    if (permission === 'public') return;
    if (resolved.status !== 'ok') {
      const error =
        resolved.status === 'locked'
          ? new AppError(
              'session_locked',
              'Your session was locked after a period without activity. Enter your password to carry on.',
            )
          : resolved.status === 'second_factor_required'
            ? new AppError(
                'second_factor_required',
                'Enter the code from your authenticator app to finish signing in.',
              )
            : resolved.status === 'expired'
              ? new AppError('session_expired', 'Your session has ended. Sign in again.')
              : new AppError('unauthenticated', 'Sign in to use this.');
      return sendError(reply, error);
    }
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (sent !== resolved.principal.csrfToken) {
        return sendError(
          reply,
          new AppError(
            'csrf_failed',
            'This request did not carry the page token. Reload the page and try again.',
          ),
        );
      }
    }
    if (permission !== 'authenticated' && !resolved.principal.permissions.has(permission)) {
      return sendError(
        reply,
        new AppError('forbidden', 'Your role does not allow this.', { permission }),
      );
    }
    await ctx.sessions.touch(resolved.session);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Custos API',
        version: '1',
        description:
          'The API of Custos. Every route declares the permission it needs (x-permission). Errors have the shape { error: { code, message, details } }.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      const permission = (input.route.config as { permission?: string } | undefined)?.permission;
      return { ...out, schema: { ...out.schema, 'x-permission': permission } as typeof out.schema };
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  app.get(
    '/api/openapi.json',
    { config: { permission: 'public' }, schema: { hide: true } },
    async () => app.swagger(),
  );

  await app.register(healthRoutes(ctx));
  for (const { prefix, plugin } of moduleRoutes(ctx)) await app.register(plugin, { prefix });
  for (const plugin of extra) await app.register(plugin);
  // Last: the console's static files and its client-side routes catch what the API does not.
  await app.register(consoleRoutes(ctx));

  await app.ready();
  return { app: app as unknown as FastifyInstance, routes };
}
