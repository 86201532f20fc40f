// The walk over one message: every MIME part, nested messages and zip archives, depth first,
// within the limits. Parts are numbered as IMAP does ('1', '2.1'); archive entries follow their
// archive's path after a '/'. Limits and damage become problems, never exceptions.
//
// Why not mailparser's MailParser or simpleParser for the tree: both flatten it (an attached
// message/rfc822 is handed over as one opaque attachment unless it is inline and 7/8-bit, so a
// zip inside a forwarded message is never reached), simpleParser buffers every attachment at
// once, and the splitter underneath stops the whole parse with an error at its child-node limit
// instead of reporting what it read. The raw message is already one Buffer here, so splitting it
// at boundaries into views costs no copies; each leaf is decoded on its own, looked at, and
// dropped before the next, which keeps memory near the message size plus one decoded part. A large
// encoded part that is only typed and hashed (a video, a PDF) is not even decoded whole: it is
// hashed as it is decoded in pieces, and typed from its first bytes (encodedFile).
// mailparser still reads the address headers (groups, encoded names), see inspect.ts.

import { createHash } from 'node:crypto';
import { extensionOf } from '../../policy/decisions/web.ts';
import type { AttachmentInfo, InspectionProblem } from '../types.ts';
import {
  classify,
  detectType,
  detectTypeFromHead,
  type FileFacts,
  isZipArchive,
  isZipDocument,
  needsWholeFile,
} from './classify.ts';
import { type EntityInfo, entityInfo, type HeaderBlock, readHeaderBlock } from './headers.ts';
import { splitMultipart } from './multipart.ts';
import type { InspectSettings } from './options.ts';
import { partText, TextCollector } from './text.ts';
import { decodeTransfer, digestTransfer, isPieceEncoding, type PieceEncoding } from './transfer.ts';
import { openZip, type ZipEntry } from './zip.ts';

type ProblemCode = InspectionProblem['code'];

/** Problems kept per message; a hostile message could otherwise produce one per part. */
const MAX_PROBLEMS = 100;
/** Entry names looked at in a zip-based document (docx, xlsm) for a macro project. */
const DOCUMENT_ENTRY_SCAN = 5000;
/**
 * Encoded parts larger than this are hashed and typed as they are decoded, in pieces, unless they
 * turn out to need all their bytes; smaller ones are decoded whole, which costs little.
 */
const DECODE_IN_PIECES_ABOVE = 1024 * 1024;
/**
 * The decoded bytes kept of such a part for file-type: its usual 4100 and room for the formats it
 * follows a little further (an MP3's ID3 tag with its cover picture, PNG chunks before the image).
 */
const HEAD_BYTES = 256 * 1024;
/** Zip and Compound File signatures: a part that starts so is opened whole anyway. */
const CONTAINER_SIGNATURES = [
  Buffer.from([0x50, 0x4b, 0x03, 0x04]),
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
];

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
const HEADER_LINE = /^[!-9;-~]+[ \t]*:/;
const VBA_PROJECT = /(^|\/)vbaproject\.bin$/i;

/** '100 MB', '4 GB', '512 bytes': sizes as a School Business Manager reads them. */
function bytesText(n: number): string {
  if (n >= 1024 ** 3) return `${Math.round((n / 1024 ** 3) * 10) / 10} GB`;
  if (n >= 1024 ** 2) return `${Math.round((n / 1024 ** 2) * 10) / 10} MB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KB`;
  return `${n} bytes`;
}

function childPath(prefix: string, n: number): string {
  return prefix === '' ? String(n) : `${prefix}.${n}`;
}

function extensionIs(name: string | null, ext: string): boolean {
  return name !== null && extensionOf(name) === ext;
}

function looksLikeMessage(bytes: Buffer): boolean {
  return HEADER_LINE.test(bytes.toString('latin1', 0, Math.min(bytes.length, 200)));
}

/** A part read neither as text nor as a message: its decoded bytes are typed and hashed. */
function isFilePart(info: EntityInfo): boolean {
  return !MESSAGE_TYPES.has(info.type) && !extensionIs(info.fileName, 'eml') && !isBodyText(info);
}

function isBodyText(info: EntityInfo): boolean {
  return (
    (info.type === 'text/plain' || info.type === 'text/html') &&
    info.disposition !== 'attachment' &&
    info.fileName === null
  );
}

interface FileMeta {
  readonly path: string;
  readonly name: string | null;
  readonly declaredType: string | null;
  readonly depth: number;
}

function attachmentInfo(
  meta: FileMeta,
  facts: FileFacts,
  size: number,
  sha256: string,
  inside: { encrypted: boolean; macro: boolean } = { encrypted: false, macro: false },
): AttachmentInfo {
  return {
    path: meta.path,
    name: meta.name,
    declaredType: meta.declaredType,
    detectedType: facts.detectedType,
    extension: facts.extension,
    size,
    sha256,
    executable: facts.executable,
    script: facts.script,
    macro: facts.macro || inside.macro,
    encrypted: facts.encrypted || inside.encrypted,
    depth: meta.depth,
  };
}

interface FileRead {
  /** Known already (an archive entry hashed while it streamed); '' when the bytes are incomplete. */
  readonly sha256?: string;
  /** The size to report when the bytes are incomplete. */
  readonly size?: number;
  /** A nested message: recorded, but its content is walked as a message, not as an archive. */
  readonly message?: boolean;
}

export class Walk {
  readonly attachments: AttachmentInfo[] = [];
  readonly problems: InspectionProblem[] = [];
  readonly text: TextCollector;
  /** MIME entities and archive entries taken so far. */
  parts = 0;
  /** Bytes inflated out of archives so far. */
  expanded = 0;
  readonly #seen = new Set<string>();

  constructor(readonly settings: InspectSettings) {
    this.text = new TextCollector(settings.maxTextChars);
  }

  problem(code: ProblemCode, message: string, path?: string): void {
    const key = `${code}\u0000${path ?? ''}`;
    if (this.#seen.has(key) || this.problems.length >= MAX_PROBLEMS) return;
    this.#seen.add(key);
    this.problems.push(
      path === undefined || path === '' ? { code, message } : { code, message, path },
    );
  }

  /** Counts one more part, or records the limit and answers false. */
  takePart(): boolean {
    if (this.parts >= this.settings.maxParts) {
      this.partsExhausted();
      return false;
    }
    this.parts++;
    return true;
  }

  partsExhausted(): void {
    this.problem(
      'too-many-parts',
      `the message has more than ${this.settings.maxParts} parts and archive entries; the rest were not looked at`,
    );
  }

  /** A whole message, the top level or a nested one; its parts are numbered under `prefix`. */
  async message(
    buf: Buffer,
    head: HeaderBlock | null,
    prefix: string,
    depth: number,
    nesting: number,
  ): Promise<void> {
    if (!this.takePart()) return;
    const block = head ?? readHeaderBlock(buf, true);
    if (block.problem !== null) this.problem('malformed-mime', block.problem, prefix);
    const info = entityInfo(block, 'text/plain');
    const body = buf.subarray(block.bodyStart);
    if (info.type.startsWith('multipart/')) {
      await this.multipart(body, info, prefix, depth, nesting, true);
    } else {
      await this.leaf(body, info, childPath(prefix, 1), depth, nesting, true);
    }
  }

  /** A body part of a multipart, already counted. */
  async part(
    buf: Buffer,
    block: HeaderBlock,
    path: string,
    depth: number,
    nesting: number,
    defaultType: string,
    collectText: boolean,
  ): Promise<void> {
    if (block.problem !== null) this.problem('malformed-mime', block.problem, path);
    const info = entityInfo(block, defaultType);
    const body = buf.subarray(block.bodyStart);
    if (info.type.startsWith('multipart/')) {
      await this.multipart(body, info, path, depth, nesting, collectText);
    } else {
      await this.leaf(body, info, path, depth, nesting, collectText);
    }
  }

  async multipart(
    body: Buffer,
    info: EntityInfo,
    prefix: string,
    depth: number,
    nesting: number,
    collectText: boolean,
  ): Promise<void> {
    const self = prefix === '' ? '1' : prefix;
    if (nesting >= this.settings.maxNesting) {
      this.problem(
        'too-deep',
        `multipart containers are nested more than ${this.settings.maxNesting} deep; the inner ones were not looked at`,
        self,
      );
      return;
    }
    const boundary = info.params.get('boundary') ?? '';
    if (boundary === '') {
      this.problem(
        'malformed-mime',
        `a ${info.type} part has no boundary; its body was read as one file`,
        self,
      );
      await this.file(body, {
        path: self,
        name: info.fileName,
        declaredType: info.declaredType,
        depth,
      });
      return;
    }
    const split = splitMultipart(body, boundary, this.settings.maxParts - this.parts);
    if (!split.found) {
      this.problem(
        'malformed-mime',
        `the boundary of a ${info.type} part never appears; its body was read as one file`,
        self,
      );
      await this.file(body, {
        path: self,
        name: info.fileName,
        declaredType: info.declaredType,
        depth,
      });
      return;
    }
    if (!split.closed && !split.more) {
      this.problem(
        'malformed-mime',
        `the closing boundary of a ${info.type} part is missing`,
        self,
      );
    }
    const digest = info.type === 'multipart/digest';
    const defaultType = digest ? 'message/rfc822' : 'text/plain';
    const blocks = split.parts.map((p) => readHeaderBlock(p));
    // In multipart/alternative the last alternative is the one mail clients show (RFC 2046
    // 5.1.4), so its text is the text the recipient reads; the others would repeat it.
    let shown = -1;
    if (info.type === 'multipart/alternative') {
      for (const [i, block] of blocks.entries()) {
        const child = entityInfo(block, defaultType);
        if (isBodyText(child) || child.type.startsWith('multipart/')) shown = i;
      }
    }
    for (const [i, part] of split.parts.entries()) {
      const path = childPath(prefix, i + 1);
      if (!this.takePart()) return;
      const collect = collectText && (shown < 0 || shown === i);
      await this.part(part, blocks[i]!, path, depth, nesting + 1, defaultType, collect);
    }
    if (split.more) this.partsExhausted();
  }

  async leaf(
    body: Buffer,
    info: EntityInfo,
    path: string,
    depth: number,
    nesting: number,
    collectText: boolean,
  ): Promise<void> {
    const meta: FileMeta = { path, name: info.fileName, declaredType: info.declaredType, depth };
    const encoding = info.encoding;
    if (isPieceEncoding(encoding) && body.length > DECODE_IN_PIECES_ABOVE && isFilePart(info)) {
      await this.encodedFile(body, encoding, meta);
      return;
    }
    const decoded = decodeTransfer(body, encoding);
    if (decoded.problem !== null) this.problem('bad-encoding', decoded.problem, path);
    const bytes = decoded.bytes;
    const isMessage =
      MESSAGE_TYPES.has(info.type) ||
      (extensionIs(info.fileName, 'eml') && looksLikeMessage(bytes));
    if (isMessage) {
      await this.file(bytes, meta, { message: true });
      if (depth + 1 > this.settings.maxDepth) {
        this.problem(
          'too-deep',
          `a message nested deeper than ${this.settings.maxDepth} levels was not opened`,
          path,
        );
        return;
      }
      await this.message(bytes, null, path, depth + 1, nesting);
      return;
    }
    if (isBodyText(info)) {
      const remaining = this.text.remaining;
      if (collectText && remaining > 0) {
        const html = info.type === 'text/html';
        const cap = remaining * (html ? 16 : 4) + 1024;
        this.text.add(
          partText(bytes.subarray(0, cap), info.type, info.params.get('charset') ?? null),
        );
      }
      return;
    }
    await this.file(bytes, meta);
  }

  /** Records a file and, for an archive, what is inside it. */
  async file(bytes: Buffer, meta: FileMeta, read: FileRead = {}): Promise<void> {
    const detected = await detectType(bytes);
    const facts = classify(bytes, detected, meta.name, this.settings);
    const sha256 = read.sha256 ?? createHash('sha256').update(bytes).digest('hex');
    const size = read.size ?? bytes.length;
    const index = this.attachments.length;
    // Recorded before its entries so that the list reads parent first; completed after them.
    this.attachments.push(attachmentInfo(meta, facts, size, sha256));
    if (read.message) return;
    if (isZipArchive(detected)) {
      if (meta.depth + 1 > this.settings.maxDepth) {
        this.problem(
          'too-deep',
          `an archive nested deeper than ${this.settings.maxDepth} levels was not opened`,
          meta.path,
        );
        return;
      }
      const inside = await this.archive(bytes, meta.path, meta.depth + 1);
      this.attachments[index] = attachmentInfo(meta, facts, size, sha256, inside);
    } else if (isZipDocument(detected)) {
      const inside = await this.documentEntries(bytes);
      this.attachments[index] = attachmentInfo(meta, facts, size, sha256, inside);
    }
  }

  /**
   * A large base64 or quoted-printable part, recorded as file() would record it decoded but
   * without holding it decoded: one pass hashes it and keeps its first bytes, file-type reads
   * those knowing the whole size. When that is not enough (file-type wants more, or the file is
   * to be opened), the part is decoded whole after all and goes through file().
   */
  async encodedFile(body: Buffer, encoding: PieceEncoding, meta: FileMeta): Promise<void> {
    const start = decodeTransfer(body.subarray(0, 1024), encoding).bytes;
    if (CONTAINER_SIGNATURES.some((sig) => start.subarray(0, sig.length).equals(sig))) {
      await this.decodedFile(body, encoding, meta);
      return;
    }
    const digest = digestTransfer(body, encoding, HEAD_BYTES);
    if (digest.size <= HEAD_BYTES) {
      // All of it is in hand: nothing to save.
      if (digest.problem !== null) this.problem('bad-encoding', digest.problem, meta.path);
      await this.file(digest.head, meta);
      return;
    }
    const detected = await detectTypeFromHead(digest.head, digest.size);
    if (detected === undefined || needsWholeFile(detected)) {
      await this.decodedFile(body, encoding, meta);
      return;
    }
    if (digest.problem !== null) this.problem('bad-encoding', digest.problem, meta.path);
    // Without the bytes: classify reads them only for a Compound File, which needsWholeFile keeps.
    const facts = classify(null, detected, meta.name, this.settings);
    this.attachments.push(attachmentInfo(meta, facts, digest.size, digest.sha256));
  }

  async decodedFile(body: Buffer, encoding: PieceEncoding, meta: FileMeta): Promise<void> {
    const decoded = decodeTransfer(body, encoding);
    if (decoded.problem !== null) this.problem('bad-encoding', decoded.problem, meta.path);
    await this.file(decoded.bytes, meta);
  }

  /** Lists an archive's entries as attachments one level deeper, inflating within the budget. */
  async archive(
    bytes: Buffer,
    path: string,
    depth: number,
  ): Promise<{ encrypted: boolean; macro: boolean }> {
    let encrypted = false;
    let macro = false;
    const listing = await openZip(bytes);
    for await (const entry of listing.entries) {
      const entryPath = `${path}/${entry.name}`;
      if (!this.takePart()) break;
      if (entry.directory) continue;
      if (VBA_PROJECT.test(entry.name)) macro = true;
      if (entry.encrypted) {
        encrypted = true;
        this.unread(entry, entryPath, depth, true);
        continue;
      }
      if (entry.unsupported !== null) {
        this.problem('malformed-archive', entry.unsupported, entryPath);
        this.unread(entry, entryPath, depth, false);
        continue;
      }
      const budget = Math.max(0, this.settings.maxExpandedBytes - this.expanded);
      if (entry.declaredSize !== null && entry.declaredSize > budget) {
        this.problem(
          'too-large-expanded',
          `an archive entry would expand to ${bytesText(entry.declaredSize)}, more than the ${bytesText(budget)} left of the ${bytesText(this.settings.maxExpandedBytes)} limit; it was not expanded`,
          entryPath,
        );
        this.unread(entry, entryPath, depth, false);
        continue;
      }
      const got = await entry.read(budget);
      this.expanded += Math.min(got.expanded, budget);
      if (got.overBudget) {
        this.problem(
          'too-large-expanded',
          `an archive entry expands past the ${bytesText(this.settings.maxExpandedBytes)} limit for archives; expansion was stopped`,
          entryPath,
        );
      } else if (got.overDeclared) {
        this.problem(
          'too-large-expanded',
          'an archive entry expands past its own declared size; expansion was stopped',
          entryPath,
        );
      } else if (got.error !== null) {
        this.problem(
          'malformed-archive',
          `an archive entry cannot be read: ${got.error}`,
          entryPath,
        );
      }
      await this.file(
        got.bytes,
        { path: entryPath, name: entry.name, declaredType: null, depth },
        got.complete
          ? { sha256: got.sha256 ?? undefined }
          : { sha256: '', size: entry.declaredSize ?? got.bytes.length },
      );
    }
    const problem = listing.problem();
    if (problem !== null) this.problem('malformed-archive', problem, path);
    return { encrypted, macro };
  }

  /** An entry listed without its bytes (encrypted, unsupported or over the limit). */
  unread(entry: ZipEntry, path: string, depth: number, encrypted: boolean): void {
    const facts = classify(null, null, entry.name, this.settings);
    this.attachments.push({
      path,
      name: entry.name,
      declaredType: null,
      detectedType: null,
      extension: facts.extension,
      size: entry.declaredSize ?? 0,
      sha256: '',
      executable: facts.executable,
      script: facts.script,
      macro: facts.macro,
      encrypted,
      depth,
    });
  }

  /** The names inside a zip-based document: a macro project, encrypted entries. */
  async documentEntries(bytes: Buffer): Promise<{ encrypted: boolean; macro: boolean }> {
    let encrypted = false;
    let macro = false;
    let seen = 0;
    const listing = await openZip(bytes);
    for await (const entry of listing.entries) {
      if (++seen > DOCUMENT_ENTRY_SCAN) break;
      if (VBA_PROJECT.test(entry.name)) macro = true;
      if (entry.encrypted) encrypted = true;
    }
    return { encrypted, macro };
  }
}
