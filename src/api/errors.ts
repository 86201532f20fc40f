// Maps every failure to the one error shape { error: { code, message, details } }.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type ErrorCode } from '../shared/errors.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  return reply.status(error.status).send(errorBody(error.code, error.message, error.details));
}

export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error instanceof AppError) return sendError(reply, error);
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message,
    }));
    return reply
      .status(400)
      .send(
        errorBody(
          'validation_failed',
          `The request is not valid: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
          details,
        ),
      );
  }
  const fe = error as FastifyError;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply
        .status(413)
        .send(
          errorBody('payload_too_large', 'The request body is larger than this server accepts.'),
        );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply
        .status(415)
        .send(errorBody('unsupported_media_type', 'This content type is not accepted here.'));
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply
        .status(400)
        .send(errorBody('bad_request', `The JSON body is not valid: ${fe.message}`));
  }
  if (fe.statusCode === 429) {
    return reply
      .status(429)
      .send(errorBody('rate_limited', 'Too many attempts. Wait a minute and try again.'));
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.status(fe.statusCode).send(errorBody('bad_request', fe.message));
  }
  request.log.error({ err: error }, 'unhandled error');
  return reply
    .status(500)
    .send(
      errorBody('internal', 'Something went wrong on the server. It has been logged; try again.'),
    );
}
