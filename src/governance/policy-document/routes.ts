// The policy document over HTTP (GOV-2 to GOV-6): versions and their approval records, the
// document as HTML and PDF at stable addresses, publishing a new version, accepting the version
// in force, and who has and has not accepted it with reminders.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../../api/context.ts';
import { actorOf } from '../../auth/principal.ts';
import { documentFileName, type PolicyDocumentModel, renderDocumentHtml } from './document.ts';
import { renderDocumentPdf } from './pdf.ts';
import * as s from './schema.ts';
import { policyDocumentServiceOf } from './service.ts';

// The document page is static: no script, only its own inline style.
const DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'";

export const policyDocumentRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const service = policyDocumentServiceOf(ctx);

    const sendHtml = (reply: FastifyReply, model: PolicyDocumentModel) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', DOCUMENT_CSP)
        .header('cache-control', 'no-cache')
        .header('content-disposition', `inline; filename="${documentFileName(model, 'html')}"`)
        .send(renderDocumentHtml(model));

    const sendPdf = async (reply: FastifyReply, model: PolicyDocumentModel) =>
      reply
        .header('content-type', 'application/pdf')
        .header('cache-control', 'no-cache')
        .header('content-disposition', `inline; filename="${documentFileName(model, 'pdf')}"`)
        .send(await renderDocumentPdf(model, ctx.clock()));

    app.get(
      '/versions',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary:
            'Every version with its approval record (GOV-3, GOV-4), the review date (GOV-1) and whether I accepted the one in force (GOV-5)',
          response: { 200: s.VersionsResponse },
        },
      },
      async (request) => {
        const [versions, review, mine] = await Promise.all([
          service.listVersions(),
          service.review(),
          service.myAcceptance(request.principal!.personId),
        ]);
        return {
          current: versions.find((v) => v.status === 'current')?.number ?? 0,
          review,
          myAcceptance: mine,
          versions,
        };
      },
    );

    app.post(
      '/versions',
      {
        config: { permission: 'policy.manage' },
        schema: {
          tags: ['policy'],
          summary:
            'Publish a new version: it supersedes the one in force and everyone is asked to accept it (GOV-6, GOV-4, GOV-3)',
          body: s.PublishBody,
          response: { 201: s.PolicyVersion },
        },
      },
      async (request, reply) => {
        const version = await service.publish(request.body, actorOf(request.principal));
        return reply.status(201).send(version);
      },
    );

    app.get(
      '/versions/:number',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary: 'One version and its approval record (GOV-3, GOV-4)',
          params: s.VersionNumberParams,
          response: { 200: s.PolicyVersion },
        },
      },
      async (request) => service.getVersion(request.params.number),
    );

    app.post(
      '/versions/:number/accept',
      {
        config: { permission: 'authenticated' },
        schema: {
          tags: ['policy'],
          summary: 'I have read and accept this version, the one in force (GOV-5)',
          params: s.VersionNumberParams,
          response: { 200: s.AcceptResponse },
        },
      },
      async (request) => {
        const principal = request.principal!;
        return service.accept(
          request.params.number,
          principal.personId,
          { ip: request.ip, userAgent: String(request.headers['user-agent'] ?? '') },
          actorOf(principal),
        );
      },
    );

    app.get(
      '/versions/:number/document.html',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary: 'One version of the policy as an HTML document (GOV-2)',
          params: s.VersionNumberParams,
        },
      },
      async (request, reply) => sendHtml(reply, await service.documentOf(request.params.number)),
    );

    app.get(
      '/versions/:number/document.pdf',
      {
        config: { permission: 'policy.read' },
        schema: {
          tags: ['policy'],
          summary: 'One version of the policy as a PDF (GOV-2)',
          params: s.VersionNumberParams,
        },
      },
      async (request, reply) => sendPdf(reply, await service.documentOf(request.params.number)),
    );

    app.get(
      '/current.html',
      {
        config: { permission: 'policy.read' },
        schema: { tags: ['policy'], summary: 'The version in force as an HTML document (GOV-2)' },
      },
      async (_request, reply) => sendHtml(reply, await service.documentOf('current')),
    );

    app.get(
      '/current.pdf',
      {
        config: { permission: 'policy.read' },
        schema: { tags: ['policy'], summary: 'The version in force as a PDF (GOV-2)' },
      },
      async (_request, reply) => sendPdf(reply, await service.documentOf('current')),
    );

    app.get(
      '/acceptance',
      {
        config: { permission: 'policy.acceptance.read' },
        schema: {
          tags: ['policy'],
          summary:
            'Who has and has not accepted the version in force, with counts; filter by group, kind and status (GOV-5)',
          querystring: s.AcceptanceQuery,
          response: { 200: s.AcceptanceReport },
        },
      },
      async (request) => service.acceptance(request.query),
    );

    app.post(
      '/acceptance/remind',
      {
        config: { permission: 'policy.manage' },
        schema: {
          tags: ['policy'],
          summary:
            'E-mail a reminder to everyone who has not accepted the version in force, at most once a day each (GOV-5)',
          response: { 200: s.RemindResponse },
        },
      },
      async (request) => service.remind(actorOf(request.principal)),
    );
  };
