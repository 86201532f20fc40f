import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compose,
  compoundFile,
  DOCM_TYPES,
  EICAR_SHA256,
  eicar,
  id3Tag,
  noise,
  padded,
  windowsExecutable,
  wordDocument,
} from '../../../test/support/mail-samples.ts';
import { compileShipped } from '../../../test/support/policy-pack.ts';
import { buildZip } from '../../../test/support/zip-writer.ts';
import type { CompiledPolicy } from '../../policy/compiled.ts';
import type { AttachmentInfo, Inspection } from '../types.ts';
import { inspectMessage, inspectOptionsFromPolicy, inspectWithPolicy } from './index.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function at(inspection: Inspection, path: string): AttachmentInfo {
  const found = inspection.attachments.find((a) => a.path === path);
  if (!found) {
    throw new Error(
      `no attachment at ${path}; found ${inspection.attachments.map((a) => a.path).join(', ')}`,
    );
  }
  return found;
}

let compiled: CompiledPolicy | undefined;
const shipped = () => {
  compiled ??= compileShipped();
  return compiled;
};

const codes = (inspection: Inspection) => inspection.problems.map((p) => p.code);

/** A message written by hand, CRLF line ends, for shapes a composer would never produce. */
function raw(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

describe('SYS-4, SYS-7: attachments are found wherever they sit', () => {
  it('SYS-4, SYS-7: EICAR in a zip in a forwarded message (message/rfc822) is found at depth 2 with its SHA-256', async () => {
    const zip = buildZip([{ name: 'eicar.com', data: eicar() }]);
    const forwarded = await compose({
      from: 'parent@example.org',
      subject: 'photos',
      text: 'see attached',
      attachments: [{ filename: 'photos.zip', content: zip }],
    });
    const message = await compose({
      subject: 'Fwd: photos',
      text: 'Forwarding this one.',
      attachments: [{ filename: 'photos.eml', content: forwarded, contentType: 'message/rfc822' }],
    });

    const inspection = await inspectMessage(message);

    const found = at(inspection, '2.2/eicar.com');
    expect(found).toMatchObject({ name: 'eicar.com', depth: 2, size: 68, sha256: EICAR_SHA256 });
    expect(at(inspection, '2')).toMatchObject({ declaredType: 'message/rfc822', depth: 0 });
    expect(at(inspection, '2.2')).toMatchObject({
      name: 'photos.zip',
      detectedType: 'application/zip',
      depth: 1,
      sha256: sha256(zip),
    });
    expect(inspection.problems).toEqual([]);
    expect(inspection.text).toContain('Forwarding this one.');
    expect(inspection.text).toContain('see attached');
  });

  it('SYS-4: a forwarded message sent base64-encoded as an attachment is opened too', async () => {
    const forwarded = await compose({
      text: 'inner',
      attachments: [{ filename: 'tool.exe', content: windowsExecutable() }],
    });
    const message = await compose({
      text: 'outer',
      attachments: [
        {
          filename: 'fwd.eml',
          content: forwarded,
          contentType: 'message/rfc822',
          contentTransferEncoding: 'base64',
          contentDisposition: 'attachment',
        },
      ],
    });
    const inspection = await inspectMessage(message);
    expect(at(inspection, '2.2')).toMatchObject({ name: 'tool.exe', executable: true, depth: 1 });
  });

  it('SYS-4: an .eml file sent as application/octet-stream is opened as a message', async () => {
    const forwarded = await compose({
      attachments: [{ filename: 'a.exe', content: windowsExecutable() }],
    });
    const message = await compose({
      attachments: [
        { filename: 'old.eml', content: forwarded, contentType: 'application/octet-stream' },
      ],
    });
    const inspection = await inspectMessage(message);
    expect(at(inspection, '2.2')).toMatchObject({ executable: true, depth: 1 });
  });

  it('SYS-4: a zip inside a zip is walked, each entry one level deeper', async () => {
    const inner = buildZip([{ name: 'payload/setup.exe', data: windowsExecutable() }]);
    const outer = buildZip([
      { name: 'readme.txt', data: Buffer.from('hello') },
      { name: 'inner.zip', data: inner, method: 'store' },
    ]);
    const inspection = await inspectMessage(
      await compose({ text: 'x', attachments: [{ filename: 'bundle.zip', content: outer }] }),
    );
    expect(at(inspection, '2')).toMatchObject({ depth: 0, detectedType: 'application/zip' });
    expect(at(inspection, '2/readme.txt')).toMatchObject({
      depth: 1,
      sha256: sha256(Buffer.from('hello')),
    });
    expect(at(inspection, '2/inner.zip')).toMatchObject({ depth: 1, sha256: sha256(inner) });
    expect(at(inspection, '2/inner.zip/payload/setup.exe')).toMatchObject({
      depth: 2,
      executable: true,
      detectedType: 'application/x-msdownload',
    });
  });
});

describe('SYS-7, SYS-8: the type is read from the bytes, never from the name', () => {
  it('SYS-8: an .exe renamed .pdf is found executable by its bytes', async () => {
    const exe = windowsExecutable();
    const inspection = await inspectMessage(
      await compose({
        text: 'Invoice attached',
        attachments: [{ filename: 'invoice.pdf', content: exe, contentType: 'application/pdf' }],
      }),
    );
    expect(at(inspection, '2')).toEqual({
      path: '2',
      name: 'invoice.pdf',
      declaredType: 'application/pdf',
      detectedType: 'application/x-msdownload',
      extension: 'exe',
      size: exe.length,
      sha256: sha256(exe),
      executable: true,
      script: false,
      macro: false,
      encrypted: false,
      depth: 0,
    });
  });

  it("SYS-8: names on the pack's executables and scripts lists count even when the bytes say nothing", async () => {
    const inspection = await inspectMessage(
      await compose({
        attachments: [
          { filename: 'start.bat', content: '@echo off\r\n' },
          { filename: 'macro.vbs', content: 'MsgBox "hi"' },
          { filename: 'notes.txt', content: 'just notes' },
        ],
      }),
      inspectOptionsFromPolicy(shipped()),
    );
    expect(at(inspection, '2')).toMatchObject({
      executable: true,
      script: false,
      extension: 'bat',
    });
    expect(at(inspection, '3')).toMatchObject({
      executable: false,
      script: true,
      extension: 'vbs',
    });
    expect(at(inspection, '4')).toMatchObject({
      executable: false,
      script: false,
      extension: 'txt',
    });
  });

  it('SYS-8: disk images (iso, img, vhd) are marked as scripts', async () => {
    const inspection = await inspectMessage(
      await compose({
        attachments: [
          { filename: 'disk.iso', content: Buffer.alloc(2048, 1) },
          { filename: 'usb.IMG', content: Buffer.alloc(512, 2) },
          { filename: 'vm.vhd', content: Buffer.alloc(512, 3) },
        ],
      }),
      { scripts: [] },
    );
    expect(inspection.attachments.map((a) => a.script)).toEqual([true, true, true]);
  });

  it('SYS-7: a macro-enabled Word file (docm) is marked macro, whatever it is called', async () => {
    const docm = wordDocument({ macros: true });
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'minutes.docx', content: docm }] }),
    );
    expect(at(inspection, '2')).toMatchObject({
      macro: true,
      extension: 'docm',
      detectedType: 'application/vnd.ms-word.document.macroenabled.12',
    });
    // A document's own parts are not listed as attachments.
    expect(inspection.attachments).toHaveLength(1);
  });

  it('SYS-7: an OOXML file whose content type hides its macros is caught by its vbaProject.bin', async () => {
    const sly = wordDocument({ macros: true, contentTypeSaysMacros: false });
    const plain = wordDocument({ macros: false });
    const inspection = await inspectMessage(
      await compose({
        attachments: [
          { filename: 'a.docx', content: sly },
          { filename: 'b.docx', content: plain },
        ],
      }),
    );
    expect(at(inspection, '2')).toMatchObject({ macro: true, extension: 'docx' });
    expect(at(inspection, '3')).toMatchObject({ macro: false, extension: 'docx' });
  });

  it('SYS-7: a legacy Office file (OLE) with a VBA project is marked macro; one without is not', async () => {
    const inspection = await inspectMessage(
      await compose({
        attachments: [
          { filename: 'old.doc', content: compoundFile({ macros: true }) },
          { filename: 'clean.doc', content: compoundFile() },
        ],
      }),
    );
    expect(at(inspection, '2')).toMatchObject({ macro: true, detectedType: 'application/x-cfb' });
    expect(at(inspection, '3')).toMatchObject({ macro: false });
  });

  it('SYS-4: a password-protected Office file is marked encrypted (it cannot be scanned)', async () => {
    const inspection = await inspectMessage(
      await compose({
        attachments: [
          { filename: 'salaries.xlsx', content: compoundFile({ encryptedPackage: true }) },
        ],
      }),
    );
    expect(at(inspection, '2')).toMatchObject({ encrypted: true, macro: false });
  });
});

describe('SYS-4: encrypted archives cannot be scanned and say so', () => {
  it('SYS-4: an encrypted zip entry is marked encrypted without being read; its neighbours are read', async () => {
    const zip = buildZip([
      { name: 'secret.docx', data: Buffer.from('not really encrypted'), encrypted: true },
      { name: 'secret.exe', data: windowsExecutable(), method: 'store', encrypted: true },
      { name: 'readme.txt', data: Buffer.from('the password is in a separate e-mail') },
    ]);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'confidential.zip', content: zip }] }),
    );
    expect(at(inspection, '2')).toMatchObject({ encrypted: true, detectedType: 'application/zip' });
    expect(at(inspection, '2/secret.docx')).toMatchObject({
      encrypted: true,
      sha256: '',
      detectedType: null,
      depth: 1,
    });
    // Encrypted, yet still an executable by its name.
    expect(at(inspection, '2/secret.exe')).toMatchObject({ encrypted: true, executable: true });
    expect(at(inspection, '2/readme.txt')).toMatchObject({ encrypted: false, size: 36 });
    expect(inspection.problems).toEqual([]);
  });
});

describe('SYS-4: zip bombs are stopped by their declared and their actual expanded size', () => {
  it('SYS-4: an entry declaring 4 GB is not expanded at all', async () => {
    const zip = buildZip([
      { name: 'bomb.bin', data: Buffer.alloc(1024), declaredSize: 0xfffffffe },
      { name: 'ok.txt', data: Buffer.from('fine') },
    ]);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: zip }] }),
    );
    expect(inspection.problems).toContainEqual(
      expect.objectContaining({ code: 'too-large-expanded', path: '2/bomb.bin' }),
    );
    expect(at(inspection, '2/bomb.bin')).toMatchObject({ size: 0xfffffffe, sha256: '' });
    expect(at(inspection, '2/ok.txt').sha256).toBe(sha256(Buffer.from('fine')));
  });

  it('SYS-4: 48 MB of zeros in a 48 KB entry is refused by its declared size, under a 16 MB limit', async () => {
    const zip = buildZip([{ name: 'zeros.bin', data: Buffer.alloc(48 * 1024 * 1024) }]);
    expect(zip.length).toBeLessThan(100 * 1024);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: zip }] }),
      { maxExpandedBytes: 16 * 1024 * 1024 },
    );
    expect(codes(inspection)).toEqual(['too-large-expanded']);
  });

  it('SYS-4: an entry that lies about its size is stopped while it streams', async () => {
    const zip = buildZip([
      { name: 'liar.bin', data: Buffer.alloc(32 * 1024 * 1024), declaredSize: 1000 },
    ]);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: zip }] }),
    );
    expect(inspection.problems).toContainEqual(
      expect.objectContaining({ code: 'too-large-expanded', path: '2/liar.bin' }),
    );
    expect(at(inspection, '2/liar.bin').sha256).toBe('');
  });

  it('SYS-4: without sizes to trust (no central directory, sizes after the data), the running count stops it', async () => {
    const zip = buildZip(
      [
        { name: 'first.exe', data: windowsExecutable() },
        { name: 'zeros.bin', data: Buffer.alloc(40 * 1024 * 1024), sizesAfterData: true },
      ],
      { withoutCentralDirectory: true },
    );
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: zip }] }),
      { maxExpandedBytes: 8 * 1024 * 1024 },
    );
    expect(inspection.problems).toContainEqual(
      expect.objectContaining({ code: 'too-large-expanded', path: '2/zeros.bin' }),
    );
    expect(inspection.problems).toContainEqual(
      expect.objectContaining({ code: 'malformed-archive', path: '2' }),
    );
    expect(at(inspection, '2/first.exe')).toMatchObject({ executable: true });
  });

  it('SYS-4: the limit is shared by all entries of all archives in the message', async () => {
    const zip = buildZip([
      { name: 'a.bin', data: Buffer.alloc(6 * 1024 * 1024) },
      { name: 'b.bin', data: Buffer.alloc(6 * 1024 * 1024) },
    ]);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: zip }] }),
      { maxExpandedBytes: 10 * 1024 * 1024 },
    );
    expect(at(inspection, '2/a.bin').sha256).not.toBe('');
    expect(inspection.problems).toEqual([
      expect.objectContaining({ code: 'too-large-expanded', path: '2/b.bin' }),
    ]);
  });

  it('SYS-4: archives nested past the depth limit are not opened', async () => {
    let zip = buildZip([{ name: 'core.exe', data: windowsExecutable() }]);
    for (let i = 0; i < 5; i++) zip = buildZip([{ name: `layer${i}.zip`, data: zip }]);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'deep.zip', content: zip }] }),
      { maxDepth: 3 },
    );
    expect(codes(inspection)).toEqual(['too-deep']);
    expect(Math.max(...inspection.attachments.map((a) => a.depth))).toBe(3);
  });

  it('SYS-4: a truncated archive yields the entries that are there, and a problem', async () => {
    const zip = buildZip([
      { name: 'tool.exe', data: windowsExecutable() },
      { name: 'big.txt', data: Buffer.from('x'.repeat(10_000)), method: 'store' },
    ]);
    const cut = zip.subarray(0, zip.length - 6000);
    const inspection = await inspectMessage(
      await compose({ attachments: [{ filename: 'a.zip', content: cut }] }),
    );
    expect(at(inspection, '2/tool.exe')).toMatchObject({ executable: true });
    expect(at(inspection, '2/big.txt')).toMatchObject({ sha256: '', size: 10_000 });
    expect(codes(inspection)).toContain('malformed-archive');
  });
});

describe('limits: the walk stops, reports, and returns what it read', () => {
  it('a message of 10,000 parts stops at the part limit with too-many-parts', async () => {
    const lines = [
      'From: a@example.org',
      'Subject: many',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
    ];
    for (let i = 0; i < 10_000; i++) {
      lines.push(
        '--b',
        `Content-Type: application/octet-stream; name="f${i}.bin"`,
        '',
        `part ${i}`,
      );
    }
    lines.push('--b--', '');
    const started = performance.now();
    const inspection = await inspectMessage(raw(lines));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(codes(inspection)).toEqual(['too-many-parts']);
    expect(inspection.partCount).toBe(1000);
    expect(inspection.attachments).toHaveLength(999);
    expect(inspection.attachments.at(-1)?.path).toBe('999');
  });

  it('the same message inside the limit is read whole', async () => {
    const lines = ['Content-Type: multipart/mixed; boundary="b"', ''];
    for (let i = 0; i < 50; i++)
      lines.push('--b', 'Content-Type: application/octet-stream', '', `p${i}`);
    lines.push('--b--');
    const inspection = await inspectMessage(raw(lines), { maxParts: 51 });
    expect(inspection.problems).toEqual([]);
    expect(inspection.attachments).toHaveLength(50);
  });

  it('messages forwarded inside one another past the depth limit are not opened', async () => {
    let message = await compose({
      attachments: [{ filename: 'x.exe', content: windowsExecutable() }],
    });
    for (let i = 0; i < 12; i++) {
      message = await compose({
        attachments: [{ filename: `fwd${i}.eml`, content: message, contentType: 'message/rfc822' }],
      });
    }
    const inspection = await inspectMessage(message);
    expect(codes(inspection)).toEqual(['too-deep']);
    expect(Math.max(...inspection.attachments.map((a) => a.depth))).toBe(8);
  });

  it('multiparts nested a thousand deep stop at the nesting limit', async () => {
    const lines: string[] = ['Subject: nest'];
    for (let i = 0; i < 1000; i++)
      lines.push(`Content-Type: multipart/mixed; boundary="n${i}"`, '', `--n${i}`);
    lines.push('Content-Type: text/plain', '', 'deep');
    for (let i = 999; i >= 0; i--) lines.push(`--n${i}--`);
    const inspection = await inspectMessage(raw(lines));
    expect(codes(inspection)).toEqual(['too-deep']);
  });

  it('text is kept up to its cap', async () => {
    const inspection = await inspectMessage(await compose({ text: 'word '.repeat(10_000) }), {
      maxTextChars: 100,
    });
    expect(inspection.text.length).toBe(100);
  });
});

describe('damaged messages yield problems and what could be read', () => {
  it('broken base64 is reported as bad-encoding and decoded as far as it goes', async () => {
    const body = Buffer.from('hello, world').toString('base64');
    const inspection = await inspectMessage(
      raw([
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: application/octet-stream; name="a.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        `${body.slice(0, 8)}!!**${body.slice(8)}`,
        '--b',
        'Content-Type: application/octet-stream; name="b.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        'QUJDRA==',
        'R',
        '--b--',
      ]),
    );
    expect(inspection.problems).toEqual([
      expect.objectContaining({ code: 'bad-encoding', path: '1' }),
      expect.objectContaining({ code: 'bad-encoding', path: '2' }),
    ]);
    expect(at(inspection, '1').sha256).toBe(sha256(Buffer.from('hello, world')));
    expect(at(inspection, '2').sha256).toBe(sha256(Buffer.from('ABCD')));
  });

  it('a boundary that never appears gives malformed-mime, and the body is still looked at', async () => {
    const inspection = await inspectMessage(
      raw([
        'Content-Type: multipart/mixed; boundary="expected"',
        '',
        '--actual',
        'Content-Type: text/plain',
        '',
        'hello',
        '--actual--',
      ]),
    );
    expect(inspection.problems).toEqual([
      expect.objectContaining({ code: 'malformed-mime', path: '1' }),
    ]);
    expect(inspection.attachments).toHaveLength(1);
  });

  it('a missing closing boundary (a cut-short message) gives malformed-mime and the parts before it', async () => {
    const full = await compose({
      text: 'hello',
      attachments: [{ filename: 'tool.exe', content: windowsExecutable(2000) }],
    });
    const cut = full.subarray(0, full.length - 200);
    const inspection = await inspectMessage(cut);
    expect(codes(inspection)).toContain('malformed-mime');
    expect(at(inspection, '2')).toMatchObject({ executable: true });
    expect(inspection.text).toBe('hello');
  });

  it('a line that only starts with the boundary is content, not a delimiter', async () => {
    const inspection = await inspectMessage(
      raw([
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        '--bb is not a boundary',
        '--b--',
      ]),
    );
    expect(inspection.problems).toEqual([]);
    expect(inspection.text).toBe('--bb is not a boundary');
  });

  it('a multipart without a boundary parameter is read as one file', async () => {
    const inspection = await inspectMessage(
      raw(['Content-Type: multipart/mixed', '', 'MZ whatever']),
    );
    expect(codes(inspection)).toEqual(['malformed-mime']);
    expect(at(inspection, '1')).toMatchObject({ executable: true });
  });

  it('a message with no headers at all is read as text, with a problem', async () => {
    const inspection = await inspectMessage(Buffer.from('just some text\nand more\n'));
    expect(inspection).toMatchObject({
      messageId: null,
      subject: '',
      from: null,
      to: [],
      cc: [],
      date: null,
      private: false,
      text: 'just some text\nand more',
    });
    expect(codes(inspection)).toEqual(['malformed-mime']);
  });

  it('empty input, binary noise and a bare Uint8Array all resolve', async () => {
    for (const input of [
      Buffer.alloc(0),
      Buffer.from([0, 1, 2, 255, 254, 10, 13, 10]),
      new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]),
    ]) {
      const inspection = await inspectMessage(input);
      expect(inspection.partCount).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('headers', () => {
  it('decodes the subject and reads the addresses, groups flattened', async () => {
    const inspection = await inspectMessage(
      raw([
        'From: =?utf-8?Q?J=C3=B6rg?= <jorg@example.de>',
        'To: a@example.org, Staff: b@example.org, "C, D" <c@example.org>;',
        'Cc: e@example.org',
        'Subject: =?iso-8859-1?Q?Caf=E9?= =?utf-8?B?4oKs?= menu',
        'Date: Tue, 1 Jul 2025 09:30:00 +0100',
        'Message-ID: <m1@example.de>',
        '',
        'body',
      ]),
    );
    expect(inspection).toMatchObject({
      messageId: '<m1@example.de>',
      subject: 'Café€ menu',
      from: 'jorg@example.de',
      to: ['a@example.org', 'b@example.org', 'c@example.org'],
      cc: ['e@example.org'],
      date: '2025-07-01T08:30:00.000Z',
      text: 'body',
    });
  });

  it('reads RFC 2231 and encoded-word file names', async () => {
    const inspection = await inspectMessage(
      raw([
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: application/octet-stream; name*0*=utf-8\'\'%E2%82%AC; name*1="-report.pdf"',
        '',
        'x',
        '--b',
        'Content-Type: application/octet-stream',
        'Content-Disposition: attachment; filename="=?utf-8?B?w6lsw6h2ZS5leGU=?="',
        '',
        'x',
        '--b--',
      ]),
    );
    expect(at(inspection, '1').name).toBe('€-report.pdf');
    expect(at(inspection, '2')).toMatchObject({ name: 'élève.exe', executable: true });
  });
});

describe('MON-3: messages marked Private or Personal', () => {
  const message = (headers: string[]) => raw([...headers, 'From: a@example.org', '', 'x']);

  it('MON-3: a Sensitivity header of Private or Personal marks it, in any case', async () => {
    for (const value of ['Private', 'personal', ' PRIVATE ']) {
      expect((await inspectMessage(message([`Sensitivity: ${value}`]))).private).toBe(true);
    }
  });

  it('MON-3: other Sensitivity values and ordinary subjects do not', async () => {
    expect(
      (await inspectMessage(message(['Sensitivity: Company-Confidential', 'Subject: Budget'])))
        .private,
    ).toBe(false);
  });

  it('MON-3: the default subject markers [Private] and [Personal] mark it', async () => {
    const inspection = await inspectMessage(
      await compose({ subject: 'Re: [personal] doctor', text: 'x' }),
    );
    expect(inspection.private).toBe(true);
  });

  it("MON-3: the pack's own markers are used when given (PRIVATE: in the shipped pack)", async () => {
    const marked = await inspectWithPolicy(
      await compose({ subject: 'PRIVATE: appointment' }),
      shipped(),
    );
    expect(marked.private).toBe(true);
    const unmarked = await inspectMessage(await compose({ subject: 'PRIVATE: appointment' }));
    expect(unmarked.private).toBe(false);
  });
});

describe('readable text for the content rules', () => {
  it('takes the alternative the recipient sees, without tags, scripts or entities', async () => {
    const inspection = await inspectMessage(
      await compose({
        text: 'plain version',
        html: '<html><head><style>p{}</style></head><body><p>Dear&nbsp;parents,</p><script>alert(1)</script><p>Fish &amp; chips &#8364;5</p></body></html>',
      }),
    );
    expect(inspection.text).toBe('Dear parents,\nFish & chips €5');
  });

  it('decodes a declared charset', async () => {
    const inspection = await inspectMessage(
      Buffer.concat([
        Buffer.from('Content-Type: text/plain; charset=iso-8859-1\r\n\r\n'),
        Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      ]),
    );
    expect(inspection.text).toBe('café');
  });
});

describe('SYS-4, SYS-7: a large attachment decoded in pieces is recorded as if decoded whole', () => {
  const SIZE = 1536 * 1024;
  /** A file of SIZE bytes that starts with `start`. */
  const large = (start: Buffer) => padded(start, SIZE, 7);
  /** Every byte outside printable ASCII (and `=`) escaped, lines of at most 76 characters. */
  const quotedPrintable = (bytes: Buffer) => {
    const hex = Buffer.from('0123456789ABCDEF');
    const out = Buffer.alloc(bytes.length * 4);
    let o = 0;
    let column = 0;
    for (const b of bytes) {
      const plain = b >= 33 && b <= 126 && b !== 61;
      if (column + (plain ? 1 : 3) > 75) {
        o += out.write('=\r\n', o, 'latin1');
        column = 0;
      }
      if (plain) out[o++] = b;
      else {
        out[o++] = 61;
        out[o++] = hex[b >> 4]!;
        out[o++] = hex[b & 15]!;
      }
      column += plain ? 1 : 3;
    }
    return out.subarray(0, o);
  };
  const base64 = (bytes: Buffer) =>
    Buffer.from(bytes.toString('base64').replace(/.{76}/g, '$&\r\n'));
  /** The encodings a large part is sent in: the transfer encoding and the body it gives. */
  const ENCODINGS: readonly [string, string, (bytes: Buffer) => Buffer][] = [
    ['base64', 'base64', base64],
    // Its first bytes decode to nothing, so what it holds is known only once it is read.
    [
      'base64 after blank lines',
      'base64',
      (bytes) => Buffer.concat([Buffer.from('\r\n'.repeat(1000)), base64(bytes)]),
    ],
    ['quoted-printable', 'quoted-printable', quotedPrintable],
  ];
  function message(name: string, encoding: string, body: Buffer): Buffer {
    return Buffer.concat([
      raw([
        'From: parent@example.org',
        'To: office@palfreyinfant.co.uk',
        'Subject: large attachment',
        'Content-Type: multipart/mixed; boundary="=_large_="',
        '',
        '--=_large_=',
        'Content-Type: text/plain',
        '',
        'See attached.',
        '--=_large_=',
        `Content-Type: application/octet-stream; name="${name}"`,
        `Content-Disposition: attachment; filename="${name}"`,
        `Content-Transfer-Encoding: ${encoding}`,
        '',
        '',
      ]),
      body,
      raw(['', '--=_large_=--', '']),
    ]);
  }
  const inBase64 = (name: string) => inspectMessage(message(name, 'base64', base64(files[name]!)));

  const files: Record<string, Buffer> = {
    'report.pdf': large(Buffer.from('%PDF-1.7\n')),
    'setup.pdf': large(windowsExecutable()),
    'song.mp3': large(Buffer.concat([id3Tag(600_000), windowsExecutable()])),
    'minutes.doc': large(compoundFile({ macros: true })),
    'photos.zip': buildZip([
      { name: 'a.jpg', data: noise(SIZE, 1), method: 'store' },
      { name: 'b.exe', data: windowsExecutable() },
    ]),
    'minutes.docm': buildZip([
      { name: '[Content_Types].xml', data: Buffer.from(DOCM_TYPES) },
      { name: 'word/media/image1.bin', data: noise(SIZE, 2), method: 'store' },
      { name: 'word/vbaProject.bin', data: compoundFile({ macros: true }) },
    ]),
    'film.mp4': noise(SIZE, 3),
  };

  it('SYS-4, SYS-7: base64 and quoted-printable parts over 1 MiB give the attachments of the same bytes sent unencoded', async () => {
    for (const [name, file] of Object.entries(files)) {
      const unencoded = await inspectMessage(message(name, 'binary', file));
      expect(unencoded.problems, name).toEqual([]);
      expect(at(unencoded, '2'), name).toMatchObject({ size: file.length, sha256: sha256(file) });
      for (const [how, encoding, encode] of ENCODINGS) {
        const encoded = await inspectMessage(message(name, encoding, encode(file)));
        expect(encoded.attachments, `${name} in ${how}`).toEqual(unencoded.attachments);
        expect(encoded.problems, `${name} in ${how}`).toEqual([]);
      }
    }
  });

  it('SYS-7: an executable behind a long MP3 tag is found by its bytes; a Compound File keeps its macro flag', async () => {
    expect(at(await inBase64('song.mp3'), '2')).toMatchObject({
      extension: 'exe',
      executable: true,
    });
    expect(at(await inBase64('minutes.doc'), '2')).toMatchObject({
      detectedType: 'application/x-cfb',
      macro: true,
    });
    expect(at(await inBase64('minutes.docm'), '2')).toMatchObject({
      extension: 'docm',
      macro: true,
    });
    expect(at(await inBase64('report.pdf'), '2')).toMatchObject({
      detectedType: 'application/pdf',
      executable: false,
    });
  });

  it('broken base64 in a large part is reported once, in the words used for a small one', async () => {
    const file = files['report.pdf']!;
    const body = base64(file);
    const broken = Buffer.concat([body.subarray(0, 1000), Buffer.from('*~'), body.subarray(1000)]);
    const mail = message('report.pdf', 'base64', broken);
    const inspection = await inspectMessage(mail);
    expect(inspection.problems).toEqual([
      {
        code: 'bad-encoding',
        message: '2 characters outside the base64 alphabet were skipped',
        path: '2',
      },
    ]);
    expect(at(inspection, '2')).toMatchObject({ size: file.length, sha256: sha256(file) });
  });
});
