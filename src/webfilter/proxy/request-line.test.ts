import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { framingProblem, parseAbsoluteHttp, parseAuthority } from './request-line.ts';
import { extensionOfPath, reasonHeader } from './server.ts';

describe('request line', () => {
  it('splits absolute http URIs into a normalised target and an origin-form path', () => {
    expect(parseAbsoluteHttp('http://WWW.Example.COM/a?b=1#frag')).toEqual({
      target: { host: 'www.example.com', kind: 'name', port: 80 },
      path: '/a?b=1',
    });
    expect(parseAbsoluteHttp('http://example.com:8080')).toMatchObject({
      target: { port: 8080 },
      path: '/',
    });
    expect(parseAbsoluteHttp('http://[::1]:81/x')?.target).toEqual({
      host: '::1',
      kind: 'ipv6',
      port: 81,
    });
    expect(parseAbsoluteHttp('http://example.com?x')?.path).toBe('/?x');
  });

  it('refuses authorities with user information, bad ports or bad names', () => {
    for (const bad of [
      'user@example.com',
      'example.com:0',
      'example.com:99999',
      'exa mple.com',
      '[::1',
      '',
      'a:b:c',
    ]) {
      expect(parseAuthority(bad, 443), bad).toBeNull();
    }
    expect(parseAbsoluteHttp('https://example.com/')).toBeNull();
    expect(parseAbsoluteHttp('ftp://example.com/')).toBeNull();
  });

  it('never throws on hostile input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        parseAuthority(s, 443);
        parseAbsoluteHttp(`http://${s}`);
        extensionOfPath(s);
      }),
    );
  });

  it('refuses ambiguous framing (request smuggling)', () => {
    expect(framingProblem(['Content-Length', '5'])).toBeNull();
    expect(framingProblem(['Transfer-Encoding', 'chunked'])).toBeNull();
    expect(framingProblem(['Content-Length', '5', 'Transfer-Encoding', 'chunked'])).toMatch(/both/);
    expect(framingProblem(['Content-Length', '5', 'content-length', '5'])).toMatch(/more than one/);
    expect(framingProblem(['Content-Length', '5, 5'])).toMatch(/not a number/);
    expect(framingProblem(['Transfer-Encoding', 'gzip, chunked'])).toMatch(/other than chunked/);
    expect(
      framingProblem(['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']),
    ).toMatch(/more than one/);
  });

  it('SYS-2: finds the extension of the last path segment, query and escapes aside', () => {
    expect(extensionOfPath('/files/setup.EXE?v=1')).toBe('exe');
    expect(extensionOfPath('/a/b.tar.gz')).toBe('gz');
    expect(extensionOfPath('/x.ex%65')).toBe('exe');
    expect(extensionOfPath('/dir.d/file')).toBeNull();
    expect(extensionOfPath('/.hidden')).toBeNull();
    expect(extensionOfPath('/')).toBeNull();
    expect(extensionOfPath('/a.%zz')).toBeNull();
  });

  it('writes X-Custos-Reason in ASCII, naming the clauses', () => {
    expect(
      reasonHeader({ reason: 'category', clauseIds: ['SYS-5', 'MIS-2(h)'], categories: ['chat'] }),
    ).toBe('blocked under SYS-5, MIS-2(h): category (chat)');
    expect(reasonHeader({ reason: 'none', clauseIds: [], categories: ['caf\u00e9\n'] })).toMatch(
      /^[\x20-\x7e]+$/,
    );
  });
});
