import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { replaceOnce, shippedPackText } from '../../test/support/policy-pack.ts';
import { loadConfig } from '../config/config.ts';
import { createPackService } from '../policy/packs.ts';
import { openRuntime, StartupError } from './runtime.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function options() {
  const dir = mkdtempSync(path.join(tmpdir(), 'custos-runtime-'));
  dirs.push(dir);
  const config = loadConfig({ env: {}, overrides: { dataDir: dir } });
  return { config, log: pino({ level: 'silent' }) };
}

const sbm = { id: null, label: 'sbm@school.test', roles: ['sbm'] };

describe('openRuntime and the policy pack in force (GOV-6)', () => {
  it('starts from the folder, then from the pack applied in the console once there is one', async () => {
    const opts = options();
    const first = await openRuntime(opts);
    expect(first.policy.current().name).toBe('palfrey-infant');
    const packs = createPackService(first);
    const text = replaceOnce(shippedPackText(), 'name: palfrey-infant', 'name: applied-here');
    const stored = await packs.upload({ bytes: Buffer.from(text) }, sbm);
    await packs.apply(stored.id, sbm);
    await first.close();

    const second = await openRuntime(opts);
    expect(second.policy.current().name).toBe('applied-here');
    await second.close();

    const fromFolder = await openRuntime({ ...opts, ignoreAppliedPack: true });
    expect(fromFolder.policy.current().name).toBe('palfrey-infant');
    await fromFolder.close();
  });

  it('refuses to start when the applied pack no longer loads, and says how to start anyway', async () => {
    const opts = options();
    const runtime = await openRuntime(opts);
    const packs = createPackService(runtime);
    const stored = await packs.upload({ bytes: Buffer.from(shippedPackText()) }, sbm);
    await packs.apply(stored.id, sbm);
    await runtime.store.db
      .updateTable('policy_packs')
      .set({ yaml: 'format: 1\nname: broken\n' })
      .where('id', '=', stored.id)
      .execute();
    await runtime.close();
    const failed = openRuntime(opts);
    await expect(failed).rejects.toBeInstanceOf(StartupError);
    await expect(failed).rejects.toThrow(/--policy-from-folder/);
  });
});
