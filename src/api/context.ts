// What every route module receives: the services it may call. Routes stay thin: parse, authorise
// (declaratively, see app.ts), call a service, answer.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/service.ts';
import type { RouteAccess } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import type { SessionService } from '../auth/session.service.ts';
import type { Config } from '../config/config.ts';
import type { PolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';

export interface AppContext {
  config: Config;
  store: Store;
  audit: AuditLog;
  policy: PolicyHolder;
  sessions: SessionService;
  log: Logger;
  clock: () => Date;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: the permission it needs, or 'public' / 'authenticated'. */
    permission?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}
