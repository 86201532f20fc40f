import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkedScanner, parseFastRequest } from './fast.ts';
import { parseResponseHead as parseHead } from './response-head.ts';

const head = (...lines: string[]) => lines.join('\r\n');

/** A response head as it arrives (with its blank line), read; `out` as text. */
function parseResponseHead(text: string, method: string, clientClose: boolean) {
  const r = parseHead(Buffer.from(`${text}\r\n\r\n`, 'latin1'), text.length, method, clientClose);
  return r && { ...r, out: r.out.toString('latin1') };
}

describe('fast path request heads', () => {
  it('accepts an ordinary browser request and rewrites it for the site', () => {
    const r = parseFastRequest(
      head(
        'GET http://WWW.Example.org:8080/a?b=1 HTTP/1.1',
        'Host: www.example.org:8080',
        'User-Agent: test',
        'Proxy-Connection: keep-alive',
        'Proxy-Authorization: Basic eDp5',
        'Via: 1.1 other',
        'Accept: */*',
      ),
      8192,
    );
    expect(r).not.toBeNull();
    expect(r!.method).toBe('GET');
    expect(r!.target).toEqual({ host: 'www.example.org', kind: 'name', port: 8080 });
    expect(r!.path).toBe('/a?b=1');
    expect(r!.lines).toBe('User-Agent: test\r\nAccept: */*\r\n');
    expect(r!.via).toBe('1.1 other');
    expect(r!.proxyAuthorization).toBe('Basic eDp5');
    expect(r!.close).toBe(false);
  });

  it.each([
    ['CONNECT', head('CONNECT a.test:443 HTTP/1.1', 'Host: a.test')],
    ['origin-form (the proxy’s own pages)', head('GET /proxy.pac HTTP/1.1', 'Host: p')],
    ['HTTP/1.0', head('GET http://a.test/ HTTP/1.0')],
    ['Transfer-Encoding', head('POST http://a.test/ HTTP/1.1', 'Transfer-Encoding: chunked')],
    [
      'two Content-Lengths',
      head('POST http://a.test/ HTTP/1.1', 'Content-Length: 1', 'Content-Length: 1'),
    ],
    [
      'a Content-Length that is not a number',
      head('POST http://a.test/ HTTP/1.1', 'Content-Length: 1x'),
    ],
    ['Expect', head('POST http://a.test/ HTTP/1.1', 'Expect: 100-continue', 'Content-Length: 3')],
    ['Upgrade', head('GET http://a.test/ HTTP/1.1', 'Upgrade: websocket', 'Connection: Upgrade')],
    ['obs-fold', head('GET http://a.test/ HTTP/1.1', 'X-A: 1', ' continued')],
    ['space before the colon', head('GET http://a.test/ HTTP/1.1', 'Host : a.test')],
    ['a bare LF inside', 'GET http://a.test/ HTTP/1.1\r\nX-A: 1\nX-B: 2'],
    ['a control character in a value', head('GET http://a.test/ HTTP/1.1', 'X-A: a\x01b')],
    [
      'headers named by Connection',
      head('GET http://a.test/ HTTP/1.1', 'Connection: X-Hop', 'X-Hop: 1'),
    ],
    ['a lower-case method', head('get http://a.test/ HTTP/1.1')],
    ['an address too long', head(`GET http://a.test/${'a'.repeat(100)} HTTP/1.1`)],
  ])('hands %s to the strict parser', (_what, text) => {
    expect(parseFastRequest(text, 64)).toBeNull();
  });

  it('reads Connection: close and a Content-Length body', () => {
    const r = parseFastRequest(
      head('POST http://a.test/f HTTP/1.1', 'Content-Length: 12', 'Connection: close'),
      8192,
    );
    expect(r).toMatchObject({
      bodyLength: 12,
      close: true,
      lines: 'Content-Length: 12\r\n',
    });
  });

  it('whatever the bytes, it returns null or a request whose header lines are clean', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'GET http://a.test/ HTTP/1.1',
        'POST http://b.test:81/x HTTP/1.1',
        'Content-Length: 5',
        'Transfer-Encoding: chunked',
        'Connection: close',
        'Proxy-Authorization: Basic x',
        'Host: evil.test',
        'X-A: 1',
        ' folded',
        '',
        ':',
        'Via: 1.0 a',
      ),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }),
        fc.constantFrom('\r\n', '\n', '\r'),
        (parts, sep) => {
          const r = parseFastRequest(parts.join(sep), 200);
          if (r === null) return;
          expect(r.lines).not.toMatch(
            /(^|\n)(host|transfer-encoding|connection|proxy-[a-z]+|via):/i,
          );
          for (const line of r.lines.split('\r\n').slice(0, -1)) {
            expect(line).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/);
            expect(line).not.toMatch(/[\r\n]/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('fast path response heads', () => {
  it('keeps end-to-end headers, drops hop-by-hop ones and those Connection names, adds Via', () => {
    const r = parseResponseHead(
      head(
        'HTTP/1.1 200 OK',
        'Content-Type: text/html',
        'Connection: keep-alive, X-Hop',
        'X-Hop: secret',
        'Keep-Alive: timeout=5',
        'Set-Cookie: a=1',
        'Set-Cookie: b=2',
        'Content-Length: 10',
      ),
      'GET',
      false,
    );
    expect(r).not.toBeNull();
    expect(r!.out).toBe(
      'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 10\r\nVia: 1.1 custos\r\n\r\n',
    );
    expect(r!.reusable).toBe(true);
    expect(r!.length).toBe(10);
  });

  it('HEAD, 204 and 304 answers have no body; no length means the body ends at close', () => {
    expect(
      parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 5'), 'HEAD', false)!.mode,
    ).toBe(parseResponseHead(head('HTTP/1.1 204 No Content'), 'GET', false)!.mode);
    const close = parseResponseHead(head('HTTP/1.1 200 OK'), 'GET', false)!;
    expect(close.reusable).toBe(false);
    expect(close.out).toContain('Connection: close');
  });

  it('both framings, or two different lengths: never reused, or refused', () => {
    const both = parseResponseHead(
      head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked'),
      'GET',
      false,
    )!;
    expect(both.reusable).toBe(false);
    expect(both.out).not.toContain('Content-Length');
    expect(
      parseResponseHead(
        head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'),
        'GET',
        false,
      ),
    ).toBeNull();
    expect(parseResponseHead('HTTP/2 200', 'GET', false)).toBeNull();
    expect(parseResponseHead(head('HTTP/1.1 200 OK', 'Bad Header: 1'), 'GET', false)).toBeNull();
  });

  it('tells the client to close when it asked to', () => {
    expect(
      parseResponseHead(head('HTTP/1.1 200 OK', 'Content-Length: 0'), 'GET', true)!.out,
    ).toContain('Connection: close');
  });

  it('reads any head exactly as the plain reading of RFC 9112 does, byte for byte', () => {
    // The reading written the obvious way, with strings: what the byte-level parser must match.
    function model(text: string, method: string, clientClose: boolean) {
      const lines = text.split('\r\n');
      const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\r\n]*))?$/.exec(lines[0]!);
      if (!m) return null;
      const status = Number(m[2]);
      let reusable = m[1] === '1';
      let length = -1;
      let chunked = false;
      let encoded = false;
      let via: string | null = null;
      const named = new Set<string>();
      const kept: [string, string][] = [];
      const hop = ['keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization'];
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) return null;
        const name = line.slice(0, colon);
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return null;
        const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are refused
        if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return null;
        const lower = name.toLowerCase();
        const tokens = value.split(',').map((t) => t.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase());
        if (lower === 'content-length') {
          if (!/^\d{1,15}$/.test(value) || (length >= 0 && length !== Number(value))) return null;
          length = Number(value);
        } else if (lower === 'transfer-encoding') {
          encoded = true;
          chunked = tokens[tokens.length - 1] === 'chunked';
          if (!chunked) kept.push([lower, line]);
        } else if (lower === 'connection') {
          for (const t of tokens) {
            if (t === 'close') reusable = false;
            else if (t && t !== 'keep-alive') named.add(t);
          }
        } else if (lower === 'via') via = via === null ? value : `${via}, ${value}`;
        else if (!hop.includes(lower) && !['te', 'trailer', 'upgrade'].includes(lower))
          kept.push([lower, line]);
      }
      let out = kept
        .filter(([lower]) => !named.has(lower))
        .map(([, line]) => `${line}\r\n`)
        .join('');
      const none = status < 200 || status === 204 || status === 304 || method === 'HEAD';
      const mode = none ? 0 : chunked ? 2 : encoded ? 3 : length >= 0 ? 1 : 3;
      if (encoded && length >= 0) reusable = false;
      if (mode === 3) reusable = false;
      if (status < 200) return { status, out: `${m[0]}\r\n${out}\r\n`, mode, length: 0, reusable };
      if (mode === 1 || (mode === 0 && length >= 0)) out += `Content-Length: ${length}\r\n`;
      if (mode === 2) out += 'Transfer-Encoding: chunked\r\n';
      out += `Via: ${via === null ? '1.1 custos' : `${via}, 1.1 custos`}\r\n`;
      if (clientClose || mode === 3) out += 'Connection: close\r\n';
      out = `HTTP/1.1 ${status} ${m[3] ?? ''}\r\n${out}\r\n`;
      return { status, out, mode, length: Math.max(0, length), reusable };
    }
    const ows = fc.constantFrom('', ' ', '\t', '  ');
    const name = fc.oneof(
      fc.constantFrom(
        'Content-Length',
        'content-LENGTH',
        'Transfer-Encoding',
        'Connection',
        'Via',
        'Keep-Alive',
        'TE',
        'Trailer',
        'Upgrade',
        'Proxy-Authenticate',
        'X-Hop',
        'Set-Cookie',
        'Content-Type',
        'Bad Name',
        '',
      ),
      fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/),
    );
    const value = fc.oneof(
      fc.constantFrom(
        '0',
        '5',
        '10',
        '010',
        '5, 5',
        '1234567890123456',
        'chunked',
        'gzip, chunked',
      ),
      fc.constantFrom('chunked, gzip', 'chunked,', 'close', 'keep-alive', 'Keep-Alive, X-Hop'),
      fc.constantFrom('x-hop, close', '1.0 other', 'a\u0001b', 'a\u007fb', 'caf\u00e9', ''),
      fc.stringMatching(/^[ -~\t]{0,20}$/),
    );
    const line = fc.oneof(
      fc.tuple(name, ows, value, ows).map(([n, a, v, b]) => `${n}:${a}${v}${b}`),
      fc.constantFrom('no colon here', ' X-Folded: 1', 'X-Space : 1'),
    );
    const statusLine = fc.oneof(
      fc
        .tuple(fc.constantFrom('0', '1'), fc.constantFrom('100', '103', '200', '204', '304', '404'))
        .chain(([minor, code]) =>
          fc
            .constantFrom('', ' ', ' OK', ' Not Found', ' \u00e9t\u00e9')
            .map((reason) => `HTTP/1.${minor} ${code}${reason}`),
        ),
      fc.constantFrom(
        'HTTP/1.1 099 X',
        'HTTP/2 200',
        'HTTP/1.1 20',
        'HTTP/1.1 200X',
        'http/1.1 200',
      ),
    );
    fc.assert(
      fc.property(
        statusLine,
        fc.array(line, { maxLength: 10 }),
        fc.constantFrom('GET', 'HEAD', 'POST'),
        fc.boolean(),
        (status, lines, method, close) => {
          const text = [status, ...lines].join('\r\n');
          expect(parseResponseHead(text, method, close)).toEqual(model(text, method, close));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('chunked framing', () => {
  const encode = (chunks: string[], trailers: string[] = []) =>
    `${chunks.map((c) => `${Buffer.byteLength(c).toString(16)};x=y\r\n${c}\r\n`).join('')}0\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`;

  it('finds where a chunked body ends, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 30 }), { maxLength: 6 }),
        fc.array(fc.constantFrom('X-T: 1', 'Checksum: abc'), { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.string({ maxLength: 10 }),
        (chunks, trailers, cuts, after) => {
          const body = Buffer.from(encode(chunks, trailers));
          const all = Buffer.concat([body, Buffer.from(after)]);
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const scanner = new ChunkedScanner();
          let from = 0;
          let found = -1;
          for (const to of [...points, all.length]) {
            if (to <= from) continue;
            const end = scanner.scan(all.subarray(from, to), 0);
            expect(end).not.toBe(-2);
            if (end >= 0) {
              found = from + end;
              break;
            }
            from = to;
          }
          expect(found).toBe(body.length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses malformed framing instead of guessing', () => {
    for (const bad of ['x\r\n', '5\n', '3\r\nabcX', '\r\n', '1234567890123\r\n']) {
      expect(new ChunkedScanner().scan(Buffer.from(bad), 0)).toBe(-2);
    }
  });
});
