// Real samples for the mail gateway's tests: messages composed with nodemailer's MailComposer,
// the EICAR test file, a Windows executable stub, Office files with and without macros, and large
// files of a kind (the bytes that say what they are, then repeatable noise). Test-only.

import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { buildZip, type ZipEntrySpec } from './zip-writer.ts';

/** The shipped pack's mail domain. */
export const SCHOOL = 'palfreyinfant.co.uk';

/**
 * The EICAR anti-virus test file (68 bytes), joined at run time so that this source file does
 * not itself carry the signature and upset a scanner on a developer's machine.
 */
export function eicar(): Buffer {
  return Buffer.from(
    ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join(''),
  );
}

/** SHA-256 of the EICAR file, as published. */
export const EICAR_SHA256 = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f';

/** A DOS/PE stub: what any Windows executable starts with. */
export function windowsExecutable(size = 4096): Buffer {
  const out = Buffer.alloc(size);
  out.write('MZ', 0, 'latin1');
  out.writeUInt32LE(0x80, 0x3c);
  out.write('This program cannot be run in DOS mode.', 0x4e, 'latin1');
  out.write('PE\0\0', 0x80, 'latin1');
  return out;
}

/** A Compound File (OLE) header, optionally with a VBA project stream named in its directory. */
export function compoundFile(
  options: { macros?: boolean; encryptedPackage?: boolean } = {},
): Buffer {
  const out = Buffer.alloc(4096);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(out, 0);
  let at = 1024;
  const entry = (name: string) => {
    out.write(name, at, 'utf16le');
    at += 128;
  };
  entry('Root Entry');
  entry('WordDocument');
  if (options.macros) {
    entry('Macros');
    entry('VBA');
    entry('_VBA_PROJECT');
  }
  if (options.encryptedPackage) {
    entry('EncryptionInfo');
    entry('EncryptedPackage');
  }
  return out;
}

const WORD_MAIN =
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml';
const WORD_MACRO_MAIN = 'application/vnd.ms-word.document.macroEnabled.main+xml';

/** A Word document (OOXML): macro-enabled (docm, with word/vbaProject.bin) or not (docx). */
export function wordDocument(options: {
  macros: boolean;
  contentTypeSaysMacros?: boolean;
}): Buffer {
  const main = (options.contentTypeSaysMacros ?? options.macros) ? WORD_MACRO_MAIN : WORD_MAIN;
  const types = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="${main}"/></Types>`;
  const entries: ZipEntrySpec[] = [
    { name: '[Content_Types].xml', data: Buffer.from(types) },
    {
      name: 'word/document.xml',
      data: Buffer.from(
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Minutes</w:t></w:r></w:p></w:body></w:document>',
      ),
    },
  ];
  if (options.macros) {
    entries.push({ name: 'word/vbaProject.bin', data: compoundFile({ macros: true }) });
  }
  return buildZip(entries);
}

/** Bytes that look random but are the same on every run. */
export function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `start`, then noise up to `size` bytes: a large file of the kind its first bytes say. */
export function padded(start: Buffer, size: number, seed = start.length): Buffer {
  return Buffer.concat([start, noise(Math.max(0, size - start.length), seed)]);
}

/** An ID3v2.4 tag of `length` bytes after its header: what an MP3 with a cover picture starts with. */
export function id3Tag(length: number): Buffer {
  const header = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]);
  for (let i = 0; i < 4; i++) header[9 - i] = (length >> (7 * i)) & 0x7f;
  return Buffer.concat([header, Buffer.alloc(length)]);
}

/** The [Content_Types].xml of a macro-enabled Word document (docm), alone. */
export const DOCM_TYPES =
  '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>';

/** Composes a message with nodemailer, as a mail client would send it. */
export function compose(mail: Mail.Options): Promise<Buffer> {
  return new MailComposer({
    from: 'Head Teacher <head@palfreyinfant.co.uk>',
    to: 'office@palfreyinfant.co.uk',
    subject: 'Sample',
    text: 'See attached.',
    ...mail,
  })
    .compile()
    .build();
}
