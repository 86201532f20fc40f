import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Decoded,
  decodeBase64,
  decodeQuotedPrintable,
  digestTransfer,
  type PieceEncoding,
  pieceDecoder,
} from './transfer.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const WHOLE: Record<PieceEncoding, (input: Uint8Array) => Decoded> = {
  base64: decodeBase64,
  'quoted-printable': decodeQuotedPrintable,
};

/** The input cut at the given points, in order; empty pieces included. */
function cut(input: Uint8Array, points: readonly number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (input.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const p of at) {
    pieces.push(input.subarray(from, p));
    from = p;
  }
  pieces.push(input.subarray(from));
  return pieces;
}

/** Decodes the pieces one by one, copying each answer before the next call reuses its buffer. */
function decodeInPieces(encoding: PieceEncoding, pieces: readonly Uint8Array[]): Decoded {
  const decoder = pieceDecoder(encoding);
  const out = pieces.map((p) => Buffer.from(decoder.write(p)));
  const last = decoder.end();
  return { bytes: Buffer.concat([...out, last.bytes]), problem: last.problem };
}

/** Bytes drawn mostly from the characters that matter to an encoding, the rest from anywhere. */
const textOf = (chars: string) =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...[...chars].map((c) => c.charCodeAt(0))) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
      ),
      { maxLength: 300 },
    )
    .map((bytes) => Uint8Array.from(bytes));

const BASE64_TEXT = textOf('ABCXYZabcxyz0189+/====  \t\r\n\r\n*~-');
const QP_TEXT = textOf('====== \t \t\r\r\n\n09AFafGgz=');
const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** Real base64 of random bytes, wrapped as mail clients wrap it. */
const wrappedBase64 = fc
  .tuple(
    fc.uint8Array({ maxLength: 2000 }),
    fc.integer({ min: 1, max: 100 }),
    fc.constantFrom('\r\n', '\n', ' \r\n'),
  )
  .map(([bytes, width, eol]) => {
    const text = Buffer.from(bytes).toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
    return { bytes, encoded: Buffer.from(lines.join(eol)) };
  });

describe('SYS-4: transfer encodings decoded in pieces give the bytes decoded at once', () => {
  it('SYS-4: base64 in any pieces decodes to the same bytes and the same problem as at once, whatever the white space, padding and stray characters', () => {
    fc.assert(
      fc.property(BASE64_TEXT, cuts, (input, points) => {
        const whole = decodeBase64(input);
        const pieces = decodeInPieces('base64', cut(input, points));
        expect(pieces.problem).toBe(whole.problem);
        expect(Buffer.compare(pieces.bytes, whole.bytes)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('SYS-4: base64 wrapped in lines and cut anywhere, one byte at a time included, gives back the bytes encoded', () => {
    fc.assert(
      fc.property(wrappedBase64, cuts, fc.boolean(), ({ bytes, encoded }, points, bytewise) => {
        const pieces = bytewise ? [...encoded].map((b) => Uint8Array.of(b)) : cut(encoded, points);
        const decoded = decodeInPieces('base64', pieces);
        expect(decoded.problem).toBeNull();
        expect(Buffer.compare(decoded.bytes, Buffer.from(bytes))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('SYS-4: quoted-printable in any pieces decodes to the same bytes as at once, with escapes and soft line breaks cut anywhere', () => {
    fc.assert(
      fc.property(QP_TEXT, cuts, (input, points) => {
        const whole = decodeQuotedPrintable(input);
        const pieces = decodeInPieces('quoted-printable', cut(input, points));
        expect(pieces.problem).toBe(whole.problem);
        expect(Buffer.compare(pieces.bytes, whole.bytes)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('SYS-4: quoted-printable cut into one-byte pieces decodes as at once', () => {
    fc.assert(
      fc.property(QP_TEXT, (input) => {
        const whole = decodeQuotedPrintable(input);
        const pieces = decodeInPieces(
          'quoted-printable',
          [...input].map((b) => Uint8Array.of(b)),
        );
        expect(Buffer.compare(pieces.bytes, whole.bytes)).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('quoted-printable keeps a = that starts no escape, and the white space after it, across pieces', () => {
    const cases: [string[], string][] = [
      [['a=', '4', '1b'], 'aAb'],
      [['a=4', 'x'], 'a=4x'],
      [['a=', ' \t', ' ', '\r', '\nb'], 'ab'],
      [['a=', ' \t', ' ', '\r', 'b'], 'a= \t \rb'],
      [['a= ', ' x'], 'a=  x'],
      [['a=', ' ', '='], 'a= '],
      [['a=', '\r'], 'a=\r'],
      [['a=', 'F'], 'a=F'],
      [['a', '=', '=41'], 'a=A'],
    ];
    for (const [pieces, want] of cases) {
      const decoded = decodeInPieces(
        'quoted-printable',
        pieces.map((p) => Buffer.from(p, 'latin1')),
      );
      expect(decoded.bytes.toString('latin1'), pieces.join('|')).toBe(want);
      expect(
        decodeQuotedPrintable(Buffer.from(pieces.join(''), 'latin1')).bytes.toString('latin1'),
      ).toBe(want);
    }
  });
});

describe('SYS-4: a large part hashed as it is decoded', () => {
  const encodings = fc.constantFrom<PieceEncoding>('base64', 'quoted-printable');

  it('SYS-4: digestTransfer gives the SHA-256, size, first bytes and problem of the part decoded at once, whatever the piece size', () => {
    fc.assert(
      fc.property(
        encodings,
        fc.oneof(
          BASE64_TEXT,
          QP_TEXT,
          wrappedBase64.map((w) => w.encoded),
        ),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 400 }),
        (encoding, input, pieceBytes, headBytes) => {
          const whole = WHOLE[encoding](input);
          const digest = digestTransfer(input, encoding, headBytes, pieceBytes);
          expect(digest.sha256).toBe(sha256(whole.bytes));
          expect(digest.size).toBe(whole.bytes.length);
          expect(digest.problem).toBe(whole.problem);
          expect(Buffer.compare(digest.head, whole.bytes.subarray(0, headBytes))).toBe(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('SYS-4: a 3 MB base64 part hashed in the default pieces matches the hash of its bytes', () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const encoded = Buffer.from(bytes.toString('base64').replace(/.{76}/g, '$&\r\n'));
    const digest = digestTransfer(encoded, 'base64', 4096);
    expect(digest).toMatchObject({ size: bytes.length, sha256: sha256(bytes), problem: null });
    expect(Buffer.compare(digest.head, bytes.subarray(0, 4096))).toBe(0);
  });
});
