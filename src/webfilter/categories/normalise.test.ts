import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isCanonicalIPv4,
  isStoredName,
  lookupForm,
  normaliseHost,
  normalisePath,
  normaliseUrl,
} from './normalise.ts';

const host = (input: string) => {
  const n = normaliseHost(input);
  return n.ok ? `${n.kind}:${n.host}` : `rejected: ${n.reason}`;
};

describe('normaliseHost', () => {
  it('lower-cases and removes one trailing dot, keeping www.', () => {
    expect(host('WWW.Example.COM.')).toBe('name:www.example.com');
    expect(host('www.example.com')).toBe('name:www.example.com');
  });

  it('converts IDN to punycode, and keeps punycode as it is', () => {
    expect(host('bücher.example')).toBe('name:xn--bcher-kva.example');
    expect(host('BÜCHER.example')).toBe('name:xn--bcher-kva.example');
    expect(host('xn--bcher-kva.example')).toBe('name:xn--bcher-kva.example');
    expect(host('ａｂｃ．ｃｏｍ')).toBe('name:abc.com');
  });

  it('recognises IPv4 literals in their canonical form', () => {
    expect(host('192.0.2.1')).toBe('ipv4:192.0.2.1');
    expect(host('192.0.2.1.')).toBe('ipv4:192.0.2.1');
    expect(host('0x7f.1')).toBe('ipv4:127.0.0.1');
    expect(host('192.0.2.256')).toBe('rejected: invalid IPv4 address');
    expect(host('example.123')).toBe('rejected: invalid IPv4 address');
  });

  it('recognises IPv6 literals, bracketed or not, compressed to one form', () => {
    expect(host('2001:DB8:0:0:0:0:0:1')).toBe('ipv6:2001:db8::1');
    expect(host('[2001:db8::1]')).toBe('ipv6:2001:db8::1');
    expect(host('2001:db8:0::1')).toBe('ipv6:2001:db8::1');
    expect(host('::ffff:192.0.2.1')).toBe('ipv6:::ffff:c000:201');
    expect(host('2001:db8::1::2')).toBe('rejected: invalid IPv6 address');
    expect(host('[2001:db8::1')).toBe('rejected: unclosed IPv6 bracket');
    expect(host('fe80::1%eth0')).toBe('rejected: IPv6 zone identifiers are not supported');
  });

  it('rejects malformed names with a reason', () => {
    expect(host('')).toBe('rejected: empty name');
    expect(host('.')).toBe('rejected: empty name');
    expect(host('a..example.com')).toBe('rejected: empty label');
    expect(host('.example.com')).toBe('rejected: empty label');
    expect(host(`${'a'.repeat(64)}.example.com`)).toBe('rejected: label longer than 63 characters');
    const long = `${'a'.repeat(63)}.`.repeat(4);
    expect(host(`${long}com`)).toBe('rejected: name longer than 253 characters');
    expect(host('exa mple.com')).toBe('rejected: character U+0020 is not allowed in a host name');
    expect(host('exa\u0000mple.com')).toBe(
      'rejected: character U+0000 is not allowed in a host name',
    );
    expect(host('example.com/path')).toBe('rejected: character "/" is not allowed in a host name');
    expect(host('xn--zz.example')).toBe('rejected: invalid punycode label');
  });

  it('accepts the underscores and edge hyphens found in real lists', () => {
    expect(host('_video-bagarre.com')).toBe('name:_video-bagarre.com');
    expect(host('celsinho_v8.blogger.com.br')).toBe('name:celsinho_v8.blogger.com.br');
  });

  it('is idempotent on every name it accepts', () => {
    fc.assert(
      fc.property(fc.domain(), (d) => {
        const once = normaliseHost(d);
        if (!once.ok) return;
        const twice = normaliseHost(once.host);
        expect(twice).toEqual(once);
      }),
    );
  });
});

describe('isStoredName agrees with normaliseHost', () => {
  it('never accepts what normaliseHost would change or reject', () => {
    const label = fc.stringMatching(/^[a-zA-Z0-9_-]{0,8}$/);
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(fc.oneof(name, fc.domain(), fc.ipV4()), (s) => {
        if (!isStoredName(s)) return;
        const n = normaliseHost(s);
        expect(n.ok && n.kind === 'name' && n.host === s).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('sends IPv4-looking names to the slow path', () => {
    expect(isStoredName('192.0.2.1')).toBe(false);
    expect(isStoredName('example.0x1f')).toBe(false);
    expect(isStoredName('example.c0m')).toBe(true);
  });
});

describe('isCanonicalIPv4', () => {
  it('accepts dotted decimal without leading zeros only', () => {
    expect(isCanonicalIPv4('192.0.2.1', 9)).toBe(true);
    expect(isCanonicalIPv4('192.0.2.01', 10)).toBe(false);
    expect(isCanonicalIPv4('192.0.2', 7)).toBe(false);
    expect(isCanonicalIPv4('192.0.2.256', 11)).toBe(false);
  });

  it('agrees with the URL parser on random addresses', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isCanonicalIPv4(ip, ip.length)).toBe(new URL(`http://${ip}/`).hostname === ip);
      }),
    );
  });
});

describe('lookupForm (lenient, for lookups)', () => {
  it('keeps the well-formed right-hand labels of a malformed name', () => {
    expect(lookupForm('bad name.facebook.com')).toEqual({ host: 'facebook.com', kind: 'name' });
    expect(lookupForm('a..facebook.com')).toEqual({ host: 'facebook.com', kind: 'name' });
    expect(lookupForm(`${'x'.repeat(300)}.facebook.com`)).toEqual({
      host: 'facebook.com',
      kind: 'name',
    });
  });

  it('drops a port and brackets', () => {
    expect(lookupForm('Facebook.com:443')).toEqual({ host: 'facebook.com', kind: 'name' });
    expect(lookupForm('[2001:db8::1]:443')).toEqual({ host: '2001:db8::1', kind: 'ipv6' });
  });

  it('gives nothing for a numeric last label that is not an address', () => {
    expect(lookupForm('1.2.3.256')).toBeNull();
    expect(lookupForm('bad name.123')).toBeNull();
  });
});

describe('URLs for urls matching', () => {
  it('strips the scheme and port, normalises the host, keeps path case and query', () => {
    expect(normaliseUrl('https://Home.PL:8443/WebMail?x=1#top')).toEqual({
      ok: true,
      host: 'home.pl',
      kind: 'name',
      path: '/WebMail?x=1',
    });
    expect(normaliseUrl('64.27.4.141/?pagename=www')).toEqual({
      ok: true,
      host: '64.27.4.141',
      kind: 'ipv4',
      path: '/?pagename=www',
    });
    expect(normaliseUrl('[2001:db8::1]:8080/a')).toEqual({
      ok: true,
      host: '2001:db8::1',
      kind: 'ipv6',
      path: '/a',
    });
  });

  it('refuses user information and bad ports', () => {
    expect(normaliseUrl('user@example.com/a').ok).toBe(false);
    expect(normaliseUrl('example.com:http/a').ok).toBe(false);
  });

  it('decodes percent-encoded unreserved characters only', () => {
    expect(normalisePath('/web%6Dail/%2f%3F')).toBe('/webmail/%2F%3F');
    expect(normalisePath('webmail')).toBe('/webmail');
  });
});
