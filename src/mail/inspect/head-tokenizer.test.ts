import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compoundFile,
  DOCM_TYPES,
  id3Tag,
  noise,
  padded,
  windowsExecutable,
  wordDocument,
} from '../../../test/support/mail-samples.ts';
import { buildZip } from '../../../test/support/zip-writer.ts';
import { detectType, detectTypeFromHead } from './classify.ts';

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
}

/** A PNG whose image data comes after `textBytes` of text chunks. */
function png(textBytes: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', Buffer.alloc(13, 1)),
    pngChunk('tEXt', Buffer.alloc(textBytes, 0x41)),
    pngChunk('IDAT', noise(100)),
  ]);
}

const SIZE = 300 * 1024;

/** Files of kinds that file-type reads in different ways, some far beyond their first bytes. */
const SAMPLES: Record<string, Buffer> = {
  pdf: padded(Buffer.from('%PDF-1.7\n'), SIZE),
  exe: padded(windowsExecutable(), SIZE),
  jpeg: padded(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]), SIZE),
  mp3: padded(Buffer.concat([id3Tag(1000), Buffer.from([0xff, 0xfb, 0x90, 0x00])]), SIZE),
  'mp3 tag hiding an exe': padded(Buffer.concat([id3Tag(150_000), windowsExecutable()]), SIZE),
  'png, image after 100 KB': padded(png(100_000), SIZE),
  zip: buildZip([{ name: 'film.mp4', data: noise(SIZE), method: 'store' }]),
  'docm, picture first': buildZip([
    { name: 'word/media/picture.bin', data: noise(SIZE), method: 'store' },
    { name: '[Content_Types].xml', data: Buffer.from(DOCM_TYPES) },
    { name: 'word/vbaProject.bin', data: compoundFile({ macros: true }) },
  ]),
  word: padded(wordDocument({ macros: true }), SIZE),
  gzip: gzipSync(noise(SIZE)),
  'compound file': padded(compoundFile({ macros: true }), SIZE),
  'no known type': noise(SIZE),
};

describe('SYS-7: a large file typed from its first bytes is typed as from all of them', () => {
  it('SYS-7: from any head, detectTypeFromHead answers what detectType answers for the whole file, or says it needs more', async () => {
    const whole = new Map<string, Awaited<ReturnType<typeof detectType>>>();
    for (const [name, bytes] of Object.entries(SAMPLES)) whole.set(name, await detectType(bytes));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(SAMPLES)),
        fc
          .integer({ min: 0, max: 1 })
          .chain((tail) => (tail === 0 ? fc.integer({ min: 4100, max: 20_000 }) : fc.nat())),
        async (name, headLength) => {
          const bytes = SAMPLES[name]!;
          const head = bytes.subarray(0, Math.min(headLength, bytes.length - 1));
          const answer = await detectTypeFromHead(head, bytes.length);
          if (answer !== undefined) expect(answer, name).toEqual(whole.get(name));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('SYS-7: the first 256 KiB settle the common large attachments (PDF, executable, JPEG, MP3, PNG), and not the files file-type follows further', async () => {
    const head = (bytes: Buffer) => detectTypeFromHead(bytes.subarray(0, 256 * 1024), bytes.length);
    for (const name of ['pdf', 'exe', 'jpeg', 'mp3', 'png, image after 100 KB', 'no known type']) {
      const bytes = SAMPLES[name]!;
      expect(await head(bytes), name).toEqual(await detectType(bytes));
    }
    for (const name of ['zip', 'docm, picture first', 'gzip']) {
      expect(await head(SAMPLES[name]!), name).toBeUndefined();
    }
  });

  it('SYS-7: an executable behind an MP3 tag longer than the head is not taken for an MP3', async () => {
    const bytes = padded(Buffer.concat([id3Tag(600_000), windowsExecutable()]), 2_000_000);
    expect(await detectType(bytes)).toMatchObject({ ext: 'exe' });
    expect(await detectTypeFromHead(bytes.subarray(0, 256 * 1024), bytes.length)).toBeUndefined();
  });
});
