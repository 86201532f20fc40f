import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { compose } from '../../../test/support/mail-samples.ts';
import { buildZip } from '../../../test/support/zip-writer.ts';

const run = promisify(execFile);
const MB = 1024 * 1024;
const SIZE = 25 * MB;
const script = new URL('../../../test/support/inspect-memory.ts', import.meta.url).pathname;
const root = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'custos-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Measurement {
  readonly rawBytes: number;
  readonly attachments: readonly { path: string; size: number }[];
  readonly problems: readonly string[];
  readonly peakReset: boolean;
  readonly extraPeak: number;
}

/** Inspects a message in a fresh process and reads its peak memory (test/support/inspect-memory.ts). */
async function measure(name: string, message: Buffer): Promise<Measurement> {
  const file = join(dir, name);
  writeFileSync(file, message);
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', script, file], {
    cwd: root,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measurement;
}

// The peak is measured from a reset high-water mark, which only Linux offers.
describe.runIf(process.platform === 'linux')(
  'memory: a 25 MB attachment costs about its size, not many copies of it',
  () => {
    const data = randomBytes(SIZE);

    it('a 25 MB base64 attachment adds less than twice its size to peak memory', async () => {
      const m = await measure(
        'plain.eml',
        await compose({ attachments: [{ filename: 'film.mp4', content: data }] }),
      );
      expect(m.peakReset).toBe(true);
      expect(m.attachments).toEqual([{ path: '2', size: SIZE }]);
      expect(m.extraPeak).toBeLessThan(2 * SIZE);
    });

    it('SYS-4: a 25 MB base64 PDF is typed and hashed without being held decoded: it adds less than a fifth of its size', async () => {
      // Decoded whole, the file alone would add its own size; in pieces, about a megabyte.
      const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), data.subarray(9)]);
      const m = await measure(
        'pdf.eml',
        await compose({ attachments: [{ filename: 'minutes.pdf', content: pdf }] }),
      );
      expect(m.peakReset).toBe(true);
      expect(m.attachments).toEqual([{ path: '2', size: SIZE }]);
      expect(m.extraPeak).toBeLessThan(SIZE / 5);
    });

    it('a 25 MB file stored in a zip adds less than twice its size to peak memory', async () => {
      const zip = buildZip([{ name: 'film.mp4', data, method: 'store' }]);
      const m = await measure(
        'zip.eml',
        await compose({ attachments: [{ filename: 'film.zip', content: zip }] }),
      );
      expect(m.attachments.at(-1)).toEqual({ path: '2/film.mp4', size: SIZE });
      expect(m.extraPeak).toBeLessThan(2 * SIZE);
    });
  },
);
