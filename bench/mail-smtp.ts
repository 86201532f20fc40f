// The SMTP ends of the mail benchmark (bench/mail.ts): a client that sends messages already on
// the wire over one connection, and a sink that accepts every message and keeps nothing, so that
// neither costs more than the few bytes of each command.
import net from 'node:net';

// --- a small SMTP client: one connection, pipelined envelope, messages already on the wire -----

export interface Reply {
  code: number;
  text: string;
}

export class SmtpClient {
  private readonly socket: net.Socket;
  private readonly replies: Reply[] = [];
  private readonly waiters: ((r: Reply) => void)[] = [];
  private partial = '';
  private lines: string[] = [];
  closed = false;

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    const close = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w({ code: 0, text: 'connection closed' });
    };
    this.socket.on('error', close);
    this.socket.on('close', close);
  }

  static async open(port: number): Promise<SmtpClient> {
    const c = new SmtpClient(port);
    const greeting = await c.next();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.code} ${greeting.text}`);
    c.socket.write('EHLO load.bench.test\r\n');
    const ehlo = await c.next();
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.code} ${ehlo.text}`);
    return c;
  }

  private onData(text: string): void {
    this.partial += text;
    let nl = this.partial.indexOf('\n');
    while (nl !== -1) {
      const line = this.partial.slice(0, nl).replace(/\r$/, '');
      this.partial = this.partial.slice(nl + 1);
      this.lines.push(line);
      // The last line of a reply has a space (or nothing) after the code.
      if (line.length <= 3 || line[3] === ' ') {
        const reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
        this.lines = [];
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
      nl = this.partial.indexOf('\n');
    }
  }

  private next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.resolve({ code: 0, text: 'connection closed' });
    // No answer within two minutes: the connection is given up (and counted as closed).
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), 120_000);
      this.waiters.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  /**
   * Sends one message (`wire`: dot-stuffed, ending CRLF.CRLF) and resolves to the final reply.
   * It declares the message's SIZE, as mail servers do (a few bytes over, for the stuffed dots).
   */
  async send(from: string, to: string, wire: Buffer, declareSize = true): Promise<Reply> {
    const size = declareSize ? ` SIZE=${wire.length - 3}` : '';
    this.socket.write(`MAIL FROM:<${from}>${size}\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    const mail = await this.next();
    const rcpt = await this.next();
    const data = await this.next();
    if (data.code !== 354) {
      if (this.closed) return data;
      this.socket.write('RSET\r\n');
      await this.next();
      return mail.code !== 250 ? mail : rcpt.code !== 250 ? rcpt : data;
    }
    this.socket.write(wire);
    return this.next();
  }

  close(): void {
    if (!this.closed) this.socket.end('QUIT\r\n');
    this.socket.destroy();
  }
}

// --- the sink: SMTP that accepts everything and keeps nothing -------------------------------------

const END = Buffer.from('\r\n.\r\n');

/** Listens on 127.0.0.1:port; resolves once listening, with its counts so far. */
export async function startSink(
  port: number,
): Promise<{ stats(): { messages: number; bytes: number } }> {
  let messages = 0;
  let bytes = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let inData = false;
    let tail = Buffer.from('\r\n');
    let line = '';
    const command = (text: string) => {
      const verb = text.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        socket.write(
          '250-sink.bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n',
        );
      } else if (verb === 'DATA') {
        inData = true;
        tail = Buffer.from('\r\n');
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') {
        socket.end('221 Bye\r\n');
      } else {
        socket.write('250 Ok\r\n');
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        if (inData) {
          // The end of the data may straddle two chunks: look across the boundary first.
          const edge = Buffer.concat([tail, chunk.subarray(at, at + 4)]);
          let end = edge.indexOf(END);
          if (end !== -1) end = at + end + END.length - tail.length;
          else {
            const i = chunk.indexOf(END, at);
            end = i === -1 ? -1 : i + END.length;
          }
          if (end === -1) {
            bytes += chunk.length - at;
            tail = Buffer.from(
              chunk.length - at >= 4
                ? chunk.subarray(chunk.length - 4)
                : Buffer.concat([tail, chunk.subarray(at)]).subarray(-4),
            );
            return;
          }
          bytes += end - at;
          messages++;
          inData = false;
          at = end;
          socket.write('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const nl = chunk.indexOf(10, at);
        if (nl === -1) {
          line += chunk.toString('latin1', at);
          return;
        }
        const text = (line + chunk.toString('latin1', at, nl)).trim();
        line = '';
        at = nl + 1;
        command(text);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.write('220 sink.bench.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { stats: () => ({ messages, bytes }) };
}
