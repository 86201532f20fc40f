// A new password typed twice, with the parts of the policy's password rule (PWD-2) that the
// API says it breaks listed under it.
import { List, PasswordInput, Stack, Text } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { ApiError } from '../api.ts';

export interface PasswordFailure {
  part?: string;
  message: string;
}

/** The failing parts of the password rule, from a `password_rejected` error. */
export function passwordFailures(error: unknown): PasswordFailure[] {
  if (!(error instanceof ApiError) || error.code !== 'password_rejected') return [];
  const failures = (error.details as { failures?: unknown } | undefined)?.failures;
  if (!Array.isArray(failures)) return [{ message: error.message }];
  const list = failures.filter(
    (f): f is PasswordFailure => typeof (f as PasswordFailure)?.message === 'string',
  );
  return list.length ? list : [{ message: error.message }];
}

/** Field errors of a `validation_failed` error, keyed by the last part of the path. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || error.code !== 'validation_failed') return {};
  const out: Record<string, string> = {};
  if (!Array.isArray(error.details)) return out;
  for (const item of error.details as { path?: string; field?: string; message?: string }[]) {
    const key = (item.field ?? item.path ?? '').split('.').pop();
    if (key && item.message) out[key] = item.message;
  }
  return out;
}

export function PasswordFields({
  password,
  confirm,
  onPassword,
  onConfirm,
  failures,
  confirmError,
}: {
  password: string;
  confirm: string;
  onPassword(value: string): void;
  onConfirm(value: string): void;
  failures: PasswordFailure[];
  confirmError: string | null;
}) {
  return (
    <Stack gap="md">
      <PasswordInput
        label="New password"
        description="At least 8 characters with letters, numbers and special characters; not a common password and not built from your name or e-mail (PWD-2)."
        autoComplete="new-password"
        value={password}
        onChange={(e) => onPassword(e.currentTarget.value)}
        required
        error={
          failures.length ? (
            <Stack gap={2} data-testid="password-failures">
              <Text size="sm" span>
                This password cannot be used:
              </Text>
              <List size="sm">
                {failures.map((f) => (
                  <List.Item key={`${f.part ?? ''}${f.message}`}>{f.message}</List.Item>
                ))}
              </List>
            </Stack>
          ) : undefined
        }
      />
      <PasswordInput
        label="New password again"
        autoComplete="new-password"
        value={confirm}
        onChange={(e) => onConfirm(e.currentTarget.value)}
        required
        error={confirmError ?? undefined}
      />
    </Stack>
  );
}

/**
 * The state and submit handler of a form that chooses a new password: both entries must match
 * before `send` is called; the API's answer (PWD-2 failures, field errors) lands in `error`.
 */
export function useNewPasswordForm(send: (password: string) => Promise<void>) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [confirmError, setConfirmError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (password !== confirm) {
      setConfirmError('The two passwords are not the same. Type the new password again.');
      return;
    }
    setConfirmError(null);
    setBusy(true);
    try {
      await send(password);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { password, setPassword, confirm, setConfirm, confirmError, error, busy, submit };
}
