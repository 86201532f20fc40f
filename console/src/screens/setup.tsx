// First run: while no account exists, `custos serve` prints a one-time link to this page
// (/setup#token=...). The School Business Manager creates their own account here.
import { Alert, Button, Code, Group, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { ApiError, api } from '../api.ts';
import { ErrorAlert } from '../components/page.tsx';
import {
  fieldErrors,
  PasswordFields,
  passwordFailures,
  useNewPasswordForm,
} from '../components/password-fields.tsx';
import { PublicFrame, tokenFromHash } from '../components/public-frame.tsx';

export function SetupScreen() {
  const location = useLocation();
  const navigate = useNavigate();
  const token = tokenFromHash(location.hash);
  const [givenName, setGivenName] = useState('');
  const [familyName, setFamilyName] = useState('');
  const [email, setEmail] = useState('');
  const { password, setPassword, confirm, setConfirm, confirmError, error, busy, submit } =
    useNewPasswordForm(async (chosen) => {
      const answer = await api<{ email: string }>('/api/auth/setup', {
        method: 'POST',
        body: { token, givenName, familyName, email, password: chosen },
        quiet: true,
      });
      navigate(`/sign-in?email=${encodeURIComponent(answer?.email ?? email)}`, {
        replace: true,
        state: {
          reason:
            'Your account is ready. Sign in with it now; your role then sets up an authenticator app.',
        },
      });
    });

  if (!token) {
    return (
      <PublicFrame title="Set up Custos">
        <Alert color="red" variant="light" title="This address has no set-up token" role="alert">
          <Text size="sm">
            Open the one-time link that <Code>custos serve</Code> printed in the terminal when it
            started; it ends in <Code>/setup#token=…</Code>. If it has expired or was used, run{' '}
            <Code>custos init</Code> or restart <Code>custos serve</Code> for a new one.
          </Text>
        </Alert>
      </PublicFrame>
    );
  }

  const failures = passwordFailures(error);
  const fields = fieldErrors(error);
  const showGeneral = error && !failures.length && !Object.keys(fields).length;

  return (
    <PublicFrame
      title="Set up Custos"
      intro="No account exists yet. Create the School Business Manager's account: it owns the policy (GOV-1) and can then add everyone else."
    >
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <Group grow align="flex-start">
            <TextInput
              label="Given name"
              autoComplete="given-name"
              value={givenName}
              onChange={(e) => setGivenName(e.currentTarget.value)}
              error={fields.givenName}
              required
              autoFocus
            />
            <TextInput
              label="Family name"
              autoComplete="family-name"
              value={familyName}
              onChange={(e) => setFamilyName(e.currentTarget.value)}
              error={fields.familyName}
              required
            />
          </Group>
          <TextInput
            label="Work e-mail address"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={fields.email}
            required
          />
          <PasswordFields
            password={password}
            confirm={confirm}
            onPassword={setPassword}
            onConfirm={setConfirm}
            failures={failures}
            confirmError={confirmError}
          />
          {showGeneral ? (
            <ErrorAlert
              error={error}
              title={
                error instanceof ApiError && error.code === 'token_invalid'
                  ? 'This link no longer works'
                  : 'The account was not created'
              }
            />
          ) : null}
          <Button type="submit" loading={busy}>
            Create the account
          </Button>
        </Stack>
      </form>
    </PublicFrame>
  );
}
