// The filtering web proxy: every web request of the school passes through here. Plain HTTP
// (absolute-URI requests) is filtered by host and URL and forwarded over kept-alive connections;
// HTTPS (CONNECT) is filtered by host and tunnelled without interception. Built on node:http and
// node:net only. The hot path reads the engine in memory, queues its activity record and never
// waits on the database; anything a client sends that is malformed gets an answer or a closed
// connection, never a crash.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Listener } from '../../api/server.ts';
import type { AuditLog } from '../../audit/service.ts';
import type { Config } from '../../config/config.ts';
import type { Store } from '../../store/database.ts';
import type { ActivityRecorder } from '../activity.ts';
import type { WebAlerts } from '../alerts.ts';
import type { WebDecision, WebEngine } from '../engine.ts';
import type { ProxyAuthenticator } from './auth.ts';
import { handleConnect } from './connect.ts';
import { createFastPath } from './fast.ts';
import { createForwarder } from './forward.ts';
import { handleLocal, isReviewPath, REVIEW_PATH } from './local.ts';
import { blockPage, errorPage } from './pages.ts';
import { framingProblem, parseAbsoluteHttp, type Target } from './request-line.ts';
import { createReviewTokens } from './reviews.ts';
import { createTargetPolicy, type Resolver, systemResolver, unmapped } from './target.ts';

export type ProxyConfig = Config['proxy'];

export interface ProxyDeps {
  /** The engine in force (WebFilterState.engine). */
  engine: () => WebEngine;
  activity: ActivityRecorder;
  store: Store;
  audit: AuditLog;
  log: Logger;
  clock?: () => Date;
  /** Needed unless proxy.requireAuth is 'never'. */
  authenticator?: ProxyAuthenticator;
  /** Name resolution; tests map names to local servers. */
  resolve?: Resolver;
  /** Tells the designated staff of attempts on alert categories (MIS-2(j), pornography). */
  alerts?: WebAlerts;
}

export interface ProxyOptions extends ProxyConfig {
  /** The console's address: clause links on block pages point at `${publicUrl}/policy#ID`. */
  publicUrl: string;
  /** Other ports of this process (the API), never reached through the proxy on this machine. */
  ownPorts?: readonly number[];
}

export interface ProxyListener extends Listener {
  /** Connections open now. */
  connections(): number;
}

/** What a request handler needs; built once per listener. */
export interface ProxyContext {
  readonly deps: ProxyDeps;
  readonly options: ProxyOptions;
  readonly clock: () => Date;
  readonly resolve: Resolver;
  readonly targets: ReturnType<typeof createTargetPolicy>;
  readonly tokens: ReturnType<typeof createReviewTokens>;
  readonly proxyHost: () => string;
  readonly proxyPort: () => number;
  /** Decides who is behind a request: a person id, null (by device only) or a challenge sent. */
  identify(
    req: IncomingMessage,
    clientIp: string,
    engine: WebEngine,
  ): string | null | false | Promise<string | null | false>;
  /** Tells the designated staff about an alert category (MIS-2(j), pornography). */
  alert(decision: WebDecision, host: string, clientIp: string): void;
}

export { VIA } from './request-line.ts';

/** A short answer the proxy writes itself. */
export function sendPage(
  res: ServerResponse,
  status: number,
  body: string,
  extra: Record<string, string> = {},
  close = false,
): number {
  const length = Buffer.byteLength(body);
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': length,
    'Cache-Control': 'no-store',
    ...(close ? { Connection: 'close' } : {}),
    ...extra,
  });
  res.end(body);
  return length;
}

const clientIpOf = (socket: Socket): string => unmapped(socket.remoteAddress ?? '');

export async function startProxy(deps: ProxyDeps, options: ProxyOptions): Promise<ProxyListener> {
  const clock = deps.clock ?? (() => new Date());
  const log = deps.log;
  let port = options.port;
  let listening = false;
  const publicHost = () =>
    options.publicHost ?? new URL(options.publicUrl).hostname ?? options.host;

  const ctx: ProxyContext = {
    deps,
    options,
    clock,
    resolve: deps.resolve ?? systemResolver,
    targets: createTargetPolicy({
      allowed: options.allowedTargets,
      ownPorts: [...(options.ownPorts ?? [])],
    }),
    tokens: createReviewTokens(),
    proxyHost: publicHost,
    proxyPort: () => port,
    identify(req, clientIp, engine) {
      const mode = options.requireAuth;
      if (mode === 'never') return null;
      const header = req.headers['proxy-authorization'];
      if (header === undefined) {
        if (mode === 'unregistered-devices' && engine.subjects.devicesByIp.has(clientIp))
          return null;
        return false;
      }
      const auth = deps.authenticator;
      if (!auth) throw new Error('proxy authentication is on but no authenticator was given');
      const answer = auth.check(header, clientIp);
      const settle = (r: Awaited<typeof answer>) => (r.ok ? r.personId : false);
      return answer instanceof Promise ? answer.then(settle) : settle(answer);
    },
    alert(decision, host, clientIp) {
      if (deps.alerts) {
        deps.alerts.attempt({ source: 'proxy', decision, host, clientIp, at: clock() });
      } else {
        log.warn(
          { host, clientIp, categories: decision.categories },
          'web alert: an attempt on an alert category; the proxy was started without alerts, so nobody is told',
        );
      }
    },
  };

  const forward = createForwarder(ctx);

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = Date.now();
    const url = req.url ?? '/';
    if (url.length > options.maxUrlLength) {
      sendPage(
        res,
        414,
        errorPage('bad-request', '(long address)', 'The address is too long.'),
        {},
        true,
      );
      return;
    }
    const framing = framingProblem(req.rawHeaders);
    if (framing) {
      sendPage(res, 400, errorPage('bad-request', '', `Refused: ${framing}.`), {}, true);
      return;
    }
    if (url.charCodeAt(0) === 47 /* / */) {
      handleLocal(ctx, req, res, url);
      return;
    }
    const parsed = parseAbsoluteHttp(url);
    if (!parsed) {
      const https = url.slice(0, 8).toLowerCase() === 'https://';
      sendPage(
        res,
        400,
        errorPage(
          'bad-request',
          '',
          https
            ? 'HTTPS addresses go through the proxy with CONNECT; this browser sent them as plain requests.'
            : 'The proxy expects an absolute http:// address.',
        ),
        {},
        true,
      );
      return;
    }
    const { target, path } = parsed;
    if (req.method === 'POST' && isReviewPath(path)) {
      handleLocal(ctx, req, res, REVIEW_PATH, target.host);
      return;
    }
    const clientIp = clientIpOf(req.socket);
    const engine = deps.engine();
    const who = ctx.identify(req, clientIp, engine);
    if (who instanceof Promise) {
      who.then(
        (personId) => decideAndForward(req, res, engine, clientIp, personId, target, path, started),
        (err: unknown) => {
          log.error({ err }, 'proxy authentication failed');
          if (!res.headersSent)
            sendPage(res, 503, errorPage('overloaded', target.host, 'Sign-in is unavailable.'));
        },
      );
    } else decideAndForward(req, res, engine, clientIp, who, target, path, started);
  }

  function decideAndForward(
    req: IncomingMessage,
    res: ServerResponse,
    engine: WebEngine,
    clientIp: string,
    personId: string | null | false,
    target: Target,
    path: string,
    started: number,
  ): void {
    if (personId === false) {
      const answer = challengeAnswer(options, target.host);
      sendPage(res, answer.status, answer.body, answer.headers);
      return;
    }
    const outcome = decideRequest(ctx, engine, clientIp, personId, target, path, started);
    if (outcome.decision.action === 'block') {
      const answer = blockAnswer(ctx, engine, clientIp, outcome, target, path);
      const bytes = sendPage(res, answer.status, answer.body, answer.headers);
      recordBlocked(ctx, outcome, clientIp, req.method ?? null, target.host, path, bytes, started);
      return;
    }
    forward(req, res, outcome.decision, clientIp, target, path, started);
  }

  const server = http.createServer(
    {
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.headersTimeoutMs, options.requestTimeoutMs),
      keepAliveTimeout: options.idleTimeoutMs,
      connectionsCheckingInterval: Math.max(250, Math.min(5000, options.headersTimeoutMs / 2)),
      requireHostHeader: false,
      noDelay: true,
    },
    onRequest,
  );

  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    handleConnect(ctx, req, socket, head);
  });
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    socket.end(
      'HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 57\r\n\r\nProtocol upgrades over plain HTTP are not passed through.',
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    socket.on('error', () => {});
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : err.code === 'HPE_URI_TOO_LONG' // not raised by llhttp today; kept for clarity
            ? '414 URI Too Long'
            : '400 Bad Request';
    const body = `${status.slice(4)}\n`;
    socket.end(
      `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  });

  // The cap on connections: the HTTP server's own connection handler runs only for connections
  // under the cap; the others get a 503 and are closed.
  const httpConnection = server.listeners('connection')[0] as (socket: Socket) => void;
  server.removeAllListeners('connection');
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= options.maxConnections) {
      socket.on('error', () => {});
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 47\r\n\r\nThe proxy has too many connections; try again.\n',
      );
      socket.destroySoon();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (fast) fast.accept(socket);
    else httpConnection.call(server, socket);
  });
  // Ordinary requests take the fast path; anything else is given to node:http with the bytes
  // read so far, as if it had read them itself.
  const fast = options.fastPath
    ? createFastPath(ctx, (socket, bytes) => {
        httpConnection.call(server, socket);
        if (bytes) socket.emit('data', bytes);
      })
    : null;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  listening = true;
  server.on('error', (err) => log.error({ err }, 'proxy listener error'));
  const info = server.address() as AddressInfo;
  port = info.port;
  // Now that the port is known, the proxy refuses to connect to itself.
  (ctx as { targets: ProxyContext['targets'] }).targets = createTargetPolicy({
    allowed: options.allowedTargets,
    ownPorts: [port, ...(options.ownPorts ?? [])],
  });
  const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;

  return {
    address: { host: info.address, port: info.port, url: `http://${shownHost}:${info.port}` },
    connections: () => open.size,
    async stop() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      fast?.closeIdle();
      // Tunnels and long downloads get a moment to finish, then are cut.
      const timer = setTimeout(() => {
        for (const socket of open) socket.destroy();
      }, 2000);
      timer.unref();
      await closed;
      clearTimeout(timer);
      forward.stop();
      fast?.stop();
    },
  };
}

/** What the policy says about one plain-HTTP request: the engine's decision, then downloads. */
export interface RequestOutcome {
  readonly decision: WebDecision;
  /** Set when something other than the site's categories blocked it ('download'). */
  readonly reasonKey?: string;
}

export function decideRequest(
  ctx: ProxyContext,
  engine: WebEngine,
  clientIp: string,
  personId: string | null,
  target: Target,
  path: string,
  started: number,
): RequestOutcome {
  const decision = engine.decide({
    clientIp,
    personId,
    host: target.host,
    path,
    now: new Date(started),
  });
  if (decision.alert) ctx.alert(decision, target.host, clientIp);
  if (decision.action === 'block') return { decision };
  const downloads = engine.policy.web.downloads;
  if (downloads.blockExecutables) {
    const ext = extensionOfPath(path);
    if (ext !== null && downloads.extensions.has(ext)) {
      return {
        decision: { ...decision, action: 'block', clauseIds: downloads.clauseIds, categories: [] },
        reasonKey: 'download',
      };
    }
  }
  return { decision };
}

/** A page the proxy answers with itself: status, headers and an HTML body. */
export interface ProxyAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The block page for a refused plain-HTTP request, with its review form and reason header. */
export function blockAnswer(
  ctx: ProxyContext,
  engine: WebEngine,
  clientIp: string,
  outcome: RequestOutcome,
  target: Target,
  path: string,
): ProxyAnswer {
  const { host, port } = target;
  const origin = port === 80 ? host : `${host}:${port}`;
  const body = blockPage({
    policy: engine.policy,
    publicUrl: ctx.options.publicUrl,
    host,
    url: `http://${origin}${path}`,
    decision: outcome.decision,
    reasonKey: outcome.reasonKey,
    review: {
      action: `http://${origin}${REVIEW_PATH}`,
      token: ctx.tokens.issue(host, clientIp),
    },
  });
  return {
    status: 403,
    headers: { 'X-Custos-Reason': reasonHeader(outcome.decision, outcome.reasonKey) },
    body,
  };
}

/** The 407 that asks a browser for the person's school credentials. */
export function challengeAnswer(options: ProxyOptions, host: string): ProxyAnswer {
  return {
    status: 407,
    headers: { 'Proxy-Authenticate': `Basic realm="${options.authRealm.replace(/["\\]/g, '')}"` },
    body: errorPage(
      'bad-request',
      host,
      'Sign in with your school e-mail address and password to use the internet from this device.',
    ),
  };
}

/** The activity record of a refused plain-HTTP request (WEB-6). */
export function recordBlocked(
  ctx: ProxyContext,
  outcome: RequestOutcome,
  clientIp: string,
  method: string | null,
  host: string,
  path: string,
  bytes: number,
  started: number,
): void {
  const { decision } = outcome;
  ctx.deps.activity.record({
    at: new Date(started),
    source: 'proxy',
    personId: decision.person?.id ?? null,
    deviceId: decision.device?.id ?? null,
    clientIp,
    method,
    host,
    path,
    categories: decision.categories,
    decision: 'block',
    reason: outcome.reasonKey ?? decision.reason,
    clauseIds: decision.clauseIds,
    status: 403,
    bytes,
    durationMs: Date.now() - started,
  });
}

/** The extension of the last path segment ('/a/setup.EXE?x=1' -> 'exe'), or null. */
export function extensionOfPath(path: string): string | null {
  let end = path.length;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) {
      end = i;
      break;
    }
  }
  const slash = path.lastIndexOf('/', end - 1);
  const dot = path.lastIndexOf('.', end - 1);
  if (dot <= slash + 1 || dot === end - 1) return null;
  let ext = path.slice(dot + 1, end);
  if (ext.includes('%')) {
    try {
      ext = decodeURIComponent(ext);
    } catch {
      return null;
    }
  }
  return ext.trim().toLowerCase();
}

/** The X-Custos-Reason header: ASCII, names the clauses. */
export function reasonHeader(
  decision: Pick<WebDecision, 'reason' | 'clauseIds' | 'categories'>,
  reasonKey?: string,
): string {
  const clauses = decision.clauseIds.length ? decision.clauseIds.join(', ') : 'policy';
  const cats = decision.categories.length ? ` (${decision.categories.join(', ')})` : '';
  return `blocked under ${clauses}: ${reasonKey ?? decision.reason}${cats}`.replace(
    /[^\x20-\x7e]/g,
    '?',
  );
}
