// Handing a message to the next hop: the school's mail service for inbound mail (Microsoft 365's
// or Google's inbound gateway), the smart host for outbound mail. nodemailer speaks SMTP to it
// over pooled connections. The answer is sorted into accepted, a temporary failure (the sender
// retries: nothing is lost) or a permanent one (the sender gets the next hop's own words).
import { isAscii } from 'node:buffer';
import nodemailer, { type Transporter } from 'nodemailer';

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

export type Delivery =
  | { ok: true; reply: string; rejected: string[] }
  | { ok: false; temporary: boolean; code: number; reply: string };

export interface Deliverer {
  send(envelope: { from: string; to: readonly string[] }, raw: Buffer): Promise<Delivery>;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

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
      try {
        // RFC 6152: a message with 8-bit bytes is passed on as BODY=8BITMIME when the next hop
        // offers it, as the sender announced it to us; nodemailer adds SMTPUTF8 by itself for
        // internationalised addresses.
        const smtpEnvelope = {
          from: envelope.from,
          to: [...envelope.to],
          use8BitMime: !isAscii(raw),
        };
        const info = await transport.sendMail({ envelope: smtpEnvelope, raw });
        const rejected = ((info.rejected ?? []) as (string | { address: string })[]).map((r) =>
          typeof r === 'string' ? r : r.address,
        );
        if (rejected.length === envelope.to.length && envelope.to.length > 0) {
          const err = (info as { rejectedErrors?: SmtpError[] }).rejectedErrors?.[0];
          return failure(
            err ?? Object.assign(new Error('every recipient was refused'), { responseCode: 550 }),
          );
        }
        return { ok: true, reply: String(info.response ?? '250 accepted'), rejected };
      } catch (error) {
        return failure(error as SmtpError);
      }
    },
    close: () => transport.close(),
  };
}

/** A 5xx from the next hop is permanent; anything else (4xx, no answer, TLS trouble) temporary. */
function failure(err: SmtpError): Delivery {
  const code = err.responseCode ?? 0;
  if (code >= 500 && code < 600) {
    return { ok: false, temporary: false, code, reply: err.response ?? err.message };
  }
  return {
    ok: false,
    temporary: true,
    code: code >= 400 && code < 500 ? code : 451,
    reply: err.response ?? `${err.code ?? 'error'}: ${err.message}`,
  };
}
