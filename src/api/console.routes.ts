// Serves the console (the React app built into console/dist) at /. Every file is public: the
// console holds no data, everything it shows comes from the API behind its own permissions. Any
// other GET outside /api answers index.html so that client-side routes (/people, /policy#SYS-5)
// load directly. Without a build, / says how to make one.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AppContext } from './context.ts';
import { errorBody } from './errors.ts';

export const CONSOLE_DIST = path.resolve(import.meta.dirname, '../../console/dist');

// Mantine writes style attributes and <style> elements at run time, hence 'unsafe-inline' for styles.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Custos</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Custos is running</h1>
<p>The API answers at <a href="/api/docs">/api/docs</a>, but the console has not been built.
Run <code>npm run build:console</code> and reload this page.</p>
</body></html>
`;

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .header('x-frame-options', 'DENY');
}

/** The file under root that a URL path names, or null when there is none (or it escapes root). */
function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const relative = path.posix.normalize(decoded).replace(/^\/+/, '');
  if (!relative || relative.startsWith('..')) return null;
  const absolute = path.join(root, relative);
  if (!absolute.startsWith(root + path.sep)) return null;
  try {
    return statSync(absolute).isFile() ? relative : null;
  } catch {
    return null;
  }
}

export function consoleRoutes(
  _ctx: AppContext,
  options: { root?: string } = {},
): FastifyPluginAsync {
  const root = options.root ?? CONSOLE_DIST;
  return async (app) => {
    const built = existsSync(path.join(root, 'index.html'));
    if (built) await app.register(fastifyStatic, { root, serve: false });

    const sendIndex = (reply: FastifyReply) =>
      built
        ? securityHeaders(reply)
            .header('cache-control', 'no-cache')
            .sendFile('index.html', root, { cacheControl: false })
        : securityHeaders(reply).type('text/html; charset=utf-8').send(NOT_BUILT);

    app.get(
      '/',
      { config: { permission: 'public' }, schema: { hide: true } },
      async (_request, reply) => sendIndex(reply),
    );

    app.get(
      '/*',
      { config: { permission: 'public' }, schema: { hide: true } },
      async (request, reply) => {
        const urlPath = request.url.split('?')[0]!;
        if (urlPath === '/api' || urlPath.startsWith('/api/')) {
          return reply
            .status(404)
            .send(errorBody('not_found', `There is nothing at GET ${urlPath}.`));
        }
        const file = built ? fileFor(root, urlPath) : null;
        if (file && file !== 'index.html') {
          // Vite names built assets by content hash, so they never change under one name.
          if (file.startsWith('assets/')) {
            return securityHeaders(reply).sendFile(file, root, {
              maxAge: 365 * 24 * 3_600_000,
              immutable: true,
            });
          }
          return securityHeaders(reply)
            .header('cache-control', 'no-cache')
            .sendFile(file, root, { cacheControl: false });
        }
        return sendIndex(reply);
      },
    );
  };
}
