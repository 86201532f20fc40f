// The mail gateway as the SMTP tests meet it: a real clamd with the test signature database, a
// local sink standing in for the next hop, and startMailService on a fresh store with the shipped
// pack. Also a raw SMTP client for what nodemailer will not do (pipelined commands, a client
// that goes away in the middle of DATA), a sink that keeps only digests of large messages (and
// can stand in for a domain's MX on an address of its own) and a reader of the Received header
// the gateway puts on top of what it passes on. Test-only.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createPasswordHasher } from '../../src/auth/hashing.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startMailService } from '../../src/mail/service.ts';
import type { DialectName, Store } from '../../src/store/database.ts';
import { signedInAs, testContext } from './app.ts';
import { clamdProblem, startClamd, type TestClamd } from './clamd.ts';
import { compose, SCHOOL } from './mail-samples.ts';
import { freePort } from './ports.ts';
import { addAccount, addPerson } from './seed.ts';
import { closeRelays, startRelay } from './smtp-relay.ts';
import { cleanupStores, freshStore } from './stores.ts';

export { SCHOOL };
/** The usual sender from outside, and the usual recipient and sender at the school. */
export const PARENT = 'parent@example.org';
export const OFFICE = `office@${SCHOOL}`;
export const TEACHER = `teacher@${SCHOOL}`;

let clamd: TestClamd | undefined;
const stops: (() => Promise<void>)[] = [];

/**
 * Registers the hooks of a file that starts gateways: one clamd for the file (started only when
 * installed; pair with `describe.skipIf(clamdProblem !== null)`), and every gateway, sink and
 * store of a test stopped after it.
 */
export function setUpMailGateways(options: { streamMaxBytes?: number } = {}): void {
  beforeAll(async () => {
    if (clamdProblem === null) clamd = await startClamd(options);
  });
  afterAll(async () => {
    await clamd?.stop();
    clamd = undefined;
  });
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
    await closeRelays();
    await cleanupStores();
  });
}

export interface Gateway {
  port: number;
  store: Store;
  sink: Awaited<ReturnType<typeof startRelay>>;
  sbmEmail: string;
  config: ReturnType<typeof loadConfig>;
  ctx: Awaited<ReturnType<typeof testContext>>;
  quarantine: Awaited<ReturnType<typeof startMailService>>['quarantine'];
}

export interface GatewayOptions {
  /** 127.0.0.1 is the school mail service: its mail is outbound without AUTH. */
  trusted?: boolean;
  nextHopDown?: boolean;
  clamdDown?: boolean;
  /** Deliver to this port instead of the parsed sink (a test's own sink). */
  hopPort?: number;
  dialect?: DialectName;
  /** Further settings by path, e.g. { 'mail.relay.maxMessageBytes': 1024 }. */
  config?: Record<string, unknown>;
}

export async function gateway(options: GatewayOptions = {}): Promise<Gateway> {
  if (!clamd && !options.clamdDown) throw new Error('call setUpMailGateways() in the test file');
  const store = await freshStore(options.dialect ?? 'sqlite');
  const sink = await startRelay();
  const hopPort = options.nextHopDown ? await freePort() : (options.hopPort ?? sink.port);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mkdtempSync(path.join(tmpdir(), 'custos-mail-')),
      'mail.relay.host': '127.0.0.1',
      'mail.relay.port': 0,
      'mail.relay.hostname': 'gateway.school.test',
      'mail.relay.trustedNetworks': options.trusted ? ['127.0.0.1'] : [],
      'mail.relay.nextHopTimeoutMs': 5000,
      'mail.inbound.port': hopPort,
      'mail.outbound.port': hopPort,
      'mail.clamd.host': '127.0.0.1',
      'mail.clamd.port': options.clamdDown ? await freePort() : clamd!.port,
      'mail.clamd.timeoutMs': 5000,
      'mail.clamd.maxStreamBytes': clamd?.streamMaxBytes ?? 1024 * 1024,
      ...options.config,
    },
  });
  const ctx = await testContext(store, { config: {} });
  const sbm = await signedInAs(ctx, ['sbm']);
  const sbmEmail = (
    await store.db
      .selectFrom('people')
      .select('email')
      .where('id', '=', sbm.personId)
      .executeTakeFirstOrThrow()
  ).email;
  const service = await startMailService({
    config,
    store,
    audit: ctx.audit,
    policy: ctx.policy,
    log: pino({ level: 'silent' }),
    clock: ctx.clock,
  });
  stops.push(() => service.stop());
  return {
    port: service.address.port,
    store,
    sink,
    sbmEmail,
    config,
    ctx,
    quarantine: service.quarantine,
  };
}

/** A member of staff with a Custos account and password, who may send with SMTP AUTH. */
export async function addMailUser(g: Gateway, email: string, password: string): Promise<string> {
  const personId = await addPerson(g.store, { email, givenName: 'Test' });
  const passwordHash = await createPasswordHasher(g.config.auth.argon2).hash(password);
  await addAccount(g.store, personId, { passwordHash });
  return personId;
}

export interface Reply {
  code: number;
  text: string;
}

/**
 * Sends raw bytes (or a file, streamed) through the relay with nodemailer; resolves to the SMTP
 * reply. `client` adds transport options (auth, TLS).
 */
export async function send(
  g: Gateway,
  from: string,
  to: string[],
  raw: Buffer | { path: string },
  client: SMTPTransport.Options = {},
): Promise<Reply> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: g.port,
    secure: false,
    ignoreTLS: true,
    ...client,
  });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    return { code: 250, text: String(info.response) };
  } catch (error) {
    const e = error as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, text: e.response ?? e.message };
  } finally {
    transport.close();
  }
}

/** A plain message from a parent to the school office. */
export async function fromParent(g: Gateway, subject: string, text: string): Promise<Reply> {
  const raw = await compose({ from: PARENT, to: OFFICE, subject, text });
  return send(g, PARENT, [OFFICE], raw);
}

/** The id of the record a delivery reply names ("... delivered as <id>"). */
export const deliveredId = (text: string) => /delivered as (\S+)/.exec(text)?.[1];

/** A teacher's letter to parents: outbound, so it gains the disclaimer (MAIL-4). */
export function teacherLetter(to: string[], mail: Mail.Options = {}): Promise<Buffer> {
  const text = 'The trip leaves at nine.';
  return compose({ from: TEACHER, to: to.join(', '), subject: 'Trip on Friday', text, ...mail });
}

/** A new starter's details from the office: a National Insurance number, held under MAIL-12. */
export function newStarterDetails(to: string): Promise<Buffer> {
  const text = 'Her National Insurance number is AB 12 34 56 C.';
  return compose({ from: OFFICE, to, subject: 'New starter', text });
}

export const records = (store: Store) =>
  store.db.selectFrom('mail_messages').selectAll().orderBy('received_at').orderBy('id').execute();

// --- the gateway's Received header --------------------------------------------------------------

/** The end of the first header field (the index of the CRLF after its last line), or -1. */
function firstFieldEnd(raw: Buffer): number {
  let at = raw.indexOf('\r\n');
  while (at >= 0 && (raw[at + 2] === 0x20 || raw[at + 2] === 0x09))
    at = raw.indexOf('\r\n', at + 2);
  return at;
}

/** A header field on one line, each fold one space (the gateway folds with a tab). */
const unfold = (field: string) => field.replace(/\r\n[ \t]/g, ' ');

export interface Trace {
  /** The header field as the gateway wrote it, folded lines and all, without the final CRLF. */
  field: string;
  /** The same on one line. */
  unfolded: string;
  /** The message after it: what the gateway was given (plus its own stamps). */
  rest: Buffer;
}

/**
 * Splits off the Received header the gateway puts on top of every message it passes on; throws
 * when the message does not start with one.
 */
export function splitTrace(raw: Buffer, hostname = 'gateway.school.test'): Trace {
  const end = firstFieldEnd(raw);
  const field = end < 0 ? '' : raw.subarray(0, end).toString('latin1');
  const unfolded = unfold(field);
  if (!unfolded.startsWith('Received: ') || !unfolded.includes(` by ${hostname} (Custos) `)) {
    throw new Error(`the message does not start with the gateway's Received header: ${field}`);
  }
  return { field, unfolded, rest: raw.subarray(end + 2) };
}

/** How many header fields named Received the message has. */
export function receivedCount(raw: Buffer): number {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n'))).toString('latin1');
  return head.split('\r\n').filter((l) => /^received:/i.test(l)).length;
}

// --- a raw SMTP client -------------------------------------------------------------------------

export interface RawReply extends Reply {
  /** Each line of a multi-line reply, without the code and separator. */
  lines: string[];
}

export interface RawSmtp {
  readonly socket: net.Socket;
  /** The next reply from the server, in order. */
  reply(timeoutMs?: number): Promise<RawReply>;
  /** Writes bytes as they are (several commands at once, a message body), minding back-pressure. */
  write(data: string | Buffer): Promise<void>;
  /** Writes one command line and reads its reply. */
  command(line: string): Promise<RawReply>;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
}

/** Connects, reads the greeting and says EHLO; `ehlo` is the server's EHLO reply. */
export async function rawSmtp(port: number): Promise<{ smtp: RawSmtp; ehlo: RawReply }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let buffered = '';
  const ready: RawReply[] = [];
  const waiting: ((r: RawReply) => void)[] = [];
  let pendingLines: string[] = [];
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let end = buffered.indexOf('\r\n');
    while (end >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      pendingLines.push(line.slice(4));
      if (line[3] !== '-') {
        const reply = {
          code: Number(line.slice(0, 3)),
          lines: pendingLines,
          text: pendingLines.join('\n'),
        };
        pendingLines = [];
        const waiter = waiting.shift();
        if (waiter) waiter(reply);
        else ready.push(reply);
      }
      end = buffered.indexOf('\r\n');
    }
  });
  const smtp: RawSmtp = {
    socket,
    closed,
    reply(timeoutMs = 20_000) {
      const next = ready.shift();
      if (next) return Promise.resolve(next);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no SMTP reply in time')), timeoutMs);
        waiting.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
      });
    },
    write(data) {
      return new Promise((resolve, reject) => {
        if (socket.write(data)) resolve();
        else {
          const onClose = () => reject(new Error('the connection closed while writing'));
          socket.once('close', onClose);
          socket.once('drain', () => {
            socket.off('close', onClose);
            resolve();
          });
        }
      });
    },
    async command(line) {
      await smtp.write(`${line}\r\n`);
      return smtp.reply();
    },
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const greeting = await smtp.reply();
  if (greeting.code !== 220) throw new Error(`unexpected greeting: ${greeting.text}`);
  const ehlo = await smtp.command('EHLO client.example.org');
  stops.push(async () => {
    socket.destroy();
  });
  return { smtp, ehlo };
}

// --- a sink that keeps digests -----------------------------------------------------------------

export interface SinkMessage {
  from: string;
  to: string[];
  /** The gateway's Received header, when the message starts with one (folded as it came). */
  trace: string | null;
  /** The BODY parameter of MAIL FROM ('8bitmime', '7bit'), when given. */
  bodyType: string | null;
  smtpUtf8: boolean;
  /** Size and digest of the message after the gateway's Received header. */
  size: number;
  sha256: string;
  /** The bytes, all of them, when the sink keeps them. */
  raw: Buffer | null;
}

export interface DigestSinkOptions {
  keep?: boolean;
  /** The address to listen on: another 127.x.y.z stands in for another server. */
  host?: string;
  /** The port (0: any free one). */
  port?: number;
  /** An answer to RCPT TO for some recipients (e.g. 550 for an unknown user). */
  refuseRecipient?: (address: string) => { code: number; message: string } | null;
  /** An answer to every message at the end of DATA instead of 250 (e.g. 451). */
  refuseData?: { code: number; message: string };
}

/** Reads the start of a stream until the first header field is whole; at most 4 kB. */
class TraceReader {
  private head: Buffer | null = Buffer.alloc(0);
  trace: string | null = null;

  /** Gives back what of the chunk belongs to the message after the trace. */
  take(chunk: Buffer): Buffer {
    if (!this.head) return chunk;
    const head = Buffer.concat([this.head, chunk]);
    const end = firstFieldEnd(head);
    // The CRLF that ends the field, and the byte after it, must have arrived.
    if ((end < 0 || end + 2 >= head.length) && head.length < 4096) {
      this.head = head;
      return Buffer.alloc(0);
    }
    this.head = null;
    const field = end < 0 ? '' : head.subarray(0, end).toString('latin1');
    if (field.startsWith('Received: ') && unfold(field).includes(' (Custos) ')) {
      this.trace = field;
      return head.subarray(end + 2);
    }
    return head;
  }

  /** What is left at the end of the message. */
  flush(): Buffer {
    const rest = this.head ?? Buffer.alloc(0);
    this.head = null;
    return rest;
  }
}

/**
 * A next hop that records the envelope and a digest of each message, keeping the bytes only
 * when asked: large messages pass through it without it holding them.
 */
export async function startDigestSink(options: DigestSinkOptions = {}) {
  const received: SinkMessage[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      const refusal = options.refuseRecipient?.(address.address);
      if (refusal) {
        callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      } else callback();
    },
    onData(stream, session, callback) {
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      const reader = new TraceReader();
      let size = 0;
      const digest = (c: Buffer) => {
        hash.update(c);
        size += c.length;
      };
      stream.on('data', (c: Buffer) => {
        digest(reader.take(c));
        if (options.keep) chunks.push(c);
      });
      stream.on('error', callback);
      stream.on('end', () => {
        digest(reader.flush());
        if (options.refuseData) {
          const { code, message } = options.refuseData;
          callback(Object.assign(new Error(message), { responseCode: code }));
          return;
        }
        const envelope = session.envelope as typeof session.envelope & {
          bodyType?: string;
          smtpUtf8?: boolean;
        };
        received.push({
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
          to: envelope.rcptTo.map((r) => r.address),
          trace: reader.trace,
          bodyType: envelope.bodyType ?? null,
          smtpUtf8: envelope.smtpUtf8 === true,
          size,
          sha256: hash.digest('hex'),
          raw: options.keep ? Buffer.concat(chunks) : null,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, received };
}

export type DigestSink = Awaited<ReturnType<typeof startDigestSink>>;

/**
 * Sinks on several loopback addresses (127.0.0.2, 127.0.0.3, ...) sharing one port, as the mail
 * servers of the internet share port 25; `null` leaves that address with nothing listening.
 */
export async function startMxSinks(
  hosts: (DigestSinkOptions | null)[],
): Promise<{ port: number; sinks: (DigestSink | null)[]; address: (i: number) => string }> {
  const address = (i: number) => `127.0.0.${i + 2}`;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const sinks: (DigestSink | null)[] = [];
    try {
      for (const [i, options] of hosts.entries()) {
        sinks.push(options ? await startDigestSink({ ...options, host: address(i), port }) : null);
      }
      return { port, sinks, address };
    } catch (error) {
      // The port was free on 127.0.0.1 but not on another address: take another.
      if (attempt >= 10) throw error;
    }
  }
}

/** The settings for outbound delivery by MX, through the DNS stand-in at `dnsPort`. */
export const mxDelivery = (dnsPort: number, mxPort: number) => ({
  'mail.outbound.delivery': 'mx',
  'mail.outbound.mx.port': mxPort,
  'mail.outbound.mx.dnsServers': [`127.0.0.1:${dnsPort}`],
  'mail.outbound.mx.dnsTimeoutMs': 500,
  'mail.relay.nextHopTimeoutMs': 2000,
});
