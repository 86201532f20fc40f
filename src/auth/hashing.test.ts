import { describe, expect, it } from 'vitest';
import { createPasswordHasher, parsePhc } from './hashing.ts';

const cheap = { memoryKiB: 8192, timeCost: 1, parallelism: 1 };

describe('password hashing', () => {
  it('PWD-2: stores argon2id with the configured cost and verifies only the right password', async () => {
    const hasher = createPasswordHasher(cheap);
    const stored = await hasher.hash('Tortoise-lantern-47');
    expect(parsePhc(stored)).toEqual({
      algorithm: 'argon2id',
      memoryKiB: 8192,
      timeCost: 1,
      parallelism: 1,
    });
    expect(await hasher.verify(stored, 'Tortoise-lantern-47')).toBe(true);
    expect(await hasher.verify(stored, 'tortoise-lantern-47')).toBe(false);
    expect(await hasher.verify('not a hash', 'Tortoise-lantern-47')).toBe(false);
  });

  it('PWD-2: two hashes of one password differ (salted)', async () => {
    const hasher = createPasswordHasher(cheap);
    expect(await hasher.hash('same-Pass-1')).not.toBe(await hasher.hash('same-Pass-1'));
  });

  it('PWD-2: asks for a rehash once the configured cost changes', async () => {
    const stored = await createPasswordHasher(cheap).hash('Tortoise-lantern-47');
    expect(createPasswordHasher(cheap).needsRehash(stored)).toBe(false);
    const stronger = createPasswordHasher({ ...cheap, timeCost: 2 });
    expect(stronger.needsRehash(stored)).toBe(true);
    expect(await stronger.verify(stored, 'Tortoise-lantern-47')).toBe(true);
    expect(stronger.needsRehash('$2b$10$bcrypthash')).toBe(true);
  });
});
