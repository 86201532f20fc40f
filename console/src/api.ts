// The one way the console talks to the API: adds the CSRF header to every request that changes
// something, turns the `{ error: { code, message, details } }` shape into an ApiError, and hands
// session problems to one global handler (the lock overlay, or the sign-in page).

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'import_rejected'
  | 'unauthenticated'
  | 'session_expired'
  | 'session_locked'
  | 'second_factor_required'
  | 'invalid_credentials'
  | 'account_locked'
  | 'forbidden'
  | 'csrf_failed'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'password_rejected'
  | 'token_invalid'
  | 'internal'
  | 'next_hop_refused'
  | 'not_ready'
  | 'network';

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isApiError = (error: unknown): error is ApiError => error instanceof ApiError;

/** A message fit to show, whatever was thrown. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return 'Something went wrong. Try again.';
}

/** What the session handler decides after a session error: try the request again, or give up. */
export interface SessionHandlers {
  /** PWD-5: show the lock overlay; resolves true once the password was given again. */
  locked(): Promise<boolean>;
  /** No session, or it ended, or the second factor is still needed: go to the sign-in page. */
  signedOut(error: ApiError): void;
}

let csrfToken: string | null = null;
let handlers: SessionHandlers | null = null;

export const setCsrfToken = (token: string | null | undefined) => {
  csrfToken = token ?? null;
};

export const setSessionHandlers = (next: SessionHandlers | null) => {
  handlers = next;
};

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const SIGNED_OUT: ReadonlySet<string> = new Set([
  'unauthenticated',
  'session_expired',
  'second_factor_required',
]);

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: string;
  query?: Query;
  /** JSON-encoded unless it is a string or Blob (then sent as is with `contentType`). */
  body?: unknown;
  contentType?: string;
  /** Leave session errors to the caller (the sign-in, unlock and setup pages). */
  quiet?: boolean;
  signal?: AbortSignal;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Reads an error body (or builds one) into an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } })
    ?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(error.code as ErrorCode, error.message, status, error.details);
  }
  if (status === 401) return new ApiError('unauthenticated', 'Sign in to use this.', status);
  if (status === 403) return new ApiError('forbidden', 'Your role does not allow this.', status);
  if (status === 404) return new ApiError('not_found', 'There is nothing here.', status);
  return new ApiError(
    'internal',
    `The server answered ${status}. Try again; if it keeps happening, tell IT support.`,
    status,
  );
}

function headersFor(method: string, contentType: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (contentType) headers['content-type'] = contentType;
  if (!SAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  return headers;
}

function encodeBody(options: RequestOptions): { body?: BodyInit; contentType?: string } {
  const { body } = options;
  if (body === undefined) return {};
  if (typeof body === 'string' || body instanceof Blob) {
    return { body, contentType: options.contentType ?? 'text/plain' };
  }
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

/**
 * Hands a session error to the global handler. Resolves true when the request should be sent
 * again (the person unlocked the session), false when the caller should see the error.
 */
async function handleSessionError(error: ApiError, quiet: boolean | undefined): Promise<boolean> {
  if (quiet || !handlers) return false;
  if (error.code === 'session_locked') return handlers.locked();
  if (SIGNED_OUT.has(error.code)) handlers.signedOut(error);
  return false;
}

/** Sends one request to the API and returns its JSON body (or null for an empty answer). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = (options.method ?? (options.body === undefined ? 'GET' : 'POST')).toUpperCase();
  for (let attempt = 0; ; attempt++) {
    const { body, contentType } = encodeBody(options);
    let response: Response;
    try {
      response = await fetch(withQuery(path, options.query), {
        method,
        headers: headersFor(method, contentType),
        body,
        credentials: 'same-origin',
        signal: options.signal,
      });
    } catch (cause) {
      if ((cause as Error).name === 'AbortError') throw cause;
      throw new ApiError(
        'network',
        'The console cannot reach the server. Check the network connection and try again.',
        0,
      );
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (response.ok) return parsed as T;
    const error = toApiError(response.status, parsed);
    if (attempt === 0 && (await handleSessionError(error, options.quiet))) continue;
    throw error;
  }
}

export interface UploadOptions {
  method?: string;
  query?: Query;
  contentType: string;
  onProgress?: (fraction: number) => void;
}

/**
 * Sends a file with XMLHttpRequest, whose upload events give a real progress bar (fetch has
 * none). Errors are mapped as by `api`.
 */
export async function upload<T>(path: string, file: Blob, options: UploadOptions): Promise<T> {
  const method = (options.method ?? 'POST').toUpperCase();
  for (let attempt = 0; ; attempt++) {
    const result = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, withQuery(path, options.query));
      for (const [name, value] of Object.entries(headersFor(method, options.contentType))) {
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable && event.total > 0) {
          options.onProgress?.(event.loaded / event.total);
        }
      };
      xhr.upload.onload = () => options.onProgress?.(1);
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          body = xhr.responseText;
        }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () =>
        reject(
          new ApiError(
            'network',
            'The upload did not reach the server. Check the network connection and try again.',
            0,
          ),
        );
      xhr.send(file);
    });
    if (result.status >= 200 && result.status < 300) return result.body as T;
    const error = toApiError(result.status, result.body);
    if (attempt === 0 && (await handleSessionError(error, false))) continue;
    throw error;
  }
}
