import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVault, loadOrCreateMasterKey, VaultKeyError } from './vault.ts';

describe('the content vault', () => {
  it('creates a master key file readable by its owner only, and reads the same key back', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'vault-')), 'keys', 'vault.key');
    const key = loadOrCreateMasterKey(file);
    expect(key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateMasterKey(file).equals(key)).toBe(true);
  });

  it('refuses a key file that is not a key, saying what to do', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'vault-')), 'vault.key');
    writeFileSync(file, 'not a key');
    expect(() => loadOrCreateMasterKey(file)).toThrow(/Restore it from your backup/);
  });

  it('opens what it sealed, for any content', () => {
    const vault = createVault(Buffer.alloc(32, 7));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string(), (bytes, context) => {
        const plain = Buffer.from(bytes);
        const sealed = vault.seal(plain, context);
        expect(sealed.ciphertext.equals(plain) && plain.length > 16).toBe(false);
        expect(vault.open(sealed, context).equals(plain)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('detects altered content, a wrong context and a different master key', () => {
    const vault = createVault(Buffer.alloc(32, 1));
    const sealed = vault.seal(Buffer.from('Subject: private\r\n\r\nhello'), 'message-1');
    const flipped = Buffer.from(sealed.ciphertext);
    flipped[3] = flipped[3]! ^ 1;
    expect(() => vault.open({ ...sealed, ciphertext: flipped }, 'message-1')).toThrow();
    expect(() => vault.open(sealed, 'message-2')).toThrow();
    const other = createVault(Buffer.alloc(32, 2));
    expect(() => other.open(sealed, 'message-1')).toThrow(VaultKeyError);
  });
});
