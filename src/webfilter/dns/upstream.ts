// Forwarding to the school's resolvers. Each query leaves with a fresh random 16-bit id from one
// of a few sockets on random ports; a response counts only when it comes from the address and port
// the query went to, carries an outstanding id and repeats the question (RFC 5452), so a spoofed
// answer has to guess all three. A query that times out moves to the next upstream; a truncated
// answer is asked again over TCP; when every attempt has failed the caller gets an error code in
// good time (the filter then answers SERVFAIL) — never a hang.
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { EDE, HEADER_LENGTH, parseHostPort, RCODE, sameQuestion, TYPE } from './wire.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly label: string;
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

interface Outstanding {
  id: number;
  socket: number;
  query: Buffer;
  questionEnd: number;
  upstream: Upstream;
  timer: NodeJS.Timeout;
  done: (response: Buffer | null) => void;
}

export interface Forwarder {
  /**
   * Asks the upstreams. `name` is the lower-case wire-form question name, qtype and qclass as
   * numbers; the query sent upstream carries RD and an OPT record (DO as given).
   */
  forward(
    nameWire: Buffer,
    qtype: number,
    qclass: number,
    dnssecOk: boolean,
    checkingDisabled: boolean,
  ): Promise<ForwardResult>;
  stats(): ForwarderStats;
  close(): Promise<void>;
}

export function parseUpstreams(values: readonly string[]): Upstream[] {
  return values.map((v) => {
    const { host, port } = parseHostPort(v, 53);
    if (net.isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`dns.upstreams: "${v}" is not an IP address with an optional :port`);
    }
    return { host, port, label: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}` };
  });
}

/** Builds the query sent upstream: id 0 (set per attempt), RD, one question, one OPT. */
export function upstreamQuery(
  nameWire: Buffer,
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
  let p = HEADER_LENGTH + nameWire.copy(out, HEADER_LENGTH);
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
  const families = new Set(upstreams.map((u) => (net.isIPv6(u.host) ? 'udp6' : 'udp4')));
  const count = Math.max(1, options.sockets ?? 4);
  const sockets = new Map<'udp4' | 'udp6', dgram.Socket[]>();
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

  const onMessage = (socketIndex: number) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (msg.length < HEADER_LENGTH) {
      stats.ignored++;
      return;
    }
    const pending = outstanding.get(msg.readUInt16BE(0));
    if (
      pending === undefined ||
      pending.socket !== socketIndex ||
      rinfo.port !== pending.upstream.port ||
      rinfo.address !== pending.upstream.host ||
      (msg[2]! & 0x80) === 0 ||
      !sameQuestion(pending.query, pending.questionEnd, msg)
    ) {
      stats.ignored++;
      return;
    }
    outstanding.delete(pending.id);
    clearTimeout(pending.timer);
    pending.done(msg);
  };

  for (const family of families) {
    const list: dgram.Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = dgram.createSocket({ type: family });
      const index = family === 'udp4' ? i : count + i;
      socket.on('message', onMessage(index));
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
      list.push(socket);
    }
    sockets.set(family, list);
  }

  /** One UDP attempt: the response, or null after attemptTimeoutMs. */
  const attempt = (upstream: Upstream, query: Buffer, questionEnd: number, timeoutMs: number) =>
    new Promise<Buffer | null>((resolve) => {
      const family = net.isIPv6(upstream.host) ? 'udp6' : 'udp4';
      const list = sockets.get(family)!;
      const pick = random16() % list.length;
      const id = freshId();
      query.writeUInt16BE(id, 0);
      const pending: Outstanding = {
        id,
        socket: family === 'udp4' ? pick : count + pick,
        query,
        questionEnd,
        upstream,
        timer: setTimeout(() => {
          if (outstanding.get(id) === pending) outstanding.delete(id);
          stats.timeouts++;
          resolve(null);
        }, timeoutMs),
        done: resolve,
      };
      outstanding.set(id, pending);
      stats.sent++;
      list[pick]!.send(query, upstream.port, upstream.host, (err) => {
        if (err && outstanding.get(id) === pending) {
          outstanding.delete(id);
          clearTimeout(pending.timer);
          resolve(null);
        }
      });
    });

  let preferred = 0;

  return {
    async forward(nameWire, qtype, qclass, dnssecOk, checkingDisabled) {
      if (closed) return { ok: false, ede: EDE.NETWORK_ERROR, problem: 'the filter is stopping' };
      const query = upstreamQuery(
        nameWire,
        qtype,
        qclass,
        dnssecOk,
        checkingDisabled,
        options.ednsBufferSize,
      );
      const questionEnd = HEADER_LENGTH + nameWire.length + 4;
      const deadline = Date.now() + options.queryTimeoutMs;
      let lastProblem = 'no upstream answered';
      let lastResponse: { response: Buffer; upstream: string } | null = null;
      const start = preferred;
      for (let i = 0; i < options.attempts; i++) {
        const left = deadline - Date.now();
        if (left <= 0 || closed) break;
        const upstream = upstreams[(start + i) % upstreams.length]!;
        let response = await attempt(
          upstream,
          query,
          questionEnd,
          Math.min(options.attemptTimeoutMs, left),
        );
        if (response === null) {
          lastProblem = `${upstream.label} did not answer`;
          if (upstreams.length > 1) preferred = (start + i + 1) % upstreams.length;
          continue;
        }
        if (response[2]! & 0x02) {
          // TC=1: ask the same upstream over TCP for the whole answer.
          stats.tcpFallbacks++;
          const viaTcp = await queryOverTcp(
            upstream,
            query,
            questionEnd,
            Math.max(1, deadline - Date.now()),
          );
          if (viaTcp === null) {
            lastProblem = `${upstream.label} truncated the answer and TCP failed`;
            continue;
          }
          response = viaTcp;
        }
        const rcode = response[3]! & 0xf;
        if ((rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) && i + 1 < options.attempts) {
          // Another upstream may do better; keep this answer in case none does.
          lastResponse = { response, upstream: upstream.label };
          lastProblem = `${upstream.label} answered rcode ${rcode}`;
          continue;
        }
        stats.answered++;
        return { ok: true, response, upstream: upstream.label };
      }
      if (lastResponse) {
        stats.answered++;
        return { ok: true, ...lastResponse };
      }
      stats.failures++;
      return { ok: false, ede: EDE.NO_REACHABLE_AUTHORITY, problem: lastProblem };
    },
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      for (const pending of outstanding.values()) {
        clearTimeout(pending.timer);
        pending.done(null);
      }
      outstanding.clear();
      await Promise.all(
        [...sockets.values()].flat().map((s) => new Promise<void>((r) => s.close(() => r()))),
      );
    },
  };
}
