// HTTPS through the proxy: CONNECT host:port, filtered by host (the proxy never decrypts) and
// tunnelled to the resolved, checked address; for a search site under SafeSearch, the address of
// its safe name (the browser's TLS still names the site, which serves enforced SafeSearch there).
// A refusal is a short text answer with an X-Custos-Reason header naming the clause: browsers do
// not show a proxy's page for CONNECT. The activity record is written when the tunnel closes,
// with its bytes and duration.
import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import type { WebDecision } from '../engine.ts';
import { safeSearchHost } from '../safesearch.ts';
import { errorStatus } from './pages.ts';
import { parseAuthority, type Target } from './request-line.ts';
import { type ProxyContext, reasonHeader, VIA } from './server.ts';
import { unmapped } from './target.ts';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function answer(
  socket: Socket,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): number {
  const body = `${text}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (socket.writable) socket.end(`${head}\r\n${body}`);
  socket.destroySoon();
  return Buffer.byteLength(body);
}

export function handleConnect(
  ctx: ProxyContext,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  const started = Date.now();
  socket.on('error', () => {});
  const target = parseAuthority(req.url ?? '', 443);
  if (!target) {
    answer(socket, 400, 'CONNECT needs host:port.');
    return;
  }
  const clientIp = unmapped(socket.remoteAddress ?? '');
  const engine = ctx.deps.engine();
  let who: ReturnType<ProxyContext['identify']>;
  try {
    who = ctx.identify(req, clientIp, engine);
  } catch (err) {
    ctx.deps.log.error({ err }, 'proxy authentication failed');
    answer(socket, 503, 'Sign-in is unavailable.');
    return;
  }
  const go = (personId: string | null | false) => {
    if (personId === false) {
      answer(socket, 407, 'Sign in with your school e-mail address and password.', {
        'Proxy-Authenticate': `Basic realm="${ctx.options.authRealm.replace(/["\\]/g, '')}"`,
      });
      return;
    }
    const decision = engine.decide({
      clientIp,
      personId,
      host: target.host,
      now: new Date(started),
    });
    if (decision.alert) ctx.alert(decision, target.host, clientIp);
    if (decision.action === 'block') {
      const reason = reasonHeader(decision);
      const bytes = answer(socket, 403, `Blocked by the school's policy: ${reason}.`, {
        'X-Custos-Reason': reason,
      });
      record(ctx, decision, clientIp, target, started, 403, 'block', bytes);
      return;
    }
    tunnel(ctx, decision, clientIp, target, socket, head, started);
  };
  if (who instanceof Promise) {
    who.then(go, (err: unknown) => {
      ctx.deps.log.error({ err }, 'proxy authentication failed');
      answer(socket, 503, 'Sign-in is unavailable.');
    });
  } else go(who);
}

function record(
  ctx: ProxyContext,
  decision: WebDecision,
  clientIp: string,
  target: Target,
  started: number,
  status: number,
  action: 'allow' | 'block',
  bytes: number,
): void {
  ctx.deps.activity.record({
    at: new Date(started),
    source: 'proxy',
    personId: decision.person?.id ?? null,
    deviceId: decision.device?.id ?? null,
    clientIp,
    method: 'CONNECT',
    host: target.port === 443 ? target.host : `${target.host}:${target.port}`,
    path: null,
    categories: decision.categories,
    decision: action,
    reason: decision.reason,
    clauseIds: decision.clauseIds,
    status,
    bytes,
    durationMs: Date.now() - started,
  });
}

function tunnel(
  ctx: ProxyContext,
  decision: WebDecision,
  clientIp: string,
  target: Target,
  client: Socket,
  head: Buffer,
  started: number,
): void {
  const { options } = ctx;
  let upstream: Socket | null = null;
  let done = false;
  const fail = (status: number, text: string) => {
    if (done) return;
    done = true;
    upstream?.destroy();
    const bytes = answer(client, status, text);
    record(ctx, decision, clientIp, target, started, status, 'allow', bytes);
  };
  client.once('close', () => {
    if (!done) {
      done = true;
      upstream?.destroy();
      record(ctx, decision, clientIp, target, started, 0, 'allow', 0);
    }
  });

  const connectTo = (address: string) => {
    try {
      ctx.targets.check(address, target.port);
    } catch (err) {
      fail(errorStatus('refused-target'), (err as Error).message);
      return;
    }
    if (done) return;
    const socket = net.connect({ host: address, port: target.port, noDelay: true });
    upstream = socket;
    const timer = setTimeout(() => {
      fail(504, `Connecting to ${target.host} timed out. Try again in a few minutes.`);
    }, options.upstreamConnectTimeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!done) {
        fail(
          502,
          `Could not reach ${target.host}: ${err.code === 'ECONNREFUSED' ? 'the connection was refused' : (err.code ?? 'error')}. The site may be down; try again in a few minutes.`,
        );
      } else client.destroy();
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      if (done) {
        socket.destroy();
        return;
      }
      done = true;
      client.write(`HTTP/1.1 200 Connection Established\r\nVia: ${VIA}\r\n\r\n`);
      if (head.length > 0) socket.write(head);
      socket.setTimeout(options.tunnelIdleTimeoutMs, () => socket.destroy());
      client.setTimeout(options.tunnelIdleTimeoutMs, () => client.destroy());
      socket.pipe(client);
      client.pipe(socket);
      let closed = 0;
      const onClose = () => {
        if (++closed === 1) {
          socket.destroy();
          client.destroy();
          record(
            ctx,
            decision,
            clientIp,
            target,
            started,
            200,
            'allow',
            socket.bytesRead + socket.bytesWritten,
          );
        }
      };
      socket.once('close', onClose);
      client.once('close', onClose);
    });
  };

  if (target.kind !== 'name') connectTo(target.host);
  else {
    ctx.resolve(safeSearchHost(target.host, ctx.deps.engine().policy)).then(
      ({ address }) => connectTo(address),
      () => fail(502, `The name ${target.host} could not be found. Check the address.`),
    );
  }
}
