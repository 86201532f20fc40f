// The mail gateway over HTTP, mounted at /api/mail: the quarantine (held messages, release and
// delete with a note), the activity in aggregate, "test a message" (an .eml judged as the relay
// would, nothing sent or kept) and the pack's mail rules in force.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../api/context.ts';
import type { Principal } from '../auth/principal.ts';
import { AppError } from '../shared/errors.ts';
import { createMailActivityService } from './activity.service.ts';
import { scannerStatus } from './clamd.ts';
import { createQuarantineService } from './quarantine.service.ts';
import { mailRulesOf } from './rules-view.service.ts';
import {
  Activity,
  ActivityQuery,
  DecisionResult,
  MailRules,
  QuarantineDecision,
  QuarantineList,
  TestQuery,
  TestResult,
} from './schema.ts';
import { createTestMessageService } from './test-message.service.ts';

/** The content types an .eml may be sent as to POST /api/mail/test. */
export const EML_TYPES = ['message/rfc822', 'application/octet-stream'];

const idParams = z.object({ id: z.string().max(64) });

/** The reviewer as the quarantine records them (the route's permission means one is signed in). */
const actor = (principal: Principal | null) => ({
  id: principal?.personId ?? '',
  label: principal?.email ?? 'anonymous',
});

export const mailRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const quarantine = createQuarantineService(ctx);
    const activity = createMailActivityService(ctx);
    const tester = createTestMessageService(ctx);
    // The largest message the relay takes: a larger one never reaches the checks.
    const maxTestBytes = ctx.config.mail.relay.maxMessageBytes;
    app.addHook('onClose', async () => quarantine.close());

    app.addContentTypeParser(
      EML_TYPES,
      { parseAs: 'buffer', bodyLimit: maxTestBytes },
      (_request, body, done) => done(null, body),
    );

    app.get(
      '/quarantine',
      {
        config: { permission: 'mail.quarantine.read' },
        schema: {
          tags: ['mail'],
          summary:
            'Messages held for review, oldest first: received, direction, sender, recipients, subject (withheld when marked Private, MON-3), attachments and each verdict with its clauses; never the body (MON-2)',
          response: { 200: QuarantineList },
        },
      },
      async () => quarantine.list(),
    );

    app.post(
      '/quarantine/:id/release',
      {
        config: { permission: 'mail.quarantine.decide' },
        schema: {
          tags: ['mail'],
          summary:
            "Release a held message: it goes to the gateway's next hop as it arrived (outbound mail gains the disclaimer, MAIL-4). 502 with the next hop's words when it refuses (the message stays held); 409 when it is no longer held",
          params: idParams,
          body: QuarantineDecision,
          response: { 200: DecisionResult },
        },
      },
      async (request) =>
        quarantine.release(request.params.id, actor(request.principal), request.body.note),
    );

    app.post(
      '/quarantine/:id/delete',
      {
        config: { permission: 'mail.quarantine.decide' },
        schema: {
          tags: ['mail'],
          summary:
            'Delete a held message: its sealed content is destroyed, the record of what it was is kept with the reason. 409 when it is no longer held',
          params: idParams,
          body: QuarantineDecision,
          response: { 200: DecisionResult },
        },
      },
      async (request) =>
        quarantine.delete(request.params.id, actor(request.principal), request.body.note),
    );

    app.get(
      '/scanner',
      {
        config: { permission: 'mail.reports' },
        schema: {
          tags: ['mail'],
          summary:
            'Whether the virus scanner (clamd) answers now, and whether mail.clamd.failOpen lets mail pass unscanned while it does not (SYS-4, SYS-7)',
          response: {
            200: z.object({
              answering: z.boolean(),
              address: z.string(),
              failOpen: z.boolean(),
              message: z.string(),
            }),
          },
        },
      },
      async () => scannerStatus(ctx.config.mail.clamd),
    );

    app.get(
      '/activity',
      {
        config: { permission: 'mail.reports' },
        schema: {
          tags: ['mail'],
          summary:
            'Mail in aggregate for a period of UK days (a week by default): messages by day and direction with what became of them, verdicts by rule and action; never one person',
          querystring: ActivityQuery,
          response: { 200: Activity },
        },
      },
      async (request) => activity.summary(request.query),
    );

    app.post(
      '/test',
      {
        config: { permission: 'mail.test' },
        bodyLimit: maxTestBytes,
        schema: {
          tags: ['mail'],
          summary:
            'Test a message: send an .eml as message/rfc822 or application/octet-stream; answers every verdict with its clauses and reason, what the attachments really are and the virus scan (when clamd answers). Nothing is delivered or kept',
          querystring: TestQuery,
          response: { 200: TestResult },
        },
      },
      async (request) => {
        const raw = request.body;
        if (!Buffer.isBuffer(raw)) {
          throw new AppError(
            'unsupported_media_type',
            'Send the message itself (an .eml file) as message/rfc822 or application/octet-stream.',
          );
        }
        if (raw.length === 0) {
          throw new AppError('validation_failed', 'The file is empty. Choose an .eml file.');
        }
        return tester.test(raw, request.query.direction);
      },
    );

    app.get(
      '/rules',
      {
        config: { permission: 'mail.test' },
        schema: {
          tags: ['mail'],
          summary:
            "The pack's mail rules in force: content rules with what each looks for, the disclaimer, the attachment policy and the gateway's own checks; change them in the policy pack",
          response: { 200: MailRules },
        },
      },
      async () => mailRulesOf(ctx.policy.current()),
    );
  };
