// Who is making a request, as the API sees them once their session checks out.
import type { Permission } from './permissions.ts';

export interface Principal {
  accountId: string;
  personId: string;
  email: string;
  name: string;
  roles: readonly string[];
  permissions: ReadonlySet<Permission>;
  sessionId: string;
  csrfToken: string;
}

export const actorOf = (principal: Principal | null | undefined) =>
  principal ? { id: principal.personId, label: principal.email } : { id: null, label: 'anonymous' };
