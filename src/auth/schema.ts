// Request and response schemas of the sign-in routes; the same schemas feed OpenAPI.
import { z } from 'zod';
import { MAX_EMAIL_LENGTH, MAX_NAME_LENGTH } from '../directory/rules.ts';
import { SessionAbilitiesSchema } from './abilities.ts';

// Long enough for any passphrase, short enough that hashing it costs nothing extra.
const password = z.string().min(1).max(1000);
const email = z.string().trim().min(3).max(MAX_EMAIL_LENGTH);
const code = z
  .string()
  .trim()
  .regex(/^\d{3}\s?\d{3}$/, 'the six-digit code from the authenticator app');

export const SessionState = z.enum([
  'none',
  'ok',
  'locked',
  'second_factor_required',
  'enrol_second_factor',
]);

export const SessionResponse = z.object({
  state: SessionState,
  person: z.object({ id: z.string(), email: z.string(), name: z.string() }).optional(),
  roles: z.array(z.string()).optional(),
  permissions: z.array(z.string()).optional(),
  /** What the person may do, for the console's navigation (src/auth/abilities.ts). */
  abilities: SessionAbilitiesSchema.optional(),
  csrfToken: z.string().optional(),
  method: z.string().optional(),
  idleLockMinutes: z.number(),
  providers: z.array(z.enum(['microsoft', 'google'])),
});

export const ProvidersResponse = z.object({ providers: z.array(z.enum(['microsoft', 'google'])) });

export const NextStep = z.enum(['done', 'totp', 'enrol-totp']);

export const SignInBody = z.object({ email, password });
export const SignInResponse = z.object({ next: NextStep, csrfToken: z.string() });

export const CodeBody = z.object({ code });
export const DoneResponse = z.object({ next: z.literal('done') });

export const EnrolResponse = z.object({
  secret: z.string(),
  uri: z.string(),
  issuer: z.string(),
});

export const UnlockBody = z.object({ password });
export const ChangePasswordBody = z.object({ current: password, next: password });
export const ResetPasswordBody = z.object({ token: z.string().min(1).max(200), password });

export const SetupBody = z.object({
  token: z.string().min(1).max(200),
  givenName: z.string().trim().min(1).max(MAX_NAME_LENGTH),
  familyName: z.string().trim().min(1).max(MAX_NAME_LENGTH),
  email,
  password,
});
export const SetupResponse = z.object({
  personId: z.string(),
  email: z.string(),
  next: z.literal('sign-in'),
});

export const OkResponse = z.object({ ok: z.literal(true) });
export const ProviderParams = z.object({ provider: z.string().max(20) });
export const StartQuery = z.object({ next: z.string().max(500).optional() });
export const CallbackQuery = z.record(z.string(), z.string().or(z.array(z.string())));
