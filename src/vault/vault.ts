// Content kept at rest is encrypted: each item with its own random data key (AES-256-GCM), the
// data key wrapped by a master key that lives in a file outside the database (envelope
// encryption). A copy of the database alone therefore reveals no message content; the master key
// file is backed up separately, and rotating it re-wraps the data keys without touching content.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Sealed {
  /** Names the master key that wrapped the data key (the first 16 hex digits of its SHA-256). */
  keyId: string;
  wrappedKey: Buffer;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export interface Vault {
  readonly keyId: string;
  seal(plain: Buffer, context: string): Sealed;
  /** Throws when the content or its context was altered, or the key is not the vault's. */
  open(sealed: Sealed, context: string): Buffer;
}

export class VaultKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultKeyError';
  }
}

const KEY_BYTES = 32;

/** The key's id: not secret, lets a row say which key wrapped it. */
const idOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

/** Reads the master key file (64 hex digits), creating it with mode 0600 on first use. */
export function loadOrCreateMasterKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new VaultKeyError(
      `${file} is not a vault master key (64 hexadecimal digits expected). Restore it from your backup; without it, kept mail content cannot be read.`,
    );
  }
  try {
    chmodSync(file, 0o600);
  } catch {
    // A read-only mount: the mode is the administrator's to set.
  }
  return Buffer.from(text, 'hex');
}

function gcm(key: Buffer, iv: Buffer, plain: Buffer, aad: Buffer) {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

function ungcm(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/**
 * A vault over one master key. `context` (e.g. the message's record id) is bound into the
 * encryption as associated data, so sealed content moved to another record does not open.
 * The wrapped key is iv (12) + tag (16) + the data key encrypted under the master key.
 */
export function createVault(masterKey: Buffer): Vault {
  if (masterKey.length !== KEY_BYTES) throw new VaultKeyError('the master key must be 32 bytes');
  const keyId = idOf(masterKey);
  return {
    keyId,
    seal(plain, context) {
      const dataKey = randomBytes(KEY_BYTES);
      const aad = Buffer.from(context, 'utf8');
      const iv = randomBytes(12);
      const { ciphertext, tag } = gcm(dataKey, iv, plain, aad);
      const wrapIv = randomBytes(12);
      const wrapped = gcm(masterKey, wrapIv, dataKey, aad);
      dataKey.fill(0);
      return {
        keyId,
        wrappedKey: Buffer.concat([wrapIv, wrapped.tag, wrapped.ciphertext]),
        iv,
        tag,
        ciphertext,
      };
    },
    open(sealed, context) {
      if (sealed.keyId !== keyId) {
        throw new VaultKeyError(
          `this content was sealed with master key ${sealed.keyId}, not the current ${keyId}`,
        );
      }
      const aad = Buffer.from(context, 'utf8');
      const w = sealed.wrappedKey;
      const dataKey = ungcm(masterKey, w.subarray(0, 12), w.subarray(28), w.subarray(12, 28), aad);
      try {
        return ungcm(dataKey, sealed.iv, sealed.ciphertext, sealed.tag, aad);
      } finally {
        dataKey.fill(0);
      }
    },
  };
}
