// Content-Transfer-Encoding: base64 and quoted-printable decoded straight from the message's bytes
// into one output buffer, with no intermediate string of the whole part, so that a 25 MB
// attachment costs its decoded size once. Broken input decodes as far as it can and says why.
// A part whose decoded bytes are only hashed and typed need not cost even that: digestTransfer
// decodes it in pieces into a SHA-256 and keeps only its first bytes.

import { createHash } from 'node:crypto';

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

/** Where a base64 decoder stands between pieces of its input, and what it has skipped so far. */
interface Base64State {
  /** The sextets of the unfinished quantum, and how many there are (0 to 3). */
  quantum: number;
  count: number;
  /** Characters outside the alphabet, and quanta cut short after one character. */
  invalid: number;
  dangling: number;
}

const base64Start = (): Base64State => ({ quantum: 0, count: 0, invalid: 0, dangling: 0 });

/** A lone `=`, fed last: it closes the final quantum. */
const CLOSE = Buffer.of(EQUALS);

/**
 * Decodes `input` into `out` from `o`, carrying an unfinished quantum over in `state`; answers
 * where the output now ends: at most 3/4 of the input's length and 3 bytes past `o`.
 */
function base64Into(input: Uint8Array, out: Buffer, o: number, state: Base64State): number {
  let quantum = state.quantum;
  let count = state.count;
  let invalid = 0;
  let dangling = 0;
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
      if (count === 2) out[o++] = (quantum >> 4) & 0xff;
      else if (count === 3) {
        out[o++] = (quantum >> 10) & 0xff;
        out[o++] = (quantum >> 2) & 0xff;
      } else if (count === 1) dangling++;
      quantum = 0;
      count = 0;
    } else if (!isSpace(b)) invalid++;
  }
  state.quantum = quantum;
  state.count = count;
  state.invalid += invalid;
  state.dangling += dangling;
  return o;
}

/**
 * Decodes base64, skipping line breaks and white space. A `=` closes the current quantum, so
 * concatenated encodings decode whole; characters outside the alphabet are skipped and reported.
 */
export function decodeBase64(input: Uint8Array): Decoded {
  // Base64 as mail sends it goes to Node's own decoder (native code, several times faster);
  // anything else to the careful one below, which says what was wrong.
  if (input.length >= NATIVE_FROM && input.length <= NATIVE_TO) {
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
    if (PLAIN_BASE64.test(text) && sextets(text) % 4 !== 1) {
      return { bytes: Buffer.from(text, 'base64'), problem: null };
    }
  }
  return decodeBase64Carefully(input);
}

/** Below this many bytes the careful decoder is as quick. */
const NATIVE_FROM = 512;
/**
 * Above it, the careful decoder: Node's needs the text as a string first, a copy of the whole
 * part that a large attachment should not cost.
 */
const NATIVE_TO = 1 << 20;
/** The alphabet in lines, with padding only at the very end: what Node decodes as we do. */
const PLAIN_BASE64 = /^[A-Za-z0-9+/\r\n]*(?:={1,2}[\r\n]*)?$/;

/** Characters of the alphabet in text that PLAIN_BASE64 accepts. */
function sextets(text: string): number {
  return text.length - countOf(text, '\n') - countOf(text, '\r') - countOf(text, '=');
}

function countOf(text: string, char: string): number {
  let n = 0;
  for (let i = text.indexOf(char); i !== -1; i = text.indexOf(char, i + 1)) n++;
  return n;
}

/** Decodes base64 leniently, byte by byte: skips what is not base64 and says so. */
export function decodeBase64Carefully(input: Uint8Array): Decoded {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 3) / 4) + 3);
  const state = base64Start();
  const o = base64Into(input, out, 0, state);
  // The end of the text closes the last quantum as a `=` would.
  const end = base64Into(CLOSE, out, o, state);
  return { bytes: out.subarray(0, end), problem: base64Problem(state) };
}

function base64Problem({ invalid, dangling }: Base64State): string | null {
  const problems: string[] = [];
  if (invalid > 0) problems.push(`${invalid} characters outside the base64 alphabet were skipped`);
  if (dangling > 0) problems.push('the base64 text ends in the middle of a byte');
  return problems.length > 0 ? problems.join('; ') : null;
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

// --- in pieces ----------------------------------------------------------------------------------
// The decoders below give, over any split of the input into pieces, the bytes and the problem that
// the whole-buffer decoders above give for the input at once (transfer-pieces.test.ts holds them
// to it). Base64 needs only its unfinished quantum carried from one piece to the next, so both
// of its decoders run base64Into. Quoted-printable is written apart on purpose: the whole-buffer
// decoder reads ahead for the escape or soft line break after a `=` and stays the reference,
// while the piece decoder must stop at any byte and so steps through a state per byte.

/** A transfer decoder fed the encoded text piece by piece. */
export interface PieceDecoder {
  /**
   * Decodes one more piece and answers the bytes it completes, in a view that the next call
   * reuses. The piece must not change while the decoder may still need it (a quoted-printable
   * `=` followed by white space keeps views of it until the end of its line).
   */
  write(piece: Uint8Array): Buffer;
  /** The input has ended: the bytes held back for it, and what was wrong with the encoding. */
  end(): Decoded;
}

/** A reusable output buffer, grown when a piece needs more room. */
class Output {
  #buf = Buffer.alloc(0);

  room(n: number): Buffer {
    if (this.#buf.length < n) this.#buf = Buffer.allocUnsafe(Math.max(n, 2 * this.#buf.length));
    return this.#buf;
  }
}

class Base64Pieces implements PieceDecoder {
  readonly #out = new Output();
  readonly #state = base64Start();

  write(piece: Uint8Array): Buffer {
    const out = this.#out.room(Math.ceil((piece.length * 3) / 4) + 3);
    return out.subarray(0, base64Into(piece, out, 0, this.#state));
  }

  end(): Decoded {
    // The end of the text closes the last quantum as a `=` would.
    return { bytes: this.write(CLOSE), problem: base64Problem(this.#state) };
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/** Where a quoted-printable decoder stands between pieces, from the last `=` it has not settled. */
enum Qp {
  /** No `=` pending. */
  Text,
  /** `=` */
  Equals,
  /** `=` and one hex digit */
  EqualsHex,
  /** `=` and spaces or tabs */
  EqualsSpace,
  /** `=`, perhaps spaces or tabs, and CR */
  EqualsCr,
}

class QuotedPrintablePieces implements PieceDecoder {
  readonly #out = new Output();
  #state = Qp.Text;
  #hexDigit = 0;
  /** The spaces and tabs after a pending `=`, as views of the pieces they came in. */
  #spaces: Uint8Array[] = [];
  #spaceCount = 0;

  write(piece: Uint8Array): Buffer {
    const out = this.#out.room(piece.length + this.#spaceCount + 3);
    let o = 0;
    let spaceStart = -1;
    // What the whole-buffer decoder does when a `=` turns out to start neither an escape nor a
    // soft line break: the `=` is kept, and what followed it is read again as plain text.
    const keepPending = () => {
      o = this.#writePending(out, o);
      this.#settle();
    };
    for (let i = 0; i < piece.length; i++) {
      const b = piece[i]!;
      switch (this.#state) {
        case Qp.Text:
          if (b === EQUALS) this.#state = Qp.Equals;
          else out[o++] = b;
          continue;
        case Qp.Equals:
          if (hexValue(b) >= 0) {
            this.#state = Qp.EqualsHex;
            this.#hexDigit = b;
          } else if (b === SPACE || b === TAB) {
            this.#state = Qp.EqualsSpace;
            spaceStart = i;
          } else if (b === CR) this.#state = Qp.EqualsCr;
          else if (b === LF) this.#settle();
          else {
            keepPending();
            i--;
          }
          continue;
        case Qp.EqualsHex: {
          const lo = hexValue(b);
          if (lo >= 0) {
            out[o++] = (hexValue(this.#hexDigit) << 4) | lo;
            this.#settle();
          } else {
            keepPending();
            i--;
          }
          continue;
        }
        case Qp.EqualsSpace:
          if (spaceStart < 0) spaceStart = i;
          if (b === SPACE || b === TAB) continue;
          this.#holdSpaces(piece, spaceStart, i);
          spaceStart = -1;
          if (b === CR) this.#state = Qp.EqualsCr;
          else if (b === LF) this.#settle();
          else {
            keepPending();
            i--;
          }
          continue;
        case Qp.EqualsCr:
          if (b === LF) this.#settle();
          else {
            keepPending();
            i--;
          }
          continue;
      }
    }
    if (this.#state === Qp.EqualsSpace && spaceStart >= 0) {
      this.#holdSpaces(piece, spaceStart, piece.length);
    }
    return out.subarray(0, o);
  }

  end(): Decoded {
    const out = this.#out.room(this.#spaceCount + 3);
    let o = 0;
    // At the end of the input `=` and `=` with trailing white space are soft line breaks; the
    // rest is kept as it came.
    if (this.#state === Qp.EqualsHex || this.#state === Qp.EqualsCr) {
      o = this.#writePending(out, o);
    }
    this.#settle();
    return { bytes: out.subarray(0, o), problem: null };
  }

  /** Writes the pending `=` and what has come after it, as it came, at `o`; answers the new end. */
  #writePending(out: Buffer, o: number): number {
    out[o++] = EQUALS;
    if (this.#state === Qp.EqualsHex) out[o++] = this.#hexDigit;
    for (const run of this.#spaces) {
      out.set(run, o);
      o += run.length;
    }
    if (this.#state === Qp.EqualsCr) out[o++] = CR;
    return o;
  }

  #holdSpaces(piece: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    this.#spaces.push(piece.subarray(from, to));
    this.#spaceCount += to - from;
  }

  #settle(): void {
    this.#state = Qp.Text;
    this.#spaces = [];
    this.#spaceCount = 0;
  }
}

/** The encodings that decode to other bytes, piece by piece. */
export type PieceEncoding = 'base64' | 'quoted-printable';

export function isPieceEncoding(encoding: string): encoding is PieceEncoding {
  return encoding === 'base64' || encoding === 'quoted-printable';
}

export function pieceDecoder(encoding: PieceEncoding): PieceDecoder {
  return encoding === 'base64' ? new Base64Pieces() : new QuotedPrintablePieces();
}

/** Encoded bytes decoded per piece: small enough to stay in the CPU's caches. */
const PIECE_BYTES = 64 * 1024;

export interface TransferDigest {
  /** Decoded bytes in all. */
  readonly size: number;
  /** Hex SHA-256 of the decoded bytes. */
  readonly sha256: string;
  /** The first decoded bytes, as many as were asked for (all of them when there are fewer). */
  readonly head: Buffer;
  /** What was wrong with the encoding, or null. */
  readonly problem: string | null;
}

/**
 * Decodes a part in pieces into a SHA-256, keeping only its first `headBytes` decoded bytes: what
 * the walk needs of a large file that it types and hashes but does not open, without ever holding
 * it decoded in full.
 */
export function digestTransfer(
  body: Uint8Array,
  encoding: PieceEncoding,
  headBytes: number,
  pieceBytes = PIECE_BYTES,
): TransferDigest {
  const decoder = pieceDecoder(encoding);
  const hash = createHash('sha256');
  const head = Buffer.allocUnsafe(headBytes);
  let size = 0;
  const take = (bytes: Uint8Array) => {
    if (size < headBytes) head.set(bytes.subarray(0, headBytes - size), size);
    hash.update(bytes);
    size += bytes.length;
  };
  for (let at = 0; at < body.length; at += pieceBytes) {
    take(decoder.write(body.subarray(at, at + pieceBytes)));
  }
  const last = decoder.end();
  take(last.bytes);
  return {
    size,
    sha256: hash.digest('hex'),
    head: head.subarray(0, Math.min(size, headBytes)),
    problem: last.problem,
  };
}
