// Content-Transfer-Encoding: base64 and quoted-printable decoded straight from the message's bytes
// into one output buffer, with no intermediate string of the whole part, so that a 25 MB
// attachment costs its decoded size once. Broken input decodes as far as it can and says why.

export interface Decoded {
  readonly bytes: Buffer;
  /** What was wrong with the encoding, or null. */
  readonly problem: string | null;
}

const BASE64_VALUE = new Int8Array(256).fill(-1);
for (const [i, c] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries()) {
  BASE64_VALUE[c.charCodeAt(0)] = i;
}
const EQUALS = 0x3d;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

/**
 * Decodes base64, skipping line breaks and white space. A `=` closes the current quantum, so
 * concatenated encodings decode whole; characters outside the alphabet are skipped and reported.
 */
export function decodeBase64(input: Uint8Array): Decoded {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 3) / 4) + 3);
  let o = 0;
  let quantum = 0;
  let count = 0;
  let invalid = 0;
  let dangling = 0;
  const closeQuantum = () => {
    if (count === 2) out[o++] = (quantum >> 4) & 0xff;
    else if (count === 3) {
      out[o++] = (quantum >> 10) & 0xff;
      out[o++] = (quantum >> 2) & 0xff;
    } else if (count === 1) dangling++;
    quantum = 0;
    count = 0;
  };
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    const v = BASE64_VALUE[b]!;
    if (v >= 0) {
      quantum = (quantum << 6) | v;
      if (++count === 4) {
        out[o++] = (quantum >> 16) & 0xff;
        out[o++] = (quantum >> 8) & 0xff;
        out[o++] = quantum & 0xff;
        quantum = 0;
        count = 0;
      }
    } else if (b === EQUALS) {
      if (count > 0) closeQuantum();
    } else if (!isSpace(b)) invalid++;
  }
  if (count > 0) closeQuantum();
  const problems: string[] = [];
  if (invalid > 0) problems.push(`${invalid} characters outside the base64 alphabet were skipped`);
  if (dangling > 0) problems.push('the base64 text ends in the middle of a byte');
  return {
    bytes: out.subarray(0, o),
    problem: problems.length > 0 ? problems.join('; ') : null,
  };
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/** Decodes quoted-printable leniently: a `=` that starts no escape is kept as it is. */
export function decodeQuotedPrintable(input: Uint8Array): Decoded {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    if (b !== EQUALS) {
      out[o++] = b;
      continue;
    }
    const hi = hexValue(input[i + 1]);
    const lo = hexValue(input[i + 2]);
    if (hi >= 0 && lo >= 0) {
      out[o++] = (hi << 4) | lo;
      i += 2;
      continue;
    }
    // A soft line break: '=' then optional white space then the end of the line.
    let j = i + 1;
    while (j < input.length && (input[j] === 0x20 || input[j] === 0x09)) j++;
    if (j < input.length && input[j] === 0x0d && input[j + 1] === 0x0a) {
      i = j + 1;
    } else if (j < input.length && input[j] === 0x0a) {
      i = j;
    } else if (j >= input.length) {
      i = j;
    } else out[o++] = b;
  }
  return { bytes: out.subarray(0, o), problem: null };
}

const IDENTITY = new Set(['', '7bit', '8bit', 'binary']);

/** Undoes a part's Content-Transfer-Encoding. Unknown encodings pass the bytes through. */
export function decodeTransfer(body: Buffer, encoding: string): Decoded {
  if (IDENTITY.has(encoding)) return { bytes: body, problem: null };
  if (encoding === 'base64') return decodeBase64(body);
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return {
    bytes: body,
    problem: `unknown Content-Transfer-Encoding "${encoding.slice(0, 40)}"; the bytes were read as they are`,
  };
}
