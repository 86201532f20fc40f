// A local SMTP relay for tests (the smtp-server package), keeping every message it accepts,
// parsed with mailparser. Notifications are tested against it, never against a stubbed sender.
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const closers: (() => Promise<void>)[] = [];

export interface Received {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string | false;
  headers: Map<string, unknown>;
  /** The message exactly as it arrived. */
  raw: Buffer;
}

/** A local relay: smtp-server, keeping what it was given. `refuse` answers 451 to every message. */
export async function startRelay(options: { refuse?: boolean } = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      new Promise<Buffer>((resolve, reject) => {
        stream.on('end', () => resolve(Buffer.concat(chunks)));
        stream.on('error', reject);
      })
        .then(async (raw) => ({ raw, parsed: await simpleParser(raw) }))
        .then(({ raw, parsed }) => {
          if (options.refuse) {
            const error = new Error('Mailbox busy, try later') as Error & { responseCode: number };
            error.responseCode = 451;
            return callback(error);
          }
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: parsed.html ?? false,
            headers: parsed.headers as Map<string, unknown>,
            raw,
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  closers.push(close);
  return { port, received, close };
}

/** Closes every relay started since the last call (use in afterEach). */
export async function closeRelays(): Promise<void> {
  while (closers.length) await closers.pop()!().catch(() => undefined);
}
