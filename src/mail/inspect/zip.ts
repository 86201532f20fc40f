// Zip archives read with yauzl from the bytes already in memory: entries one at a time, each
// inflated as a stream that stops the moment it passes its budget, so a zip bomb costs at most
// the budget and never its declared or real expanded size. When the central directory cannot be
// read (a truncated or damaged archive), the local file headers are walked instead, so that
// what is there can still be looked at. Errors become answers; nothing here throws.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';

export interface EntryRead {
  /** The bytes read: all of them when `complete`, else as many as were read. */
  readonly bytes: Buffer;
  readonly complete: boolean;
  /** Hex SHA-256 of the entry when complete, else null. */
  readonly sha256: string | null;
  /** Bytes inflated, whether or not they were kept. */
  readonly expanded: number;
  /** Stopped because the entry expands past the budget it was given. */
  readonly overBudget: boolean;
  /** Stopped because the entry expands past its own declared size. */
  readonly overDeclared: boolean;
  /** Why reading failed otherwise, or null. */
  readonly error: string | null;
}

export interface ZipEntry {
  /** The name as stored, '/' separated. */
  readonly name: string;
  /** Uncompressed size from the archive's records, or null when they do not give one. */
  readonly declaredSize: number | null;
  readonly encrypted: boolean;
  readonly directory: boolean;
  /** Why the data cannot be read (an unsupported compression method), or null. */
  readonly unsupported: string | null;
  /** Reads the entry, stopping once more than `budget` bytes come out. */
  read(budget: number): Promise<EntryRead>;
}

export interface ZipListing {
  readonly entries: AsyncIterable<ZipEntry>;
  /** What went wrong with the archive as a whole, once iteration has ended; null if nothing. */
  problem(): string | null;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function entryName(raw: Buffer, flags: number): string {
  if (flags & 0x800) return raw.toString('utf8');
  try {
    return utf8Strict.decode(raw);
  } catch {
    return raw.toString('latin1');
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type Outcome = Omit<EntryRead, 'bytes' | 'expanded'>;

const stopped = (
  why: 'overBudget' | 'overDeclared' | 'error',
  error: string | null = null,
): Outcome => ({
  complete: false,
  sha256: null,
  overBudget: why === 'overBudget',
  overDeclared: why === 'overDeclared',
  error,
});

/**
 * Reads a stream of entry data, hashing as it goes, and stops it once it passes `budget` or its
 * declared size. Resolves exactly once, whatever the stream does.
 */
function readLimited(
  stream: Readable,
  declared: number | null,
  budget: number,
  destroy: () => void,
): Promise<EntryRead> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let seen = 0;
    // One chunk holding the whole entry is kept as it is; otherwise chunks go into one buffer of
    // the declared size, or, when no size is known, into a list joined at the end.
    let whole: Buffer | null = null;
    let target: Buffer | null = null;
    const chunks: Buffer[] = [];
    let settled = false;

    const kept = (): Buffer => {
      if (whole !== null) return whole;
      if (target !== null) return target.subarray(0, seen);
      return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, seen);
    };
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, bytes: kept(), expanded: seen });
    };
    const stop = (outcome: Outcome) => {
      finish(outcome);
      try {
        destroy();
      } catch {
        // already closed
      }
    };

    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (seen + chunk.length > budget) return stop(stopped('overBudget'));
      if (declared !== null && seen + chunk.length > declared) return stop(stopped('overDeclared'));
      hash.update(chunk);
      if (declared === null) chunks.push(chunk);
      else if (seen === 0 && chunk.length === declared) whole = chunk;
      else {
        target ??= Buffer.allocUnsafe(Math.min(declared, budget));
        chunk.copy(target, seen);
      }
      seen += chunk.length;
    });
    stream.on('end', () => {
      if (declared !== null && seen < declared) {
        finish(stopped('error', `the entry ends after ${seen} of its ${declared} bytes`));
      } else {
        finish({
          complete: true,
          sha256: hash.digest('hex'),
          overBudget: false,
          overDeclared: false,
          error: null,
        });
      }
    });
    stream.on('error', (err: unknown) => {
      // yauzl's own size check: the entry inflates past the size its headers declare.
      const text = message(err);
      finish(text.startsWith('too many bytes') ? stopped('overDeclared') : stopped('error', text));
    });
    stream.on('close', () => finish(stopped('error', 'the entry stream closed early')));
  });
}

function failedRead(error: string): EntryRead {
  return {
    bytes: Buffer.alloc(0),
    complete: false,
    sha256: null,
    expanded: 0,
    overBudget: false,
    overDeclared: false,
    error,
  };
}

function methodProblem(method: number): string | null {
  return method === 0 || method === 8 ? null : `compression method ${method} is not supported`;
}

// --- through the central directory (yauzl) ----------------------------------------------------

function open(bytes: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    try {
      yauzl.fromBuffer(
        bytes,
        { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false },
        (err, zip) => (err ? reject(err) : resolve(zip)),
      );
    } catch (err) {
      reject(err);
    }
  });
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    try {
      zip.readEntry();
    } catch (err) {
      cleanup();
      reject(err);
    }
  });
}

function readYauzlEntry(
  zip: yauzl.ZipFile,
  bytes: Buffer,
  entry: yauzl.Entry,
  budget: number,
): Promise<EntryRead> {
  return new Promise((resolve) => {
    try {
      if (entry.compressionMethod === 0 && !entry.isEncrypted()) {
        // A stored entry is its own bytes: take a view of the archive instead of a copy.
        zip.readLocalFileHeader(entry, { minimal: true }, (err, header) => {
          if (err || !header) {
            resolve(failedRead(err ? message(err) : 'the entry could not be opened'));
            return;
          }
          const start = header.fileDataStart;
          resolve(readStored(bytes.subarray(start, start + entry.compressedSize), false, budget));
        });
        return;
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) {
          resolve(failedRead(err ? message(err) : 'the entry could not be opened'));
          return;
        }
        stream.on('error', () => {});
        resolve(
          readLimited(stream, entry.uncompressedSize, budget, () => {
            (stream as Readable & { destroy(): void }).destroy();
          }),
        );
      });
    } catch (err) {
      resolve(failedRead(message(err)));
    }
  });
}

function fromCentralDirectory(zip: yauzl.ZipFile, bytes: Buffer): ZipListing {
  let problem: string | null = null;
  zip.on('error', () => {});
  async function* entries(): AsyncGenerator<ZipEntry> {
    try {
      for (;;) {
        let entry: yauzl.Entry | null;
        try {
          entry = await nextEntry(zip);
        } catch (err) {
          problem = `the archive's directory is damaged: ${message(err)}`;
          return;
        }
        if (entry === null) return;
        const raw = entry.fileNameRaw;
        const name = entryName(raw, entry.generalPurposeBitFlag);
        const current = entry;
        yield {
          name,
          declaredSize: entry.uncompressedSize,
          encrypted: entry.isEncrypted(),
          directory: name.endsWith('/'),
          unsupported: methodProblem(entry.compressionMethod),
          read: (budget) => readYauzlEntry(zip, bytes, current, budget),
        };
      }
    } finally {
      try {
        zip.close();
      } catch {
        // nothing to release for a buffer
      }
    }
  }
  return { entries: entries(), problem: () => problem };
}

// --- through the local file headers (a damaged archive) -----------------------------------------

const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const NEXT_RECORD = [
  LOCAL_HEADER,
  Buffer.from([0x50, 0x4b, 0x01, 0x02]),
  Buffer.from([0x50, 0x4b, 0x07, 0x08]),
];

/**
 * Finds the next zip record after `from`. Remembers where each signature was last found, or that
 * it was not found at all, so that walking many entries never scans the archive more than once
 * per signature.
 */
function recordFinder(bytes: Buffer): (from: number) => number {
  const last = NEXT_RECORD.map(() => -2);
  return (from) => {
    let best = -1;
    NEXT_RECORD.forEach((sig, i) => {
      let at = last[i]!;
      if (at === -2 || (at !== -1 && at < from)) {
        at = bytes.indexOf(sig, from);
        last[i] = at;
      }
      if (at >= 0 && (best < 0 || at < best)) best = at;
    });
    return best;
  };
}

function readStored(data: Buffer, truncated: boolean, budget: number): EntryRead {
  if (data.length > budget) {
    return {
      bytes: data.subarray(0, budget),
      complete: false,
      sha256: null,
      expanded: data.length,
      overBudget: true,
      overDeclared: false,
      error: null,
    };
  }
  return {
    bytes: data,
    complete: !truncated,
    sha256: truncated ? null : createHash('sha256').update(data).digest('hex'),
    expanded: data.length,
    overBudget: false,
    overDeclared: false,
    error: truncated ? 'the entry is cut short' : null,
  };
}

function readDeflated(data: Buffer, declared: number | null, budget: number): Promise<EntryRead> {
  const inflate = createInflateRaw();
  inflate.on('error', () => {});
  const result = readLimited(inflate, declared, budget, () => inflate.destroy());
  inflate.end(data);
  return result;
}

function fromLocalHeaders(bytes: Buffer, reason: string): ZipListing {
  async function* entries(): AsyncGenerator<ZipEntry> {
    const nextRecord = recordFinder(bytes);
    let pos = bytes.indexOf(LOCAL_HEADER);
    while (pos >= 0 && pos + 30 <= bytes.length) {
      const flags = bytes.readUInt16LE(pos + 6);
      const method = bytes.readUInt16LE(pos + 8);
      const compressed = bytes.readUInt32LE(pos + 18);
      const size = bytes.readUInt32LE(pos + 22);
      const nameLength = bytes.readUInt16LE(pos + 26);
      const extraLength = bytes.readUInt16LE(pos + 28);
      const dataStart = pos + 30 + nameLength + extraLength;
      if (dataStart > bytes.length) return;
      const name = entryName(bytes.subarray(pos + 30, pos + 30 + nameLength), flags);
      const sizesLater = (flags & 0x08) !== 0 && compressed === 0;
      let dataEnd: number;
      if (sizesLater) {
        const next = nextRecord(dataStart);
        dataEnd = next < 0 ? bytes.length : next;
      } else dataEnd = Math.min(bytes.length, dataStart + compressed);
      const truncated = !sizesLater && dataStart + compressed > bytes.length;
      const data = bytes.subarray(dataStart, dataEnd);
      const declared = sizesLater ? null : size;
      yield {
        name,
        declaredSize: declared,
        encrypted: (flags & 0x01) !== 0,
        directory: name.endsWith('/'),
        unsupported: methodProblem(method),
        read: async (budget) =>
          method === 0 ? readStored(data, truncated, budget) : readDeflated(data, declared, budget),
      };
      pos = bytes.indexOf(LOCAL_HEADER, Math.max(dataEnd, pos + 4));
    }
  }
  return { entries: entries(), problem: () => reason };
}

/** Opens an archive: through its central directory, else through its local headers. */
export async function openZip(bytes: Buffer): Promise<ZipListing> {
  try {
    return fromCentralDirectory(await open(bytes), bytes);
  } catch (err) {
    return fromLocalHeaders(
      bytes,
      `the archive's central directory cannot be read (${message(err)}); entries were read from their local headers`,
    );
  }
}
