// Forwarding an allowed plain-HTTP request to the site: hop-by-hop headers removed, Via added,
// bodies streamed both ways over kept-alive connections. The site's name (or, for a search site
// under SafeSearch, its safe name) is resolved and the address checked (target.ts) before a
// connection is made; a kept-alive connection is reused without resolving again. Failures answer
// with a page that says what to do next.
import http, {
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import net, { type LookupFunction } from 'node:net';
import type { WebDecision } from '../engine.ts';
import { safeSearchHost } from '../safesearch.ts';
import { type ErrorKind, errorPage, errorStatus } from './pages.ts';
import { connectionTokens, HOP_BY_HOP, type Target } from './request-line.ts';
import { type ProxyContext, sendPage, VIA } from './server.ts';
import { TargetRefused } from './target.ts';

class UpstreamTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'connect' | 'response') {
    super(phase === 'connect' ? 'connecting to the site timed out' : 'the site stopped answering');
  }
}

/** What kind of failure reaching a site was, for its error page. */
export function kindOf(err: unknown): { kind: ErrorKind; detail: string } {
  if (err instanceof TargetRefused) return { kind: 'refused-target', detail: err.message };
  if (err instanceof UpstreamTimeout) return { kind: 'timeout', detail: `${err.message}.` };
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'ENODATA':
      return { kind: 'unknown-host', detail: 'The name does not resolve to an address.' };
    case 'ECONNREFUSED':
      return { kind: 'unreachable', detail: 'The site refused the connection.' };
    case 'ETIMEDOUT':
      return { kind: 'timeout', detail: 'The connection timed out.' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'unreachable', detail: 'The site closed the connection without an answer.' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'unreachable', detail: 'There is no route to the site.' };
    default:
      return { kind: 'unreachable', detail: 'The site did not give a usable answer.' };
  }
}

/** The request headers passed on: end-to-end ones only, plus Via. */
function forwardHeaders(req: IncomingMessage, target: Target): OutgoingHttpHeaders {
  const headers = req.headers;
  const named = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = headers[name];
  }
  // The authority of the absolute URI wins over any Host the client sent (RFC 9112 3.2.2).
  const host = target.kind === 'ipv6' ? `[${target.host}]` : target.host;
  out.host = target.port === 80 ? host : `${host}:${target.port}`;
  out.via = headers.via ? `${headers.via}, ${VIA}` : VIA;
  return out;
}

/** The response headers passed back, as a flat raw list (keeps repeated Set-Cookie). */
function backHeaders(raw: readonly string[], named: Set<string> | null): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || lower === 'via') continue;
    out.push(name, raw[i + 1]!);
  }
  let via: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'via') via = via ? `${via}, ${raw[i + 1]}` : raw[i + 1]!;
  }
  out.push('Via', via ? `${via}, ${VIA}` : VIA);
  return out;
}

export function createForwarder(ctx: ProxyContext) {
  const { options, deps } = ctx;
  // New connections get the connect timeout here, once per socket rather than once per request.
  class TimedAgent extends http.Agent {
    override createConnection(
      opts: net.NetConnectOpts,
      callback?: (err: Error | null, socket: net.Socket) => void,
    ): net.Socket {
      const socket = net.createConnection(opts);
      const timer = setTimeout(
        () => socket.destroy(new UpstreamTimeout('connect')),
        options.upstreamConnectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
      callback?.(null, socket);
      return socket;
    }
  }
  const agent = new TimedAgent({
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxFreeSockets: 1024,
    scheduling: 'lifo',
  });

  // Resolves with the configured resolver and refuses forbidden addresses before connecting;
  // one lookup function per port, so the own-port check knows it without a closure per request.
  const lookups = new Map<number, LookupFunction>();
  const lookupFor = (port: number): LookupFunction => {
    let fn = lookups.get(port);
    if (fn) return fn;
    fn = ((hostname: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      ctx.resolve(safeSearchHost(hostname, deps.engine().policy)).then(
        ({ address, family }) => {
          try {
            ctx.targets.check(address, port);
          } catch (err) {
            callback(err);
            return;
          }
          if (opts.all) callback(null, [{ address, family }]);
          else callback(null, address, family);
        },
        (err: unknown) => callback(err),
      );
    }) as unknown as LookupFunction;
    if (lookups.size < 1000) lookups.set(port, fn);
    return fn;
  };

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    decision: WebDecision,
    clientIp: string,
    target: Target,
    path: string,
    started: number,
  ): void {
    let status = 0;
    let bytes = 0;
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      deps.activity.record({
        at: new Date(started),
        source: 'proxy',
        personId: decision.person?.id ?? null,
        deviceId: decision.device?.id ?? null,
        clientIp,
        method: req.method ?? null,
        host: target.host,
        path,
        categories: decision.categories,
        decision: 'allow',
        reason: decision.reason,
        clauseIds: decision.clauseIds,
        status,
        bytes,
        durationMs: Date.now() - started,
      });
    };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        record();
        return;
      }
      const { kind, detail } = kindOf(err);
      status = errorStatus(kind);
      bytes += sendPage(res, status, errorPage(kind, target.host, detail));
      record();
    };

    if (target.kind !== 'name') {
      try {
        ctx.targets.check(target.host, target.port);
      } catch (err) {
        fail(err);
        return;
      }
    }

    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path,
      headers: forwardHeaders(req, target),
      agent,
      lookup: lookupFor(target.port),
      setHost: false,
      timeout: options.upstreamResponseTimeoutMs,
    });

    upstream.on('timeout', () => upstream.destroy(new UpstreamTimeout('response')));
    upstream.on('error', fail);
    upstream.on('response', (answer: IncomingMessage) => {
      status = answer.statusCode ?? 502;
      const named = connectionTokens(answer.headers.connection as string | undefined);
      res.writeHead(status, answer.statusMessage, backHeaders(answer.rawHeaders, named));
      const length = answer.headers['content-length'];
      if (length !== undefined && /^\d+$/.test(length)) bytes += Number(length);
      else {
        answer.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
      }
      answer.on('error', () => res.destroy());
      answer.pipe(res);
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
      record();
    });

    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) {
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.pipe(upstream);
    } else upstream.end();
  }

  forward.stop = () => agent.destroy();
  return forward;
}
