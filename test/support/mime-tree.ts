// Random MIME trees for property tests of the MIME walk: nested multiparts, forwarded messages
// (7-bit or base64), zip archives with nested zips, random bytes as attachments. Each tree
// renders to a raw message and says what the walk must find in it. Test-only.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { buildZip } from './zip-writer.ts';

export type ZipNode =
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly bytes: Uint8Array;
      readonly store: boolean;
    }
  | { readonly kind: 'zip'; readonly name: string; readonly entries: readonly ZipNode[] };

export type MimeTree =
  | {
      readonly kind: 'attachment';
      readonly name: string;
      readonly bytes: Uint8Array;
      readonly encoding: 'base64' | 'quoted-printable';
    }
  | { readonly kind: 'text'; readonly text: string; readonly html: boolean }
  | {
      readonly kind: 'multipart';
      readonly subtype: 'mixed' | 'alternative' | 'related';
      readonly children: readonly MimeTree[];
    }
  | { readonly kind: 'message'; readonly body: MimeTree; readonly encoding: '7bit' | 'base64' }
  | { readonly kind: 'zip'; readonly name: string; readonly entries: readonly ZipNode[] };

/** What the walk must report for one attachment. */
export interface ExpectedAttachment {
  readonly path: string;
  readonly depth: number;
  readonly sha256: string;
  readonly name: string | null;
}

export interface Expectation {
  readonly attachments: readonly ExpectedAttachment[];
  /** MIME entities plus archive entries: what the walk counts against maxParts. */
  readonly parts: number;
  /** The parts the walk reaches when it opens nothing deeper than `maxDepth`. */
  partsWithin(maxDepth: number): number;
  /** The deepest attachment depth. */
  readonly depth: number;
  /** The deepest part: what the depth limit has to allow for the walk to open everything. */
  readonly deepestPart: number;
}

// --- generation --------------------------------------------------------------------------------

const fileName = (ext: string) => fc.stringMatching(/^[a-z0-9]{1,12}$/).map((n) => `${n}.${ext}`);
/** Entries of one archive, each name once, so that every entry has its own path. */
const entryList = (node: fc.Arbitrary<ZipNode>) =>
  fc.uniqueArray(node, { minLength: 1, maxLength: 3, selector: (e) => e.name });
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 });
const words = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9]{1,8}$/), { minLength: 1, maxLength: 12 })
  .map((w) => w.join(' '));

const zipNode: fc.Arbitrary<ZipNode> = fc.letrec<{ node: ZipNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('file' as const),
      name: fileName('bin'),
      bytes,
      store: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('zip' as const),
      name: fileName('zip'),
      entries: entryList(tie('node')),
    }),
  ),
})).node;

export const mimeTree: fc.Arbitrary<MimeTree> = fc.letrec<{ tree: MimeTree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('attachment' as const),
      name: fileName('bin'),
      bytes,
      encoding: fc.constantFrom('base64' as const, 'quoted-printable' as const),
    }),
    fc.record({ kind: fc.constant('text' as const), text: words, html: fc.boolean() }),
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('mixed' as const, 'alternative' as const, 'related' as const),
      children: fc.array(tie('tree'), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant('message' as const),
      body: tie('tree'),
      encoding: fc.constantFrom('7bit' as const, 'base64' as const),
    }),
    fc.record({
      kind: fc.constant('zip' as const),
      name: fileName('zip'),
      entries: entryList(zipNode),
    }),
  ),
})).tree;

// --- rendering ---------------------------------------------------------------------------------

function zipBytes(entries: readonly ZipNode[]): Buffer {
  return buildZip(
    entries.map((e) =>
      e.kind === 'file'
        ? {
            name: e.name,
            data: e.bytes,
            method: e.store ? ('store' as const) : ('deflate' as const),
          }
        : { name: e.name, data: zipBytes(e.entries) },
    ),
  );
}

function base64Lines(data: Uint8Array): string {
  const text = Buffer.from(data).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join('\r\n');
}

function quotedPrintable(data: Uint8Array): string {
  let out = '';
  let line = 0;
  for (const b of data) {
    const printable = b >= 33 && b <= 126 && b !== 61;
    const piece = printable
      ? String.fromCharCode(b)
      : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line + piece.length > 75) {
      out += '=\r\n';
      line = 0;
    }
    out += piece;
    line += piece.length;
  }
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const childPath = (prefix: string, n: number) => (prefix === '' ? `${n}` : `${prefix}.${n}`);

/**
 * Renders a tree and notes, as it goes, what the walk must report: parts numbered as IMAP does,
 * archive entries after a '/'. Boundaries contain "=_", which neither base64 nor
 * quoted-printable output can, so no content line is ever taken for a delimiter.
 */
class Renderer {
  #boundary = 0;
  readonly found: ExpectedAttachment[] = [];
  /** The depth of each part counted: where its container sits. */
  readonly partDepths: number[] = [];

  #add(a: ExpectedAttachment): void {
    this.found.push(a);
  }

  message(body: MimeTree, prefix: string, depth: number): Buffer {
    this.partDepths.push(depth);
    const head = Buffer.from(
      'From: sender@example.org\r\nTo: office@example.org\r\nSubject: tree\r\nMIME-Version: 1.0\r\n',
    );
    const entity =
      body.kind === 'multipart'
        ? this.multipart(body, prefix, depth)
        : this.leaf(body, childPath(prefix, 1), depth);
    return Buffer.concat([head, entity]);
  }

  multipart(node: Extract<MimeTree, { kind: 'multipart' }>, prefix: string, depth: number): Buffer {
    const boundary = `=_b${this.#boundary++}_${Math.random().toString(36).slice(2)}`;
    const pieces: Buffer[] = [
      Buffer.from(`Content-Type: multipart/${node.subtype}; boundary="${boundary}"\r\n\r\n`),
    ];
    node.children.forEach((child, i) => {
      this.partDepths.push(depth);
      const path = childPath(prefix, i + 1);
      const entity =
        child.kind === 'multipart'
          ? this.multipart(child, path, depth)
          : this.leaf(child, path, depth);
      pieces.push(Buffer.from(`--${boundary}\r\n`), entity, Buffer.from('\r\n'));
    });
    pieces.push(Buffer.from(`--${boundary}--\r\n`));
    return Buffer.concat(pieces);
  }

  /** Header fields (the last ending the block) and body of one non-multipart entity. */
  leaf(node: Exclude<MimeTree, { kind: 'multipart' }>, path: string, depth: number): Buffer {
    switch (node.kind) {
      case 'attachment':
        this.#add({ path, depth, sha256: sha(node.bytes), name: node.name });
        return Buffer.from(
          `Content-Type: application/octet-stream; name="${node.name}"\r\nContent-Disposition: attachment; filename="${node.name}"\r\nContent-Transfer-Encoding: ${node.encoding}\r\n\r\n${
            node.encoding === 'base64' ? base64Lines(node.bytes) : quotedPrintable(node.bytes)
          }`,
        );
      case 'text':
        return Buffer.from(
          node.html
            ? `Content-Type: text/html; charset=utf-8\r\n\r\n<p>${node.text}</p>`
            : `Content-Type: text/plain; charset=utf-8\r\n\r\n${node.text}`,
        );
      case 'message': {
        const inner = this.message(node.body, path, depth + 1);
        this.#add({ path, depth, sha256: sha(inner), name: null });
        return Buffer.concat([
          Buffer.from(
            `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: ${node.encoding}\r\n\r\n`,
          ),
          node.encoding === 'base64' ? Buffer.from(base64Lines(inner)) : inner,
        ]);
      }
      case 'zip': {
        const zip = zipBytes(node.entries);
        this.#add({ path, depth, sha256: sha(zip), name: node.name });
        this.#zipEntries(node.entries, path, depth + 1);
        return Buffer.from(
          `Content-Type: application/zip; name="${node.name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(zip)}`,
        );
      }
    }
  }

  #zipEntries(entries: readonly ZipNode[], path: string, depth: number): void {
    for (const e of entries) {
      this.partDepths.push(depth);
      const at = `${path}/${e.name}`;
      if (e.kind === 'file') this.#add({ path: at, depth, sha256: sha(e.bytes), name: e.name });
      else {
        this.#add({ path: at, depth, sha256: sha(zipBytes(e.entries)), name: e.name });
        this.#zipEntries(e.entries, at, depth + 1);
      }
    }
  }
}

/** The raw message for a tree and what the walk must find in it. */
export function renderTree(tree: MimeTree): { raw: Buffer; expected: Expectation } {
  const renderer = new Renderer();
  const raw = renderer.message(tree, '', 0);
  const depth = Math.max(0, ...renderer.found.map((a) => a.depth));
  const partDepths = renderer.partDepths;
  return {
    raw,
    expected: {
      attachments: renderer.found,
      parts: partDepths.length,
      partsWithin: (maxDepth) => partDepths.filter((d) => d <= maxDepth).length,
      depth,
      deepestPart: Math.max(0, ...partDepths),
    },
  };
}
