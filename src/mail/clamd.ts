// A client for clamd, the ClamAV daemon, over TCP or a unix socket (SYS-4, SYS-7). A message is
// sent with INSTREAM on a connection of its own; the answer is clean, infected (with the
// signature), or a scanner error. When clamd cannot be reached or stops answering, the client
// throws ScannerUnavailable, so the relay defers the message (4xx) instead of letting it through.
import net from 'node:net';
import type { Config } from '../config/config.ts';
import type { ScanResult } from './types.ts';

/** clamd's own default StreamMaxLength (25M). */
export const CLAMD_DEFAULT_STREAM_MAX = 25 * 1024 * 1024;

export interface ClamdOptions {
  /** Path of clamd's LocalSocket; when set, host and port are not used. */
  readonly socket?: string | undefined;
  readonly host?: string;
  readonly port?: number;
  /** The whole scan, from connecting to the answer; a scan also waits at most this long for a turn. */
  readonly timeoutMs?: number;
  /** Connecting alone; never longer than timeoutMs. */
  readonly connectTimeoutMs?: number;
  /** clamd's StreamMaxLength: larger input is answered with an error and never sent. */
  readonly maxStreamBytes?: number;
  /** Scans sent to clamd at once; more wait in the queue. */
  readonly maxConcurrent?: number;
  /** Scans waiting for a turn, at most; beyond that a scan fails at once as unavailable. */
  readonly maxQueued?: number;
  /** Size of the INSTREAM chunks a Buffer is cut into. */
  readonly chunkBytes?: number;
}

export type UnavailableReason = 'connect' | 'timeout' | 'reset' | 'busy';

/** clamd could not be asked, or stopped answering: a temporary failure, never a verdict. */
export class ScannerUnavailable extends Error {
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ScannerUnavailable';
  }
}

export interface ScanOptions {
  /** The input's size when known (the SMTP DATA length): too large is refused before connecting. */
  readonly size?: number;
}

export type ScanInput = Uint8Array | AsyncIterable<Uint8Array>;

/** Reads clamd's answer to INSTREAM (without its terminating NUL). */
export function parseScanReply(reply: string): ScanResult {
  const text = reply.replace(/\0+$/, '').trim();
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { status: 'infected', signature: found[1]! };
  if (text === 'stream: OK') return { status: 'clean' };
  if (/size limit exceeded/i.test(text)) {
    return { status: 'error', message: `clamd refused the message as too large: ${text}` };
  }
  if (text.endsWith('ERROR')) return { status: 'error', message: `clamd: ${text}` };
  return { status: 'error', message: `clamd gave an answer that is not understood: ${text}` };
}

const tooLarge = (size: number, max: number): ScanResult => ({
  status: 'error',
  message: `The message (${size} bytes or more) is larger than the scanner accepts (${max} bytes), so it was not scanned.`,
});

/** clamd closed the connection while the INSTREAM body was being written, without an answer. */
class DroppedMidStream extends ScannerUnavailable {}

/** Raised inside a scan when an iterable turns out larger than maxStreamBytes. */
class StreamTooLarge extends Error {
  constructor(readonly seen: number) {
    super('stream too large');
  }
}

interface Waiter {
  readonly start: () => void;
}

export class ClamdClient {
  readonly options: Required<Omit<ClamdOptions, 'socket'>> & { socket: string | undefined };
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(options: ClamdOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 60_000;
    this.options = {
      socket: options.socket,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 3310,
      timeoutMs,
      connectTimeoutMs: Math.min(options.connectTimeoutMs ?? 5000, timeoutMs),
      maxStreamBytes: options.maxStreamBytes ?? CLAMD_DEFAULT_STREAM_MAX,
      maxConcurrent: Math.max(1, options.maxConcurrent ?? 4),
      maxQueued: Math.max(0, options.maxQueued ?? 32),
      chunkBytes: Math.max(1, options.chunkBytes ?? 64 * 1024),
    };
  }

  /** Where clamd is, for messages and logs. */
  get address(): string {
    const o = this.options;
    return o.socket ? `unix:${o.socket}` : `${o.host}:${o.port}`;
  }

  /** Scans running and waiting, for the health page. */
  get load(): { readonly active: number; readonly queued: number } {
    return { active: this.active, queued: this.queue.length };
  }

  /**
   * Scans one message. Resolves with clean, infected or error; rejects with ScannerUnavailable
   * when clamd cannot be reached, is too busy, times out or drops the connection. An error thrown
   * by the input iterable is passed on as it is.
   */
  async scan(input: ScanInput, options: ScanOptions = {}): Promise<ScanResult> {
    const max = this.options.maxStreamBytes;
    const knownSize = input instanceof Uint8Array ? input.byteLength : options.size;
    if (knownSize !== undefined && knownSize > max) return tooLarge(knownSize, max);
    const release = await this.turn();
    try {
      const reply = await this.exchange('zINSTREAM\0', this.chunks(input), this.options.timeoutMs);
      return parseScanReply(reply);
    } catch (error) {
      if (error instanceof StreamTooLarge) return tooLarge(error.seen, max);
      if (error instanceof DroppedMidStream) return this.afterDrop(error);
      throw error;
    } finally {
      release();
    }
  }

  /**
   * clamd answers "size limit exceeded" and closes at once; when the close reaches a write of
   * ours before the answer is read, the answer is lost. A clamd that still answers PING closed
   * this stream on purpose (a scanner error); one that does not is down (unavailable).
   */
  private async afterDrop(dropped: DroppedMidStream): Promise<ScanResult> {
    try {
      await this.ping();
    } catch {
      throw dropped;
    }
    return {
      status: 'error',
      message: `clamd at ${this.address} is running but closed the connection while the message was being sent: most likely the message is larger than its StreamMaxLength (size limit exceeded); mail.clamd.maxStreamBytes should be set to that value.`,
    };
  }

  /** Resolves when clamd answers PONG; throws ScannerUnavailable otherwise. */
  async ping(timeoutMs = this.options.connectTimeoutMs): Promise<void> {
    const reply = await this.exchange('zPING\0', null, timeoutMs);
    if (reply !== 'PONG') {
      throw new ScannerUnavailable('reset', `clamd at ${this.address} answered PING with ${reply}`);
    }
  }

  /** clamd's version line, e.g. "ClamAV 1.4.6/27512/Mon Jan 5 09:40:01 2026". */
  version(timeoutMs = this.options.connectTimeoutMs): Promise<string> {
    return this.exchange('zVERSION\0', null, timeoutMs);
  }

  /** Waits for a free slot; the returned function gives it back. */
  private turn(): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next.start();
      else this.active--;
    };
    if (this.active < this.options.maxConcurrent) {
      this.active++;
      return Promise.resolve(release);
    }
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(
        new ScannerUnavailable(
          'busy',
          `The virus scanner is busy (${this.active} scans running, ${this.queue.length} waiting).`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        // The slot passes straight from the finishing scan to this one: active stays the same.
        start: () => {
          clearTimeout(timer);
          resolve(release);
        },
      };
      // A message must not wait for ever behind stuck scans.
      const timer = setTimeout(() => {
        const at = this.queue.indexOf(waiter);
        if (at >= 0) this.queue.splice(at, 1);
        reject(
          new ScannerUnavailable(
            'busy',
            `No virus scanner slot became free within ${this.options.timeoutMs} ms.`,
          ),
        );
      }, this.options.timeoutMs);
      this.queue.push(waiter);
    });
  }

  /** The input as INSTREAM chunks of at most chunkBytes, counting against maxStreamBytes. */
  private async *chunks(input: ScanInput): AsyncGenerator<Uint8Array> {
    const { chunkBytes, maxStreamBytes } = this.options;
    const source: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
      input instanceof Uint8Array ? [input] : input;
    let seen = 0;
    for await (const piece of source) {
      seen += piece.byteLength;
      if (seen > maxStreamBytes) throw new StreamTooLarge(seen);
      // A zero-length chunk would end the stream early, so empty pieces are skipped.
      for (let at = 0; at < piece.byteLength; at += chunkBytes) {
        yield piece.subarray(at, at + chunkBytes);
      }
    }
  }

  /** Sends one command (and an INSTREAM body) on a fresh connection; resolves with the reply. */
  private exchange(
    command: string,
    body: AsyncIterable<Uint8Array> | null,
    timeoutMs: number,
  ): Promise<string> {
    const { socket: path, host, port } = this.options;
    const connectTimeoutMs = Math.min(this.options.connectTimeoutMs, timeoutMs);
    const where = this.address;
    return new Promise((resolve, reject) => {
      const conn = path ? net.connect({ path }) : net.connect({ host, port });
      const received: Buffer[] = [];
      let connected = false;
      let bodySent = false;
      let settled = false;
      const finish = (error: Error | null, reply?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(wholeTimer);
        conn.destroy();
        if (error) reject(error);
        else resolve(reply!);
      };
      const replySoFar = () => Buffer.concat(received).toString('utf8');
      const connectTimer = setTimeout(() => {
        finish(
          new ScannerUnavailable(
            'timeout',
            `Could not connect to clamd at ${where} within ${connectTimeoutMs} ms.`,
          ),
        );
      }, connectTimeoutMs);
      const wholeTimer = setTimeout(() => {
        finish(
          new ScannerUnavailable(
            'timeout',
            `clamd at ${where} did not answer within ${timeoutMs} ms.`,
          ),
        );
      }, timeoutMs);

      conn.on('connect', () => {
        connected = true;
        clearTimeout(connectTimer);
        conn.write(command);
        if (body) {
          send(conn, body, () => settled || received.length > 0)
            .then(() => {
              bodySent = true;
            })
            .catch((error: unknown) =>
              finish(error instanceof Error ? error : new Error(String(error))),
            );
        }
      });
      conn.on('data', (data: Buffer) => {
        received.push(data);
        const text = replySoFar();
        const end = text.indexOf('\0');
        if (end >= 0) finish(null, text.slice(0, end));
      });
      // clamd may answer (size limit exceeded) and close while the body is still being written;
      // a reply that arrived wins over the error the unfinished write then gets (see afterDrop).
      const closed = (cause?: Error) => {
        if (received.length > 0) return finish(null, replySoFar().replace(/\0.*$/s, ''));
        const code = (cause as NodeJS.ErrnoException | undefined)?.code;
        if (!connected) {
          return finish(
            new ScannerUnavailable(
              'connect',
              `Cannot connect to clamd at ${where}${code ? ` (${code})` : ''}.`,
              { cause },
            ),
          );
        }
        finish(
          new (body && !bodySent ? DroppedMidStream : ScannerUnavailable)(
            'reset',
            `clamd at ${where} closed the connection without an answer${code ? ` (${code})` : ''}.`,
            { cause },
          ),
        );
      };
      conn.on('error', closed);
      conn.on('end', () => closed());
      conn.on('close', () => closed());
    });
  }
}

/** Writes the INSTREAM body: each chunk after its 4-byte big-endian length, then a zero length. */
async function send(
  conn: net.Socket,
  body: AsyncIterable<Uint8Array>,
  stop: () => boolean,
): Promise<void> {
  for await (const chunk of body) {
    if (stop()) return;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.byteLength);
    conn.write(length);
    if (!conn.write(chunk)) await drained(conn);
  }
  if (!stop()) conn.write(Buffer.alloc(4));
}

function drained(conn: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      conn.off('drain', done);
      conn.off('close', done);
      resolve();
    };
    conn.on('drain', done);
    conn.on('close', done);
  });
}

/** The client for the mail.clamd configuration section. */
export function clamdOptionsFromConfig(clamd: Config['mail']['clamd']): ClamdOptions {
  return {
    socket: clamd.socket,
    host: clamd.host,
    port: clamd.port,
    timeoutMs: clamd.timeoutMs,
    maxStreamBytes: clamd.maxStreamBytes,
    maxConcurrent: clamd.maxConcurrent,
  };
}

/** Whether the virus scanner answers, and what the gateway does meanwhile (SYS-4, SYS-7). */
export interface ScannerStatus {
  answering: boolean;
  /** Where clamd is expected (host:port or socket). */
  address: string;
  /** mail.clamd.failOpen: mail passes unscanned while clamd is away. */
  failOpen: boolean;
  /** What it means for mail, in a sentence for the console and the health check. */
  message: string;
}

/** Asks clamd once (PING, within `timeoutMs`); never throws. */
export async function scannerStatus(
  clamd: Config['mail']['clamd'],
  timeoutMs = 1000,
): Promise<ScannerStatus> {
  const client = new ClamdClient(clamdOptionsFromConfig(clamd));
  const answering = await client.ping(timeoutMs).then(
    () => true,
    () => false,
  );
  const { failOpen } = clamd;
  const message = answering
    ? failOpen
      ? 'The virus scanner answers. mail.clamd.failOpen is on: if it stops answering, mail will pass UNSCANNED.'
      : 'The virus scanner answers: every message is scanned.'
    : failOpen
      ? 'The virus scanner does not answer and mail.clamd.failOpen is on: mail is passing UNSCANNED. Start clamd (systemctl start clamav-daemon) now.'
      : 'The virus scanner does not answer: mail is deferred (senders retry later) until it does. Start clamd (systemctl start clamav-daemon).';
  return { answering, address: client.address, failOpen, message };
}
