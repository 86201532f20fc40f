// Setting a password from a one-time link (/set-password#token=...), sent for a new account or
// after a reset by someone who manages accounts.
import { Alert, Button, Code, Stack, Text } from '@mantine/core';
import { useLocation, useNavigate } from 'react-router-dom';
import { api } from '../api.ts';
import { ErrorAlert } from '../components/page.tsx';
import {
  PasswordFields,
  passwordFailures,
  useNewPasswordForm,
} from '../components/password-fields.tsx';
import { PublicFrame, tokenFromHash } from '../components/public-frame.tsx';

export function SetPasswordScreen() {
  const location = useLocation();
  const navigate = useNavigate();
  const token = tokenFromHash(location.hash);
  const { password, setPassword, confirm, setConfirm, confirmError, error, busy, submit } =
    useNewPasswordForm(async (chosen) => {
      await api('/api/auth/password/reset', {
        method: 'POST',
        body: { token, password: chosen },
        quiet: true,
      });
      navigate('/sign-in', {
        replace: true,
        state: { reason: 'Your password is set. Sign in with it now.' },
      });
    });

  if (!token) {
    return (
      <PublicFrame title="Set your password">
        <Alert color="red" variant="light" title="This address has no token" role="alert">
          <Text size="sm">
            Open the whole link from your message; it ends in <Code>/set-password#token=…</Code>. If
            it has expired, ask IT support or the School Business Manager for a new one.
          </Text>
        </Alert>
      </PublicFrame>
    );
  }

  const failures = passwordFailures(error);
  return (
    <PublicFrame
      title="Set your password"
      intro="Choose a password that only you know. Never share it: the policy treats signing in as someone else as misconduct (PWD-3, PWD-4)."
    >
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <PasswordFields
            password={password}
            confirm={confirm}
            onPassword={setPassword}
            onConfirm={setConfirm}
            failures={failures}
            confirmError={confirmError}
          />
          {error && !failures.length ? (
            <ErrorAlert error={error} title="The password was not set" />
          ) : null}
          <Button type="submit" loading={busy}>
            Set the password
          </Button>
        </Stack>
      </form>
    </PublicFrame>
  );
}
