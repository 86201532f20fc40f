// The cookies of sign-in, set and cleared in one place: the session cookie (httpOnly,
// SameSite=Lax, Secure per config.auth.cookieSecure) and the short-lived cookie that carries an
// OpenID Connect sign-in's state, nonce and PKCE verifier between start and callback.
import type { FastifyReply } from 'fastify';
import type { Config } from '../config/config.ts';
import { SESSION_COOKIE } from './session.service.ts';

export const OIDC_FLOW_COOKIE = 'custos_oidc';
export const OIDC_FLOW_PATH = '/api/auth/oidc';
const OIDC_FLOW_SECONDS = 600;

export function cookieSecure(config: Config): boolean {
  if (config.auth.cookieSecure === 'always') return true;
  if (config.auth.cookieSecure === 'never') return false;
  return config.server.publicUrl.startsWith('https:');
}

export function setSessionCookie(reply: FastifyReply, config: Config, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(config),
    maxAge: Math.round(config.auth.sessionMaxHours * 3600),
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(config),
  });
}

export interface OidcFlow {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  /** Where to go in the console afterwards: a path on this site only. */
  next?: string;
}

/** A path on this site (not `//host` or a full URL), else '/'. */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 500) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return /[\p{Cc}\\]/u.test(value) ? '/' : value;
}

export function setOidcFlowCookie(reply: FastifyReply, config: Config, flow: OidcFlow): void {
  reply.setCookie(OIDC_FLOW_COOKIE, Buffer.from(JSON.stringify(flow)).toString('base64url'), {
    path: OIDC_FLOW_PATH,
    httpOnly: true,
    // Lax: the provider's redirect back is a top-level GET, which carries Lax cookies.
    sameSite: 'lax',
    secure: cookieSecure(config),
    maxAge: OIDC_FLOW_SECONDS,
  });
}

export function readOidcFlowCookie(value: string | undefined): OidcFlow | null {
  if (!value || value.length > 2000) return null;
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object') return null;
    const { provider, state, nonce, verifier } = parsed as Record<string, unknown>;
    if ([provider, state, nonce, verifier].some((v) => typeof v !== 'string' || v === '')) {
      return null;
    }
    const next = (parsed as Record<string, unknown>).next;
    return { provider, state, nonce, verifier, next: safeNextPath(next) } as OidcFlow;
  } catch {
    return null;
  }
}

export function clearOidcFlowCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(OIDC_FLOW_COOKIE, {
    path: OIDC_FLOW_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: cookieSecure(config),
  });
}
