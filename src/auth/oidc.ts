// Single sign-on with Microsoft (Entra ID) and Google (Workspace) over OpenID Connect:
// discovery, authorization code with PKCE, state and nonce, ID token validation (openid-client).
// Who may sign in is decided here from the ID token's claims (identityFromClaims, pure); the
// directory decides whether that person exists and is active.
import * as client from 'openid-client';
import type { Config } from '../config/config.ts';
import type { OidcFlow } from './cookies.ts';

export const OIDC_PROVIDERS = ['microsoft', 'google'] as const;
export type OidcProviderId = (typeof OIDC_PROVIDERS)[number];

export const DEFAULT_ISSUERS: Record<OidcProviderId, string> = {
  // Multi-tenant: any organisation's accounts. Configure the school's own tenant instead
  // (https://login.microsoftonline.com/TENANT_ID/v2.0); see docs/sso.md.
  microsoft: 'https://login.microsoftonline.com/organizations/v2.0',
  google: 'https://accounts.google.com',
};

export const isOidcProvider = (value: string): value is OidcProviderId =>
  (OIDC_PROVIDERS as readonly string[]).includes(value);

export function configuredProviders(config: Config): OidcProviderId[] {
  return OIDC_PROVIDERS.filter((id) => config.auth.oidc[id] !== undefined);
}

export const redirectUriFor = (config: Config, provider: OidcProviderId): string =>
  `${config.server.publicUrl.replace(/\/+$/, '')}/api/auth/oidc/${provider}/callback`;

/** Why a single sign-on was refused; the sign-in page shows a message for each. */
export type OidcFailure =
  | 'sso_not_configured'
  | 'sso_unavailable'
  | 'sso_state_mismatch'
  | 'sso_provider_error'
  | 'sso_failed'
  | 'sso_email_missing'
  | 'sso_email_unverified'
  | 'sso_domain_not_allowed'
  | 'sso_unknown_person'
  | 'sso_account_disabled'
  | 'sso_already_linked';

export class OidcError extends Error {
  constructor(
    readonly code: OidcFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OidcError';
  }
}

export interface OidcIdentity {
  provider: OidcProviderId;
  subject: string;
  email: string;
  /** The provider says a second factor was used (amr contains "mfa"). */
  mfa: boolean;
}

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/**
 * The person's e-mail address from the ID token (and userinfo) claims, or why it cannot be used.
 * Microsoft: `email`, else `preferred_username` (the sign-in name). Google: `email` only when
 * `email_verified`, and when domains are restricted, the Workspace domain `hd` must be one of them.
 */
export function identityFromClaims(
  provider: OidcProviderId,
  claims: Record<string, unknown>,
  allowedDomains: readonly string[],
): { ok: true; identity: OidcIdentity } | { ok: false; code: OidcFailure } {
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  const pick = (key: string) =>
    typeof claims[key] === 'string' && (claims[key] as string).includes('@')
      ? (claims[key] as string).trim().toLowerCase()
      : undefined;
  let email: string | undefined;
  if (provider === 'microsoft') {
    email = pick('email') ?? pick('preferred_username');
  } else {
    email = pick('email');
    if (email && claims.email_verified !== true && claims.email_verified !== 'true') {
      return { ok: false, code: 'sso_email_unverified' };
    }
  }
  if (!subject || !email) return { ok: false, code: 'sso_email_missing' };
  const allowed = allowedDomains.map((d) => d.trim().toLowerCase()).filter(Boolean);
  if (allowed.length > 0) {
    if (!allowed.includes(domainOf(email))) return { ok: false, code: 'sso_domain_not_allowed' };
    if (provider === 'google') {
      const hd = typeof claims.hd === 'string' ? claims.hd.toLowerCase() : '';
      if (!allowed.includes(hd)) return { ok: false, code: 'sso_domain_not_allowed' };
    }
  }
  const amr = Array.isArray(claims.amr) ? claims.amr : [];
  return { ok: true, identity: { provider, subject, email, mfa: amr.includes('mfa') } };
}

// Plain http to a provider is refused by openid-client; tests run a local provider over http
// and switch this on for their own config object only. Nothing in config or the environment can.
const insecureAllowed = new WeakSet<Config>();
export function allowInsecureOidcRequestsForTests(config: Config): void {
  insecureAllowed.add(config);
}

export interface OidcService {
  start(provider: OidcProviderId): Promise<{ url: string; flow: OidcFlow }>;
  finish(provider: OidcProviderId, currentUrl: URL, flow: OidcFlow | null): Promise<OidcIdentity>;
}

export function createOidcService(config: Config): OidcService {
  const discovered = new Map<OidcProviderId, Promise<client.Configuration>>();

  function settingsOf(provider: OidcProviderId) {
    const settings = config.auth.oidc[provider];
    if (!settings) {
      throw new OidcError('sso_not_configured', `Sign-in with ${provider} is not set up.`);
    }
    return settings;
  }

  function configurationOf(provider: OidcProviderId): Promise<client.Configuration> {
    let pending = discovered.get(provider);
    if (!pending) {
      const settings = settingsOf(provider);
      const issuer = new URL(settings.issuer ?? DEFAULT_ISSUERS[provider]);
      const insecure = insecureAllowed.has(config);
      pending = client
        .discovery(
          issuer,
          settings.clientId,
          settings.clientSecret,
          undefined,
          insecure ? { execute: [client.allowInsecureRequests] } : undefined,
        )
        .catch((error: unknown) => {
          discovered.delete(provider);
          throw new OidcError(
            'sso_unavailable',
            `Cannot reach the ${provider} sign-in service at ${issuer.href}: ${error instanceof Error ? error.message : String(error)}`,
          );
        });
      discovered.set(provider, pending);
    }
    return pending;
  }

  return {
    async start(provider) {
      const configuration = await configurationOf(provider);
      const flow: OidcFlow = {
        provider,
        state: client.randomState(),
        nonce: client.randomNonce(),
        verifier: client.randomPKCECodeVerifier(),
      };
      const url = client.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUriFor(config, provider),
        scope: 'openid email profile',
        response_type: 'code',
        state: flow.state,
        nonce: flow.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
        code_challenge_method: 'S256',
        ...(provider === 'google' && settingsOf(provider).allowedDomains.length === 1
          ? { hd: settingsOf(provider).allowedDomains[0]! }
          : {}),
      });
      return { url: url.href, flow };
    },

    async finish(provider, currentUrl, flow) {
      const settings = settingsOf(provider);
      const error = currentUrl.searchParams.get('error');
      if (error) {
        throw new OidcError(
          'sso_provider_error',
          `The ${provider} sign-in service answered ${error}: ${currentUrl.searchParams.get('error_description') ?? ''}`,
        );
      }
      if (
        !flow ||
        flow.provider !== provider ||
        currentUrl.searchParams.get('state') !== flow.state
      ) {
        throw new OidcError(
          'sso_state_mismatch',
          'The sign-in answer does not belong to a sign-in started from this browser.',
        );
      }
      const configuration = await configurationOf(provider);
      let claims: Record<string, unknown>;
      try {
        const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: flow.verifier,
          expectedState: flow.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        });
        claims = { ...(tokens.claims() ?? {}) };
        const hasEmail =
          typeof claims.email === 'string' || typeof claims.preferred_username === 'string';
        if (!hasEmail && tokens.access_token && configuration.serverMetadata().userinfo_endpoint) {
          const info = await client.fetchUserInfo(
            configuration,
            tokens.access_token,
            claims.sub as string,
          );
          claims = { ...info, ...claims };
        }
      } catch (cause) {
        throw new OidcError(
          'sso_failed',
          `The ${provider} sign-in could not be completed: ${cause instanceof Error ? cause.message : String(cause)}`,
        );
      }
      const result = identityFromClaims(provider, claims, settings.allowedDomains);
      if (!result.ok) {
        throw new OidcError(
          result.code,
          `The ${provider} account cannot be used here (${result.code}).`,
        );
      }
      return result.identity;
    },
  };
}
