// The DNS filter: every DNS query of the school passes through here on UDP and TCP. Each query
// is parsed by hand (wire.ts), decided by the web engine for the client's device and person,
// answered from the block rules of the pack when blocked (with an Extended DNS Error naming the
// category and clause, RFC 8914), and otherwise answered from the cache or forwarded upstream with
// identical queries in flight coalesced. Search sites the pack puts under SafeSearch are answered
// with a CNAME to their safe name (safe-answer.ts). Activity is recorded without waiting; malformed
// input gets FORMERR or is dropped, and nothing a client sends can stop the filter answering the
// next one.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net, { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import { dnsBlockAnswer } from '../../policy/decisions/web.ts';
import type { ActivityEvent, ActivityRecorder } from '../activity.ts';
import type { WebAlerts } from '../alerts.ts';
import { normaliseHost } from '../categories/index.ts';
import type { WebDecision, WebEngine } from '../engine.ts';
import { type SafeSearchTarget, safeSearchTarget, withSafeSearch } from '../safesearch.ts';
import { batchedUdpSupport, bindBatchedUdp } from './batched-udp.ts';
import { AnswerCache, type CacheEntry, cacheTtl, replyFromEntry, toEntry } from './cache.ts';
import { DecisionCache, type Outcome } from './decisions.ts';
import { RecentLookups } from './recent.ts';
import { cnameAnswer, nameWire } from './safe-answer.ts';
import { createForwarder, type Forwarder } from './upstream.ts';
import {
  buildReply,
  EDE,
  HEADER_LENGTH,
  headerOnlyReply,
  inspectResponse,
  ipBytes,
  newParsedQuery,
  PARSE_DROP,
  PARSE_NOTIMP,
  PARSE_OK,
  type ParsedQuery,
  parseQuery,
  questionKey,
  questionName,
  questionOctets,
  RCODE,
  type ReplyShape,
  TYPE,
  truncatedReply,
  typeName,
  writeOpt,
} from './wire.ts';

/** The `dns` configuration section (src/config/config.ts documents each setting). */
export interface DnsFilterOptions {
  host: string;
  port: number;
  upstreams: readonly string[];
  attemptTimeoutMs: number;
  attempts: number;
  queryTimeoutMs: number;
  cacheEntries: number;
  /** Decisions kept per (client, question) for the engine in force; 0 decides every query. */
  decisionCacheEntries?: number | undefined;
  cacheMinTtlSeconds: number;
  cacheMaxTtlSeconds: number;
  negativeMaxTtlSeconds: number;
  blockTtlSeconds: number;
  blockAddressV6?: string | undefined;
  ednsBufferSize: number;
  tcpMaxConnections: number;
  tcpIdleTimeoutMs: number;
  tcpMaxQueriesInFlight: number;
  activityMergeSeconds: number;
  /**
   * How UDP is read and written: `batched` (the native module, recvmmsg and sendmmsg), `dgram`
   * (node:dgram, a callback per datagram), or `auto`: batched where the module loads.
   */
  udpTransport?: 'auto' | 'batched' | 'dgram' | undefined;
}

export interface DnsFilterDeps {
  /** The web filter state (or anything that hands out the engine in force). */
  state: { engine(): WebEngine };
  activity?: ActivityRecorder | null | undefined;
  /** Tells the designated staff of lookups in alert categories (MIS-2(j), pornography). */
  alerts?: WebAlerts | null | undefined;
  log?: Logger | undefined;
}

export interface DnsFilterStats {
  queries: number;
  blocked: number;
  cacheHits: number;
  forwarded: number;
  coalesced: number;
  servfail: number;
  malformed: number;
  dropped: number;
  truncated: number;
  tcpConnections: number;
  /** Lookups not written as records of their own: a repeat within activityMergeSeconds. */
  activityMerged: number;
  cacheEntries: number;
  /** Decisions kept per client and question (dns.decisionCacheEntries). */
  decisionEntries: number;
  /** Answers given through a SafeSearch name (web.safeSearch), HTTPS and SVCB refusals included. */
  safeSearch: number;
  /** Firefox's DNS-over-HTTPS canary answered "no such name". */
  dohCanary: number;
  upstream: ReturnType<Forwarder['stats']>;
}

export interface DnsFilter {
  address: { udp: AddressInfo; tcp: AddressInfo };
  /** How UDP is read and written (DnsFilterOptions.udpTransport), and why not batched if not. */
  udp: { transport: 'batched' | 'dgram'; problem: string | null };
  stats(): DnsFilterStats;
  /** Empties the answer cache and the decisions kept. */
  flushCache(): void;
  /** Stops listening, closes TCP connections and the upstream sockets. */
  stop(): Promise<void>;
}

type Send = (reply: Buffer | null) => void;

interface BlockMode {
  nxdomain: boolean;
  v4: Buffer | null;
  v6: Buffer | null;
}

/** A query waiting for the upstream: what its reply needs once the answer is in. */
interface Waiter {
  query: Buffer;
  q: ParsedQuery;
  send: Send;
  tcp: boolean;
  clientIp: string;
  outcome: Outcome;
  /** Set when the upstream was asked for the SafeSearch name rather than the name asked. */
  safe: SafeSearchTarget | null;
  /** When the query came (epoch ms, and performance.now() for its duration). */
  now: number;
  t0: number;
}

/**
 * The nameservers of /etc/resolv.conf, for a filter configured with none. Loopback addresses are
 * left out when the filter listens on 53 itself: they would be the filter asking itself.
 */
export function systemUpstreams(ownPort: number): string[] {
  const servers = dns.getServers();
  const usable = servers.filter((s) => ownPort !== 53 || !/^(127\.|\[?::1\]?($|:))/.test(s));
  if (usable.length === 0) {
    throw new Error(
      'dns.upstreams is empty and /etc/resolv.conf names no usable resolver: set dns.upstreams',
    );
  }
  return usable;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/**
 * Firefox asks this name before it turns DNS over HTTPS on by itself; "no such name" keeps it on
 * the network's resolver (a DoH browser would go around the filter). Its lower-case wire form.
 */
const DOH_CANARY = 'use-application-dns.net';
const CANARY_WIRE = Buffer.from(nameWire(DOH_CANARY), 'latin1');

/** Is the question just parsed (its key octets still in the scratch) the canary, of any type? */
function isCanary(q: ParsedQuery): boolean {
  if (q.keyLength !== CANARY_WIRE.length + 5) return false;
  for (let i = 0; i < CANARY_WIRE.length; i++)
    if (questionOctets[i] !== CANARY_WIRE[i]) return false;
  return true;
}

/** Question types SafeSearch answers itself for a rewritten name (class IN). */
const rewritten = (qtype: number) =>
  qtype === TYPE.A || qtype === TYPE.AAAA || qtype === TYPE.HTTPS || qtype === TYPE.SVCB;

export async function startDnsFilter(
  deps: DnsFilterDeps,
  options: DnsFilterOptions,
): Promise<DnsFilter> {
  const log = deps.log;
  let stopped = false;
  const upstreams =
    options.upstreams.length > 0 ? options.upstreams : systemUpstreams(options.port);
  const forwarder = await createForwarder({
    upstreams,
    attemptTimeoutMs: options.attemptTimeoutMs,
    attempts: options.attempts,
    queryTimeoutMs: options.queryTimeoutMs,
    ednsBufferSize: options.ednsBufferSize,
    udpTransport: options.udpTransport,
  });
  const cache = new AnswerCache({
    maxEntries: options.cacheEntries,
    minTtl: options.cacheMinTtlSeconds,
    maxTtl: options.cacheMaxTtlSeconds,
    maxNegativeTtl: options.negativeMaxTtlSeconds,
  });
  const decisions = new DecisionCache(options.decisionCacheEntries ?? 200_000);
  const stats = {
    queries: 0,
    blocked: 0,
    cacheHits: 0,
    forwarded: 0,
    coalesced: 0,
    servfail: 0,
    malformed: 0,
    dropped: 0,
    truncated: 0,
    tcpConnections: 0,
    activityMerged: 0,
    safeSearch: 0,
    dohCanary: 0,
  };
  const q = newParsedQuery();
  const inflight = new Map<string, Waiter[]>();
  const optPlain = Buffer.alloc(11);
  writeOpt(optPlain, 0, options.ednsBufferSize, false, 0, null, null);
  const optDo = Buffer.alloc(11);
  writeOpt(optDo, 0, options.ednsBufferSize, true, 0, null, null);
  const blockModes = new WeakMap<CompiledPolicy, BlockMode>();
  const edeTexts = new Map<string, Buffer>();
  const recent = new RecentLookups(options.activityMergeSeconds * 1000);
  const mergeMs = options.activityMergeSeconds * 1000;
  /**
   * The event handed to the recorder, filled anew for each lookup recorded: the recorder copies
   * what it keeps (ActivityRecorder.record), so one object and one Date serve every call.
   */
  const event: ActivityEvent = {
    at: new Date(0),
    source: 'dns',
    personId: null,
    deviceId: null,
    clientIp: '',
    method: null,
    host: '',
    path: null,
    categories: [],
    decision: 'allow',
    reason: '',
    clauseIds: [],
    status: null,
    bytes: 0,
    durationMs: 0,
  };
  const v6Names = new Map<string, string>();
  const configuredV6 = options.blockAddressV6 ? ipBytes(options.blockAddressV6) : null;
  const safeNames = new Map<string, string>();
  /** Replies without records: HTTPS and SVCB for a SafeSearch name, and the DoH canary's. */
  const emptyShape = (rcode: number): ReplyShape => ({
    rcode,
    address: null,
    ttl: 0,
    ede: null,
    edeText: null,
    udpSize: options.ednsBufferSize,
  });
  const nodata = emptyShape(RCODE.NOERROR);
  const noSuchName = emptyShape(RCODE.NXDOMAIN);

  function blockModeOf(policy: CompiledPolicy): BlockMode {
    let mode = blockModes.get(policy);
    if (!mode) {
      const answer = dnsBlockAnswer(policy);
      if (answer.answer === 'nxdomain') mode = { nxdomain: true, v4: null, v6: null };
      else if (answer.address === '0.0.0.0')
        mode = { nxdomain: false, v4: ipBytes('0.0.0.0'), v6: ipBytes('::') };
      else if (net.isIPv6(answer.address))
        mode = { nxdomain: false, v4: null, v6: ipBytes(answer.address) };
      else mode = { nxdomain: false, v4: ipBytes(answer.address), v6: configuredV6 };
      blockModes.set(policy, mode);
    }
    return mode;
  }

  function edeText(text: string): Buffer {
    let buf = edeTexts.get(text);
    if (!buf) {
      if (edeTexts.size > 1000) edeTexts.clear();
      buf = Buffer.from(text.slice(0, 400), 'utf8');
      edeTexts.set(text, buf);
    }
    return buf;
  }

  /** The client's address as the device register spells it. */
  function clientAddress(address: string): string {
    if (!address.includes(':')) return address;
    const mapped = MAPPED_V4.exec(address);
    if (mapped) return mapped[1]!;
    let known = v6Names.get(address);
    if (known === undefined) {
      const n = normaliseHost(address.replace(/%.*$/, ''));
      known = n.ok ? n.host : address;
      if (v6Names.size > 10_000) v6Names.clear();
      v6Names.set(address, known);
    }
    return known;
  }

  function record(
    now: number,
    t0: number,
    clientIp: string,
    host: string,
    qtype: number,
    d: WebDecision,
    bytes: number,
  ): number {
    if (d.alert) alert(new Date(now), clientIp, host, qtype, d);
    const activity = deps.activity;
    if (!activity) return Number.NEGATIVE_INFINITY;
    // A browser asks A, AAAA and HTTPS for every visit, and repeats: one record stands for them.
    const joined =
      mergeMs > 0 ? recent.joins(d.action === 'block', clientIp, host, now) : undefined;
    if (joined !== undefined) {
      stats.activityMerged++;
      return joined;
    }
    event.at.setTime(now);
    event.personId = d.person?.id ?? null;
    event.deviceId = d.device?.id ?? null;
    event.clientIp = clientIp;
    event.method = typeName(qtype);
    event.host = host;
    event.categories = d.categories;
    event.decision = d.action;
    event.reason = d.reason;
    event.clauseIds = d.clauseIds;
    event.bytes = bytes;
    event.durationMs = performance.now() - t0;
    activity.record(event);
    return now;
  }

  /**
   * Activity and alerts for one answered lookup. A lookup merged into a record its decision entry
   * already knows of (dns.activityMergeSeconds) costs a subtraction; anything else goes through
   * record(). `entry` is the lookup's entry in the decision cache, or -1.
   */
  function note(
    outcome: Outcome,
    entry: number,
    pq: ParsedQuery,
    now: number,
    t0: number,
    clientIp: string,
    bytes: number,
  ): void {
    const d = outcome.decision;
    const known = entry >= 0 ? decisions.recordedAt(entry) : Number.NEGATIVE_INFINITY;
    if (!d.alert) {
      if (!deps.activity) return;
      if (now - known < mergeMs) {
        stats.activityMerged++;
        return;
      }
    }
    const recordedAt = record(now, t0, clientIp, hostOf(pq), pq.qtype, d, bytes);
    if (entry >= 0 && recordedAt > known) decisions.setRecordedAt(entry, recordedAt);
  }

  /** The question's name as the engine and the records spell it. */
  function hostOf(pq: ParsedQuery): string {
    const name = questionName(questionKey(pq));
    if (pq.plainName) return name;
    const n = normaliseHost(name);
    return n.ok ? n.host : name;
  }

  function alert(at: Date, clientIp: string, host: string, qtype: number, d: WebDecision) {
    deps.alerts?.attempt({
      source: 'dns',
      decision: d,
      host,
      clientIp,
      at,
      queryType: typeName(qtype),
    });
  }

  /** Fits a UDP reply to the client's size; TCP replies go whole. */
  function fitToClient(query: Buffer, pq: ParsedQuery, reply: Buffer, tcp: boolean): Buffer {
    if (tcp) return reply;
    const limit = pq.edns ? Math.min(pq.udpSize, options.ednsBufferSize) : 512;
    if (reply.length <= Math.max(512, limit)) return reply;
    stats.truncated++;
    return truncatedReply(query, pq, reply[3]! & 0xf, options.ednsBufferSize);
  }

  function servfail(query: Buffer, pq: ParsedQuery, ede: number, text: string): Buffer {
    stats.servfail++;
    return buildReply(query, pq, {
      rcode: RCODE.SERVFAIL,
      address: null,
      ttl: 0,
      ede,
      edeText: edeText(text),
      udpSize: options.ednsBufferSize,
    });
  }

  /** What the block answer to `pq` says: made once per outcome and kind of question. */
  function blockShape(pq: ParsedQuery, policy: CompiledPolicy, outcome: Outcome): ReplyShape {
    const kind = pq.qclass !== 1 ? 2 : pq.qtype === TYPE.A ? 0 : pq.qtype === TYPE.AAAA ? 1 : 2;
    let shape = outcome.shapes[kind];
    if (!shape) {
      shape = newBlockShape(pq, policy, outcome.decision);
      outcome.shapes[kind] = shape;
    }
    return shape;
  }

  function newBlockShape(pq: ParsedQuery, policy: CompiledPolicy, d: WebDecision): ReplyShape {
    const mode = blockModeOf(policy);
    const filtered =
      d.reason === 'school-deny' || d.reason === 'restricted' || d.reason === 'withdrawn';
    const why = d.categories.length > 0 ? d.categories.join(',') : d.reason;
    let address: Buffer | null = null;
    if (!mode.nxdomain && pq.qclass === 1) {
      if (pq.qtype === TYPE.A) address = mode.v4;
      else if (pq.qtype === TYPE.AAAA) address = mode.v6;
    }
    return {
      rcode: mode.nxdomain ? RCODE.NXDOMAIN : RCODE.NOERROR,
      address,
      ttl: options.blockTtlSeconds,
      ede: filtered ? EDE.FILTERED : EDE.BLOCKED,
      edeText: edeText(`${why}; ${d.clauseIds.join(',')}`),
      udpSize: options.ednsBufferSize,
    };
  }

  /** The decision cache's entry for the question just parsed, set by outcomeFor (-1: none). */
  let questionEntry = -1;

  /** The decision for this client and the question just parsed: kept, or made now. */
  function outcomeFor(engine: WebEngine, clientIp: string, now: number): Outcome {
    const found = decisions.find(engine, clientIp, q);
    questionEntry = found;
    if (found >= 0) {
      const kept = decisions.outcome(found);
      if (kept.validUntil > now) return kept;
    }
    const host = hostOf(q);
    const decided = engine.decide({ clientIp, host, now: new Date(now) });
    // A name SafeSearch sends to its safe name (WEB-1): only when allowed; a block still wins.
    const safe =
      decided.action === 'allow' && q.qclass === 1 && rewritten(q.qtype)
        ? safeSearchTarget(host, engine.policy)
        : null;
    const outcome = decisions.keep(
      clientIp,
      q,
      found,
      safe === null ? decided : withSafeSearch(decided, safe),
      now,
      safe,
    );
    questionEntry = decisions.kept;
    return outcome;
  }

  /** The safe name in wire form. */
  function safeWire(safe: SafeSearchTarget): string {
    let wire = safeNames.get(safe.safeHost);
    if (wire === undefined) {
      wire = nameWire(safe.safeHost);
      safeNames.set(safe.safeHost, wire);
    }
    return wire;
  }

  /** The safe name's cache key for the question asked: its type, class and DO with the safe name. */
  const safeKey = (askedKey: string, safe: SafeSearchTarget) =>
    safeWire(safe) + askedKey.slice(askedKey.length - 5);

  /**
   * The SafeSearch answer to the question asked (key `askedKey`) from the safe name's answer,
   * kept in the answer cache under a key no question has: a question's key starts with a label
   * length (0-63), this one with the safe name's first letter.
   */
  function safeAnswerFrom(
    askedKey: string,
    safe: SafeSearchTarget,
    entry: CacheEntry,
    now: number,
  ): CacheEntry | null {
    const answer = cnameAnswer(askedKey, safeWire(safe), entry, now);
    if (answer !== null && answer.expiresAt > now)
      cache.put(`${safe.safeHost}>${askedKey}`, answer);
    return answer;
  }

  /** The SafeSearch answer from the cache (made from the safe name's cached answer if need be). */
  function cachedSafeAnswer(q: ParsedQuery, safe: SafeSearchTarget, now: number) {
    const askedKey = questionKey(q);
    const made = cache.get(`${safe.safeHost}>${askedKey}`, now);
    if (made !== undefined) return made;
    const entry = cache.get(safeKey(askedKey, safe), now);
    return entry === undefined
      ? undefined
      : (safeAnswerFrom(askedKey, safe, entry, now) ?? undefined);
  }

  function answerWaiters(key: string, entry: CacheEntry | null, failure: [number, string] | null) {
    const waiters = inflight.get(key);
    inflight.delete(key);
    if (!waiters) return;
    const now = Date.now();
    // SafeSearch answers made from this one, by the question asked (several names share a safe one).
    let made: Map<string, CacheEntry | null> | null = null;
    for (const w of waiters) {
      let reply: Buffer;
      try {
        let from: CacheEntry | null | undefined = entry;
        if (entry !== null && w.safe !== null) {
          made ??= new Map();
          const askedKey = questionKey(w.q);
          from = made.get(askedKey);
          if (from === undefined) {
            from = safeAnswerFrom(askedKey, w.safe, entry, now);
            made.set(askedKey, from);
          }
        }
        reply = from
          ? fitToClient(
              w.query,
              w.q,
              replyFromEntry(
                w.query,
                w.q,
                from,
                now,
                w.q.edns ? (w.q.dnssecOk ? optDo : optPlain) : null,
              ),
              w.tcp,
            )
          : entry
            ? servfail(w.query, w.q, EDE.NETWORK_ERROR, `${w.safe?.safeHost} gave no usable answer`)
            : servfail(w.query, w.q, failure![0], failure![1]);
      } catch (err) {
        log?.error({ err, host: hostOf(w.q) }, 'could not build a DNS reply');
        reply = servfail(w.query, w.q, EDE.NETWORK_ERROR, 'internal error');
      }
      w.send(reply);
      note(w.outcome, -1, w.q, w.now, w.t0, w.clientIp, reply.length);
    }
  }

  function forward(key: string, pq: ParsedQuery) {
    stats.forwarded++;
    // The question in lower-case wire form is the key without its last five octets.
    const nameWire = key.slice(0, key.length - 5);
    const cd = (pq.flags & 0x0010) !== 0;
    forwarder.forward(nameWire, pq.qtype, pq.qclass, pq.dnssecOk, cd, (result) => {
      try {
        if (!result.ok) {
          log?.debug({ problem: result.problem }, 'upstream resolution failed');
          answerWaiters(key, null, [result.ede, result.problem]);
          return;
        }
        const info = inspectResponse(result.response);
        if (info === null) {
          answerWaiters(key, null, [
            EDE.NETWORK_ERROR,
            `${result.upstream} sent a malformed answer`,
          ]);
          return;
        }
        const now = Date.now();
        const ttl = cacheTtl(info, cache.limits);
        const entry = toEntry(result.response, info, ttl, now);
        if (ttl > 0) cache.put(key, entry);
        answerWaiters(key, entry, null);
      } catch (err) {
        // A bug must cost these answers, never the filter.
        log?.error({ err }, 'DNS forwarding failed');
        answerWaiters(key, null, [EDE.NETWORK_ERROR, 'internal error']);
      }
    });
  }

  /** Answers one query; `send(null)` when it is dropped. */
  function handle(query: Buffer, clientIp: string, tcp: boolean, send: Send): void {
    // The duration goes into activity records only.
    const t0 = deps.activity ? performance.now() : 0;
    stats.queries++;
    const status = parseQuery(query, q);
    if (status !== PARSE_OK) {
      if (status === PARSE_DROP) {
        stats.dropped++;
        send(null);
        return;
      }
      stats.malformed++;
      send(headerOnlyReply(query, status === PARSE_NOTIMP ? RCODE.NOTIMP : RCODE.FORMERR));
      return;
    }
    if (q.edns && q.ednsVersion !== 0) {
      send(
        buildReply(query, q, {
          rcode: RCODE.BADVERS,
          address: null,
          ttl: 0,
          ede: null,
          edeText: null,
          udpSize: options.ednsBufferSize,
        }),
      );
      return;
    }
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) {
      const refuse = { rcode: RCODE.REFUSED, address: null, ttl: 0, ede: null, edeText: null };
      send(buildReply(query, q, { ...refuse, udpSize: options.ednsBufferSize }));
      return;
    }
    if (isCanary(q)) {
      stats.dohCanary++;
      send(buildReply(query, q, noSuchName));
      return;
    }
    const now = Date.now();
    const engine = deps.state.engine();
    const outcome = outcomeFor(engine, clientIp, now);
    const found = questionEntry;
    if (outcome.decision.action === 'block') {
      stats.blocked++;
      const shape = blockShape(q, engine.policy, outcome);
      const reply = fitToClient(query, q, buildReply(query, q, shape), tcp);
      send(reply);
      note(outcome, found, q, now, t0, clientIp, reply.length);
      return;
    }
    const safe = outcome.safeSearch;
    if (safe !== null) {
      stats.safeSearch++;
      if (q.qtype !== TYPE.A && q.qtype !== TYPE.AAAA) {
        // HTTPS and SVCB: nothing, so that the browser asks A and AAAA (the records' address hints
        // and encrypted ClientHello keys are the site's own, not the safe name's).
        const reply = buildReply(query, q, nodata);
        send(reply);
        note(outcome, found, q, now, t0, clientIp, reply.length);
        return;
      }
    }
    // The answer this entry was last served from, while it lasts; else the cache's.
    let answer = found >= 0 ? decisions.answer(found) : undefined;
    if (answer === undefined || answer.expiresAt <= now) {
      answer = safe === null ? cache.get(questionKey(q), now) : cachedSafeAnswer(q, safe, now);
      if (found >= 0) decisions.setAnswer(found, answer);
    }
    if (answer !== undefined) {
      stats.cacheHits++;
      const opt = q.edns ? (q.dnssecOk ? optDo : optPlain) : null;
      const reply = fitToClient(query, q, replyFromEntry(query, q, answer, now, opt), tcp);
      send(reply);
      note(outcome, found, q, now, t0, clientIp, reply.length);
      return;
    }
    const asked = questionKey(q);
    // For SafeSearch the upstream is asked for the safe name; the reply is made from its answer.
    const key = safe === null ? asked : safeKey(asked, safe);
    // A copy: a batched UDP query is a view of a receive buffer the next batch overwrites.
    const waiter: Waiter = {
      query: Buffer.from(query),
      q: { ...q },
      send,
      tcp,
      clientIp,
      outcome,
      safe,
      now,
      t0,
    };
    const waiting = inflight.get(key);
    if (waiting) {
      stats.coalesced++;
      waiting.push(waiter);
      return;
    }
    inflight.set(key, [waiter]);
    forward(key, waiter.q);
  }

  function safeHandle(query: Buffer, clientIp: string, tcp: boolean, send: Send): void {
    try {
      handle(query, clientIp, tcp, send);
    } catch (err) {
      // A bug must cost one answer, never the filter.
      log?.error({ err, clientIp }, 'DNS query handling failed');
      try {
        send(query.length >= HEADER_LENGTH ? headerOnlyReply(query, RCODE.SERVFAIL) : null);
      } catch {
        send(null);
      }
    }
  }

  // --- UDP --------------------------------------------------------------------------------------
  interface UdpEndpoint {
    address: AddressInfo;
    close(): Promise<void>;
  }
  const support = batchedUdpSupport();
  const transport = options.udpTransport ?? 'auto';
  if (transport === 'batched' && !support.available) {
    await forwarder.close();
    throw new Error(`dns.udpTransport is batched, but ${support.problem}`);
  }
  const batched = transport !== 'dgram' && support.available;

  const bindBatched = async (port: number): Promise<UdpEndpoint> => {
    // The native module binds IP literals; a name (localhost) is looked up first, as dgram does.
    const host = net.isIP(options.host)
      ? options.host
      : (await dns.promises.lookup(options.host)).address;
    const socket = bindBatchedUdp(
      host,
      port,
      (query, source, reply) => {
        if (!stopped) safeHandle(query, clientAddress(source), false, reply);
      },
      {
        onError: (status) =>
          log?.error(
            { status },
            'DNS UDP socket error: the filter no longer reads UDP; restart Custos',
          ),
      },
    );
    return {
      address: { address: host, family: net.isIPv6(host) ? 'IPv6' : 'IPv4', port: socket.port },
      close: async () => socket.close(),
    };
  };

  const bindDgram = async (port: number): Promise<UdpEndpoint> => {
    const type = net.isIPv6(options.host) ? 'udp6' : 'udp4';
    const family = type === 'udp6' ? 6 : 4;
    // A reply goes to the address its query came from, an IP literal: once bound, the socket's
    // lookup hands it straight back rather than through dns.lookup and a tick for every reply.
    let bound = false;
    const socket = dgram.createSocket({
      type,
      lookup: (hostname, lookupOptions, callback) => {
        if (bound) callback(null, hostname, family);
        else dns.lookup(hostname, lookupOptions, callback);
      },
    });
    socket.on('message', (msg, rinfo) => {
      const clientIp = clientAddress(rinfo.address);
      safeHandle(msg, clientIp, false, (reply) => {
        if (reply === null || stopped) return;
        try {
          socket.send(reply, rinfo.port, rinfo.address);
        } catch (err) {
          log?.debug({ err }, 'could not send a DNS reply');
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, options.host, () => {
        socket.off('error', reject);
        bound = true;
        resolve();
      });
    });
    socket.on('error', (err) => log?.error({ err }, 'DNS UDP socket error'));
    for (const size of [
      () => socket.setRecvBufferSize(8 << 20),
      () => socket.setSendBufferSize(8 << 20),
    ]) {
      try {
        size();
      } catch {
        // the kernel's limit applies
      }
    }
    return {
      address: socket.address(),
      close: () => new Promise<void>((r) => socket.close(() => r())),
    };
  };
  const bindUdp = batched ? bindBatched : bindDgram;

  // --- TCP (RFC 7766) ---------------------------------------------------------------------------
  const connections = new Set<net.Socket>();
  const tcp = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    stats.tcpConnections++;
    connections.add(socket);
    const clientIp = clientAddress(socket.remoteAddress ?? '');
    let pending: Buffer | null = null;
    let inFlight = 0;
    let ended = false;
    let pumping = false;
    socket.setTimeout(options.tcpIdleTimeoutMs, () => socket.destroy());
    const finishIfDone = () => {
      if (ended && inFlight === 0 && !socket.destroyed) socket.end();
    };
    const pump = () => {
      if (pumping) return; // a reply sent synchronously from inside the loop below
      pumping = true;
      try {
        pumpFrames();
      } finally {
        pumping = false;
      }
      if (inFlight >= options.tcpMaxQueriesInFlight) socket.pause();
    };
    const pumpFrames = () => {
      while (pending !== null && pending.length >= 2 && inFlight < options.tcpMaxQueriesInFlight) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.length === 2 + length ? null : pending.subarray(2 + length);
        if (length < HEADER_LENGTH) {
          stats.dropped++;
          socket.destroy(); // not even a header: the stream cannot be trusted further
          return;
        }
        inFlight++;
        safeHandle(message, clientIp, true, (reply) => {
          inFlight--;
          if (reply && !socket.destroyed && socket.writable) {
            const frame = Buffer.allocUnsafe(2 + reply.length);
            frame.writeUInt16BE(reply.length, 0);
            reply.copy(frame, 2);
            socket.write(frame);
          }
          if (socket.isPaused() && inFlight < options.tcpMaxQueriesInFlight) socket.resume();
          if (pending !== null && inFlight < options.tcpMaxQueriesInFlight) pump();
          finishIfDone();
        });
      }
    };
    socket.on('data', (chunk) => {
      pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
      pump();
    });
    socket.on('end', () => {
      ended = true;
      finishIfDone();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => connections.delete(socket));
  });
  tcp.maxConnections = options.tcpMaxConnections;
  const listenTcp = (port: number) =>
    new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host: options.host }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });

  // UDP and TCP share one port; with port 0 the TCP side may find the UDP one taken: try again.
  let udp: UdpEndpoint | null = null;
  for (let attempt = 0; ; attempt++) {
    udp = await bindUdp(options.port).catch(async (err: unknown) => {
      await forwarder.close();
      throw err;
    });
    try {
      await listenTcp(udp.address.port);
      break;
    } catch (err) {
      await udp.close();
      if (options.port !== 0 || attempt >= 10) {
        await forwarder.close();
        throw err;
      }
    }
  }
  const udpSocket = udp;
  tcp.on('error', (err) => log?.error({ err }, 'DNS TCP listener error'));

  return {
    address: { udp: udpSocket.address, tcp: tcp.address() as AddressInfo },
    udp: { transport: batched ? 'batched' : 'dgram', problem: batched ? null : support.problem },
    stats: () => ({
      ...stats,
      cacheEntries: cache.stats().entries,
      decisionEntries: decisions.size,
      upstream: forwarder.stats(),
    }),
    flushCache: () => {
      cache.clear();
      decisions.clear();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await udpSocket.close();
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      for (const socket of connections) socket.destroy();
      await closed;
      await forwarder.close();
    },
  };
}
