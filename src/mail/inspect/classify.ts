// What a file is, read from its bytes (file-type) rather than its name, and what that means for
// the attachment rules (SYS-7, SYS-8): executable, script or disk image, macro-enabled Office
// file. The name counts too, so that renaming can only add flags, never remove them.

import { fileTypeFromBuffer, fileTypeFromTokenizer } from 'file-type';
import { extensionOf } from '../../policy/decisions/web.ts';
import { HeadTokenizer } from './head-tokenizer.ts';

/** Types that run as programs by their bytes, whatever the pack's lists say. */
const EXECUTABLE_TYPES = new Set([
  'exe',
  'elf',
  'macho',
  'dex',
  'apk',
  'jar',
  'class',
  'wasm',
  'deb',
  'rpm',
  'xpi',
  'crx',
]);
/** Disk images mount as drives and carry programs past attachment filters. */
const DISK_IMAGES = new Set(['iso', 'img', 'vhd', 'vhdx']);
const MACRO_EXTENSIONS = new Set([
  'docm',
  'dotm',
  'xlsm',
  'xltm',
  'xlam',
  'pptm',
  'potm',
  'ppsm',
  'ppam',
  'sldm',
]);
/** Zip-based formats whose entries are the format's own parts, not files the sender attached. */
export const ZIP_DOCUMENTS = new Set([
  'docx',
  'docm',
  'dotx',
  'dotm',
  'xlsx',
  'xlsm',
  'xltx',
  'xltm',
  'pptx',
  'pptm',
  'potx',
  'potm',
  'ppsx',
  'ppsm',
  'vsdx',
  '3mf',
  'odt',
  'ott',
  'ods',
  'ots',
  'odp',
  'otp',
  'odg',
  'otg',
  'epub',
]);

// Compound File directory entries name their streams in UTF-16LE.
const VBA_STREAM = Buffer.from('_VBA_PROJECT', 'utf16le');
const ENCRYPTED_PACKAGE = Buffer.from('EncryptedPackage', 'utf16le');

export interface DetectedType {
  readonly ext: string;
  readonly mime: string;
}

/** file-type's reading of the bytes, or null when they say nothing (or file-type fails). */
export async function detectType(bytes: Uint8Array): Promise<DetectedType | null> {
  if (bytes.length === 0) return null;
  try {
    return (await fileTypeFromBuffer(bytes)) ?? null;
  } catch {
    return null;
  }
}

/**
 * file-type's reading of a file from its first bytes and its size: what detectType would answer
 * for the whole file, or `undefined` when file-type wanted bytes beyond `head` to answer. `head`
 * must be shorter than the file.
 */
export async function detectTypeFromHead(
  head: Uint8Array,
  size: number,
): Promise<DetectedType | null | undefined> {
  const tokenizer = new HeadTokenizer(head, size);
  let detected: DetectedType | null;
  try {
    detected = (await fileTypeFromTokenizer(tokenizer)) ?? null;
  } catch {
    detected = null;
  }
  return tokenizer.wantedMore ? undefined : detected;
}

export interface Lists {
  readonly executables: ReadonlySet<string>;
  readonly scripts: ReadonlySet<string>;
}

export interface FileFacts {
  readonly detectedType: string | null;
  readonly extension: string | null;
  readonly executable: boolean;
  readonly script: boolean;
  readonly macro: boolean;
  /** Encrypted by its bytes (a password-protected Office file). */
  readonly encrypted: boolean;
}

/** The flags for a file from its detected type, its name and its bytes. */
export function classify(
  bytes: Uint8Array | null,
  detected: DetectedType | null,
  name: string | null,
  lists: Lists,
): FileFacts {
  const byName = name === null ? null : extensionOf(name);
  const byBytes = detected?.ext ?? null;
  const either = (test: (ext: string) => boolean) =>
    (byName !== null && test(byName)) || (byBytes !== null && test(byBytes));
  const compound = byBytes === 'cfb' && bytes !== null;
  const buf = compound ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null;
  return {
    detectedType: detected?.mime ?? null,
    extension: byBytes ?? byName,
    executable:
      (byBytes !== null && EXECUTABLE_TYPES.has(byBytes)) ||
      either((e) => lists.executables.has(e)),
    script: either((e) => lists.scripts.has(e) || DISK_IMAGES.has(e)),
    macro:
      either((e) => MACRO_EXTENSIONS.has(e)) ||
      (name !== null && /(^|[/\\])vbaproject\.bin$/i.test(name)) ||
      buf?.includes(VBA_STREAM) === true,
    encrypted: buf?.includes(ENCRYPTED_PACKAGE) === true,
  };
}

/** Whether the walk opens a file as an archive of attached files. */
export function isZipArchive(detected: DetectedType | null): boolean {
  return detected?.ext === 'zip';
}

/** Whether the file is a zip-based document whose entry names are checked for macros. */
export function isZipDocument(detected: DetectedType | null): boolean {
  return detected !== null && ZIP_DOCUMENTS.has(detected.ext);
}

/**
 * Whether the walk reads more of a file than its type and hash: an archive or a zip-based
 * document is opened, and a Compound File's directory is searched for a macro project or an
 * encrypted package (classify).
 */
export function needsWholeFile(detected: DetectedType | null): boolean {
  return isZipArchive(detected) || isZipDocument(detected) || detected?.ext === 'cfb';
}
