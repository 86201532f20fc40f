// The first bytes of a large file, offered to file-type as the whole file: the same answers as
// file-type's own buffer tokenizer for every read that stays within them, the file's true size,
// and a note of any read that goes past them. file-type reads most files' first few KB only, but
// some formats it follows further (an ID3 tag's length, PNG chunks, zip entries); an answer that
// needed bytes beyond the head is not taken, and the caller reads the whole file instead.

import type { fileTypeFromTokenizer } from 'file-type';

type Tokenizer = Parameters<typeof fileTypeFromTokenizer>[0];

interface Token<T> {
  readonly len: number;
  get(array: Uint8Array, offset: number): T;
}

interface ReadOptions {
  length?: number;
  position?: number;
  mayBeLess?: boolean;
}

/** Thrown to stop file-type at a read past the head; its answer is not used. */
class BeyondHead extends Error {
  constructor() {
    super('the read goes past the bytes at hand');
  }
}

function checkLength(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer`);
  }
}

export class HeadTokenizer implements Tokenizer {
  readonly fileInfo: { size: number };
  position = 0;
  /** A read went past the head: whatever file-type answered, it did not see what it asked for. */
  wantedMore = false;

  constructor(
    private readonly head: Uint8Array,
    size: number,
  ) {
    this.fileInfo = { size };
  }

  async peekBuffer(buffer: Uint8Array, options?: ReadOptions): Promise<number> {
    const length = options?.length ?? buffer.length;
    const position = options?.position ?? this.position;
    checkLength(length, 'length');
    checkLength(position, 'position');
    if (length > buffer.length) {
      throw new RangeError('length must not exceed the target buffer length');
    }
    // A read that would come up short at the end of the file goes past the head too, since the
    // head is shorter than the file: file-type's answer to the short read is not taken either.
    this.#within(position, length);
    buffer.set(this.head.subarray(position, position + length));
    return length;
  }

  async readBuffer(buffer: Uint8Array, options?: ReadOptions): Promise<number> {
    const position = options?.position ?? this.position;
    const read = await this.peekBuffer(buffer, { ...options, position });
    this.position = position + read;
    return read;
  }

  async peekToken<T>(token: Token<T>, position: number | null = this.position): Promise<T> {
    const at = position ?? this.position;
    const bytes = new Uint8Array(token.len);
    await this.peekBuffer(bytes, { position: at });
    return token.get(bytes, 0);
  }

  async readToken<T>(token: Token<T>, position: number = this.position): Promise<T> {
    const bytes = new Uint8Array(token.len);
    await this.readBuffer(bytes, { position });
    return token.get(bytes, 0);
  }

  peekNumber(token: Token<number>): Promise<number> {
    return this.peekToken(token);
  }

  readNumber(token: Token<number>): Promise<number> {
    return this.readToken(token);
  }

  /** Moves on without reading, as far as the end of the file (not of the head): no bytes needed. */
  async ignore(length: number): Promise<number> {
    if (length < 0) throw new RangeError('ignore length must be ≥ 0 bytes');
    checkLength(length, 'ignore length');
    checkLength(this.position + length, 'end position');
    const skipped = Math.min(length, Math.max(0, this.fileInfo.size - this.position));
    this.position += skipped;
    return skipped;
  }

  setPosition(position: number): void {
    checkLength(position, 'position');
    this.position = position;
  }

  supportsRandomAccess(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  async abort(): Promise<void> {}

  #within(position: number, length: number): void {
    if (position + length > this.head.length) {
      this.wantedMore = true;
      throw new BeyondHead();
    }
  }
}
