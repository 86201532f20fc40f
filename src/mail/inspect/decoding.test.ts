import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWords, MAX_HEADER_BYTES, parseStructured, readHeaderBlock } from './headers.ts';
import { splitMultipart } from './multipart.ts';
import { htmlToText } from './text.ts';
import {
  decodeBase64,
  decodeBase64Carefully,
  decodeQuotedPrintable,
  decodeTransfer,
} from './transfer.ts';

const wrap = (text: string, width: number, eol: string) => {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join(eol);
};

describe('transfer encodings', () => {
  it('base64 decodes whatever the line length and line ends, without a problem', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 500 }),
        fc.integer({ min: 4, max: 100 }),
        fc.constantFrom('\r\n', '\n', ' \r\n'),
        (bytes, width, eol) => {
          const text = wrap(Buffer.from(bytes).toString('base64'), width, eol);
          const decoded = decodeBase64(Buffer.from(text));
          expect(decoded.problem).toBeNull();
          expect(Buffer.compare(decoded.bytes, Buffer.from(bytes))).toBe(0);
        },
      ),
    );
  });

  it('base64 decoded natively gives the same bytes and problem as the careful decoder, clean or not', () => {
    // Long enough for the native path: lines of real base64 (without padding, so that only the
    // end may carry it), with one to three extra characters now and then (a quantum cut short,
    // a dangling character), an ending with or without padding, and in some inputs one thing
    // the native path must leave to the careful one (a character outside the alphabet, padding
    // in the middle).
    const line = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .uint8Array({ minLength: 3, maxLength: 57 })
          .map((b) => Buffer.from(b.subarray(0, b.length - (b.length % 3))).toString('base64')),
      },
      { weight: 2, arbitrary: fc.constantFrom('\r\n', '\n', '\r') },
      { weight: 1, arbitrary: fc.constantFrom('A', 'QQ', 'QUI') },
    );
    const input = fc.record({
      lines: fc.array(line, { minLength: 20, maxLength: 120 }),
      end: fc.constantFrom('', '=', '==', '=\r\n', '==\n', '==='),
      odd: fc.option(
        fc.record({
          at: fc.nat(),
          text: fc.constantFrom(' ', '*', '-', '_', '\u00e9', '=', '==', '\t'),
        }),
        { freq: 3 },
      ),
    });
    fc.assert(
      fc.property(input, ({ lines, end, odd }) => {
        const parts = [...lines, end];
        if (odd) parts.splice(odd.at % parts.length, 0, odd.text);
        const bytes = Buffer.from(parts.join(''), 'latin1');
        const fast = decodeBase64(bytes);
        const careful = decodeBase64Carefully(bytes);
        expect(fast.problem).toBe(careful.problem);
        expect(Buffer.compare(fast.bytes, careful.bytes)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('base64 joins encodings concatenated after padding', () => {
    const decoded = decodeBase64(Buffer.from('QQ==\r\nQkM=\r\nRA=='));
    expect(decoded.bytes.toString()).toBe('ABCD');
    expect(decoded.problem).toBeNull();
  });

  it('base64 skips characters outside its alphabet and a dangling last character, and says so', () => {
    const decoded = decodeBase64(Buffer.from('QU*JD~RA==R'));
    expect(decoded.bytes.toString()).toBe('ABCD');
    expect(decoded.problem).toMatch(/2 characters outside the base64 alphabet/);
    expect(decoded.problem).toMatch(/ends in the middle of a byte/);
  });

  it('quoted-printable decodes escapes and soft line breaks, and keeps a stray =', () => {
    const decoded = decodeQuotedPrintable(Buffer.from('caf=C3=A9 =\r\nau lait =\nx = y =ZZ='));
    expect(decoded.bytes.toString()).toBe('café au lait x = y =ZZ');
  });

  it('an unknown transfer encoding passes the bytes through with a problem', () => {
    const decoded = decodeTransfer(Buffer.from('abc'), 'x-uuencode');
    expect(decoded.bytes.toString()).toBe('abc');
    expect(decoded.problem).toMatch(/unknown Content-Transfer-Encoding/);
  });
});

describe('headers', () => {
  it('unfolds values, keeps repeats in order, and finds the body', () => {
    const block = readHeaderBlock(
      Buffer.from('Subject: one\r\n two\r\nX-A: 1\r\nx-a: 2\r\nName : ok\r\n\r\nbody'),
    );
    expect(block.fields.get('subject')).toEqual(['one two']);
    expect(block.fields.get('x-a')).toEqual(['1', '2']);
    expect(block.problem).toBeNull();
    expect(block.fields.get('name')).toEqual(['ok']);
    expect(block.bodyStart).toBe(49);
  });

  it('a line that is not a field ends the block, with a problem', () => {
    const block = readHeaderBlock(Buffer.from('Subject: x\nthis is body text\n'));
    expect(block.problem).toMatch(/not ended by a blank line/);
    expect(block.bodyStart).toBe(11);
  });

  it('keeps at most MAX_HEADER_BYTES of header values, even from one long line', () => {
    const block = readHeaderBlock(
      Buffer.from(`Subject: ${'x'.repeat(MAX_HEADER_BYTES * 2)}\r\nTo: a@b.c\r\n\r\nbody`),
    );
    expect(block.fields.get('subject')?.[0]?.length).toBeLessThanOrEqual(MAX_HEADER_BYTES);
    expect(block.problem).toMatch(/larger than/);
    expect(block.fields.has('to')).toBe(false);
    expect(block.bodyStart).toBe(MAX_HEADER_BYTES * 2 + 24);
  });

  it('takes raw UTF-8 header bytes as UTF-8 and other 8-bit bytes as Latin-1', () => {
    const utf8 = readHeaderBlock(Buffer.from('Subject: café\r\n\r\n'));
    expect(utf8.fields.get('subject')).toEqual(['café']);
    const latin1 = readHeaderBlock(Buffer.from([...Buffer.from('Subject: caf'), 0xe9, 10, 10]));
    expect(latin1.fields.get('subject')).toEqual(['café']);
  });

  it('decodes encoded words, joining adjacent ones and a character split between them', () => {
    expect(decodeWords('=?utf-8?B?4oI=?= =?utf-8?B?rA==?= and =?ISO-8859-1?Q?d=E9j=E0_vu?=')).toBe(
      '€ and déjà vu',
    );
    expect(decodeWords('=?x-no-such-charset?Q?abc?=')).toBe('abc');
    expect(decodeWords('no words here')).toBe('no words here');
  });

  it('reads RFC 2231 parameters, continued and charset-encoded, over plain ones', () => {
    const v = parseStructured(
      `attachment; filename="plain.txt"; filename*0*=iso-8859-1'fr'r%E9sum; filename*1="é.pdf"; size=12`,
    );
    expect(v.value).toBe('attachment');
    expect(v.params.get('filename')).toBe('résumé.pdf');
    expect(v.params.get('size')).toBe('12');
  });

  it('reads quoted parameters with escapes and semicolons inside', () => {
    const v = parseStructured('Multipart/Mixed; boundary="a;b\\"c"; charset=UTF-8');
    expect(v.value).toBe('multipart/mixed');
    expect(v.params.get('boundary')).toBe('a;b"c');
  });
});

describe('multipart boundaries', () => {
  const body = (s: string) => Buffer.from(s.replaceAll('\n', '\r\n'));

  it('splits at delimiter lines only, and drops the line break before each delimiter', () => {
    const split = splitMultipart(
      body('preamble\n--b\nA: 1\n\none\n--b \n\ntwo\n--bx not\n--b--\nepilogue'),
      'b',
      10,
    );
    expect(split.parts.map((p) => p.toString())).toEqual([
      'A: 1\r\n\r\none',
      '\r\ntwo\r\n--bx not',
    ]);
    expect(split).toMatchObject({ found: true, closed: true, more: false });
  });

  it('without a close delimiter the last part runs to the end', () => {
    const split = splitMultipart(body('--b\none\n--b\ntwo'), 'b', 10);
    expect(split.parts.map((p) => p.toString())).toEqual(['one', 'two']);
    expect(split.closed).toBe(false);
  });

  it('stops at the number of parts it may take and says there were more', () => {
    const split = splitMultipart(body('--b\n1\n--b\n2\n--b\n3\n--b--'), 'b', 2);
    expect(split.parts).toHaveLength(2);
    expect(split.more).toBe(true);
  });
});

describe('html to text', () => {
  it('drops tags, comments, scripts and styles, and decodes entities', () => {
    expect(
      htmlToText(
        '<style>.a{}</style><!-- hidden --><div>Hello&nbsp;<b>there</b></div><SCRIPT>evil()</SCRIPT><p>a &lt; b &#x263A; &bogus;</p>',
      ),
    ).toBe('Hello there\na < b ☺ &bogus;');
  });

  it('MAIL-5: any mix of text and tags gives the text, a line break for each block tag and a space for each cell, whatever the case of the names', () => {
    const tag = fc.record({
      name: fc.constantFrom('p', 'DIV', 'Br', 'td', 'TH', 'b', 'span', 'h1', 'a1', 'x'.repeat(45)),
      closing: fc.boolean(),
      attributes: fc.constantFrom('', ' class="a"', " title='x y'", ' /'),
    });
    const text = fc.stringMatching(/^[a-z ]{1,12}$/);
    const piece = fc.oneof(
      text.map((t) => ({ html: t, text: t })),
      // A script's content goes, a script closed on itself takes nothing with it.
      text.map((t) => ({ html: `<SCRIPT type="x">${t}<b></script>`, text: '' })),
      fc.constant({ html: '<style/>', text: '' }),
      tag.map(({ name, closing, attributes }) => {
        const lower = name.toLowerCase();
        const block = ['p', 'div', 'br', 'h1'].includes(lower);
        const cell = !closing && (lower === 'td' || lower === 'th');
        const cellEnd = closing && (lower === 'td' || lower === 'th');
        return {
          html: `<${closing ? '/' : ''}${name}${closing ? '' : attributes}>`,
          text: block ? '\n' : cell || cellEnd ? ' ' : '',
        };
      }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const expected = pieces
          .map((p) => p.text)
          .join('')
          .replace(/[ \t\f\v\u00a0]+/g, ' ')
          .replace(/ ?\n[ \n]*/g, '\n')
          .trim();
        expect(htmlToText(pieces.map((p) => p.html).join(''))).toBe(expected);
      }),
    );
  });

  it('is linear on hostile input (unclosed tags and comments)', () => {
    const started = performance.now();
    htmlToText('<a'.repeat(200_000));
    htmlToText('<!--'.repeat(200_000));
    htmlToText('<script>'.repeat(100_000));
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
