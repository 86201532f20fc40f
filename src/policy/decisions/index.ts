// The pure decisions over a compiled policy that gateways, services and routes call. Each returns
// the clause ids behind it so that block pages, notices and audit entries can cite them.
export * from './approvals.ts';
export * from './mail.ts';
export * from './monitoring.ts';
export * from './retention.ts';
export * from './web.ts';
