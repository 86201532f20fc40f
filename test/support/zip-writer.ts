// A minimal zip writer for tests (no zip writer is a dependency): stored or deflated entries,
// and the hostile shapes the MIME walk must survive: the encrypted flag, sizes that lie, and
// archives without their central directory. Test-only.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  readonly name: string;
  readonly data: Uint8Array;
  /** Default 'deflate'. */
  readonly method?: 'store' | 'deflate';
  /**
   * Sets the traditional-encryption flag. The data is written after a 12-byte stand-in for the
   * encryption header, not really encrypted: nothing should try to read it.
   */
  readonly encrypted?: boolean;
  /** The uncompressed size written into both headers instead of the real one (at most 0xfffffffe). */
  readonly declaredSize?: number;
  /** Sets the data-descriptor flag and writes zero sizes in the local header (as streaming writers do). */
  readonly sizesAfterData?: boolean;
}

export interface ZipOptions {
  /** Leave out the central directory and its end record, as a cut-short download would. */
  readonly withoutCentralDirectory?: boolean;
}

export function buildZip(entries: readonly ZipEntrySpec[], options: ZipOptions = {}): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const method = entry.method === 'store' ? 0 : 8;
    const stored = method === 0 ? Buffer.from(entry.data) : deflateRawSync(entry.data);
    const payload = entry.encrypted ? Buffer.concat([Buffer.alloc(12, 0xa5), stored]) : stored;
    const crc = crc32(entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    let flags = 0x0800;
    if (entry.encrypted) flags |= 0x0001;
    if (entry.sizesAfterData) flags |= 0x0008;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(entry.sizesAfterData ? 0 : crc, 14);
    local.writeUInt32LE(entry.sizesAfterData ? 0 : payload.length, 18);
    local.writeUInt32LE(entry.sizesAfterData ? 0 : size, 22);
    local.writeUInt16LE(name.length, 26);
    const parts = [local, name, payload];
    if (entry.sizesAfterData) {
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc, 4);
      descriptor.writeUInt32LE(payload.length, 8);
      descriptor.writeUInt32LE(size, 12);
      parts.push(descriptor);
    }
    const record = Buffer.concat(parts);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(payload.length, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);

    locals.push(record);
    offset += record.length;
  }
  if (options.withoutCentralDirectory) return Buffer.concat(locals);
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
