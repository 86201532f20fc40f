// The proxy's fast path for the common case: a browser's plain-HTTP/1.1 request with an absolute
// URI, no body or a Content-Length body, and nothing unusual in its head. Such requests are read,
// decided and forwarded over pooled upstream connections straight from the socket, without the
// request and response objects of node:http. Anything else (CONNECT, the proxy's own pages,
// chunked uploads, Expect, Upgrade, HTTP/1.0, a head that is malformed, too large or ambiguous
// in its framing) is handed, with every byte read so far, to the node:http server, which has
// the strict, tested answer for it; the connection then stays there. So the fast path adds speed,
// never a second interpretation of a request: whatever it does not accept exactly, it passes on.
import net, { type Socket } from 'node:net';
import type { WebDecision, WebEngine } from '../engine.ts';
import { safeSearchHost } from '../safesearch.ts';
import { kindOf } from './forward.ts';
import { isReviewPath } from './local.ts';
import { errorPage, errorStatus } from './pages.ts';
import { HOP_BY_HOP, parseAbsoluteHttp, type Target, VIA } from './request-line.ts';
import { BodyMode, parseResponseHead, type ResponseHead } from './response-head.ts';
import {
  blockAnswer,
  challengeAnswer,
  decideRequest,
  type ProxyAnswer,
  type ProxyContext,
  recordBlocked,
} from './server.ts';
import { unmapped } from './target.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const METHOD = /^[A-Z]{1,20}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const MAX_RESPONSE_HEAD = 64 * 1024;
const MAX_IDLE_UPSTREAMS = 256;
/** Where every site connection's bytes are read (see open). */
const SITE_READS = Buffer.allocUnsafe(64 * 1024);
/** A body part up to this size is copied after the head, so that both leave in one write. */
const JOIN_LIMIT = 16 * 1024;

const REASONS: Record<number, string> = {
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A request head the fast path accepts, already rewritten for the site. */
interface FastRequest {
  method: string;
  target: Target;
  path: string;
  /** Header lines passed on, each ending in CRLF (Host and Via are added when forwarding). */
  lines: string;
  via: string | null;
  proxyAuthorization: string | undefined;
  bodyLength: number;
  /** The client asked to close after this request. */
  close: boolean;
}

/** Parses a request head (without its final CRLFCRLF), or null: hand the connection over. */
export function parseFastRequest(head: string, maxUrlLength: number): FastRequest | null {
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0 || requestLine.indexOf(' ', sp2 + 1) >= 0) return null;
  const method = requestLine.slice(0, sp1);
  const url = requestLine.slice(sp1 + 1, sp2);
  if (requestLine.slice(sp2 + 1) !== 'HTTP/1.1') return null;
  if (!METHOD.test(method) || method === 'CONNECT') return null;
  if (url.length > maxUrlLength || BAD_VALUE.test(url)) return null;
  const parsed = parseAbsoluteHttp(url);
  if (!parsed) return null;

  let lines = '';
  let via: string | null = null;
  let proxyAuthorization: string | undefined;
  let bodyLength = -1;
  let close = false;
  let named = false; // the client's Connection header names headers: node:http handles those
  let start = lineEnd < 0 ? head.length : lineEnd + 2;
  while (start < head.length) {
    let end = head.indexOf('\r\n', start);
    if (end < 0) end = head.length;
    const line = head.slice(start, end);
    start = end + 2;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return null; // also refuses obs-fold and space before the colon
    const value = line.slice(colon + 1).trim();
    if (BAD_VALUE.test(value)) return null;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'content-length':
        if (bodyLength >= 0 || !/^\d{1,15}$/.test(value)) return null;
        bodyLength = Number(value);
        lines += `${line}\r\n`;
        break;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return null;
      case 'connection':
      case 'proxy-connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') close = true;
          else if (t && t !== 'keep-alive' && lower === 'connection') named = true;
        }
        break;
      case 'proxy-authorization':
        if (proxyAuthorization !== undefined) return null;
        proxyAuthorization = value;
        break;
      case 'host':
        break; // the absolute URI's authority wins (RFC 9112 3.2.2)
      case 'via':
        via = via === null ? value : `${via}, ${value}`;
        break;
      default:
        if (!HOP_BY_HOP.has(lower)) lines += `${line}\r\n`;
    }
  }
  if (named) return null;
  return {
    method,
    target: parsed.target,
    path: parsed.path,
    lines,
    via,
    proxyAuthorization,
    bodyLength: Math.max(0, bodyLength),
    close,
  };
}

/** Scans chunked framing (RFC 9112 7.1) without changing it, to find where a body ends. */
export class ChunkedScanner {
  private phase = 0;
  private size = 0;
  private digits = 0;
  private skipped = 0;

  /** Index just after the body's end in buf, -1 when more is needed, -2 when malformed. */
  scan(buf: Buffer, from: number): number {
    let i = from;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      switch (this.phase) {
        case 0: {
          // chunk size
          const v =
            c >= 48 && c <= 57
              ? c - 48
              : c >= 97 && c <= 102
                ? c - 87
                : c >= 65 && c <= 70
                  ? c - 55
                  : -1;
          if (v >= 0) {
            if (++this.digits > 12) return -2;
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) return -2;
          else if (c === 13) this.phase = 2;
          else if (c === 59 || c === 32 || c === 9) {
            this.phase = 1;
            this.skipped = 0;
          } else return -2;
          i++;
          break;
        }
        case 1: // chunk extension, ignored
          if (c === 13) this.phase = 2;
          else if (c === 10 || ++this.skipped > 4096) return -2;
          i++;
          break;
        case 2: // LF after the size line
          if (c !== 10) return -2;
          this.phase = this.size === 0 ? 6 : 3;
          i++;
          break;
        case 3: {
          // chunk data
          const take = Math.min(this.size, n - i);
          this.size -= take;
          i += take;
          if (this.size === 0) this.phase = 4;
          break;
        }
        case 4:
          if (c !== 13) return -2;
          this.phase = 5;
          i++;
          break;
        case 5:
          if (c !== 10) return -2;
          this.phase = 0;
          this.digits = 0;
          i++;
          break;
        case 6: // start of a trailer line, or the final CRLF
          if (c === 13) this.phase = 8;
          else {
            this.phase = 7;
            this.skipped = 0;
          }
          i++;
          break;
        case 7: // trailer field line
          if (c === 10) this.phase = 6;
          else if (++this.skipped > 8192) return -2;
          i++;
          break;
        case 8:
          if (c !== 10) return -2;
          return i + 1;
      }
    }
    return -1;
  }
}

/** How the response body ends. */
/** A kept-alive connection to a site, with what it is doing for which client. */
class Upstream {
  buf: Buffer | null = null;
  exchange: Exchange | null = null;
  /** Answered at least one request: a failure before any answer may be a stale reuse. */
  used = false;
  idleSince = 0;
  /** When the connection times out (Date.now() ms; 0: never), see createFastPath's sweep. */
  deadline = 0;
  constructor(
    readonly key: string,
    readonly socket: Socket,
  ) {}
}

/** One request in flight: the client's connection, the site's, and how far the answer got. */
interface Exchange {
  client: ClientConnection;
  request: FastRequest;
  head: Buffer;
  decision: WebDecision;
  clientIp: string;
  started: number;
  upstream: Upstream | null;
  response: ResponseHead | null;
  remaining: number;
  chunks: ChunkedScanner | null;
  status: number;
  bytes: number;
  /** Request body bytes still to come from the client. */
  bodyLeft: number;
  /** Request body bytes read before the site's connection was ready. */
  early: Buffer[] | null;
  retried: boolean;
  done: boolean;
}

interface ClientConnection {
  socket: Socket;
  clientIp: string;
  pending: Buffer | null;
  exchange: Exchange | null;
  handedOver: boolean;
  closed: boolean;
  /** When the head now being read began (0: none pending), for the headers timeout. */
  headStarted: number;
  /** When the connection times out (Date.now() ms; 0: never), see createFastPath's sweep. */
  deadline: number;
  /** Removes the fast path's listeners (before a hand-over). */
  detach: () => void;
}

export interface FastPath {
  /** Takes a new client connection; the node:http server gets it back when needed. */
  accept(socket: Socket): void;
  /** Closes client connections that wait between requests (when the proxy stops). */
  closeIdle(): void;
  stop(): void;
}

/**
 * handOver(socket, bytes) gives a connection to node:http with the bytes already read from it.
 */
export function createFastPath(
  ctx: ProxyContext,
  handOver: (socket: Socket, bytes: Buffer | null) => void,
): FastPath {
  const { options, deps } = ctx;
  const idle = new Map<string, Upstream[]>();
  let idleCount = 0;
  const clients = new Set<ClientConnection>();
  const upstreams = new Set<Upstream>();

  // Timeouts are deadlines that one sweep checks, not a timer per socket: a socket's own
  // timeout would make a new timer object at every phase of every request, and the garbage
  // they make is what stalls a busy proxy. The sweep runs several times within the shortest
  // timeout, so a timeout fires at most a quarter late.
  const shortest = Math.min(
    options.headersTimeoutMs,
    options.idleTimeoutMs,
    options.upstreamConnectTimeoutMs,
    options.upstreamResponseTimeoutMs,
  );
  const sweeper = setInterval(sweep, Math.min(1000, Math.max(5, shortest >> 2)));
  sweeper.unref();

  function sweep(): void {
    const now = Date.now();
    for (const conn of clients) {
      if (conn.deadline !== 0 && now >= conn.deadline && !conn.exchange) conn.socket.destroy();
    }
    for (const up of upstreams) if (up.deadline !== 0 && now >= up.deadline) upstreamTimedOut(up);
  }

  function accept(socket: Socket): void {
    const conn: ClientConnection = {
      socket,
      clientIp: unmapped(socket.remoteAddress ?? ''),
      pending: null,
      exchange: null,
      handedOver: false,
      closed: false,
      headStarted: 0,
      deadline: Date.now() + options.headersTimeoutMs,
      detach: () => {},
    };
    clients.add(conn);
    socket.setNoDelay(true);
    const onData = (chunk: Buffer) => {
      if (conn.exchange) {
        feedBody(conn.exchange, chunk);
        return;
      }
      conn.pending = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
      next(conn);
    };
    const onClose = () => {
      conn.closed = true;
      clients.delete(conn);
      const ex = conn.exchange;
      if (ex && !ex.done) abort(ex);
    };
    // The server allows half-open connections: a client that has finished sending gets its
    // last answer, then the connection is closed.
    const onEnd = () => {
      if (conn.exchange) conn.exchange.request.close = true;
      else socket.end();
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('end', onEnd);
    socket.on('error', () => {});
    conn.detach = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onEnd);
      conn.deadline = 0;
    };
  }

  function giveAway(conn: ClientConnection): void {
    conn.handedOver = true;
    clients.delete(conn);
    conn.detach();
    const bytes = conn.pending;
    conn.pending = null;
    conn.socket.resume();
    handOver(conn.socket, bytes);
  }

  /** Reads the next request head from what is pending, if complete. */
  function next(conn: ClientConnection): void {
    const buf = conn.pending;
    if (!buf || conn.closed || conn.handedOver) return;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // A head sent a byte at a time still has to arrive within the headers timeout.
      const now = Date.now();
      if (conn.headStarted === 0) {
        conn.headStarted = now;
        conn.deadline = now + options.headersTimeoutMs;
      } else if (now - conn.headStarted > options.headersTimeoutMs) {
        conn.socket.destroy();
        return;
      }
      if (buf.length > options.maxHeaderBytes) giveAway(conn);
      return;
    }
    conn.headStarted = 0;
    if (end + 4 > options.maxHeaderBytes) {
      giveAway(conn);
      return;
    }
    const request = parseFastRequest(buf.toString('latin1', 0, end), options.maxUrlLength);
    if (!request || (request.method === 'POST' && isReviewPath(request.path))) {
      giveAway(conn);
      return;
    }
    const rest = end + 4 < buf.length ? buf.subarray(end + 4) : null;
    conn.pending = rest;
    conn.deadline = 0; // the exchange's site connection has the timers now
    start(conn, request);
  }

  function start(conn: ClientConnection, request: FastRequest): void {
    const started = Date.now();
    const engine = deps.engine();
    // From here the request's body (if any) belongs to this exchange, never to the next request.
    const ex = newExchange(conn, request, started);
    let who: ReturnType<ProxyContext['identify']>;
    try {
      const headers = { 'proxy-authorization': request.proxyAuthorization };
      who = ctx.identify({ headers } as never, conn.clientIp, engine);
    } catch (err) {
      deps.log.error({ err }, 'proxy authentication failed');
      finishSelf(ex, answerPage(503, 'overloaded', request.target.host, 'Sign-in is unavailable.'));
      return;
    }
    if (who instanceof Promise) {
      conn.socket.pause();
      who.then(
        (personId) => {
          conn.socket.resume();
          decided(ex, engine, personId);
        },
        (err: unknown) => {
          conn.socket.resume();
          deps.log.error({ err }, 'proxy authentication failed');
          finishSelf(
            ex,
            answerPage(503, 'overloaded', request.target.host, 'Sign-in is unavailable.'),
          );
        },
      );
    } else decided(ex, engine, who);
  }

  function newExchange(conn: ClientConnection, request: FastRequest, started: number): Exchange {
    const ex: Exchange = {
      client: conn,
      request,
      head: EMPTY,
      decision: null as unknown as WebDecision,
      clientIp: conn.clientIp,
      started,
      upstream: null,
      response: null,
      remaining: 0,
      chunks: null,
      status: 0,
      bytes: 0,
      bodyLeft: request.bodyLength,
      early: null,
      retried: false,
      done: false,
    };
    conn.exchange = ex;
    // Body bytes that came with the head.
    if (ex.bodyLeft > 0 && conn.pending) {
      const take = Math.min(ex.bodyLeft, conn.pending.length);
      ex.early = [conn.pending.subarray(0, take)];
      ex.bodyLeft -= take;
      ex.bytes += take;
      conn.pending = take < conn.pending.length ? conn.pending.subarray(take) : null;
    }
    return ex;
  }

  function decided(ex: Exchange, engine: WebEngine, personId: string | null | false): void {
    const { request, client } = ex;
    if (client.closed) return;
    if (personId === false) {
      finishSelf(ex, challengeAnswer(options, request.target.host));
      return;
    }
    const outcome = decideRequest(
      ctx,
      engine,
      ex.clientIp,
      personId,
      request.target,
      request.path,
      ex.started,
    );
    ex.decision = outcome.decision;
    if (outcome.decision.action === 'block') {
      const answer = blockAnswer(ctx, engine, ex.clientIp, outcome, request.target, request.path);
      const bytes = finishSelf(ex, answer);
      recordBlocked(
        ctx,
        outcome,
        ex.clientIp,
        request.method,
        request.target.host,
        request.path,
        bytes,
        ex.started,
      );
      return;
    }
    ex.head = siteHead(request);
    connectUpstream(ex);
  }

  /** The proxy answers a request itself (block page, challenge, error); returns body bytes. */
  function finishSelf(ex: Exchange, answer: ProxyAnswer): number {
    ex.done = true;
    const bytes = answerSelf(ex.client, ex.request, answer, ex.bodyLeft > 0);
    ex.client.exchange = null;
    // A body still on its way would be read as the next request: close instead.
    if (ex.bodyLeft > 0) ex.client.socket.destroySoon();
    else afterExchange(ex.client, ex.request.close);
    return bytes;
  }

  function answerSelf(
    conn: ClientConnection,
    request: FastRequest,
    answer: ProxyAnswer,
    forceClose = false,
  ): number {
    const length = Buffer.byteLength(answer.body);
    let head = `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? 'Error'}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${length}\r\nCache-Control: no-store\r\n`;
    for (const name in answer.headers) head += `${name}: ${answer.headers[name]}\r\n`;
    if (request.close || forceClose) head += 'Connection: close\r\n';
    if (!conn.closed) conn.socket.write(`${head}\r\n${answer.body}`);
    return length;
  }

  function afterExchange(conn: ClientConnection, close: boolean): void {
    if (close) {
      conn.socket.end();
      return;
    }
    if (conn.closed || conn.handedOver) return;
    conn.socket.resume();
    if (conn.pending) next(conn);
    else conn.deadline = Date.now() + options.idleTimeoutMs;
  }

  function connectUpstream(ex: Exchange): void {
    const { target } = ex.request;
    const key = `${target.host}|${target.port}`;
    const list = idle.get(key);
    let up: Upstream | undefined;
    while (list && list.length > 0) {
      up = list.pop()!;
      idleCount--;
      if (!up.socket.destroyed) break;
      up = undefined;
    }
    if (up) {
      attach(ex, up);
      return;
    }
    if (target.kind !== 'name') {
      try {
        ctx.targets.check(target.host, target.port);
      } catch (err) {
        failBeforeAnswer(ex, err);
        return;
      }
      open(ex, key, target.host);
      return;
    }
    ctx.resolve(safeSearchHost(target.host, deps.engine().policy)).then(
      ({ address }) => {
        if (ex.done) return;
        try {
          ctx.targets.check(address, target.port);
        } catch (err) {
          failBeforeAnswer(ex, err);
          return;
        }
        open(ex, key, address);
      },
      (err: unknown) => failBeforeAnswer(ex, err),
    );
  }

  function open(ex: Exchange, key: string, address: string): void {
    // The site's bytes are read into one shared buffer, not through a stream: they are parsed
    // and passed on at once, and whatever must outlive the read is copied (readResponse).
    const socket = net.connect({
      host: address,
      port: ex.request.target.port,
      noDelay: true,
      onread: {
        buffer: SITE_READS,
        callback: (bytes: number, buffer: Uint8Array) => {
          onUpstreamData(up, (buffer as Buffer).subarray(0, bytes));
          return true; // pausing is done by pause(), for backpressure (sendBody)
        },
      },
    });
    const up = new Upstream(key, socket);
    up.deadline = Date.now() + options.upstreamConnectTimeoutMs;
    upstreams.add(up);
    socket.on('end', () => onUpstreamEnd(up));
    socket.on('error', (err) => onUpstreamError(up, err));
    socket.on('close', () => {
      upstreams.delete(up);
      onUpstreamEnd(up);
    });
    socket.once('connect', () => {
      up.deadline = Date.now() + options.upstreamResponseTimeoutMs;
    });
    attach(ex, up);
  }

  function attach(ex: Exchange, up: Upstream): void {
    if (ex.done) {
      release(up);
      return;
    }
    ex.upstream = up;
    up.exchange = ex;
    up.buf = null;
    const s = up.socket;
    if (!s.connecting) up.deadline = Date.now() + options.upstreamResponseTimeoutMs;
    if (ex.early) {
      s.write(Buffer.concat([ex.head, ...ex.early]));
      ex.early = null;
    } else s.write(ex.head);
    if (ex.bodyLeft > 0) ex.client.socket.resume();
  }

  /** Client bytes while an exchange is in flight: the rest of its body, then the next request. */
  function feedBody(ex: Exchange, chunk: Buffer): void {
    const conn = ex.client;
    if (ex.bodyLeft > 0) {
      const take = Math.min(ex.bodyLeft, chunk.length);
      const part = take === chunk.length ? chunk : chunk.subarray(0, take);
      ex.bodyLeft -= take;
      ex.bytes += take;
      if (ex.upstream && !ex.done) {
        if (!ex.upstream.socket.connecting) {
          ex.upstream.deadline = Date.now() + options.upstreamResponseTimeoutMs;
        }
        if (!ex.upstream.socket.write(part)) {
          conn.socket.pause();
          ex.upstream.socket.once('drain', () => conn.socket.resume());
        }
      } else if (ex.early) ex.early.push(part);
      else ex.early = [part];
      if (take === chunk.length) return;
      chunk = chunk.subarray(take);
    }
    // Pipelined: keep it until this exchange is over, and stop reading meanwhile.
    conn.pending = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
    conn.socket.pause();
    if (conn.pending.length > options.maxHeaderBytes * 2) conn.socket.destroy();
  }

  function onUpstreamData(up: Upstream, chunk: Buffer): void {
    const ex = up.exchange;
    if (!ex || ex.done) {
      // Bytes from an idle connection, or after the answer: the site is not speaking HTTP.
      up.socket.destroy();
      return;
    }
    // The site's silence is what times out, so every part of the answer pushes it back.
    up.deadline = Date.now() + options.upstreamResponseTimeoutMs;
    readResponse(up, ex, chunk);
  }

  function upstreamTimedOut(up: Upstream): void {
    const e = up.exchange;
    up.exchange = null;
    up.deadline = 0;
    const connecting = up.socket.connecting;
    up.socket.destroy();
    if (!e || e.done) return;
    if (e.response) abort(e);
    else failBeforeAnswer(e, null, connecting ? 'connect' : 'response');
  }

  function readResponse(up: Upstream, ex: Exchange, chunk: Buffer): void {
    const client = ex.client;
    let buf = chunk;
    // The final head, held back to leave with the first part of the body in one write.
    let head: Buffer | null = null;
    if (!ex.response) {
      buf = up.buf ? Buffer.concat([up.buf, chunk]) : chunk;
      for (;;) {
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_RESPONSE_HEAD) {
            up.socket.destroy();
            failBeforeAnswer(ex, new Error('response head too large'));
            return;
          }
          up.buf = Buffer.from(buf); // the read buffer is reused
          return;
        }
        const parsed = parseResponseHead(buf, end, ex.request.method, ex.request.close);
        if (!parsed) {
          up.socket.destroy();
          failBeforeAnswer(ex, new Error('malformed response'));
          return;
        }
        up.used = true;
        if (parsed.status === 101) {
          up.socket.destroy();
          failBeforeAnswer(ex, new Error('unexpected protocol switch'));
          return;
        }
        buf = buf.subarray(end + 4);
        if (parsed.status < 200) {
          if (!client.closed) client.socket.write(parsed.out);
          continue; // 1xx: another head follows
        }
        up.buf = null;
        ex.response = parsed;
        ex.status = parsed.status;
        ex.remaining = parsed.length;
        if (parsed.mode === BodyMode.Chunked) ex.chunks = new ChunkedScanner();
        if (parsed.mode === BodyMode.None || buf.length === 0) {
          if (!client.closed) client.socket.write(parsed.out);
          if (parsed.mode !== BodyMode.None) return;
          if (buf.length > 0) up.socket.destroy();
          complete(ex, buf.length === 0);
          return;
        }
        head = parsed.out;
        break;
      }
    }
    const res = ex.response!;
    switch (res.mode) {
      case BodyMode.Length: {
        const take = Math.min(ex.remaining, buf.length);
        sendBody(ex, take === buf.length ? buf : buf.subarray(0, take), head);
        ex.remaining -= take;
        if (ex.remaining === 0) complete(ex, take === buf.length);
        break;
      }
      case BodyMode.Chunked: {
        const end = ex.chunks!.scan(buf, 0);
        if (end === -2) {
          up.socket.destroy();
          abort(ex);
          return;
        }
        sendBody(ex, end < 0 || end === buf.length ? buf : buf.subarray(0, end), head);
        if (end >= 0) complete(ex, end === buf.length);
        break;
      }
      default:
        sendBody(ex, buf, head);
    }
  }

  /** Passes on part of the body, after the head when it is still to be sent. */
  function sendBody(ex: Exchange, part: Buffer, head: Buffer | null): void {
    ex.bytes += part.length;
    const client = ex.client;
    if (client.closed) return;
    const socket = client.socket;
    let flowing: boolean;
    // `part` is in the shared read buffer: what is written is always a copy.
    if (head === null) flowing = socket.write(Buffer.from(part));
    else if (part.length <= JOIN_LIMIT) {
      flowing = socket.write(Buffer.concat([head, part], head.length + part.length));
    } else {
      socket.cork();
      socket.write(head);
      flowing = socket.write(Buffer.from(part));
      socket.uncork();
    }
    if (!flowing) {
      const up = ex.upstream!;
      up.socket.pause();
      client.socket.once('drain', () => up.socket.resume());
    }
  }

  /** The answer is complete: record it, and keep or close both connections. */
  function complete(ex: Exchange, clean: boolean): void {
    ex.done = true;
    const up = ex.upstream!;
    up.exchange = null;
    record(ex);
    const client = ex.client;
    client.exchange = null;
    if (clean && ex.response!.reusable && ex.bodyLeft === 0) release(up);
    else up.socket.destroy();
    if (ex.bodyLeft > 0) {
      client.socket.destroySoon();
      return;
    }
    afterExchange(client, ex.request.close || ex.response!.mode === BodyMode.Close);
  }

  function release(up: Upstream): void {
    if (up.socket.destroyed || idleCount >= MAX_IDLE_UPSTREAMS * 4) {
      up.socket.destroy();
      return;
    }
    let list = idle.get(up.key);
    if (!list) {
      list = [];
      idle.set(up.key, list);
    }
    if (list.length >= MAX_IDLE_UPSTREAMS) {
      up.socket.destroy();
      return;
    }
    up.exchange = null;
    up.deadline = Date.now() + options.idleTimeoutMs;
    list.push(up);
    idleCount++;
  }

  function forget(up: Upstream): void {
    const list = idle.get(up.key);
    if (!list) return;
    const i = list.indexOf(up);
    if (i >= 0) {
      list.splice(i, 1);
      idleCount--;
      if (list.length === 0) idle.delete(up.key);
    }
  }

  function onUpstreamEnd(up: Upstream): void {
    const ex = up.exchange;
    up.exchange = null;
    forget(up);
    if (!up.socket.destroyed) up.socket.destroy();
    if (!ex || ex.done) return;
    if (ex.response?.mode === BodyMode.Close) {
      complete(ex, false);
      return;
    }
    if (!ex.response)
      failBeforeAnswer(
        ex,
        Object.assign(new Error('closed'), { code: 'ECONNRESET' }),
        undefined,
        up,
      );
    else abort(ex);
  }

  function onUpstreamError(up: Upstream, err: Error): void {
    const ex = up.exchange;
    up.exchange = null;
    forget(up);
    if (!ex || ex.done) return;
    if (!ex.response) failBeforeAnswer(ex, err, undefined, up);
    else abort(ex);
  }

  /** The site failed before answering: retry a stale kept-alive connection once, else a page. */
  function failBeforeAnswer(
    ex: Exchange,
    err: unknown,
    phase?: 'connect' | 'response',
    up?: Upstream,
  ): void {
    if (ex.done) return;
    if (up?.used && !ex.retried && ex.request.bodyLength === 0 && !ex.response) {
      // A reused connection the site had closed meanwhile: one new connection, as browsers do.
      ex.retried = true;
      ex.upstream = null;
      connectUpstream(ex);
      return;
    }
    if (ex.upstream) {
      ex.upstream.exchange = null;
      ex.upstream.socket.destroy();
    }
    const { kind, detail } =
      phase === 'connect'
        ? { kind: 'timeout' as const, detail: 'connecting to the site timed out.' }
        : phase === 'response'
          ? { kind: 'timeout' as const, detail: 'the site stopped answering.' }
          : kindOf(err);
    const answer = answerPage(errorStatus(kind), kind, ex.request.target.host, detail);
    ex.status = answer.status;
    ex.bytes += finishSelf(ex, answer);
    record(ex);
  }

  /** Something broke after the answer began: both connections are closed. */
  function abort(ex: Exchange): void {
    if (ex.done) return;
    ex.done = true;
    if (ex.upstream) {
      ex.upstream.exchange = null;
      ex.upstream.socket.destroy();
    }
    ex.client.exchange = null;
    ex.client.socket.destroy();
    if (ex.decision) record(ex);
  }

  function record(ex: Exchange): void {
    const d = ex.decision;
    deps.activity.record({
      at: new Date(ex.started),
      source: 'proxy',
      personId: d.person?.id ?? null,
      deviceId: d.device?.id ?? null,
      clientIp: ex.clientIp,
      method: ex.request.method,
      host: ex.request.target.host,
      path: ex.request.path,
      categories: d.categories,
      decision: 'allow',
      reason: d.reason,
      clauseIds: d.clauseIds,
      status: ex.status,
      bytes: ex.bytes,
      durationMs: Date.now() - ex.started,
    });
  }

  return {
    accept,
    closeIdle() {
      for (const conn of clients) if (!conn.exchange) conn.socket.destroy();
    },
    stop() {
      clearInterval(sweeper);
      for (const list of idle.values()) for (const up of list) up.socket.destroy();
      idle.clear();
      idleCount = 0;
    },
  };
}

const EMPTY = Buffer.alloc(0);
const VIA_END = `${VIA}\r\n\r\n`;
/** The fixed parts of a site's request head, in order, between what varies. */
const HEAD_FIXED = [' ', ' HTTP/1.1\r\nHost: ', '\r\n', 'Via: '] as const;
const HEAD_FIXED_BYTES = HEAD_FIXED.join('').length;

/** The request head for the site, written straight into one Buffer (every string is latin1). */
function siteHead(request: FastRequest): Buffer {
  const { target, method, path, lines, via } = request;
  const host = target.kind === 'ipv6' ? `[${target.host}]` : target.host;
  const port = target.port === 80 ? '' : `:${target.port}`;
  const size =
    method.length +
    path.length +
    host.length +
    port.length +
    lines.length +
    (via === null ? 0 : via.length + 2) +
    VIA_END.length +
    HEAD_FIXED_BYTES;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(method, 0, 'latin1');
  at += out.write(HEAD_FIXED[0], at, 'latin1');
  at += out.write(path, at, 'latin1');
  at += out.write(HEAD_FIXED[1], at, 'latin1');
  at += out.write(host, at, 'latin1');
  at += out.write(port, at, 'latin1');
  at += out.write(HEAD_FIXED[2], at, 'latin1');
  at += out.write(lines, at, 'latin1');
  at += out.write(HEAD_FIXED[3], at, 'latin1');
  if (via !== null) {
    at += out.write(via, at, 'latin1');
    at += out.write(', ', at, 'latin1');
  }
  at += out.write(VIA_END, at, 'latin1');
  return at === size ? out : out.subarray(0, at);
}

function answerPage(
  status: number,
  kind: Parameters<typeof errorPage>[0],
  host: string,
  detail: string,
): ProxyAnswer {
  return { status, headers: {}, body: errorPage(kind, host, detail) };
}
