// Sign-in: e-mail and password (or a configured single sign-on provider), then the code from an
// authenticator app, or setting one up the first time when the person's role requires it.
import {
  Alert,
  Anchor,
  Button,
  Code,
  Divider,
  List,
  PasswordInput,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Navigate, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { api, setCsrfToken } from '../api.ts';
import { ErrorAlert, Loading } from '../components/page.tsx';
import { PublicFrame, safeNext } from '../components/public-frame.tsx';
import { useSession } from '../session.tsx';
import type { NextStep, Provider } from '../types.ts';

type Step = 'password' | 'totp' | 'enrol';

const PROVIDER_NAMES: Record<Provider, string> = { microsoft: 'Microsoft', google: 'Google' };

/** What went wrong with single sign-on; the API sends these codes back in ?error=. */
const SSO_ERRORS: Record<string, string> = {
  sso_not_configured: 'That sign-in provider is not set up here. Sign in with your password.',
  sso_unavailable: 'The sign-in provider did not answer. Try again in a minute.',
  sso_state_mismatch: 'The sign-in took too long or was started in another window. Try again.',
  sso_provider_error: 'The sign-in provider refused the sign-in. Try again, or use your password.',
  sso_failed: 'Single sign-on did not work. Try again, or sign in with your password.',
  sso_email_missing:
    'The provider did not give your e-mail address, so Custos cannot tell who you are.',
  sso_email_unverified: 'The provider has not verified your e-mail address. Ask IT support.',
  sso_domain_not_allowed: 'Accounts from that e-mail domain may not sign in here.',
  sso_unknown_person:
    'There is no one with that e-mail address in the directory. Ask the School Business Manager to add you.',
  sso_account_disabled: 'Your account is disabled. Ask the School Business Manager.',
  sso_already_linked: 'Your account is already linked to another sign-in of that provider.',
};

function stepOf(next: NextStep): Step | 'done' {
  return next === 'totp' ? 'totp' : next === 'enrol-totp' ? 'enrol' : 'done';
}

export function SignInScreen() {
  const { session, loading, refresh } = useSession();
  const [params] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const next = safeNext(params.get('next'));
  const ssoError = params.get('error');
  const reason =
    (location.state as { reason?: string } | null)?.reason ??
    (ssoError ? (SSO_ERRORS[ssoError] ?? SSO_ERRORS.sso_failed) : undefined);
  const [step, setStep] = useState<Step | null>(null);

  useEffect(() => {
    if (step !== null || !session) return;
    if (session.state === 'second_factor_required') setStep('totp');
    else if (session.state === 'enrol_second_factor') setStep('enrol');
    else setStep('password');
  }, [session, step]);

  const finish = async () => {
    const now = await refresh();
    if (now?.state === 'enrol_second_factor') setStep('enrol');
    else if (now?.state === 'second_factor_required') setStep('totp');
    else navigate(next, { replace: true });
  };

  if (loading || step === null) return <Loading />;
  if (session?.state === 'ok') return <Navigate to={next} replace />;

  if (step === 'totp') return <TotpStep onDone={finish} />;
  if (step === 'enrol') return <EnrolStep onDone={finish} />;
  return (
    <PasswordStep
      providers={session?.providers ?? []}
      next={next}
      reason={reason}
      email={params.get('email') ?? ''}
      onNext={(step) => {
        const s = stepOf(step);
        if (s === 'done') void finish();
        else setStep(s);
      }}
    />
  );
}

function PasswordStep({
  providers,
  next,
  reason,
  email: initialEmail,
  onNext,
}: {
  providers: Provider[];
  next: string;
  reason: string | undefined;
  email: string;
  onNext(step: NextStep): void;
}) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api<{ next: NextStep; csrfToken: string }>('/api/auth/sign-in', {
        method: 'POST',
        body: { email, password },
        quiet: true,
      });
      setCsrfToken(answer.csrfToken);
      onNext(answer.next);
    } catch (caught) {
      setError(caught);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicFrame title="Sign in">
      {reason ? (
        <Alert color="blue" variant="light" role="status">
          {reason}
        </Alert>
      ) : null}
      {providers.length > 0 ? (
        <Stack gap="xs">
          {providers.map((provider) => (
            <Button
              key={provider}
              component="a"
              variant="default"
              href={`/api/auth/oidc/${provider}/start?next=${encodeURIComponent(next)}`}
            >
              Sign in with {PROVIDER_NAMES[provider]}
            </Button>
          ))}
          <Divider label="or with your e-mail and password" labelPosition="center" />
        </Stack>
      ) : null}
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <TextInput
            label="E-mail address"
            type="email"
            autoComplete="username"
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            required
            autoFocus={!initialEmail}
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            required
            autoFocus={Boolean(initialEmail)}
          />
          <ErrorAlert error={error} title="Not signed in" />
          <Button type="submit" loading={busy}>
            Sign in
          </Button>
          <Text size="sm" c="dimmed">
            Forgotten your password? Ask IT support or the School Business Manager for a reset link.
          </Text>
        </Stack>
      </form>
    </PublicFrame>
  );
}

function CodeInput({ value, onChange }: { value: string; onChange(value: string): void }) {
  return (
    <TextInput
      label="Six-digit code"
      description="From your authenticator app; it changes every 30 seconds."
      inputMode="numeric"
      autoComplete="one-time-code"
      pattern="[0-9 ]*"
      maxLength={7}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      required
      autoFocus
    />
  );
}

function TotpStep({ onDone }: { onDone(): Promise<void> }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/api/auth/totp', { method: 'POST', body: { code: code.trim() }, quiet: true });
      await onDone();
    } catch (caught) {
      setError(caught);
      setCode('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <PublicFrame
      title="Enter your code"
      intro="Your role signs in with a second step. Open your authenticator app and enter the code it shows for Custos."
    >
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <CodeInput value={code} onChange={setCode} />
          <ErrorAlert error={error} title="Code not accepted" />
          <Button type="submit" loading={busy}>
            Continue
          </Button>
          <Text size="sm" c="dimmed">
            Lost your phone? Ask IT support to reset your second step; you will set it up again at
            your next sign-in.
          </Text>
        </Stack>
      </form>
    </PublicFrame>
  );
}

/** Groups a base32 secret in fours so it can be typed into an app. */
const grouped = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

function EnrolStep({ onDone }: { onDone(): Promise<void> }) {
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string } | null>(null);
  const [startError, setStartError] = useState<unknown>(null);
  const started = useRef(false);
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    api<{ secret: string; uri: string }>('/api/auth/totp/enrol', { method: 'POST', quiet: true })
      .then(setEnrolment)
      .catch(setStartError);
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/api/auth/totp/enrol/confirm', {
        method: 'POST',
        body: { code: code.trim() },
        quiet: true,
      });
      await onDone();
    } catch (caught) {
      setError(caught);
      setCode('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicFrame
      title="Set up your authenticator app"
      intro="Your role signs in with a second step: a code from an authenticator app on your phone (Microsoft Authenticator, Google Authenticator or any TOTP app)."
    >
      {startError ? <ErrorAlert error={startError} title="Could not start the set-up" /> : null}
      {!enrolment && !startError ? <Loading label="Preparing your key…" /> : null}
      {enrolment ? (
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <List type="ordered" size="sm" spacing="xs">
              <List.Item>In the app, choose to add an account and to enter a key.</List.Item>
              <List.Item>
                Type this key (spaces do not matter):
                <Code
                  block
                  mt={4}
                  fz="md"
                  data-testid="totp-secret"
                  data-secret={enrolment.secret}
                  aria-label="Your key"
                >
                  {grouped(enrolment.secret)}
                </Code>
              </List.Item>
              <List.Item>
                Or, on the phone itself, open this set-up address:
                <Code block mt={4} className="mono" data-testid="totp-uri">
                  {enrolment.uri}
                </Code>
                <Anchor href={enrolment.uri} size="sm">
                  Open in the authenticator app
                </Anchor>
              </List.Item>
              <List.Item>Enter the six-digit code the app now shows.</List.Item>
            </List>
            <CodeInput value={code} onChange={setCode} />
            <ErrorAlert error={error} title="Code not accepted" />
            <Button type="submit" loading={busy}>
              Confirm and continue
            </Button>
          </Stack>
        </form>
      ) : null}
    </PublicFrame>
  );
}
