import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  detectFormat,
  ListParser,
  type ListSink,
  MAX_LINE_LENGTH,
  parseList,
  parseUsage,
} from './formats.ts';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/lists');
const shipped = join(import.meta.dirname, '../../../lists/ut1');
const read = (path: string) => readFileSync(path, 'utf8');

describe('squidGuard/UT1 domains', () => {
  it('reads every line of the shipped webmail list, IP addresses included', () => {
    const text = read(join(shipped, 'webmail/domains'));
    const lines = text.split('\n').filter((l) => l.length > 0);
    const parsed = parseList(text, { fileName: 'domains' });
    expect(parsed.format).toBe('domains');
    expect(parsed.skippedCount).toBe(0);
    expect(parsed.domains).toEqual(lines);
    expect(parsed.domains).toContain('mail.google.com');
  });

  it('reads the chat list, which lists addresses beside names', () => {
    const parsed = parseList(read(join(shipped, 'chat/domains')), { fileName: 'domains' });
    expect(parsed.skippedCount).toBe(0);
    expect(parsed.domains).toContain('193.238.160.62');
    expect(parsed.domains).toContain('discord.com');
  });

  it('skips comments and blank lines without counting them as skipped', () => {
    const parsed = parseList('# UT1 webmail\n\ngmail.com\n   \n# end\n', { format: 'domains' });
    expect(parsed.domains).toEqual(['gmail.com']);
    expect(parsed.skippedCount).toBe(0);
    expect(parsed.lines).toBe(5);
  });

  it('normalises case, trailing dots, IDN, leading *. and inline comments', () => {
    const parsed = parseList(
      'GMAIL.com.\nbücher.example\n*.yopmail.com\n.hotmail.com\noutlook.com # Microsoft\n',
      {
        format: 'domains',
      },
    );
    expect(parsed.domains).toEqual([
      'gmail.com',
      'xn--bcher-kva.example',
      'yopmail.com',
      'hotmail.com',
      'outlook.com',
    ]);
  });

  it('takes a bare URL as its host but refuses a URL with a path', () => {
    const parsed = parseList('https://protonmail.com/\nhttps://home.pl/webmail\n', {
      format: 'domains',
    });
    expect(parsed.domains).toEqual(['protonmail.com']);
    expect(parsed.skipped).toEqual([
      {
        line: 2,
        text: 'https://home.pl/webmail',
        reason: 'a URL with a path: put it in a urls list',
      },
    ]);
  });
});

describe('hostile input is skipped with line numbers, never thrown', () => {
  const longLabel = `${'a'.repeat(300)}.example.com`;
  const overlong = `${'b'.repeat(MAX_LINE_LENGTH + 10)}.com`;
  const text = [
    '\uFEFFgmail.com', // BOM on the first line
    'hotmail.com\r', // CRLF
    'yo\u0000pmail.com', // NUL byte
    longLabel,
    overlong,
    'exa mple.com',
    '\u0001\u0002\u0003',
    'outlook.com\r',
    'a..b.com',
    '1.2.3.999',
    '',
  ].join('\n');

  it('keeps the good lines and reports the bad ones', () => {
    const parsed = parseList(text, { format: 'domains' });
    expect(parsed.domains).toEqual(['gmail.com', 'hotmail.com', 'outlook.com']);
    expect(parsed.skipped.map((s) => [s.line, s.reason])).toEqual([
      [3, 'character U+0000 is not allowed in a host name'],
      [4, 'label longer than 63 characters'],
      [5, `line longer than ${MAX_LINE_LENGTH} characters`],
      [6, 'more than one field on the line (is this a hosts file?)'],
      [7, 'character U+0001 is not allowed in a host name'],
      [9, 'empty label'],
      [10, 'invalid IPv4 address'],
    ]);
    expect(parsed.skippedCount).toBe(7);
  });

  it('cuts the reported text of long lines', () => {
    const parsed = parseList(text, { format: 'domains' });
    for (const s of parsed.skipped) expect(s.text.length).toBeLessThanOrEqual(201);
  });

  it('counts every skip but keeps only maxSkipped of them', () => {
    const garbage = Array.from({ length: 50 }, (_, i) => `bad name ${i}`).join('\n');
    const parsed = parseList(garbage, { format: 'domains', maxSkipped: 5 });
    expect(parsed.skippedCount).toBe(50);
    expect(parsed.skipped.map((s) => s.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it('survives binary noise in every format', () => {
    const noise = Array.from({ length: 4096 }, (_, i) =>
      String.fromCharCode((i * 7919) % 256),
    ).join('');
    for (const format of ['domains', 'urls', 'hosts', 'adblock'] as const) {
      const parsed = parseList(`${noise}\ngmail.com\n0.0.0.0 gmail.com\n||gmail.com^\n`, {
        format,
      });
      expect(parsed.skippedCount).toBeGreaterThan(0);
      for (const d of parsed.domains) expect(d).toMatch(/^[a-z0-9._:-]+$/);
    }
  });
});

describe('squidGuard/UT1 urls', () => {
  it('reads the shipped webmail urls as host and path prefix', () => {
    const parsed = parseList(read(join(shipped, 'webmail/urls')), { fileName: 'urls' });
    expect(parsed.format).toBe('urls');
    expect(parsed.skippedCount).toBe(0);
    expect(parsed.urls).toContainEqual({ host: 'home.pl', path: '/webmail' });
    expect(parsed.urls).toContainEqual({ host: 'apps.vol.at', path: '/tools/webmail/' });
  });

  it('keeps path case and queries from the adult urls', () => {
    const parsed = parseList(read(join(shipped, 'adult/urls')), { fileName: 'urls' });
    expect(parsed.skippedCount).toBe(0);
    expect(parsed.urls).toContainEqual({ host: 'adultstuffonly.com', path: '/Browse' });
    expect(parsed.urls.some((u) => u.path.includes('?'))).toBe(true);
  });
});

describe('hosts files', () => {
  const parsed = parseList(read(join(fixtures, 'hosts.txt')));

  it('is detected from its content', () => {
    expect(parsed.format).toBe('hosts');
  });

  it('takes several names per line after 0.0.0.0, 127.0.0.1 or ::', () => {
    expect(parsed.domains).toEqual([
      'facebook.com',
      'www.facebook.com',
      'instagram.com',
      'twitter.com',
      'gmail.com',
      'mail.google.com',
      'hotmail.com',
      'yopmail.com',
      'xn--bcher-kva.example',
    ]);
  });

  it('reports housekeeping names, bad names and lines without an address', () => {
    expect(parsed.skipped.map((s) => [s.line, s.reason])).toEqual([
      [2, '"localhost" is a hosts file housekeeping name, not a site'],
      [3, '"localhost" is a hosts file housekeeping name, not a site'],
      [3, '"ip6-localhost" is a hosts file housekeeping name, not a site'],
      [3, '"ip6-loopback" is a hosts file housekeeping name, not a site'],
      [4, '"0.0.0.0" is a hosts file housekeeping name, not a site'],
      [12, 'bad_name!.example: character "!" is not allowed in a host name'],
      [13, 'expected an address (such as 0.0.0.0) before the names'],
    ]);
  });
});

describe('AdBlock-style lists', () => {
  const parsed = parseList(read(join(fixtures, 'adblock.txt')));

  it('is detected from its header', () => {
    expect(parsed.format).toBe('adblock');
  });

  it('takes ||name^ rules and ignores their options', () => {
    expect(parsed.domains).toEqual(['facebook.com', 'instagram.com', 'twitter.com', 'gmail.com']);
  });

  it('skips every other AdBlock syntax with a reason', () => {
    expect(parsed.skipped.map((s) => [s.line, s.reason])).toEqual([
      [8, 'AdBlock exception rules are not supported: put the name in the allow list'],
      [9, 'AdBlock element-hiding rules do not apply to a web filter'],
      [10, 'only ||name^ rules are supported (no paths, wildcards or regular expressions)'],
      [11, 'AdBlock syntax other than ||name^ is not supported'],
      [12, 'only ||name^ rules are supported (no paths, wildcards or regular expressions)'],
      [13, 'AdBlock $badfilter rules are not supported'],
      [14, 'AdBlock syntax other than ||name^ is not supported'],
    ]);
  });
});

describe("the school's own lists", () => {
  it('are plain domain lists with comments', () => {
    const allow = parseList(read(join(fixtures, 'school-allow.txt')));
    expect(allow.format).toBe('domains');
    expect(allow.domains).toEqual(['classroom.google.com', 'youtube-nocookie.com']);
    expect(allow.skippedCount).toBe(0);
  });
});

describe('detectFormat', () => {
  it('trusts squidGuard file names', () => {
    expect(detectFormat('0.0.0.0 a.com', 'lists/webmail/domains')).toBe('domains');
    expect(detectFormat('a.com', '/x/urls')).toBe('urls');
  });

  it('recognises each format from its content', () => {
    expect(detectFormat('# c\na.com\nb.com\n')).toBe('domains');
    expect(detectFormat('a.com/x\nb.com/y\n')).toBe('urls');
    expect(detectFormat('0.0.0.0 a.com\n127.0.0.1 b.com\n')).toBe('hosts');
    expect(detectFormat('! c\n||a.com^\n')).toBe('adblock');
    expect(detectFormat('')).toBe('domains');
  });
});

describe('usage files', () => {
  it('reads black/white and aliases (child is a white list of children’s sites)', () => {
    expect(parseUsage(read(join(shipped, 'child/usage')))).toEqual({
      lists: ['white'],
      aliases: ['child'],
      notes: [],
    });
    expect(parseUsage(read(join(shipped, 'webmail/usage'))).lists).toEqual(['black', 'white']);
  });

  it('keeps comment lines as notes', () => {
    const usage = parseUsage(read(join(shipped, 'phishing/usage')));
    expect(usage.lists).toEqual(['black']);
    expect(usage.notes).toContain('This list is no longer maintained.');
  });
});

describe('ListParser: a list read in pieces', () => {
  const collect = (pieces: readonly string[], format: 'domains' | 'urls' | 'hosts') => {
    const entries: string[] = [];
    const sink: ListSink = {
      domain: (host) => entries.push(host),
      url: (host, _kind, path) => entries.push(`${host}${path}`),
      domainRange: (text, start, end) => entries.push(text.slice(start, end)),
    };
    const parser = new ListParser(sink, { format, maxSkipped: 10_000 });
    for (const piece of pieces) parser.push(piece);
    return { entries, summary: parser.end() };
  };

  it('gives the same entries, skips and line numbers wherever the pieces are cut', () => {
    const line = fc.oneof(
      fc.constantFrom('gmail.com', 'WWW.Hotmail.com.', '# comment', '', '  ', 'bad name', '\u0000'),
      fc.constantFrom('home.pl/webmail', '0.0.0.0 yopmail.com', 'bücher.example', '1.2.3.4'),
      fc.constant('x'.repeat(MAX_LINE_LENGTH + 5)),
      fc.stringMatching(/^[a-z0-9.-]{0,20}$/),
    );
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom('domains', 'urls', 'hosts') as fc.Arbitrary<'domains' | 'urls' | 'hosts'>,
        (lines, eol, cuts, format) => {
          const text = `\uFEFF${lines.join(eol)}`;
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const pieces: string[] = [];
          let last = 0;
          for (const p of points) {
            pieces.push(text.slice(last, p));
            last = p;
          }
          pieces.push(text.slice(last));
          expect(collect(pieces, format)).toEqual(collect([text], format));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('detects the format from the whole sample, not from a small first piece', () => {
    const text = readFileSync(join(fixtures, 'hosts.txt'), 'utf8');
    const parser = new ListParser({ domain: () => {}, url: () => {} });
    for (let i = 0; i < text.length; i += 3) parser.push(text.slice(i, i + 3));
    const summary = parser.end();
    expect(summary.format).toBe('hosts');
    expect(summary.accepted).toBe(parseList(text).accepted);
  });

  it('reports an overlong line once, with its number, when it spans pieces', () => {
    const long = 'y'.repeat(MAX_LINE_LENGTH * 3);
    const { entries, summary } = collect(
      ['gmail.com\n', long.slice(0, 5000), long.slice(5000), '\nhotmail.com\n'],
      'domains',
    );
    expect(entries).toEqual(['gmail.com', 'hotmail.com']);
    expect(summary.skipped.map((s) => [s.line, s.reason])).toEqual([
      [2, `line longer than ${MAX_LINE_LENGTH} characters`],
    ]);
    expect(summary.lines).toBe(3);
  });
});
