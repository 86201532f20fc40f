// Handing a message to the next hop: the school's mail service for inbound mail (Microsoft 365's
// or Google's inbound gateway), the smart host for outbound mail (or, with delivery: mx, the mail
// servers of each recipient domain: deliver-mx.ts). nodemailer speaks SMTP to it. Each recipient
// ends accepted, refused for now (the sender retries: nothing is lost) or refused for good (the
// sender gets the next hop's own words); outcome() turns that into one answer for the message,
// which is "delivered" only when every recipient was accepted.
import { isAscii } from 'node:buffer';
import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';

/** What nodemailer is told a relayed message's Message-ID is (never written to the message). */
const RELAYED_MESSAGE_ID = '<relayed@custos.invalid>';

export interface NextHop {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS is used when offered. */
  secure: boolean;
  /** Refuse to send without TLS. */
  requireTls: boolean;
  /** Check the next hop's certificate (turn off only for a hop on the same trusted network). */
  verifyCertificate: boolean;
  username?: string;
  password?: string;
}

/** Why one recipient did not get the message. */
export interface Refusal {
  recipient: string;
  /** A 4xx or no answer: the sender should try again later. */
  temporary: boolean;
  /** The next hop's reply code, or 0 when it gave none (not reached, DNS). */
  code: number;
  /** The RFC 3463 enhanced status code: the next hop's own, or ours for what went wrong. */
  enhanced: string;
  /** What happened, in words, without the codes. */
  reply: string;
}

export type Delivery =
  | { ok: true; reply: string }
  | {
      ok: false;
      temporary: boolean;
      /** The code to answer with: 451 when temporary, else the next hop's 5xx (or 550). */
      code: number;
      enhanced: string;
      reply: string;
      /** Recipients who did get it (when others did not). */
      delivered: string[];
      refused: Refusal[];
    };

export interface Envelope {
  from: string;
  to: readonly string[];
}

/** A message as one buffer, or as pieces sent one after the other (stamps, then the message). */
export type Message = Buffer | readonly Buffer[];

export interface Deliverer {
  send(envelope: Envelope, raw: Message): Promise<Delivery>;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  syscall?: string;
  timeoutType?: string;
  rejectedErrors?: SmtpError[];
}

/** "550-5.1.1 ..." or "451 4.7.1 ...": the enhanced code at the start of a reply. */
const ENHANCED = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/** A reply without its codes, on one line: "550 5.1.1 <a@b>: no such user" → "<a@b>: no such user". */
export function wordsOf(response: string): string {
  return response
    .split(/\r?\n/)
    .map((line) => line.replace(/^\d{3}[ -]?(?:[245]\.\d{1,3}\.\d{1,3}\s*)?/, '').trim())
    .filter(Boolean)
    .join(' ');
}

/** The enhanced code a reply starts with, when its class agrees with the reply code. */
function enhancedIn(response: string | undefined, cls: 4 | 5): string | null {
  const m = response?.trim().match(ENHANCED);
  return m && Number(m[1]) === cls ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

/**
 * What a failed attempt means for a recipient. `hop` names the server in the words ("the next
 * mail server", or an MX host and its address).
 */
export function classify(err: SmtpError, hop: string): Omit<Refusal, 'recipient'> {
  const code = err.responseCode ?? 0;
  const response = err.response?.trim();
  const said = response ? `${hop} answered "${wordsOf(response)}"` : `${hop} answered ${code}`;
  // Our own credentials or TLS settings at the next hop: a matter for IT, never a bounce.
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH') {
    return { temporary: true, code, enhanced: '4.7.0', reply: `${hop} refused our sign-in` };
  }
  if (err.code === 'ETLS' || err.code === 'EREQUIRETLS') {
    return {
      temporary: true,
      code,
      // RFC 3463 X.7.4 security features not supported; X.7.5 cryptographic failure.
      enhanced: response ? '4.7.4' : '4.7.5',
      reply: response
        ? `${hop} does not offer the TLS required (mail.*.requireTls)`
        : `TLS with ${hop} failed (${err.message})`,
    };
  }
  if (code >= 500 && code < 600) {
    return { temporary: false, code, enhanced: enhancedIn(response, 5) ?? '5.0.0', reply: said };
  }
  if (code >= 400 && code < 500) {
    return { temporary: true, code, enhanced: enhancedIn(response, 4) ?? '4.0.0', reply: said };
  }
  // No answer: X.4.1 when it could not be reached at all, X.4.2 when the connection broke.
  const unreached =
    err.syscall === 'connect' ||
    err.timeoutType === 'CONNECTION_TIMEOUT' ||
    err.timeoutType === 'GREETING_TIMEOUT';
  const enhanced =
    err.code === 'EDNS'
      ? '4.4.3'
      : unreached
        ? '4.4.1'
        : ['ESOCKET', 'ECONNECTION', 'ETIMEDOUT'].includes(err.code ?? '')
          ? '4.4.2'
          : '4.4.0';
  return {
    temporary: true,
    code: 0,
    enhanced,
    reply: `${hop} ${unreached ? 'could not be reached' : 'did not finish the transaction'} (${err.code ?? 'error'}: ${err.message})`,
  };
}

export interface Attempt {
  accepted: string[];
  refused: Refusal[];
  /** The next hop's answer to the message, when it took it. */
  reply: string;
}

const lower = (s: string) => s.toLowerCase();

/**
 * Up to this size the pieces of a message are joined into one buffer, which nodemailer writes
 * as it is; a copy costs less than a stream. A larger message is streamed piece by piece, so that
 * it is not copied to be stamped.
 */
const JOIN_UP_TO = 1 << 20;

function asOne(pieces: readonly Buffer[]): Buffer | Readable {
  if (pieces.length === 1) return pieces[0]!;
  let size = 0;
  for (const p of pieces) size += p.length;
  return size <= JOIN_UP_TO ? Buffer.concat(pieces, size) : Readable.from(pieces);
}

/** One SMTP transaction: who was accepted, who was refused and why. */
export async function attempt(
  transport: Transporter,
  envelope: Envelope,
  raw: Message,
  hop: string,
): Promise<Attempt> {
  const to = [...envelope.to];
  const refusalsOf = (errors: readonly SmtpError[], rest: SmtpError | null) => {
    const refused = errors.map((e) => ({ recipient: e.recipient ?? '', ...classify(e, hop) }));
    const named = new Set(refused.map((r) => lower(r.recipient)));
    // A recipient the errors do not name shares the error of the whole transaction.
    if (rest) {
      for (const r of to) {
        if (!named.has(lower(r))) refused.push({ recipient: r, ...classify(rest, hop) });
      }
    }
    return refused;
  };
  try {
    // RFC 6152: a message with 8-bit bytes is passed on as BODY=8BITMIME when the next hop
    // offers it, as the sender announced it to us; nodemailer adds SMTPUTF8 by itself for
    // internationalised addresses.
    const pieces = Buffer.isBuffer(raw) ? [raw] : raw;
    const info = await transport.sendMail({
      envelope: { from: envelope.from, to, use8BitMime: !pieces.every((p) => isAscii(p)) },
      raw: asOne(pieces),
      // For its own bookkeeping only: the message goes as it came, with its own Message-ID.
      // Without one, nodemailer makes a random one for every message (five getrandom calls).
      messageId: RELAYED_MESSAGE_ID,
    });
    const errors = ((info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []).slice();
    const rejected = ((info.rejected ?? []) as (string | { address: string })[]).map((r) =>
      typeof r === 'string' ? r : r.address,
    );
    for (const r of rejected) {
      if (!errors.some((e) => lower(e.recipient ?? '') === lower(r))) {
        errors.push(Object.assign(new Error('refused'), { recipient: r, responseCode: 550 }));
      }
    }
    const refused = refusalsOf(errors, null);
    const out = new Set(refused.map((r) => lower(r.recipient)));
    return {
      accepted: to.filter((r) => !out.has(lower(r))),
      refused,
      reply: String(info.response ?? '250 accepted'),
    };
  } catch (error) {
    const err = error as SmtpError;
    return { accepted: [], refused: refusalsOf(err.rejectedErrors ?? [], err), reply: '' };
  }
}

/** At most this many refusals are named in a reply; the rest are counted. */
const NAMED = 3;

/** The refusals in words, and who got the message anyway. */
function describe(refused: readonly Refusal[], delivered: readonly string[]): string {
  const reasons = new Set(refused.map((r) => r.reply));
  let text: string;
  if (reasons.size === 1 && delivered.length === 0) {
    text = refused[0]!.reply;
  } else {
    const named = refused.slice(0, NAMED).map((r) => `to ${r.recipient}: ${r.reply}`);
    const more = refused.length - NAMED;
    text = more > 0 ? `${named.join('; ')}; and ${more} more` : named.join('; ');
  }
  if (delivered.length > 0) {
    text += `; delivered to the ${delivered.length} other recipient${delivered.length === 1 ? '' : 's'}`;
  }
  return text;
}

/**
 * One answer for the whole message. Delivered only when no recipient was refused. Otherwise the
 * worst outcome decides: any temporary refusal makes it temporary (the sender retries the whole
 * message, so a recipient who already has it may get it twice: a duplicate, never a loss); only
 * permanent refusals make it permanent, with the words of the first.
 */
export function outcome(
  recipients: readonly string[],
  refused: readonly Refusal[],
  replies: readonly string[],
): Delivery {
  if (refused.length === 0) return { ok: true, reply: replies.join('; ') || '250 accepted' };
  const out = new Set(refused.map((r) => lower(r.recipient)));
  const delivered = recipients.filter((r) => !out.has(lower(r)));
  const temporary = refused.some((r) => r.temporary);
  const deciding = refused.find((r) => r.temporary === temporary)!;
  return {
    ok: false,
    temporary,
    code: temporary ? 451 : deciding.code >= 500 && deciding.code < 600 ? deciding.code : 550,
    enhanced: deciding.enhanced,
    reply: describe(refused, delivered),
    delivered,
    refused: [...refused],
  };
}

/** The next hop named in replies: a smart host or the school mail service. */
const NEXT_HOP = 'the next mail server';

export function createDeliverer(
  hop: NextHop,
  options: { hostname: string; timeoutMs: number; maxConnections?: number },
): Deliverer {
  const transport: Transporter = nodemailer.createTransport({
    host: hop.host,
    port: hop.port,
    secure: hop.secure,
    requireTLS: hop.requireTls,
    tls: { rejectUnauthorized: hop.verifyCertificate, servername: hop.host },
    name: options.hostname,
    pool: true,
    maxConnections: options.maxConnections ?? 5,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    ...(hop.username ? { auth: { user: hop.username, pass: hop.password ?? '' } } : {}),
  });
  return {
    async send(envelope, raw) {
      const result = await attempt(transport, envelope, raw, NEXT_HOP);
      return outcome(envelope.to, result.refused, result.reply ? [result.reply] : []);
    },
    close: () => transport.close(),
  };
}
