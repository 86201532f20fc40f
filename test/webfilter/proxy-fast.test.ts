// The proxy's fast path over real sockets: the framings a site may answer with, pipelining,
// uploads, kept-alive site connections, and what it hands to the strict node:http parser.
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { raw, stops, viaProxy, world } from '../support/proxy-world.ts';
import { freshStore } from '../support/stores.ts';

/** A site that answers every request head with `answer(requestHead)`; counts connections. */
async function rawSite(
  answer: (head: string, socket: net.Socket) => string | null,
): Promise<{ port: number; connections: () => number; heads: string[] }> {
  let connections = 0;
  const heads: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        let length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const last = buf.indexOf('0\r\n\r\n', end + 4);
          if (last < 0) return;
          length = last + 5 - (end + 4);
        }
        if (buf.length < end + 4 + length) return;
        heads.push(buf.slice(0, end + 4 + length));
        buf = buf.slice(end + 4 + length);
        const out = answer(head, socket);
        if (out !== null) socket.write(out, 'latin1');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const socket of open) socket.destroy();
      }),
  );
  server.unref();
  return { port: (server.address() as AddressInfo).port, connections: () => connections, heads };
}

/** Sends raw bytes on one connection and reads until `done(text)` says the answer is complete. */
function exchange(
  port: number,
  bytes: string,
  done: (text: string) => boolean,
  timeoutMs = 3000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (done(text)) finish();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(bytes, 'latin1');
  });
}

const get = (port: number, path = '/', extra = '') =>
  `GET http://www.gov.uk:${port}${path} HTTP/1.1\r\nHost: www.gov.uk\r\n${extra}\r\n`;

describe('proxy fast path', () => {
  it('passes a chunked answer through unchanged, with its trailer, and reuses the site connection', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(
      () =>
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\n',
    );
    const bytes = get(site.port, '/1') + get(site.port, '/2');
    const { text } = await exchange(
      w.proxy.address.port,
      bytes,
      (t) => t.split('X-Sum: 1').length === 3,
    );
    const answers = text.split('HTTP/1.1 200 OK').slice(1);
    expect(answers).toHaveLength(2);
    for (const a of answers) {
      expect(a).toContain('Transfer-Encoding: chunked');
      expect(a).toContain('5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\n');
    }
    expect(site.connections()).toBe(1);
    expect(site.heads.map((h) => h.split(' ')[1])).toEqual(['/1', '/2']);
  });

  it('answers pipelined requests in order, each forwarded in origin form with Host and Via', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite((head) => {
      const path = head.split(' ')[1]!;
      return `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
    });
    const bytes = [1, 2, 3, 4, 5].map((n) => get(site.port, `/p${n}`)).join('');
    const { text } = await exchange(w.proxy.address.port, bytes, (t) => t.endsWith('/p5'));
    const bodies = text
      .split('HTTP/1.1 200 OK')
      .slice(1)
      .map((a) => a.slice(-3));
    expect(bodies).toEqual(['/p1', '/p2', '/p3', '/p4', '/p5']);
    expect(site.heads[0]).toMatch(/^GET \/p1 HTTP\/1\.1\r\nHost: www\.gov\.uk:\d+\r\n/);
    expect(site.heads[0]).toContain('Via: 1.1 custos');
  });

  it('HEAD, 204 and 304 answers carry no body and the connection goes on', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite((head) =>
      head.startsWith('HEAD')
        ? 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'
        : head.includes('/none')
          ? 'HTTP/1.1 204 No Content\r\n\r\n'
          : 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
    );
    const bytes = `HEAD http://www.gov.uk:${site.port}/h HTTP/1.1\r\n\r\n${get(site.port, '/none')}${get(site.port, '/cached')}`;
    const { text, closed } = await exchange(w.proxy.address.port, bytes, (t) =>
      t.includes('304 Not Modified'),
    );
    expect(text).toMatch(
      /^HTTP\/1\.1 200 OK\r\nContent-Length: 1000\r\nVia: 1\.1 custos\r\n\r\nHTTP\/1\.1 204/,
    );
    expect(text).toContain('ETag: "x"');
    expect(closed).toBe(false);
  });

  it('an answer without a length ends when the site closes, and the client is told to close', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite((_head, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      return null;
    });
    const { text, closed } = await exchange(w.proxy.address.port, get(site.port), () => false);
    expect(text).toContain('Connection: close');
    expect(text.endsWith('\r\n\r\nuntil the end')).toBe(true);
    expect(closed).toBe(true);
  });

  it('streams a Content-Length upload to the site, in pieces', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(
      (head) => `HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok${head ? '' : ''}`,
    );
    const socket = net.connect(w.proxy.address.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.write(
      `POST http://www.gov.uk:${site.port}/up HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello`,
    );
    await new Promise((r) => setTimeout(r, 50));
    socket.write(' world');
    await expect.poll(() => text).toContain('201 Created');
    socket.destroy();
    expect(site.heads[0]).toMatch(/^POST \/up HTTP\/1\.1\r\n[\s\S]*\r\n\r\nhello world$/);
  });

  it('passes large answers on byte for byte to a client that reads slowly, then reuses the site connection', async () => {
    const w = await world(await freshStore('sqlite'));
    // Every byte different from its neighbours, so a part read twice or lost shows.
    const body = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 11)) & 0xff;
    const chunked = Buffer.concat([
      Buffer.from(`${(body.length >> 1).toString(16)}\r\n`),
      body.subarray(0, body.length >> 1),
      Buffer.from(`\r\n${(body.length - (body.length >> 1)).toString(16)}\r\n`),
      body.subarray(body.length >> 1),
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const site = await rawSite((head, socket) => {
      if (head.startsWith('GET /length')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.write(body);
      } else {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        socket.write(chunked);
      }
      return null;
    });
    const socket = net.connect(w.proxy.address.port, '127.0.0.1');
    socket.on('error', () => {});
    let received = Buffer.alloc(0);
    const readSlowly = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      socket.pause(); // the proxy must hold back the site, not buffer or drop
      setTimeout(() => socket.resume(), 2);
    };
    socket.on('data', readSlowly);
    const answerOf = async (path: string, bodyStart: (text: string) => number, size: number) => {
      received = Buffer.alloc(0);
      socket.write(get(site.port, path));
      const complete = () =>
        received.length >= bodyStart(received.toString('latin1', 0, 4096)) + size;
      await expect.poll(complete, { timeout: 20_000 }).toBe(true);
      const start = bodyStart(received.toString('latin1', 0, 4096));
      return received.subarray(start, start + size);
    };
    const afterHead = (text: string) =>
      text.includes('\r\n\r\n') ? text.indexOf('\r\n\r\n') + 4 : 1e12;
    expect((await answerOf('/length', afterHead, body.length)).equals(body)).toBe(true);
    expect((await answerOf('/chunked', afterHead, chunked.length)).equals(chunked)).toBe(true);
    socket.destroy();
    expect(site.connections()).toBe(1);
  });

  it('replaces a kept-alive site connection that the site closed, without the client noticing', async () => {
    const w = await world(await freshStore('sqlite'));
    let n = 0;
    const site = await rawSite((_head, socket) => {
      n++;
      // Answers, then closes the connection straight after, as an idle site timeout would.
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`);
      setTimeout(() => socket.destroy(), 20);
      return null;
    });
    expect((await viaProxy(w.proxy, `http://www.gov.uk:${site.port}/a`)).body).toBe('1');
    await new Promise((r) => setTimeout(r, 80));
    const second = await viaProxy(w.proxy, `http://www.gov.uk:${site.port}/b`);
    expect(second.status).toBe(200);
    expect(second.body).toBe('2');
  });

  it('answers 502 with what to do next when the site sends something that is not HTTP', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(() => 'SSH-2.0-OpenSSH\r\n\r\n');
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${site.port}/`);
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('www.gov.uk');
  });

  it('keeps header bytes outside ASCII exactly as the site sent them', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(
      () => 'HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n',
    );
    const { text } = await exchange(w.proxy.address.port, get(site.port), (t) =>
      t.includes('\r\n\r\n'),
    );
    expect(text).toContain('X-Name: caf\xe9\r\n');
  });

  it('hands Expect: 100-continue and chunked uploads to the strict parser, which forwards them', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(() => 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone');
    const chunked = `POST http://www.gov.uk:${site.port}/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`;
    const { text } = await exchange(w.proxy.address.port, chunked, (t) => t.endsWith('done'));
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    const expect100 = `POST http://www.gov.uk:${site.port}/e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi`;
    const second = await exchange(w.proxy.address.port, expect100, (t) => t.endsWith('done'));
    expect(second.text).toContain('200 OK');
  });

  it('SYS-5: a blocked request on a kept-alive connection is answered and the next allowed one still forwarded', async () => {
    const w = await world(await freshStore('sqlite'));
    const site = await rawSite(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const bytes = `GET http://facebook.com:${site.port}/ HTTP/1.1\r\n\r\n${get(site.port, '/after')}`;
    const { text } = await exchange(w.proxy.address.port, bytes, (t) => t.endsWith('\r\n\r\nok'));
    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(text).toContain('SYS-5');
    expect(site.heads).toHaveLength(1);
    expect(site.heads[0]).toContain('/after');
  });

  it('cuts a head that trickles in slower than the headers timeout', async () => {
    const w = await world(await freshStore('sqlite'), {
      config: { 'proxy.headersTimeoutMs': 300 },
    });
    const socket = net.connect(w.proxy.address.port, '127.0.0.1');
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => {});
    const head = 'GET http://www.gov.uk/ HTTP/1.1\r\nX-Slow: ';
    for (const c of head) {
      if (closed) break;
      socket.write(c);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 30 && !closed; i++) {
      socket.write('a');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(closed).toBe(true);
    expect(await raw(w.proxy, 'GET /proxy.pac HTTP/1.1\r\nHost: p\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 200/,
    );
  });
});
