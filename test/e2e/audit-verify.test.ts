// `custos audit verify` over a real database file: whole chain exits 0; altering any one stored
// entry makes it name that entry and exit 1.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/service.ts';
import { openStore } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrations/index.ts';
import { custos } from '../support/process.ts';

async function seededDataDir(entries: number): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'custos-audit-'));
  const store = await openStore({ sqlitePath: path.join(dataDir, 'custos.db') });
  await migrate(store);
  const audit = createAuditLog(store);
  for (let i = 1; i <= entries; i++) {
    await audit.append({
      actor: { id: null, label: 'cli' },
      action: 'person.created',
      details: { i },
    });
  }
  await store.destroy();
  return dataDir;
}

describe('custos audit verify', () => {
  it('reports an unbroken chain and exits 0', async () => {
    const dataDir = await seededDataDir(12);
    const run = await custos(['audit', 'verify'], { env: { CUSTOS_DATA_DIR: dataDir } });
    expect(run.stdout).toMatch(/unbroken: 12 entries/);
    expect(run.code).toBe(0);
  });

  for (const seq of [1, 7, 12]) {
    it(`names entry ${seq} of 12 when it was altered, and exits 1`, async () => {
      const dataDir = await seededDataDir(12);
      const db = new Sqlite(path.join(dataDir, 'custos.db'));
      db.exec('drop trigger audit_log_no_update');
      db.prepare(`update audit_log set actor_label = 'someone else' where seq = ?`).run(seq);
      db.close();
      const run = await custos(['audit', 'verify'], { env: { CUSTOS_DATA_DIR: dataDir } });
      expect(run.stdout).toMatch(new RegExp(`BROKEN at entry ${seq} of 12`));
      expect(run.code).toBe(1);
    });
  }
});
