// Transfer encodings (RFC 2045) and charsets for the disclaimer rewrite: decode a body part,
// and encode it again in the same transfer encoding once the disclaimer is in.

import { Unreadable } from './disclaimer-mime.ts';

export type Eol = '\r\n' | '\n';

/** Encodings whose bytes are the content itself. */
const IDENTITY_ENCODINGS: ReadonlySet<string> = new Set(['7bit', '8bit', 'binary']);

export function decodeTransfer(encoding: string, body: Buffer): Buffer {
  if (IDENTITY_ENCODINGS.has(encoding)) return body;
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return decodeBase64(body);
  throw new Unreadable(`a text part uses the transfer encoding "${encoding}", which is not read`);
}

export function encodeTransfer(encoding: string, content: Buffer, eol: Eol): Buffer {
  if (encoding === 'quoted-printable') return encodeQuotedPrintable(content, eol);
  if (encoding === 'base64') return encodeBase64(content, eol);
  return content;
}

/** RFC 2045 6.8: base64 in lines of 76 characters. */
export function encodeBase64(content: Buffer, eol: Eol): Buffer {
  const text = content.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return Buffer.from(lines.join(eol), 'latin1');
}

export function decodeBase64(body: Buffer): Buffer {
  const text = body.toString('latin1').replace(/[\t\n\r ]+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new Unreadable('a text part is not valid base64');
  }
  return Buffer.from(text, 'base64');
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * RFC 2045 6.7: white space at the end of an encoded line is transport padding and dropped;
 * `=` at the end of a line is a soft break; `=XY` is a byte. A hard line break decodes to
 * the line break the encoded text used, so that encoding again with the same line break
 * gives back the same content.
 */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length);
  let n = 0;
  let pos = 0;
  while (pos < body.length) {
    const lf = body.indexOf(0x0a, pos);
    const lineEnd = lf < 0 ? body.length : lf + 1;
    let end = lf < 0 ? body.length : lf;
    const breakStart = end > pos && body[end - 1] === 0x0d ? end - 1 : end;
    end = breakStart;
    while (end > pos && (body[end - 1] === 0x20 || body[end - 1] === 0x09)) end--;
    let soft = false;
    if (end > pos && body[end - 1] === 0x3d) {
      soft = true;
      end--;
    }
    for (let i = pos; i < end; i++) {
      const c = body[i]!;
      if (c === 0x3d && i + 2 < end) {
        const hi = hex(body[i + 1]!);
        const lo = hex(body[i + 2]!);
        if (hi >= 0 && lo >= 0) {
          out[n++] = hi * 16 + lo;
          i += 2;
          continue;
        }
      }
      out[n++] = c;
    }
    if (!soft) for (let i = breakStart; i < lineEnd; i++) out[n++] = body[i]!;
    pos = lineEnd;
  }
  return out.subarray(0, n);
}

/**
 * RFC 2045 6.7: printable ASCII as is, `=` and everything else as `=XY`, white space before
 * a line break encoded, lines of at most 76 characters with `=` soft breaks. With CRLF the
 * content's CRLF pairs are the hard line breaks and a lone CR or LF is encoded; with LF, LF
 * is the hard line break and CR is encoded. Decoding the result gives back the content.
 */
export function encodeQuotedPrintable(content: Buffer, eol: Eol): Buffer {
  const crlf = eol === '\r\n';
  // Each byte takes at most three, and a soft break (3 bytes) follows at least 73 of them.
  const out = Buffer.allocUnsafe(content.length * 4 + 16);
  let o = 0;
  let lineLength = 0;
  const lineBreak = () => {
    if (crlf) out[o++] = 0x0d;
    out[o++] = 0x0a;
    lineLength = 0;
  };
  for (let i = 0; i < content.length; i++) {
    const c = content[i]!;
    if (crlf ? c === 0x0d && content[i + 1] === 0x0a : c === 0x0a) {
      lineBreak();
      if (crlf) i++;
      continue;
    }
    const next = content[i + 1];
    const atLineEnd =
      i + 1 === content.length || (crlf ? next === 0x0d && content[i + 2] === 0x0a : next === 0x0a);
    const literal =
      (c >= 0x21 && c <= 0x7e && c !== 0x3d) || ((c === 0x20 || c === 0x09) && !atLineEnd);
    const size = literal ? 1 : 3;
    if (lineLength + size > 75) {
      out[o++] = 0x3d;
      lineBreak();
    }
    if (literal) out[o++] = c;
    else {
      out[o++] = 0x3d;
      out[o++] = HEX_DIGITS[c >> 4]!;
      out[o++] = HEX_DIGITS[c & 0x0f]!;
    }
    lineLength += size;
  }
  return Buffer.from(out.subarray(0, o));
}

const HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');

// --- charsets ----------------------------------------------------------------------------------

/** A part's charset, as far as the disclaimer needs it. */
export interface Charset {
  /** ASCII bytes always mean ASCII characters: bytes can be searched for `</body>` and ASCII
   *  text can be spliced in byte for byte. */
  readonly asciiCompatible: boolean;
  /** The part's content as text, to look for the disclaimer. */
  decode(bytes: Buffer): string;
  /** The text in this charset, or null when the charset lacks one of its characters or is
   *  not one text can be appended to byte for byte. */
  encode(text: string): Buffer | null;
}

const US_ASCII = new Set([
  'us-ascii',
  'ascii',
  'us',
  'ansi_x3.4-1968',
  'iso646-us',
  'iso-ir-6',
  'cp367',
  'ibm367',
  'csascii',
]);

// Strict ISO 8859-1. The WHATWG decoders read the label as windows-1252; for a charset the
// message declares, the strict table is the one to trust when writing bytes into it.
const LATIN_1 = new Set([
  'iso-8859-1',
  'iso8859-1',
  'iso_8859-1',
  'iso_8859-1:1987',
  'iso88591',
  'latin1',
  'l1',
  'cp819',
  'ibm819',
  'iso-ir-100',
  'csisolatin1',
]);

// WHATWG single-byte encodings: every byte is one character, ASCII below 0x80.
const SINGLE_BYTE = new Set([
  'ibm866',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-8-i',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'iso-8859-16',
  'koi8-r',
  'koi8-u',
  'macintosh',
  'windows-874',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'x-mac-cyrillic',
]);

function below(text: string, limit: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= limit) return false;
  return true;
}

const utf8: Charset = {
  asciiCompatible: true,
  decode: (bytes) => new TextDecoder('utf-8').decode(bytes),
  encode: (text) => Buffer.from(text, 'utf8'),
};

const usAscii: Charset = {
  asciiCompatible: true,
  decode: (bytes) => bytes.toString('latin1'),
  encode: (text) => (below(text, 0x80) ? Buffer.from(text, 'latin1') : null),
};

const latin1: Charset = {
  asciiCompatible: true,
  decode: (bytes) => bytes.toString('latin1'),
  encode: (text) => (below(text, 0x100) ? Buffer.from(text, 'latin1') : null),
};

// windows-1252 above 0x7f: 0x80-0x9f as WHATWG maps them, the rest as ISO 8859-1. Written
// out because Node 20's TextDecoder('windows-1252') drops the bytes 0x80-0x9f.
const WINDOWS_1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function windows1252Table(): string[] {
  const table: string[] = [];
  for (let b = 0; b < 256; b++) {
    table.push(b >= 0x80 && b < 0xa0 ? WINDOWS_1252_C1[b - 0x80]! : String.fromCharCode(b));
  }
  return table;
}

function decoderTable(encoding: string): string[] {
  const decoder = new TextDecoder(encoding);
  const table: string[] = [];
  for (let b = 0; b < 256; b++) table.push(decoder.decode(Uint8Array.of(b)));
  return table;
}

const singleByteCharsets = new Map<string, Charset>();

function singleByte(encoding: string): Charset {
  let charset = singleByteCharsets.get(encoding);
  if (!charset) {
    charset = tableCharset(
      encoding === 'windows-1252' ? windows1252Table() : decoderTable(encoding),
    );
    singleByteCharsets.set(encoding, charset);
  }
  return charset;
}

/** A single-byte charset from its 256 characters ('\ufffd' or '' where a byte means none). */
function tableCharset(chars: readonly string[]): Charset {
  const bytes = new Map<string, number>();
  for (let b = 255; b >= 0; b--) {
    const c = chars[b]!;
    if (c.length === 1 && c !== '\ufffd') bytes.set(c, b);
  }
  return {
    asciiCompatible: true,
    decode: (content) => {
      let out = '';
      for (const b of content) out += chars[b] || '\ufffd';
      return out;
    },
    encode: (text) => {
      const out: number[] = [];
      for (const c of text) {
        const b = bytes.get(c);
        if (b === undefined) return null;
        out.push(b);
      }
      return Buffer.from(out);
    },
  };
}

/** The charset a text part declares (RFC 2045: us-ascii when it declares none). */
export function charsetOf(label: string | undefined): Charset {
  const name = (label ?? 'us-ascii').trim().toLowerCase();
  if (US_ASCII.has(name)) return usAscii;
  if (LATIN_1.has(name)) return latin1;
  let encoding: string;
  try {
    encoding = new TextDecoder(name).encoding;
  } catch {
    throw new Unreadable(`a text part declares the charset "${name}", which is not known`);
  }
  if (encoding === 'utf-8') return utf8;
  if (SINGLE_BYTE.has(encoding)) return singleByte(encoding);
  // Multi-byte and non-ASCII-compatible charsets (shift_jis, iso-2022-jp, utf-16...): readable,
  // but new text goes in only by converting the part to UTF-8.
  return {
    asciiCompatible: false,
    decode: (bytes) => new TextDecoder(encoding).decode(bytes),
    encode: () => null,
  };
}

export const UTF_8: Charset = utf8;
