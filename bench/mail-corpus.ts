// The messages of the mail benchmark (bench/mail.ts), made with nodemailer's MailComposer as a
// parent would send them to the school office: text and HTML prose, PDFs, pictures, Word
// documents, and zips with zips inside. Attachment bytes are random, as compressed files are.
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { buildZip } from '../test/support/zip-writer.ts';

export const SCHOOL_ADDRESS = 'office@palfreyinfant.co.uk';
export const MIB = 1024 * 1024;

/** A repeatable stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const WORDS =
  'the children class reading phonics parents carers trip Friday uniform assembly please thank you lunch term homework library book teacher governors meeting minutes budget invoice supplier order delivery playground weather forecast coats wellies sports day swimming timetable nursery reception year one two register absence appointment dentist doctor form signed return office by Wednesday photographs consent newsletter harvest festival donations food bank choir concert rehearsal hall tickets costume nativity staff training inset day closure heating boiler repair caretaker keys alarm contractor quote estimate attached copy report progress targets maths spelling handwriting science topic history geography art music computing'.split(
    ' ',
  );

function prose(rnd: () => number, chars: number): string[] {
  const paragraphs: string[] = [];
  let total = 0;
  while (total < chars) {
    const sentences: string[] = [];
    for (let s = 0, n = 2 + Math.floor(rnd() * 4); s < n; s++) {
      const words: string[] = [];
      for (let w = 0, m = 6 + Math.floor(rnd() * 14); w < m; w++) {
        words.push(WORDS[Math.floor(rnd() * WORDS.length)]!);
      }
      const text = words.join(' ');
      sentences.push(`${text[0]!.toUpperCase()}${text.slice(1)}.`);
    }
    const p = sentences.join(' ');
    paragraphs.push(p);
    total += p.length + 2;
  }
  return paragraphs;
}

function html(paragraphs: string[]): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><style>p{font-family:Arial,sans-serif;font-size:11pt;color:#222}</style></head><body>${paragraphs
    .map((p) => `<p style="margin:0 0 12px 0">${p}</p>`)
    .join(
      '\n',
    )}<table border="0" cellpadding="4"><tr><td><b>Palfrey Infant School</b></td></tr><tr><td>Palfrey Road, Walsall</td></tr></table></body></html>`;
}

export const pdf = (size: number) =>
  Buffer.concat([
    Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
    randomBytes(Math.max(0, size - 24)),
    Buffer.from('\n%%EOF\n'),
  ]);
const jpeg = (size: number) =>
  Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]),
    randomBytes(size - 13),
    Buffer.from([0xff, 0xd9]),
  ]);

function docx(rnd: () => number, chars: number): Buffer {
  const types =
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>';
  const body = prose(rnd, chars)
    .map((p) => `<w:p><w:r><w:t>${p}</w:t></w:r></w:p>`)
    .join('');
  return buildZip([
    { name: '[Content_Types].xml', data: Buffer.from(types) },
    {
      name: 'word/document.xml',
      data: Buffer.from(
        `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
      ),
    },
    { name: 'word/media/image1.jpeg', data: jpeg(60_000), method: 'store' },
  ]);
}

/** Photos and papers in a zip, with a zip inside it holding another zip. */
function nestedZip(rnd: () => number, size: number): Buffer {
  const innermost = buildZip([
    { name: 'minutes.docx', data: docx(rnd, 20_000) },
    { name: 'notes.txt', data: Buffer.from(prose(rnd, 8000).join('\n\n')) },
  ]);
  const inner = buildZip([
    { name: 'photos/sports-day-1.jpg', data: jpeg(Math.floor(size * 0.2)) },
    { name: 'older.zip', data: innermost },
  ]);
  return buildZip([
    { name: 'report.pdf', data: pdf(Math.floor(size * 0.4)) },
    { name: 'photos/trip.jpg', data: jpeg(Math.floor(size * 0.3)) },
    { name: 'archive.zip', data: inner },
  ]);
}

type Attachment = NonNullable<Mail.Options['attachments']>[number];

export async function message(
  n: number,
  textChars: number,
  attachments: Attachment[],
  withHtml = true,
): Promise<Buffer> {
  const rnd = random(n * 7919 + 17);
  const paragraphs = prose(rnd, textChars);
  const raw = await new MailComposer({
    from: `Parent ${n} <parent${n}@example.org>`,
    to: SCHOOL_ADDRESS,
    subject: `Re: ${paragraphs[0]!.split(' ').slice(0, 6).join(' ')}`,
    date: new Date(Date.UTC(2025, 2, 3, 9, n % 60)),
    messageId: `<bench-${n}@example.org>`,
    text: `Dear Mrs Palfrey,\n\n${paragraphs.join('\n\n')}\n\nKind regards,\nParent ${n}`,
    ...(withHtml ? { html: html(paragraphs) } : {}),
    attachments,
  })
    .compile()
    .build();
  return raw;
}

/** The message as it goes on the wire after DATA: CRLF lines, dot-stuffed, with the end mark. */
export function onTheWire(raw: Buffer): Buffer {
  const text = raw
    .toString('latin1')
    .replace(/\r?\n/g, '\r\n')
    .replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${text}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

/** A 50 KB message (on the wire): text, HTML and a PDF sized to make up the rest. */
export async function fiftyKb(n: number): Promise<Buffer> {
  const target = 50 * 1024;
  const without = onTheWire(await message(n, 3000, [])).length;
  // base64 with 76-character lines, plus the part's headers.
  const size = Math.floor(((target - without - 200) * 3 * 76) / (4 * 78));
  const wire = onTheWire(
    await message(n, 3000, [
      { filename: `letter-${n}.pdf`, content: pdf(size), contentType: 'application/pdf' },
    ]),
  );
  return wire;
}

/** The kinds of message in the mixed corpus, in the order its latencies are printed. */
export const MIXED_KINDS = [
  'text and HTML',
  'PDF, 10-120 KB',
  'picture, 0.1-1 MiB',
  'Word document',
  'zip with zips, 0.4-3 MiB',
  'PDF, 10 MiB',
] as const;

export type MixedKind = (typeof MIXED_KINDS)[number];

export async function mixedCorpus(): Promise<{ wire: Buffer; kind: MixedKind }[]> {
  const rnd = random(4242);
  const specs: [MixedKind, number, Attachment[], boolean?][] = [];
  for (let i = 0; i < 6; i++) specs.push(['text and HTML', 6000 + i * 500, [], i % 2 === 0]);
  for (let i = 0; i < 4; i++) {
    specs.push(['PDF, 10-120 KB', 2000, [{ filename: `form-${i}.pdf`, content: pdf(10 * 1024) }]]);
  }
  specs.push(['PDF, 10-120 KB', 2000, [{ filename: 'menu.pdf', content: pdf(100 * 1024) }]]);
  specs.push(['PDF, 10-120 KB', 2000, [{ filename: 'poster.pdf', content: pdf(120 * 1024) }]]);
  specs.push([
    'picture, 0.1-1 MiB',
    1500,
    [{ filename: 'IMG_2041.jpg', content: jpeg(100 * 1024) }],
  ]);
  specs.push(['Word document', 2500, [{ filename: 'minutes.docx', content: docx(rnd, 150_000) }]]);
  specs.push([
    'Word document',
    2500,
    [{ filename: 'policy-draft.docx', content: docx(rnd, 250_000) }],
  ]);
  const zip = 'zip with zips, 0.4-3 MiB';
  specs.push([zip, 1500, [{ filename: 'class-photos.zip', content: nestedZip(rnd, 400 * 1024) }]]);
  specs.push([
    zip,
    1500,
    [{ filename: 'trip-documents.zip', content: nestedZip(rnd, 600 * 1024) }],
  ]);
  specs.push(['picture, 0.1-1 MiB', 1000, [{ filename: 'IMG_2077.jpg', content: jpeg(MIB) }]]);
  specs.push([zip, 1000, [{ filename: 'sports-day.zip', content: nestedZip(rnd, 3 * MIB) }]]);
  specs.push(['PDF, 10 MiB', 1000, [{ filename: 'governors-pack.pdf', content: pdf(10 * MIB) }]]);
  return Promise.all(
    specs.map(async ([kind, chars, attachments, withHtml], i) => ({
      kind,
      wire: onTheWire(await message(1000 + i, chars, attachments, withHtml ?? true)),
    })),
  );
}
