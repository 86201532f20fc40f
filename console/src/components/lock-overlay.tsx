// PWD-5: after the idle time the console locks. The page stays underneath, hidden behind a
// blurred overlay; giving the password again unlocks it and requests that waited carry on.
import { Anchor, Button, Modal, PasswordInput, Stack, Text } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useSession } from '../session.tsx';
import { ErrorAlert } from './page.tsx';

export function LockOverlay() {
  const { locked, unlock, signOut, session } = useSession();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await unlock(password);
      setPassword('');
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      opened={locked}
      onClose={() => undefined}
      withCloseButton={false}
      closeOnEscape={false}
      closeOnClickOutside={false}
      centered
      title="The console is locked"
      overlayProps={{ backgroundOpacity: 0.9, blur: 12, color: '#1a1b1e' }}
      // At once, without a fade: the page behind must not stay readable for a moment, and the
      // dialog is never half transparent (hard to read on a slow laptop).
      transitionProps={{ duration: 0 }}
      zIndex={1000}
      data-testid="lock-overlay"
    >
      <form onSubmit={submit}>
        <Stack gap="md">
          <Text size="sm">
            It was locked after {session?.idleLockMinutes ?? 'some'} minutes without use, as the
            policy asks (PWD-5). Your page is kept: enter your password to carry on.
          </Text>
          {session?.person ? (
            <Text size="sm">
              Signed in as <strong>{session.person.name}</strong> ({session.person.email})
            </Text>
          ) : null}
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            required
            data-autofocus
          />
          <ErrorAlert error={error} title="Not unlocked" />
          <Button type="submit" loading={busy}>
            Unlock
          </Button>
          <Text size="sm">
            Not you?{' '}
            <Anchor component="button" type="button" onClick={() => void signOut()}>
              Sign out
            </Anchor>
          </Text>
        </Stack>
      </form>
    </Modal>
  );
}
