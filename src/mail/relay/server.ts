// The SMTP relay: the school's mail passes through here on its way in (the internet to the
// school's mail service) and out (the school to the internet, as the smart host). Each message
// is read whole, looked into, scanned and judged by the policy (pipeline.ts), then delivered to
// the next hop, held in the encrypted quarantine, or refused. The rule that matters most: the
// relay answers 250 only once the next hop has accepted the message or it is durably stored;
// whenever the next hop, the scanner or the database is away, the answer is a temporary failure
// (4xx), so the sender keeps the message and tries again. Nothing lost, nothing passed unscanned.
// Every answer carries an RFC 3463 enhanced status code (ENHANCEDSTATUSCODES, RFC 2034): the
// relay's own answers say theirs first ("550 5.7.1 Relaying denied"), smtp-server adds the rest.

import { BlockList, isIP, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import type { Listener } from '../../api/server.ts';
import type { Direction } from '../types.ts';
import type { Delivery } from './deliver.ts';
import { countReceived, MAX_HOPS } from './received.ts';

/** What the relay needs from the rest of Custos, so that tests can give real local parts. */
export interface RelayDeps {
  log: Logger;
  /** The school's own domains (the pack's mail.domains): recipients there make mail inbound. */
  localDomains: () => readonly string[];
  /** Checks SMTP AUTH credentials; resolves to the person's id, or null when wrong. */
  authenticate?: (username: string, password: string, ip: string) => Promise<string | null>;
  /** Judges, records and delivers or holds one message: the whole of the work after DATA. */
  handle: (message: IncomingMail) => Promise<SmtpReply>;
}

export interface RelayOptions {
  host: string;
  port: number;
  /** The name in the greeting and in Received headers. */
  hostname: string;
  maxMessageBytes: number;
  maxRecipients: number;
  /** Addresses and CIDR ranges that may send outbound without AUTH (the mail service's). */
  trustedNetworks: readonly string[];
  /** STARTTLS certificate and key (PEM); without them STARTTLS is not offered. */
  tls?: { key: Buffer; cert: Buffer } | null;
  /** Allow AUTH without TLS (tests and a relay on a private link only). */
  allowInsecureAuth: boolean;
  /** Seconds a client may stay silent before it is disconnected. */
  socketTimeoutMs: number;
  maxClients: number;
}

export interface IncomingMail {
  direction: Direction;
  clientIp: string;
  /** The client's name by reverse DNS; none when unknown. */
  clientName?: string | null;
  helo: string | null;
  /** The message came over STARTTLS (not when unknown). */
  tls?: boolean;
  /** The authenticated person's id and user name (outbound). */
  personId: string | null;
  authUser: string | null;
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

/** An SMTP answer: 2xx accepted, 4xx try again later, 5xx refused. */
export interface SmtpReply {
  code: number;
  message: string;
}

interface Session extends SMTPServerSession {
  custos?: { direction: Direction | null; personId: string | null };
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

function networks(list: readonly string[]): BlockList {
  const blocks = new BlockList();
  for (const entry of list) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0)
      throw new Error(`mail.relay.trustedNetworks: "${entry}" is not an address or range`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) blocks.addAddress(address!, type);
    else blocks.addSubnet(address!, Number(bits), type);
  }
  return blocks;
}

const unmapped = (ip: string) =>
  ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;

/** The SIZE the client declared in MAIL FROM (RFC 1870), or 0. */
function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args ? Number((args as Record<string, string>).SIZE) : 0;
  return Number.isSafeInteger(size) && size > 0 ? size : 0;
}

/**
 * The message as it arrives. When the client declared its SIZE (mail servers do), the bytes go
 * straight into one buffer of that size, so a large message is held once, not as pieces plus a
 * joined copy; otherwise (or when the declaration was short) the pieces are joined at the end.
 */
class MessageBuffer {
  private buf: Buffer | null;
  private used = 0;
  private pieces: Buffer[] = [];
  private size = 0;

  constructor(
    declared: number,
    private readonly max: number,
  ) {
    this.buf = declared > 0 && declared <= max ? Buffer.allocUnsafe(declared) : null;
  }

  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.max) return; // smtp-server answers 552; nothing more is kept
    if (this.buf && this.used + chunk.length <= this.buf.length) {
      chunk.copy(this.buf, this.used);
      this.used += chunk.length;
      return;
    }
    if (this.buf) {
      this.pieces.push(this.buf.subarray(0, this.used));
      this.buf = null;
    }
    this.pieces.push(chunk);
  }

  done(): Buffer {
    const whole = this.buf
      ? this.buf.subarray(0, this.used)
      : this.pieces.length === 1
        ? this.pieces[0]!
        : Buffer.concat(this.pieces);
    // smtp-server keeps the data stream, and this buffer with it, until the connection's next
    // message: nothing may stay held here once the message is handed over.
    this.buf = null;
    this.pieces = [];
    return whole;
  }
}

/** An error smtp-server turns into the given reply. */
function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/** A reply text that starts with its own enhanced status code ("5.7.1 Relaying denied"). */
const OWN_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

type Send = (code: number, data?: string | string[] | null, context?: string | false) => void;

/**
 * smtp-server gives every reply the enhanced code that usually goes with its number (550 is
 * 5.1.1, "no such user"), and knows no way to be told another. The relay's own replies name
 * theirs, so on each connection a reply that starts with a code is sent as it is; the others keep
 * smtp-server's, except 538, which RFC 4954 gives 5.7.11 (encryption required for the mechanism).
 */
class Server extends SMTPServer {
  override connect(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    let newest: { send: Send } | undefined;
    for (const c of this.connections) newest = c as unknown as { send: Send };
    if (!newest) return;
    const send = newest.send.bind(newest);
    newest.send = (code, data, context) => {
      if (typeof data === 'string' && OWN_CODE.test(data)) send(code, data, false);
      else if (code === 538 && typeof data === 'string') send(code, `5.7.11 ${data}`, false);
      else send(code, data, context);
    };
  }
}

export async function startRelay(deps: RelayDeps, options: RelayOptions): Promise<Listener> {
  const trusted = networks(options.trustedNetworks);
  const isTrusted = (ip: string) => {
    const a = unmapped(ip);
    return trusted.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
  const log = deps.log;

  const server = new Server({
    name: options.hostname,
    banner: 'Custos mail gateway',
    size: options.maxMessageBytes,
    hideENHANCEDSTATUSCODES: false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { hideSTARTTLS: true }),
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    allowInsecureAuth: options.allowInsecureAuth,
    maxClients: options.maxClients,
    socketTimeout: options.socketTimeoutMs,
    closeTimeout: 5000,
    disabledCommands: deps.authenticate ? [] : ['AUTH'],
    logger: false,
    onAuth(auth, session, callback) {
      if (!deps.authenticate) {
        callback(smtpError(502, '5.5.1 Authentication is not available here'));
        return;
      }
      const username = auth.username ?? '';
      deps
        .authenticate(username, auth.password ?? '', unmapped(session.remoteAddress))
        .then((personId) => {
          if (!personId) {
            callback(
              smtpError(535, '5.7.8 Authentication failed: check the e-mail address and password'),
            );
            return;
          }
          (session as Session).custos = { direction: 'outbound', personId };
          callback(null, { user: username });
        })
        .catch((err: unknown) => {
          log.error({ err }, 'SMTP authentication could not be checked');
          callback(smtpError(454, '4.7.0 Authentication is unavailable; try again later'));
        });
    },
    onMailFrom(_address, session, callback) {
      const s = session as Session;
      const personId = s.custos?.personId ?? null;
      // Outbound when the client signed in or is the school's mail service; inbound otherwise.
      const outbound = personId !== null || isTrusted(session.remoteAddress);
      s.custos = { direction: outbound ? 'outbound' : 'inbound', personId };
      callback();
    },
    onRcptTo(address: SMTPServerAddress, session, callback) {
      const s = session as Session;
      const direction = s.custos?.direction ?? 'inbound';
      if (session.envelope.rcptTo.length >= options.maxRecipients) {
        callback(
          smtpError(452, `4.5.3 Too many recipients: at most ${options.maxRecipients} per message`),
        );
        return;
      }
      if (direction === 'inbound' && !deps.localDomains().includes(domainOf(address.address))) {
        callback(
          smtpError(
            550,
            '5.7.1 Relaying denied: this gateway accepts mail for the school only (sign in, or send from the school mail service)',
          ),
        );
        return;
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const s = session as Session;
      const body = new MessageBuffer(declaredSize(session), options.maxMessageBytes);
      stream.on('data', (chunk: Buffer) => body.add(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(
            smtpError(552, `5.3.4 Message too big: the limit is ${options.maxMessageBytes} bytes`),
          );
          return;
        }
        const raw = body.done();
        // RFC 5321 6.3: a message that has passed this many servers is going round in a loop.
        if (countReceived(raw) > MAX_HOPS) {
          log.warn(
            { client: session.remoteAddress, from: session.envelope.mailFrom },
            'a message with more Received headers than the hop limit was refused: mail loop?',
          );
          callback(
            smtpError(
              554,
              `5.4.6 Too many hops: the message has passed more than ${MAX_HOPS} mail servers (a mail loop?)`,
            ),
          );
          return;
        }
        const mail: IncomingMail = {
          direction: s.custos?.direction ?? 'inbound',
          clientIp: unmapped(session.remoteAddress),
          clientName: session.clientHostname || null,
          helo: session.hostNameAppearsAs ?? null,
          tls: session.secure === true,
          personId: s.custos?.personId ?? null,
          authUser: typeof session.user === 'string' ? session.user : null,
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          raw,
        };
        deps.handle(mail).then(
          (reply) => {
            if (reply.code >= 200 && reply.code < 300) callback(null, reply.message);
            else callback(smtpError(reply.code, reply.message));
          },
          (err: unknown) => {
            // Whatever went wrong, the sender keeps the message and tries again.
            log.error({ err }, 'a message could not be handled; answered with a temporary failure');
            callback(
              smtpError(451, '4.3.0 The gateway could not process the message; try again later'),
            );
          },
        );
      });
    },
  });
  server.on('error', (err) => log.warn({ err }, 'SMTP connection error'));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const info = server.server.address() as { address: string; port: number; family: string };
  const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: { host: info.address, port: info.port, url: `smtp://${shown}:${info.port}` },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One line of printable ASCII, for an SMTP reply. */
const replyText = (s: string, max = 400) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);

/** The reply for a delivery attempt. */
export function replyFor(delivery: Delivery, id: string): SmtpReply {
  if (delivery.ok) return { code: 250, message: `2.0.0 Accepted, delivered as ${id}` };
  if (delivery.temporary) {
    return {
      code: 451,
      message: replyText(
        `${delivery.enhanced} Not delivered yet: ${delivery.reply}; try again later`,
      ),
    };
  }
  return {
    code: delivery.code,
    message: replyText(`${delivery.enhanced} Not delivered: ${delivery.reply}`),
  };
}
