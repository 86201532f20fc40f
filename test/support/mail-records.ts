// Mail records for the console's tests, made by the gateway's own pipeline (relay/pipeline.ts)
// without SMTP and without a virus scanner: each message is inspected, judged by the shipped pack,
// recorded, and held (sealed with the vault key of the context's configuration) or delivered to
// the configured next hop, exactly as the relay would. A context made by mailContext() points the
// next hops at a local sink and the vault key at a fresh data folder. Test-only.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppContext } from '../../src/api/context.ts';
import { mailChecks } from '../../src/mail/checks.ts';
import { createMailPipeline } from '../../src/mail/relay/pipeline.ts';
import type { IncomingMail, SmtpReply } from '../../src/mail/relay/server.ts';
import { gatewayPartsOf } from '../../src/mail/service.ts';
import type { Store } from '../../src/store/database.ts';
import { testContext } from './app.ts';
import { freePort } from './ports.ts';
import { startRelay } from './smtp-relay.ts';

export { SCHOOL } from './mail-samples.ts';

export interface MailContext {
  ctx: AppContext;
  sink: Awaited<ReturnType<typeof startRelay>>;
  /** Passes one message through the pipeline; resolves to the SMTP answer the relay would give. */
  receive(mail: {
    direction: IncomingMail['direction'];
    from: string;
    to: string[];
    raw: Buffer;
  }): Promise<SmtpReply>;
  close(): void;
}

/**
 * An AppContext whose mail settings point at a local sink (`refuse`: one that answers 451) and a
 * clamd that is not there (or at `clamdPort`), with its own data folder for the vault key.
 */
export async function mailContext(
  store: Store,
  options: { refuse?: boolean; clamdPort?: number; config?: Record<string, unknown> } = {},
): Promise<MailContext> {
  const sink = await startRelay({ refuse: options.refuse ?? false });
  const ctx = await testContext(store, {
    config: {
      dataDir: mkdtempSync(path.join(tmpdir(), 'custos-mail-console-')),
      'mail.relay.hostname': 'gateway.school.test',
      'mail.relay.nextHopTimeoutMs': 5000,
      'mail.inbound.host': '127.0.0.1',
      'mail.inbound.port': sink.port,
      'mail.outbound.host': '127.0.0.1',
      'mail.outbound.port': sink.port,
      'mail.clamd.host': '127.0.0.1',
      'mail.clamd.port': options.clamdPort ?? (await freePort()),
      'mail.clamd.timeoutMs': 5000,
      ...options.config,
    },
  });
  const parts = gatewayPartsOf(ctx.config);
  const checks = mailChecks();
  const pipeline = createMailPipeline({
    store,
    audit: ctx.audit,
    log: ctx.log,
    policy: () => ctx.policy.current(),
    vault: parts.vault,
    inspect: checks.inspect,
    scan: null,
    evaluate: checks.evaluate,
    addDisclaimer: checks.addDisclaimer,
    deliver: parts.deliver,
    failOpen: false,
    clock: ctx.clock,
  });
  return {
    ctx,
    sink,
    receive: (mail) =>
      pipeline.handle({
        direction: mail.direction,
        clientIp: '192.0.2.25',
        helo: 'mail.example.org',
        personId: null,
        authUser: null,
        envelope: { from: mail.from, to: mail.to },
        raw: mail.raw,
      }),
    close() {
      parts.deliver.inbound.close();
      parts.deliver.outbound.close();
    },
  };
}
