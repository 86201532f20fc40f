// Builds the directory service over a test store with the test policy.
import { createAuditLog } from '../../src/audit/service.ts';
import { createDirectoryService } from '../../src/directory/service.ts';
import type { CompiledPolicy } from '../../src/policy/compiled.ts';
import { createPolicyHolder } from '../../src/policy/holder.ts';
import type { Store } from '../../src/store/database.ts';
import { testPolicy } from '../factories.ts';

export function factories(store: Store, policy: CompiledPolicy = testPolicy()) {
  const audit = createAuditLog(store);
  const holder = createPolicyHolder(policy);
  const directory = createDirectoryService({ store, audit, policy: holder });
  return { audit, policy: holder, directory };
}
