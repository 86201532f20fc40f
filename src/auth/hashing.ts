// Password hashing: argon2id with the cost from config.auth.argon2. Hashes are PHC strings
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so a stored hash says which cost made it and
// needsRehash tells when the configured cost has changed since.
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { Config } from '../config/config.ts';

export type Argon2Params = Config['auth']['argon2'];

const ARGON2ID = 2 as Algorithm;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a stored value that is not an argon2 hash. */
  verify(stored: string, password: string): Promise<boolean>;
  needsRehash(stored: string): boolean;
  /** Spends the same time as a verification, for sign-ins of unknown e-mail addresses. */
  burn(password: string): Promise<void>;
}

export function parsePhc(
  stored: string,
): { algorithm: string; memoryKiB: number; timeCost: number; parallelism: number } | null {
  const match = /^\$(argon2(?:id|i|d))\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!match) return null;
  return {
    algorithm: match[1]!,
    memoryKiB: Number(match[2]),
    timeCost: Number(match[3]),
    parallelism: Number(match[4]),
  };
}

export function createPasswordHasher(params: Argon2Params): PasswordHasher {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKiB,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  };
  let dummy: Promise<string> | undefined;
  const verifyHash = async (stored: string, password: string) => {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  };
  return {
    hash: (password) => hash(password, options),
    verify: verifyHash,
    needsRehash(stored) {
      const parsed = parsePhc(stored);
      if (!parsed) return true;
      return (
        parsed.algorithm !== 'argon2id' ||
        parsed.memoryKiB !== params.memoryKiB ||
        parsed.timeCost !== params.timeCost ||
        parsed.parallelism !== params.parallelism
      );
    },
    async burn(password) {
      dummy ??= hash('custos-unknown-account', options);
      await verifyHash(await dummy, password);
    },
  };
}
