// Forwarding to the school's resolvers. Each query leaves with a fresh random 16-bit id from one
// of a few sockets on random ports; a response counts only when it comes from the address and port
// the query went to, carries an outstanding id and repeats the question (RFC 5452), so a spoofed
// answer has to guess all three. A query that times out moves to the next upstream; a truncated
// answer is asked again over TCP; when every attempt has failed the caller gets an error code in
// good time (the filter then answers SERVFAIL) — never a hang.
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { batchedUdpSupport, bindBatchedUdp, sourceName } from './batched-udp.ts';
import { EDE, HEADER_LENGTH, parseHostPort, RCODE, sameQuestion, TYPE } from './wire.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly label: string;
  readonly family: 'udp4' | 'udp6';
}

export interface ForwarderOptions {
  upstreams: readonly string[];
  /** Per attempt, before moving to the next upstream. */
  attemptTimeoutMs: number;
  /** Attempts in all (spread over the upstreams in turn). */
  attempts: number;
  /** Whole budget for one query, TCP fallback included. */
  queryTimeoutMs: number;
  /** The UDP payload size advertised upstream. */
  ednsBufferSize: number;
  /** Sockets (source ports) queries are spread over. */
  sockets?: number;
  /** How the sockets are read: batched (the native module) where it loads, unless `dgram`. */
  udpTransport?: 'auto' | 'batched' | 'dgram' | undefined;
}

/** A socket queries leave from: node:dgram's or the native module's (batched-udp.ts). */
interface QuerySocket {
  /** Sends; `failed` is called when the send could not be made. */
  send(query: Buffer, upstream: Upstream, failed: () => void): void;
  close(): Promise<void>;
}

export type ForwardResult =
  | { ok: true; response: Buffer; upstream: string }
  | { ok: false; ede: number; problem: string };

export interface ForwarderStats {
  sent: number;
  answered: number;
  timeouts: number;
  tcpFallbacks: number;
  failures: number;
  /** Responses dropped: wrong source, unknown id or a different question. */
  ignored: number;
}

/** One query on its way through the upstreams: the attempts made so far and what they gave. */
interface Resolution {
  readonly query: Buffer;
  readonly questionEnd: number;
  readonly deadline: number;
  /** The upstream tried first (the one that answered last, when there are several). */
  readonly start: number;
  /** Attempts made so far. */
  attempts: number;
  lastProblem: string;
  lastResponse: { response: Buffer; upstream: string } | null;
  readonly done: (result: ForwardResult) => void;
}

/** An attempt waiting for its response. */
interface Outstanding {
  readonly id: number;
  readonly socket: number;
  readonly upstream: Upstream;
  readonly resolution: Resolution;
  timer: NodeJS.Timeout | null;
}

export interface Forwarder {
  /**
   * Asks the upstreams and calls `done` once with the result, never before returning. `nameWire`
   * is the lower-case wire-form question name, one character per octet; qtype and qclass as
   * numbers; the query sent upstream carries RD and an OPT record (DO as given). Callbacks rather
   * than a promise: this runs for every query the cache cannot answer.
   */
  forward(
    nameWire: string,
    qtype: number,
    qclass: number,
    dnssecOk: boolean,
    checkingDisabled: boolean,
    done: (result: ForwardResult) => void,
  ): void;
  stats(): ForwarderStats;
  close(): Promise<void>;
}

export function parseUpstreams(values: readonly string[]): Upstream[] {
  return values.map((v) => {
    const { host, port } = parseHostPort(v, 53);
    if (net.isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`dns.upstreams: "${v}" is not an IP address with an optional :port`);
    }
    const v6 = net.isIPv6(host);
    return {
      host,
      port,
      label: v6 ? `[${host}]:${port}` : `${host}:${port}`,
      family: v6 ? 'udp6' : 'udp4',
    };
  });
}

/** Builds the query sent upstream: id 0 (set per attempt), RD, one question, one OPT. */
export function upstreamQuery(
  nameWire: string,
  qtype: number,
  qclass: number,
  dnssecOk: boolean,
  checkingDisabled: boolean,
  ednsBufferSize: number,
): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH + nameWire.length + 4 + 11);
  out.writeUInt16BE(0x0100 | (checkingDisabled ? 0x0010 : 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 10);
  let p = HEADER_LENGTH;
  for (let i = 0; i < nameWire.length; i++) out[p++] = nameWire.charCodeAt(i);
  out.writeUInt16BE(qtype, p);
  out.writeUInt16BE(qclass, p + 2);
  p += 4;
  out[p] = 0;
  out.writeUInt16BE(TYPE.OPT, p + 1);
  out.writeUInt16BE(ednsBufferSize, p + 3);
  out[p + 7] = dnssecOk ? 0x80 : 0;
  return out;
}

/** One query over TCP (RFC 7766 framing); resolves null on any failure. */
export function queryOverTcp(
  upstream: Upstream,
  query: Buffer,
  questionEnd: number,
  timeoutMs: number,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let settled = false;
    let received = Buffer.alloc(0);
    const socket = net.connect({ host: upstream.host, port: upstream.port });
    const finish = (value: Buffer | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('connect', () => {
      const frame = Buffer.allocUnsafe(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const response = received.subarray(2, 2 + length);
      const ok =
        response.length >= HEADER_LENGTH &&
        response.readUInt16BE(0) === query.readUInt16BE(0) &&
        (response[2]! & 0x80) !== 0 &&
        sameQuestion(query, questionEnd, response);
      finish(ok ? Buffer.from(response) : null);
    });
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
  });
}

export async function createForwarder(options: ForwarderOptions): Promise<Forwarder> {
  const upstreams = parseUpstreams(options.upstreams);
  if (upstreams.length === 0) throw new Error('dns.upstreams: at least one upstream is needed');
  const stats: ForwarderStats = {
    sent: 0,
    answered: 0,
    timeouts: 0,
    tcpFallbacks: 0,
    failures: 0,
    ignored: 0,
  };
  const outstanding = new Map<number, Outstanding>();
  const families = new Set(upstreams.map((u) => u.family));
  const count = Math.max(1, options.sockets ?? 4);
  const sockets = new Map<'udp4' | 'udp6', QuerySocket[]>();
  const batched = options.udpTransport !== 'dgram' && batchedUdpSupport().available;
  /** Each upstream's address as a response's source is spelt (batched-udp.ts's sourceName). */
  const sources = new Map(
    upstreams.map((u) => [u, batched ? (sourceName(u.host) ?? u.host) : u.host]),
  );
  let closed = false;

  // Random ids come from a block of random bytes refilled when used up.
  const random = Buffer.alloc(4096);
  let randomAt = random.length;
  const random16 = () => {
    if (randomAt + 2 > random.length) {
      randomFillSync(random);
      randomAt = 0;
    }
    const v = random.readUInt16BE(randomAt);
    randomAt += 2;
    return v;
  };
  const freshId = () => {
    for (;;) {
      const id = random16();
      if (!outstanding.has(id)) return id;
    }
  };

  /** A response on socket `socketIndex` from `address`:`port`; kept only when it answers. */
  const onResponse = (socketIndex: number, msg: Buffer, address: string, port: number) => {
    if (msg.length < HEADER_LENGTH) {
      stats.ignored++;
      return;
    }
    const pending = outstanding.get(msg.readUInt16BE(0));
    if (
      pending === undefined ||
      pending.socket !== socketIndex ||
      port !== pending.upstream.port ||
      address !== sources.get(pending.upstream) ||
      (msg[2]! & 0x80) === 0 ||
      !sameQuestion(pending.resolution.query, pending.resolution.questionEnd, msg)
    ) {
      stats.ignored++;
      return;
    }
    // A batched datagram is a view of a buffer the next batch overwrites.
    settle(pending, batched ? Buffer.from(msg) : msg);
  };

  const dgramSocket = async (family: 'udp4' | 'udp6', index: number): Promise<QuerySocket> => {
    // Upstreams are IP addresses (parseUpstreams checks): each send hands the address straight
    // back instead of going through dns.lookup and a tick.
    const socket = dgram.createSocket({
      type: family,
      lookup: (address, _options, callback) => callback(null, address, family === 'udp6' ? 6 : 4),
    });
    socket.on('message', (msg, rinfo) => onResponse(index, msg, rinfo.address, rinfo.port));
    socket.on('error', () => {}); // ICMP and send errors surface as timeouts of their queries
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // the kernel's limit applies
    }
    return {
      send(query, upstream, failed) {
        socket.send(query, upstream.port, upstream.host, (err) => {
          if (err) failed();
        });
      },
      close: () => new Promise<void>((r) => socket.close(() => r())),
    };
  };

  const batchedSocket = (family: 'udp4' | 'udp6', index: number): QuerySocket => {
    const socket = bindBatchedUdp(
      family === 'udp4' ? '0.0.0.0' : '::',
      0,
      (msg, source, _reply, port) => onResponse(index, msg, source, port),
      { buffers: { receive: 4 << 20, send: 1 << 20 } },
    );
    return {
      send(query, upstream, failed) {
        if (!socket.send(query, upstream.port, upstream.host)) process.nextTick(failed);
      },
      close: async () => socket.close(),
    };
  };

  for (const family of families) {
    const list: QuerySocket[] = [];
    for (let i = 0; i < count; i++) {
      const index = family === 'udp4' ? i : count + i;
      list.push(batched ? batchedSocket(family, index) : await dgramSocket(family, index));
    }
    sockets.set(family, list);
  }

  let preferred = 0;

  /** Ends an attempt with its response, or null (no answer in time, or the send failed). */
  const settle = (pending: Outstanding, response: Buffer | null) => {
    if (outstanding.get(pending.id) !== pending) return; // settled already
    outstanding.delete(pending.id);
    if (pending.timer !== null) clearTimeout(pending.timer);
    attempted(pending.resolution, pending.upstream, response);
  };
  const timedOut = (pending: Outstanding) => {
    pending.timer = null;
    if (outstanding.get(pending.id) !== pending) return;
    stats.timeouts++;
    settle(pending, null);
  };

  /** One UDP attempt at `upstream`; its end goes to attempted(). */
  const attempt = (r: Resolution, upstream: Upstream, timeoutMs: number) => {
    const family = upstream.family;
    const list = sockets.get(family)!;
    const pick = random16() % list.length;
    const id = freshId();
    r.query.writeUInt16BE(id, 0);
    const pending: Outstanding = {
      id,
      socket: family === 'udp4' ? pick : count + pick,
      upstream,
      resolution: r,
      timer: null,
    };
    pending.timer = setTimeout(timedOut, timeoutMs, pending);
    outstanding.set(id, pending);
    stats.sent++;
    try {
      list[pick]!.send(r.query, upstream, () => settle(pending, null));
    } catch {
      process.nextTick(settle, pending, null); // a socket closing under us: a failed attempt
    }
  };

  /** The next attempt, or the result when there is none left (or no time). */
  const next = (r: Resolution) => {
    const left = r.deadline - Date.now();
    if (r.attempts >= options.attempts || left <= 0 || closed) {
      if (r.lastResponse) {
        stats.answered++;
        r.done({ ok: true, ...r.lastResponse });
        return;
      }
      stats.failures++;
      r.done({ ok: false, ede: EDE.NO_REACHABLE_AUTHORITY, problem: r.lastProblem });
      return;
    }
    const upstream = upstreams[(r.start + r.attempts) % upstreams.length]!;
    r.attempts++;
    attempt(r, upstream, Math.min(options.attemptTimeoutMs, left));
  };

  const attempted = (r: Resolution, upstream: Upstream, response: Buffer | null) => {
    if (response === null) {
      r.lastProblem = `${upstream.label} did not answer`;
      if (upstreams.length > 1) preferred = (r.start + r.attempts) % upstreams.length;
      next(r);
      return;
    }
    if (response[2]! & 0x02) {
      // TC=1: ask the same upstream over TCP for the whole answer.
      stats.tcpFallbacks++;
      const timeoutMs = Math.max(1, r.deadline - Date.now());
      void queryOverTcp(upstream, r.query, r.questionEnd, timeoutMs).then((viaTcp) => {
        if (viaTcp !== null) {
          answered(r, upstream, viaTcp);
          return;
        }
        r.lastProblem = `${upstream.label} truncated the answer and TCP failed`;
        next(r);
      });
      return;
    }
    answered(r, upstream, response);
  };

  const answered = (r: Resolution, upstream: Upstream, response: Buffer) => {
    const rcode = response[3]! & 0xf;
    if ((rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) && r.attempts < options.attempts) {
      // Another upstream may do better; keep this answer in case none does.
      r.lastResponse = { response, upstream: upstream.label };
      r.lastProblem = `${upstream.label} answered rcode ${rcode}`;
      next(r);
      return;
    }
    stats.answered++;
    r.done({ ok: true, response, upstream: upstream.label });
  };

  return {
    forward(nameWire, qtype, qclass, dnssecOk, checkingDisabled, done) {
      if (closed) {
        process.nextTick(done, {
          ok: false,
          ede: EDE.NETWORK_ERROR,
          problem: 'the filter is stopping',
        });
        return;
      }
      const query = upstreamQuery(
        nameWire,
        qtype,
        qclass,
        dnssecOk,
        checkingDisabled,
        options.ednsBufferSize,
      );
      next({
        query,
        questionEnd: HEADER_LENGTH + nameWire.length + 4,
        deadline: Date.now() + options.queryTimeoutMs,
        start: preferred,
        attempts: 0,
        lastProblem: 'no upstream answered',
        lastResponse: null,
        done,
      });
    },
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      for (const pending of [...outstanding.values()]) settle(pending, null);
      outstanding.clear();
      await Promise.all([...sockets.values()].flat().map((s) => s.close()));
    },
  };
}
