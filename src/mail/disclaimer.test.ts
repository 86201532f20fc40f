import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { type ParsedMail, simpleParser } from 'mailparser';
import * as base64 from 'nodemailer/lib/base64';
import MailComposer from 'nodemailer/lib/mail-composer';
import * as qp from 'nodemailer/lib/qp';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addDisclaimer, DISCLAIMER_MARKER } from './disclaimer.ts';
import {
  decodeBase64,
  decodeQuotedPrintable,
  encodeBase64,
  encodeQuotedPrintable,
} from './disclaimer-codec.ts';

// The shipped pack's own text, read from the YAML so the tests follow the pack.
const PACK = parse(readFileSync('policy-packs/palfrey-infant/policy.yaml', 'utf8')) as {
  mail: { disclaimer: { text: string } };
};
const DISCLAIMER = { text: PACK.mail.disclaimer.text };
/** Characters outside US-ASCII and outside ISO 8859-1, and one outside windows-1252 too. */
const WELSH = {
  text: 'Mae’r e-bost hwn yn gyfrinachol – Ysgol Palfrey.\nCroeso i’r ŵyl, £5 yr un.',
};
/** Markup characters, a line that looks like a quote and one a flowed reader would stuff. */
const MARKUP = {
  text: 'Terms & conditions <apply>; "quoted" text.\n> not a quote\nFrom the School office',
};

const CRLF = '\r\n';
const HEAD = [
  'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=palfreyinfant.co.uk; s=s1;',
  ' h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==',
  'From: Ms Bains <sbm@palfreyinfant.co.uk>',
  'To: parent@example.org',
  'Subject: Trip on Friday',
  'MIME-Version: 1.0',
].join(CRLF);

function collapse(text: string): string {
  return text.replace(/[\s\u00a0]+/g, ' ').trim();
}

function htmlText(html: string): string {
  return collapse(
    html
      .replace(/<[^>]*>/g, ' ')
      .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
      .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(Number.parseInt(d, 10)))
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&'),
  );
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) n++;
  return n;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function attachmentDigests(mail: ParsedMail): string[] {
  return mail.attachments.map((a) => `${a.filename}|${a.contentType}|${sha256(a.content)}`);
}

/** How often the disclaimer shows in what a reader sees: the text, and the HTML. */
function shown(mail: ParsedMail, disclaimer: { text: string }) {
  const wanted = collapse(disclaimer.text);
  return {
    text: count(collapse(mail.text ?? ''), wanted),
    html: typeof mail.html === 'string' ? count(htmlText(mail.html), wanted) : null,
  };
}

function compose(options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new MailComposer({
    from: 'Ms Bains <sbm@palfreyinfant.co.uk>',
    to: 'parent@example.org',
    subject: 'Trip on Friday',
    headers: { 'X-Custos-Test': 'yes' },
    ...options,
  })
    .compile()
    .build();
}

function message(...lines: string[]): Buffer {
  return Buffer.from(lines.join(CRLF), 'latin1');
}

function part(type: string, encoding: string, body: Buffer | string, extra: string[] = []) {
  return Buffer.concat([
    Buffer.from(
      [`Content-Type: ${type}`, `Content-Transfer-Encoding: ${encoding}`, ...extra, '', ''].join(
        CRLF,
      ),
      'latin1',
    ),
    typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
  ]);
}

function singlePart(raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from(HEAD + CRLF, 'latin1'), raw]);
}

function header(raw: Buffer): string {
  const text = raw.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}

function added(raw: Buffer, disclaimer: { text: string } = DISCLAIMER): Buffer {
  const result = addDisclaimer(raw, disclaimer);
  expect(result.reason).toBeUndefined();
  expect(result.added).toBe(true);
  return result.raw;
}

function encodeWith(encoding: string, bytes: Buffer): Buffer {
  if (encoding === 'quoted-printable') return Buffer.from(qp.wrap(qp.encode(bytes), 76), 'latin1');
  if (encoding === 'base64') return Buffer.from(base64.wrap(base64.encode(bytes), 76), 'latin1');
  return bytes;
}

const WINDOWS_1252 = new Map([
  ['€', 0x80],
  ['…', 0x85],
  ['‘', 0x91],
  ['’', 0x92],
  ['“', 0x93],
  ['”', 0x94],
  ['–', 0x96],
  ['—', 0x97],
]);

function inCharset(text: string, charset: string): Buffer {
  if (charset === 'utf-8') return Buffer.from(text, 'utf8');
  if (charset === 'windows-1252') {
    return Buffer.from([...text].map((c) => WINDOWS_1252.get(c) ?? c.charCodeAt(0)));
  }
  return Buffer.from(text, 'latin1');
}

const BLOCK = /\r?\n<div data-custos-disclaimer[^>]*>[\s\S]*?<\/div>\r?\n/;

function withoutBlock(html: string | false | undefined): string | false | undefined {
  return typeof html === 'string' ? html.replace(BLOCK, '') : html;
}

/** The encoding and encoded body of each text/plain and text/html part. */
function textBodies(raw: Buffer): { encoding: string; body: string }[] {
  return raw
    .toString('latin1')
    .split(/\r\n--[^\r\n]*\r\n/)
    .filter((p) => /^Content-Type: text\/(plain|html)/.test(p))
    .map((p) => ({
      encoding: /Content-Transfer-Encoding: (\S+)/.exec(p)![1]!,
      body: p.slice(p.indexOf('\r\n\r\n') + 4),
    }));
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

describe('addDisclaimer: where it goes', () => {
  it('MAIL-4: the disclaimer appears exactly once in both alternatives', async () => {
    const raw = await compose({
      text: 'Dear parents,\n\nThe coach leaves at nine.',
      html: '<html><body><p>Dear parents,</p><p>The coach leaves at nine.</p></body></html>',
    });
    const out = added(raw);
    const mail = await simpleParser(out);
    expect(shown(mail, DISCLAIMER)).toEqual({ text: 1, html: 1 });
    expect(mail.text).toMatch(/^Dear parents,\n\nThe coach leaves at nine\.\n\n-- \nThis e-mail/);
    expect(count(out.toString('latin1'), DISCLAIMER_MARKER)).toBe(1);
    // The block sits inside the body, before </body>.
    expect(mail.html).toMatch(
      /nine\.<\/p>\r?\n<div data-custos-disclaimer[^>]*>[\s\S]*<\/div>\r?\n<\/body>/,
    );
  });

  it('MAIL-4: a single-part text/plain message gets it at the end of its text', async () => {
    const raw = singlePart(part('text/plain; charset=utf-8', '7bit', 'See you on Friday.\r\n'));
    const out = added(raw);
    expect(out.toString('latin1')).toBe(
      `${raw.toString('latin1')}\r\n-- \r\n${DISCLAIMER.text.replace(/\n/g, CRLF)}\r\n`,
    );
    expect(shown(await simpleParser(out), DISCLAIMER)).toEqual({ text: 1, html: null });
  });

  it('MAIL-4: a single-part text/html message gets it before </body>, or at the end without one', async () => {
    for (const html of ['<html><body><p>Hello</p></body></html>', '<p>Hello</p>']) {
      const out = added(singlePart(part('text/html; charset=utf-8', '7bit', html)));
      const mail = await simpleParser(out);
      expect(shown(mail, DISCLAIMER)).toEqual({ text: 1, html: 1 });
      expect(mail.html).toMatch(
        html.includes('</body>') ? /<\/div>\r?\n<\/body><\/html>$/ : /<\/div>\r?\n$/,
      );
    }
  });

  it('MAIL-4: multipart/mixed with an alternative first gets it in that body, attachments untouched byte for byte', async () => {
    const pdf = Buffer.from('%PDF-1.4 not really a pdf\n'.repeat(40));
    const raw = await compose({
      text: 'Letter attached.',
      html: '<p>Letter attached.</p>',
      attachments: [
        { filename: 'letter.pdf', content: pdf },
        { filename: 'notes.txt', content: 'Plain text file, no disclaimer here.' },
        { filename: 'page.html', content: '<html><body>saved page</body></html>' },
      ],
    });
    const out = added(raw);
    const before = await simpleParser(raw);
    const after = await simpleParser(out);
    expect(shown(after, DISCLAIMER)).toEqual({ text: 1, html: 1 });
    expect(attachmentDigests(after)).toEqual(attachmentDigests(before));
    // The attachment parts, headers and encoded bodies, are in the output as they were.
    const attachments = raw
      .toString('latin1')
      .split(/----_NmP-[^\r\n]*Part_1/)
      .slice(2, 5);
    for (const a of attachments) expect(out.toString('latin1')).toContain(a);
  });

  it('MAIL-4: multipart/related (an inline image) gets it in the HTML root, not the image', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');
    const raw = await compose({
      text: 'Our logo.',
      html: '<p>Our logo: <img src="cid:logo@palfrey"></p>',
      attachments: [{ filename: 'logo.png', content: png, cid: 'logo@palfrey' }],
    });
    expect(raw.toString('latin1')).toContain('multipart/related');
    const out = added(raw);
    const after = await simpleParser(out);
    expect(shown(after, DISCLAIMER)).toEqual({ text: 1, html: 1 });
    expect(attachmentDigests(after)).toEqual(attachmentDigests(await simpleParser(raw)));
  });

  it("MAIL-4: Apple Mail's text, image, text layout gets it in the last text part", () => {
    const raw = message(
      HEAD,
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Before the photo.',
      '[photo]',
      'After the photo.',
      '--alt',
      'Content-Type: multipart/mixed; boundary="mix"',
      '',
      '--mix',
      'Content-Type: text/html; charset=us-ascii',
      '',
      '<html><body><p>Before the photo.</p>',
      '--mix',
      'Content-Type: image/jpeg; name=photo.jpg',
      'Content-Disposition: inline; filename=photo.jpg',
      'Content-Transfer-Encoding: base64',
      '',
      '/9j/4AAQ',
      '--mix',
      'Content-Type: text/html; charset=us-ascii',
      '',
      '<p>After the photo.</p></body></html>',
      '--mix--',
      '--alt--',
      '',
    );
    const text = added(raw).toString('latin1');
    expect(count(text, DISCLAIMER_MARKER)).toBe(1);
    expect(text.indexOf(DISCLAIMER_MARKER)).toBeGreaterThan(text.indexOf('After the photo.</p>'));
    expect(text).toMatch(/After the photo\.\r\n\r\n-- \r\nThis e-mail/);
  });

  it('MAIL-4: text/plain and text/html attachments are never written to', async () => {
    const raw = await compose({
      text: 'Two files.',
      attachments: [
        { filename: 'minutes.txt', content: 'Minutes of the governors meeting.' },
        {
          filename: 'newsletter.html',
          content: '<html><body>Newsletter</body></html>',
          contentTransferEncoding: '7bit',
        },
        {
          content: 'A text part marked as an attachment, with no name.',
          contentType: 'text/plain',
          contentDisposition: 'attachment',
          contentTransferEncoding: '7bit',
        },
      ],
    });
    const out = added(raw);
    const after = await simpleParser(out);
    expect(shown(after, DISCLAIMER).text).toBe(1);
    expect(attachmentDigests(after)).toEqual(attachmentDigests(await simpleParser(raw)));
    expect(out.toString('latin1')).toContain(
      'A text part marked as an attachment, with no name.\r\n',
    );
  });

  it('MAIL-4: a forwarded message/rfc822 is left alone, attached or inline', async () => {
    const forwarded = message(
      'From: head@otherschool.example',
      'Subject: Inter-school sports day',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Sports day is on the 14th.',
      '',
    );
    for (const disposition of ['attachment', 'inline']) {
      const raw = await compose({
        text: 'Forwarding this, see below.',
        attachments: [
          {
            filename: 'sports-day.eml',
            content: forwarded,
            contentType: 'message/rfc822',
            contentDisposition: disposition,
            contentTransferEncoding: '7bit',
          },
        ],
      });
      const out = added(raw);
      expect(out.toString('latin1')).toContain(forwarded.toString('latin1'));
      expect(out.toString('latin1')).toMatch(/see below\.\r\n\r\n-- \r\n/);
      expect(shown(await simpleParser(out), DISCLAIMER).text).toBe(1);
    }
  });

  it('MAIL-4: a message of attachments only gets a new text/plain part at the start of the mixed', async () => {
    const raw = await compose({
      attachments: [
        { filename: 'scan-0001.pdf', content: Buffer.alloc(500, 0x25) },
        {
          filename: 'fwd.eml',
          content: 'Subject: x\r\n\r\nbody\r\n',
          contentType: 'message/rfc822',
        },
      ],
    });
    const out = added(raw);
    const after = await simpleParser(out);
    expect(shown(after, DISCLAIMER).text).toBe(1);
    expect(attachmentDigests(after)).toEqual(attachmentDigests(await simpleParser(raw)));
    const text = out.toString('latin1');
    const body = text.slice(text.indexOf('\r\n\r\n'));
    const firstPart = body.split(/\r\n----_NmP-[^\r\n]*\r\n/)[1]!;
    expect(firstPart).toMatch(/^Content-Type: text\/plain; charset=utf-8\r\n/);
    // Nothing else moved: the output is the input with one part put in.
    expect(
      text.replace(/----_NmP-[^\r\n]*\r\nContent-Type: text\/plain[\s\S]*?\r\n(?=----_NmP)/, ''),
    ).toBe(raw.toString('latin1'));
    expect(addDisclaimer(out, DISCLAIMER)).toEqual({
      raw: out,
      added: false,
      reason: 'the message already ends with the disclaimer',
    });
  });

  it('MAIL-4: a message with no text body that is not multipart/mixed is left alone, with the reason', () => {
    const raw = singlePart(
      part('application/pdf', 'base64', 'JVBERi0xLjQK\r\n', [
        'Content-Disposition: attachment; filename=report.pdf',
      ]),
    );
    const result = addDisclaimer(raw, DISCLAIMER);
    expect(result.added).toBe(false);
    expect(result.raw).toBe(raw);
    expect(result.reason).toMatch(/no plain-text or HTML body/);
  });

  it('MAIL-4: a signed message is left alone, since the disclaimer would break the signature', () => {
    const raw = message(
      HEAD,
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="sig"',
      '',
      '--sig',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Signed text.',
      '--sig',
      'Content-Type: application/pkcs7-signature; name=smime.p7s',
      'Content-Transfer-Encoding: base64',
      '',
      'MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==',
      '--sig--',
      '',
    );
    const result = addDisclaimer(raw, DISCLAIMER);
    expect(result).toMatchObject({ raw, added: false });
    expect(result.reason).toMatch(/signed or encrypted/);
  });

  it('MAIL-4: headers, DKIM-Signature included, keep every byte', async () => {
    // Signed by the sender's own server before the gateway: the signature will no longer verify
    // (see the module comment), but the field travels unchanged.
    const dkim = HEAD.split(CRLF).slice(0, 2).join(CRLF);
    const composed = await compose({ text: 'Hello.', html: '<p>Hello.</p>' });
    const raw = Buffer.concat([Buffer.from(`${dkim}\r\n`, 'latin1'), composed]);
    const out = added(raw);
    expect(header(out)).toBe(header(raw));
    expect(header(out).startsWith(dkim)).toBe(true);
  });

  it('MAIL-4: a 7bit message changes only by the inserted text and block', async () => {
    const raw = await compose({
      text: 'Line one.\nLine two.',
      html: '<html><body><p>Line one.</p></body></html>',
    });
    const out = added(raw).toString('latin1');
    const plain = `\r\n\r\n-- \r\n${DISCLAIMER.text.replace(/\n/g, CRLF)}\r\n`;
    const block = /\r\n<div data-custos-disclaimer[^>]*>[\s\S]*?<\/div>\r\n/;
    expect(out.replace(plain, '').replace(block, '')).toBe(raw.toString('latin1'));
  });

  it('MAIL-4: messages with LF line breaks keep LF line breaks', async () => {
    const raw = Buffer.from(
      [
        'From: sbm@palfreyinfant.co.uk',
        'MIME-Version: 1.0',
        'Content-Type: multipart/alternative; boundary=b',
        '',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'Hello =E2=80=93 world',
        '--b',
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('<p>Hello</p>\n').toString('base64'),
        '--b--',
        '',
      ].join('\n'),
    );
    const out = added(raw);
    expect(out.includes('\r')).toBe(false);
    expect(shown(await simpleParser(out), DISCLAIMER)).toEqual({ text: 1, html: 1 });
  });
});

describe('addDisclaimer: transfer encodings and charsets', () => {
  it.each(['7bit', '8bit', 'quoted-printable', 'base64'])(
    'MAIL-4: a %s part is decoded, given the disclaimer, and encoded the same way',
    async (encoding) => {
      const text = encoding === '7bit' ? 'Plain ASCII only.\r\nSecond line.' : 'Café – crème.\r\n';
      const html = `<html><body><p>${text}</p></body></html>`;
      const raw = await compose({
        text: {
          raw: part('text/plain; charset=utf-8', encoding, encodeWith(encoding, Buffer.from(text))),
        },
        html: {
          raw: part('text/html; charset=utf-8', encoding, encodeWith(encoding, Buffer.from(html))),
        },
      });
      const out = added(raw);
      const before = await simpleParser(raw);
      const after = await simpleParser(out);
      expect(shown(after, DISCLAIMER)).toEqual({ text: 1, html: 1 });
      expect(after.text!.startsWith(before.text!)).toBe(true);
      expect(withoutBlock(after.html)).toBe(before.html);
      const bodies = textBodies(out);
      expect(bodies.map((b) => b.encoding)).toEqual([encoding, encoding]);
      if (encoding === 'base64' || encoding === 'quoted-printable') {
        for (const b of bodies) {
          expect(Math.max(...b.body.split(CRLF).map((l) => l.length))).toBeLessThanOrEqual(76);
        }
      }
    },
  );

  it.each([
    ['utf-8', 'Café, crème brûlée – 5 €'],
    ['iso-8859-1', 'Café, crème brûlée, 5 £, «ça»'],
    ['windows-1252', 'Café “quoted” – 5 € … it’s'],
  ])(
    'MAIL-4: a %s part takes the disclaimer in its own charset, its header untouched',
    async (charset, text) => {
      for (const encoding of ['8bit', 'quoted-printable']) {
        const body = inCharset(`${text}\r\n`, charset);
        const htmlBody = inCharset(`<p>${text}</p>`, charset);
        const type = `text/plain; charset=${charset}`;
        const raw = await compose({
          text: { raw: part(type, encoding, encodeWith(encoding, body)) },
          html: {
            raw: part(`text/html; charset=${charset}`, encoding, encodeWith(encoding, htmlBody)),
          },
        });
        for (const disclaimer of [DISCLAIMER, WELSH]) {
          const out = added(raw, disclaimer);
          const after = await simpleParser(out);
          expect(shown(after, disclaimer)).toEqual({ text: 1, html: 1 });
          expect(after.text!.startsWith(`${text}\n`)).toBe(true);
          expect(after.html).toContain(text);
          // The HTML block is ASCII with character references: the HTML part keeps its charset.
          expect(out.toString('latin1')).toContain(`text/html; charset=${charset}`);
          const keeps = disclaimer === DISCLAIMER || charset === 'utf-8';
          // The plain part keeps its charset when it can carry the disclaimer, else becomes UTF-8.
          expect(out.toString('latin1').includes(`${type}\r\n`)).toBe(keeps);
          if (!keeps) expect(out.toString('latin1')).toContain('text/plain; charset=utf-8\r\n');
        }
      }
    },
  );

  it('MAIL-4: a 7bit part that must carry non-ASCII text becomes quoted-printable', async () => {
    const raw = message(
      'From: sbm@palfreyinfant.co.uk',
      'Subject: no MIME at all',
      '',
      'An old-style message with no MIME header.',
      '',
    );
    const out = added(raw, WELSH);
    expect(header(out)).toBe(
      `${header(raw)}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable`,
    );
    const after = await simpleParser(out);
    expect(after.text).toContain('An old-style message with no MIME header.\n');
    expect(shown(after, WELSH).text).toBe(1);
  });

  it('MAIL-4: an existing Content-Transfer-Encoding: 7bit field is rewritten, not duplicated', async () => {
    const raw = singlePart(part('text/plain; charset=utf-8', '7bit', 'Plain ASCII.\r\n'));
    const out = added(raw, WELSH);
    const head = header(out);
    expect(count(head, 'Content-Transfer-Encoding:')).toBe(1);
    expect(head).toBe(header(raw).replace('Encoding: 7bit', 'Encoding: quoted-printable'));
    const after = await simpleParser(out);
    expect(after.text!.startsWith('Plain ASCII.\n')).toBe(true);
    expect(shown(after, WELSH).text).toBe(1);
  });

  it('MAIL-4: a charset text cannot be appended to byte for byte is converted to UTF-8', async () => {
    const raw = singlePart(
      part(
        'text/plain; charset=utf-16le',
        'base64',
        encodeWith('base64', Buffer.from('Ysgol – UTF-16 text.\r\n', 'utf16le')),
      ),
    );
    const out = added(raw);
    expect(out.toString('latin1')).toContain('Content-Type: text/plain; charset=utf-8\r\n');
    const after = await simpleParser(out);
    expect(after.text!.startsWith('Ysgol – UTF-16 text.\n')).toBe(true);
    expect(shown(after, DISCLAIMER).text).toBe(1);
  });

  it('MAIL-4: format=flowed text gets space-stuffed disclaimer lines', async () => {
    const raw = singlePart(
      part(
        'text/plain; charset=utf-8; format=flowed',
        '7bit',
        'A flowed paragraph that \r\ncontinues here.\r\n',
      ),
    );
    const out = added(raw, MARKUP);
    expect(out.toString('latin1')).toContain('\r\n > not a quote\r\n From the School office\r\n');
    const after = await simpleParser(out);
    expect(after.text).toContain('A flowed paragraph that continues here.');
    expect(shown(after, MARKUP).text).toBe(1);
  });

  it('MAIL-4: markup in the disclaimer is escaped in HTML', async () => {
    const out = added(singlePart(part('text/html; charset=utf-8', '7bit', '<p>Hi</p>')), MARKUP);
    expect(out.toString('latin1')).toContain(
      'Terms &amp; conditions &lt;apply&gt;; &quot;quoted&quot; text.<br>\r\n&gt; not a quote',
    );
    expect(shown(await simpleParser(out), MARKUP).html).toBe(1);
  });
});

describe('transfer encodings (RFC 2045)', () => {
  const bytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b));

  it('MAIL-4: quoted-printable gives back every byte, in lines of at most 76 characters (property)', () => {
    fc.assert(
      fc.property(bytes, fc.constantFrom<'\r\n' | '\n'>('\r\n', '\n'), (content, eol) => {
        const encoded = encodeQuotedPrintable(content, eol);
        expect(decodeQuotedPrintable(encoded).equals(content)).toBe(true);
        const lines = encoded.toString('latin1').split(eol);
        for (const line of lines) {
          expect(line.length).toBeLessThanOrEqual(76);
          expect(line).toMatch(/^[\x21-\x7e \t]*$/);
          expect(line).not.toMatch(/[ \t]$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('MAIL-4: base64 gives back every byte, in lines of 76 characters (property)', () => {
    fc.assert(
      fc.property(bytes, (content) => {
        const encoded = encodeBase64(content, '\r\n');
        expect(decodeBase64(encoded).equals(content)).toBe(true);
        const lines = encoded.toString('latin1').split('\r\n');
        for (const line of lines.slice(0, -1)) expect(line).toHaveLength(76);
      }),
    );
  });

  it('MAIL-4: quoted-printable reads soft breaks, padding and lower-case escapes', () => {
    expect(
      decodeQuotedPrintable(Buffer.from('a=3Db =\r\nc=e9  \r\nd=\r\n')).toString('latin1'),
    ).toBe('a=b c\xe9\r\nd');
    expect(encodeQuotedPrintable(Buffer.from('x = y \r\n'), '\r\n').toString()).toBe(
      'x =3D y=20\r\n',
    );
  });
});

describe('addDisclaimer: once down a thread', () => {
  const quoted = (prefix: string) =>
    collapse(DISCLAIMER.text)
      .match(/.{1,60}(\s|$)/g)!
      .map((l) => `${prefix}${l.trim()}`);

  it('MAIL-4: a message passing the gateway twice is not changed the second time', async () => {
    const raw = await compose({ text: 'Hello.', html: '<p>Hello.</p>' });
    const once = added(raw);
    expect(addDisclaimer(once, DISCLAIMER)).toEqual({
      raw: once,
      added: false,
      reason: 'the message already ends with the disclaimer',
    });
  });

  it('MAIL-4: a top-posted reply whose quoted thread ends with the disclaimer is left as it is', async () => {
    const text = [
      'Yes, that is fine.',
      '',
      'On Mon, 3 Mar 2025, Ms Bains wrote:',
      '> Can you help on Friday?',
      '> ',
      '> -- ',
      ...quoted('> '),
      '',
    ].join(CRLF);
    const html = [
      '<html><body><div>Yes, that is fine.</div>',
      '<div id="divRplyFwdMsg"><b>From:</b> Ms Bains</div>',
      '<div><p class="MsoNormal">Can you help on Friday?</p>',
      // A client that dropped the marker attribute and re-encoded the text.
      ...quoted('').map(
        (l) =>
          `<p class="MsoNormal"><span style="color:#555">${escapeHtml(l).replace(/ /g, '&nbsp;')}</span></p>`,
      ),
      '</div></body></html>',
    ].join(CRLF);
    const raw = await compose({ text, html });
    expect(addDisclaimer(raw, DISCLAIMER)).toEqual({
      raw,
      added: false,
      reason: 'the message already ends with the disclaimer',
    });
  });

  it('MAIL-4: a reply that continues below a quoted disclaimer gets its own at its end', async () => {
    const text = [
      'On Mon, Ms Bains wrote:',
      '> Can you help on Friday?',
      '> -- ',
      ...quoted('> '),
      '',
      'Yes, I can help.',
    ].join(CRLF);
    const out = added(await compose({ text }));
    const after = await simpleParser(out);
    expect(count(collapse(after.text!.replace(/^> /gm, '')), collapse(DISCLAIMER.text))).toBe(2);
    expect(collapse(after.text!).endsWith(collapse(DISCLAIMER.text))).toBe(true);
  });

  it('MAIL-4: each alternative is judged on its own', async () => {
    const once = added(await compose({ text: 'Hello.', html: '<p>Hello.</p>' }));
    // A client kept the HTML as it was but rewrote the plain part without the disclaimer.
    const text = once.toString('latin1');
    const stripped = Buffer.from(
      text.replace(/\r\n\r\n-- \r\n[\s\S]*?(?=\r\n----_NmP)/, ''),
      'latin1',
    );
    const again = added(stripped);
    expect(again.toString('latin1')).toBe(text);
  });
});

describe('addDisclaimer: malformed input', () => {
  const unchanged = (raw: Buffer, reason: RegExp) => {
    const result = addDisclaimer(raw, DISCLAIMER);
    expect(result.added).toBe(false);
    expect(result.raw).toBe(raw);
    expect(result.reason).toMatch(reason);
  };

  it('MAIL-4: malformed messages come back unchanged with the reason', () => {
    unchanged(Buffer.alloc(0), /empty/);
    unchanged(message('Subject: no body', 'From: a@b'), /no empty line/);
    unchanged(message('Content-Type: multipart/mixed', '', 'no boundary'), /no boundary/);
    unchanged(
      message('Content-Type: multipart/mixed; boundary=b', '', 'no delimiter lines'),
      /no delimiter lines/,
    );
    unchanged(singlePart(part('text/plain', 'base64', '!!not base64!!')), /not valid base64/);
    unchanged(singlePart(part('text/plain', 'x-uuencode', 'begin 644 a')), /x-uuencode/);
    unchanged(singlePart(part('text/plain; charset=x-klingon', '8bit', 'tlhIngan')), /x-klingon/);
    const deep = Array.from(
      { length: 60 },
      (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`,
    ).join('');
    unchanged(Buffer.from(deep, 'latin1'), /nested/);
  });

  it('MAIL-4: nonsense arguments never throw', () => {
    expect(addDisclaimer(null as unknown as Buffer, DISCLAIMER).added).toBe(false);
    expect(addDisclaimer(Buffer.from('x'), null as unknown as { text: string }).added).toBe(false);
    expect(addDisclaimer(Buffer.from('Subject: x\r\n\r\nhi'), { text: ' \n ' })).toMatchObject({
      added: false,
      reason: 'the policy pack has no disclaimer text',
    });
  });

  it('MAIL-4: damaged messages never throw (property)', async () => {
    const raw = await compose({
      text: 'Hello.',
      html: '<p>Hello.</p>',
      attachments: [{ filename: 'a.pdf', content: Buffer.alloc(100, 1) }],
    });
    fc.assert(
      fc.property(
        fc.nat(raw.length),
        fc.nat(raw.length),
        fc.uint8Array({ maxLength: 8 }),
        (cut, at, junk) => {
          const damaged = Buffer.concat([
            raw.subarray(0, at),
            junk,
            raw.subarray(at, Math.max(at, cut)),
          ]);
          const result = addDisclaimer(damaged, DISCLAIMER);
          if (!result.added) expect(result.raw).toBe(damaged);
          else expect(addDisclaimer(result.raw, DISCLAIMER).added).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const result = addDisclaimer(Buffer.from(bytes), DISCLAIMER);
        expect(typeof result.added).toBe('boolean');
      }),
    );
  });
});

// --- generated messages -----------------------------------------------------------------------

const ASCII = [...Array(95).keys()].map((i) => String.fromCharCode(0x20 + i)).concat('\t');
const CHARS: Record<string, string[]> = {
  'utf-8': ASCII.concat(['é', 'ŵ', '€', '’', '日本', '😀', 'ß']),
  'iso-8859-1': ASCII.concat(['é', 'ç', '£', '«', '»', 'ÿ', '\u00a0']),
  'windows-1252': ASCII.concat(['é', '€', '’', '“', '”', '–', '…']),
};

interface TextSpec {
  readonly charset: string;
  readonly encoding: string;
  readonly lines: readonly string[];
}

const textSpec: fc.Arbitrary<TextSpec> = fc
  .record({
    charset: fc.constantFrom('utf-8', 'iso-8859-1', 'windows-1252'),
    encoding: fc.constantFrom('7bit', '8bit', 'quoted-printable', 'base64'),
  })
  .chain(({ charset, encoding }) =>
    fc
      .array(
        fc.string({
          unit: fc.constantFrom(...(encoding === '7bit' ? ASCII : CHARS[charset]!)),
          maxLength: 40,
        }),
        { maxLength: 5 },
      )
      .map((lines) => ({ charset, encoding, lines })),
  );

function textPart(kind: 'plain' | 'html', spec: TextSpec, bodyTag: boolean): Buffer {
  const text = spec.lines.join(CRLF);
  const content =
    kind === 'plain'
      ? text
      : bodyTag
        ? `<html><body><p>${escapeHtml(text)}</p></body></html>`
        : `<p>${escapeHtml(text)}</p>`;
  const bytes = inCharset(content, spec.charset);
  return part(
    `text/${kind}; charset=${spec.charset}`,
    spec.encoding,
    encodeWith(spec.encoding, bytes),
  );
}

const attachment = fc.record({
  filename: fc.constantFrom('report.pdf', 'notes.txt', 'page.html', 'photo.jpg', 'data.bin'),
  content: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
});

const generated = fc.record({
  structure: fc.constantFrom(
    'plain',
    'html',
    'alternative',
    'mixed',
    'mixed-plain',
    'related',
    'attachments-only',
  ),
  plain: textSpec,
  html: textSpec,
  bodyTag: fc.boolean(),
  attachments: fc.array(attachment, { minLength: 1, maxLength: 3 }),
  forward: fc.boolean(),
  disclaimer: fc.constantFrom(DISCLAIMER, WELSH, MARKUP),
});

async function build(g: typeof generated extends fc.Arbitrary<infer T> ? T : never) {
  const plain = textPart('plain', g.plain, g.bodyTag);
  const html = textPart('html', g.html, g.bodyTag);
  const files: { filename: string; content: Buffer; contentType?: string }[] = g.attachments.map(
    (a, i) => ({ ...a, filename: `${i}-${a.filename}` }),
  );
  if (g.forward) {
    files.push({
      filename: 'forwarded.eml',
      content: message('Subject: fwd', 'Content-Type: text/plain', '', 'Forwarded text.', ''),
      contentType: 'message/rfc822',
    });
  }
  switch (g.structure) {
    case 'plain':
      return singlePart(plain);
    case 'html':
      return singlePart(html);
    case 'alternative':
      return compose({ text: { raw: plain }, html: { raw: html } });
    case 'mixed':
      return compose({ text: { raw: plain }, html: { raw: html }, attachments: files });
    case 'mixed-plain':
      return compose({ text: { raw: plain }, attachments: files });
    case 'related':
      return compose({
        text: { raw: plain },
        html: { raw: html },
        attachments: [
          { filename: 'logo.png', content: Buffer.from('png'), cid: 'logo@x' },
          ...files,
        ],
      });
    default:
      // With one attachment nodemailer makes it the whole message, which is not multipart/mixed
      // (see the unit test for that case), so there are always two here.
      return compose({
        attachments: [...files, { filename: 'extra.pdf', content: Buffer.from('x') }],
      });
  }
}

describe('addDisclaimer: generated messages', () => {
  it('MAIL-4: for any message, the disclaimer shows once in text and HTML, attachments keep their bytes, and a second pass changes nothing (property)', async () => {
    await fc.assert(
      fc.asyncProperty(generated, async (g) => {
        const raw = await build(g);
        const result = addDisclaimer(raw, g.disclaimer);
        expect(result.reason).toBeUndefined();
        expect(result.added).toBe(true);
        const before = await simpleParser(raw);
        const after = await simpleParser(result.raw);

        const seen = shown(after, g.disclaimer);
        expect(seen.text).toBe(1);
        if (typeof before.html === 'string') expect(seen.html).toBe(1);
        expect(attachmentDigests(after)).toEqual(attachmentDigests(before));
        // (An inline forwarded message adds its own text after the body's in mailparser's text.)
        if (g.structure !== 'html' && g.structure !== 'attachments-only' && !g.forward) {
          // Compared with white space collapsed: mailparser reads an empty part as "\n".
          expect(collapse(after.text!).startsWith(collapse(before.text ?? ''))).toBe(true);
        }
        if (typeof before.html === 'string') expect(withoutBlock(after.html)).toBe(before.html);
        // Root headers: untouched, but for the charset and encoding of a single text part.
        if (g.structure === 'plain' || g.structure === 'html') {
          expect(header(result.raw).startsWith(HEAD)).toBe(true);
        } else {
          expect(header(result.raw)).toBe(header(raw));
        }

        const again = addDisclaimer(result.raw, g.disclaimer);
        expect(again.added).toBe(false);
        expect(again.raw.equals(result.raw)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
