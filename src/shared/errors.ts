// Stable error codes. The API answers every failure as { error: { code, message, details } };
// `message` is written for the person reading it and says what to do next, `code` never changes
// once released, and `details` carries structured specifics (which field, which row).

export const ERROR_CODES = {
  bad_request: 400,
  validation_failed: 400,
  import_rejected: 422,
  unauthenticated: 401,
  session_expired: 401,
  session_locked: 401,
  second_factor_required: 401,
  invalid_credentials: 401,
  account_locked: 423,
  forbidden: 403,
  csrf_failed: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  password_rejected: 422,
  token_invalid: 400,
  internal: 500,
  next_hop_refused: 502,
  not_ready: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_CODES[code];
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
