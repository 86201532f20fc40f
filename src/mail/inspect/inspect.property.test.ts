import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mimeTree, renderTree } from '../../../test/support/mime-tree.ts';
import { buildZip } from '../../../test/support/zip-writer.ts';
import type { Inspection } from '../types.ts';
import { type InspectLimits, inspectMessage } from './index.ts';

const CODES = new Set([
  'too-deep',
  'too-many-parts',
  'too-large-expanded',
  'malformed-mime',
  'malformed-archive',
  'bad-encoding',
]);

/** What must hold of any inspection, whatever the input. */
function wellFormed(inspection: Inspection, limits: Partial<InspectLimits> = {}): void {
  const maxParts = limits.maxParts ?? 1000;
  const maxDepth = limits.maxDepth ?? 8;
  const maxText = limits.maxTextChars ?? 512 * 1024;
  expect(inspection.partCount).toBeLessThanOrEqual(maxParts);
  expect(inspection.text.length).toBeLessThanOrEqual(maxText);
  expect(typeof inspection.subject).toBe('string');
  for (const problem of inspection.problems) expect(CODES.has(problem.code)).toBe(true);
  for (const a of inspection.attachments) {
    expect(a.depth).toBeLessThanOrEqual(maxDepth);
    expect(a.sha256).toMatch(/^([0-9a-f]{64})?$/);
    expect(a.size).toBeGreaterThanOrEqual(0);
  }
}

const limits = fc.record({
  maxParts: fc.integer({ min: 1, max: 40 }),
  maxDepth: fc.integer({ min: 0, max: 4 }),
});

describe('SYS-4: the walk over random MIME trees', () => {
  it('SYS-4: finds every attachment it was given, with path, depth, name and SHA-256, when the tree is within the limits', async () => {
    await fc.assert(
      fc.asyncProperty(mimeTree, async (tree) => {
        const { raw, expected } = renderTree(tree);
        fc.pre(expected.parts <= 1000 && expected.deepestPart <= 8);
        const inspection = await inspectMessage(raw);
        expect(inspection.problems).toEqual([]);
        expect(inspection.partCount).toBe(expected.parts);
        expect(inspection.attachments).toHaveLength(expected.attachments.length);
        for (const want of expected.attachments) {
          const got = inspection.attachments.find((a) => a.path === want.path);
          expect(got, want.path).toMatchObject({
            depth: want.depth,
            sha256: want.sha256,
            name: want.name,
          });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('SYS-4: respects random limits, says which one it met, and still finds everything within them', async () => {
    await fc.assert(
      fc.asyncProperty(mimeTree, limits, async (tree, given) => {
        const { raw, expected } = renderTree(tree);
        const inspection = await inspectMessage(raw, given);
        wellFormed(inspection, given);
        const codes = new Set(inspection.problems.map((p) => p.code));
        if (expected.partsWithin(given.maxDepth) > given.maxParts) {
          expect(codes.has('too-many-parts')).toBe(true);
        } else {
          expect(codes.has('too-many-parts')).toBe(false);
          // Everything at or above the depth limit is reached when the part limit is not met.
          for (const want of expected.attachments.filter((a) => a.depth <= given.maxDepth)) {
            expect(inspection.attachments.find((a) => a.path === want.path)?.sha256).toBe(
              want.sha256,
            );
          }
          expect(codes.has('too-deep')).toBe(expected.deepestPart > given.maxDepth);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('never throws for damaged versions of those messages: cut short, bytes changed, bytes inserted', async () => {
    const damage = fc.oneof(
      fc.record({
        kind: fc.constant('cut' as const),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        bytes: fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc
            .constantFrom(
              '\r\n--',
              '=?utf-8?B?',
              'PK\u0003\u0004',
              '\r\n\r\n',
              'boundary="',
              '=\r\n',
            )
            .map((s) => Buffer.from(s, 'latin1')),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        mimeTree,
        fc.array(damage, { minLength: 1, maxLength: 3 }),
        limits,
        async (tree, damages, given) => {
          let raw = renderTree(tree).raw;
          for (const d of damages) {
            if (d.kind === 'cut') raw = raw.subarray(0, Math.floor(raw.length * d.at));
            else if (d.kind === 'flip') {
              raw = Buffer.from(raw);
              for (const at of d.at)
                if (raw.length > 0) raw[Math.floor((raw.length - 1) * at)] = d.value;
            } else {
              const at = Math.floor(raw.length * d.at);
              raw = Buffer.concat([raw.subarray(0, at), d.bytes, raw.subarray(at)]);
            }
          }
          wellFormed(await inspectMessage(raw, given), given);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws for arbitrary bytes, or for fragments of MIME syntax thrown together', async () => {
    const fragment = fc.constantFrom(
      'Content-Type: multipart/mixed; boundary=a\r\n',
      'Content-Type: message/rfc822\r\n',
      'Content-Type: text/html\r\n',
      'Content-Transfer-Encoding: base64\r\n',
      'Content-Transfer-Encoding: quoted-printable\r\n',
      'Content-Disposition: attachment; filename*0*=utf-8\'\'%E2; filename*1="x.exe"\r\n',
      'Subject: =?utf-8?Q?=E2=82?= =?x-unknown?B?AAAA?=\r\n',
      'Sensitivity: Private\r\n',
      '\r\n',
      '--a\r\n',
      '--a--\r\n',
      'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n',
      'UEsDBBQAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n',
      '<p>&amp;&#0;&#x110000;<script>',
      '=\r\n',
      ' folded\r\n',
    );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc.array(fragment, { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        wellFormed(await inspectMessage(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws for damaged zip archives', async () => {
    const entries = fc.array(
      fc.record({
        name: fc.stringMatching(/^[a-z]{1,8}\.(txt|exe|zip)$/),
        data: fc.uint8Array({ maxLength: 200 }),
        method: fc.constantFrom('store' as const, 'deflate' as const),
        encrypted: fc.boolean(),
        sizesAfterData: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        entries,
        fc.boolean(),
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })),
          {
            maxLength: 8,
          },
        ),
        async (list, withoutCentralDirectory, flips) => {
          const zip = Buffer.from(buildZip(list, { withoutCentralDirectory }));
          for (const [at, value] of flips) zip[Math.floor((zip.length - 1) * at)] = value;
          const raw = Buffer.concat([
            Buffer.from(
              'Content-Type: application/zip; name="a.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
            ),
            Buffer.from(zip.toString('base64')),
          ]);
          const inspection = await inspectMessage(raw);
          wellFormed(inspection);
          expect(inspection.attachments[0]?.path).toBe('1');
        },
      ),
      { numRuns: 200 },
    );
  });
});
