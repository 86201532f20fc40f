// Asking for a decision with a note before it is made: releasing or deleting a held message,
// allowing or declining a request to unblock a site. The note is required (three characters at
// least) because it goes in the audit trail and often to the person concerned.
import { Button, Group, Modal, Stack, Textarea } from '@mantine/core';
import { type ReactNode, useEffect, useState } from 'react';
import { ErrorAlert } from './page.tsx';

export function DecisionDialog({
  opened,
  title,
  onCancel,
  onDecide,
  pending,
  error,
  errorTitle,
  confirm,
  confirmColour,
  note,
  children,
}: {
  opened: boolean;
  title: string;
  onCancel(): void;
  onDecide(note: string): void;
  pending: boolean;
  error: unknown;
  errorTitle: string;
  /** The submit button's words. */
  confirm: string;
  confirmColour?: string;
  note: { label: string; description: string; placeholder: string };
  /** What the decision does, above the note. */
  children: ReactNode;
}) {
  const [text, setText] = useState('');
  // A new decision starts with an empty note; a failed one keeps it to try again.
  useEffect(() => {
    if (!opened) setText('');
  }, [opened]);
  return (
    <Modal
      opened={opened}
      onClose={onCancel}
      title={title}
      size="lg"
      closeButtonProps={{ 'aria-label': 'Cancel: decide later' }}
    >
      {opened ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            onDecide(text);
          }}
        >
          <Stack gap="md">
            {children}
            <Textarea
              label={note.label}
              description={note.description}
              placeholder={note.placeholder}
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
              minRows={3}
              autosize
              required
              data-autofocus
            />
            <ErrorAlert error={error} title={errorTitle} />
            <Group justify="flex-end">
              <Button variant="default" onClick={onCancel}>
                Cancel
              </Button>
              <Button
                type="submit"
                color={confirmColour}
                loading={pending}
                disabled={text.trim().length < 3}
              >
                {confirm}
              </Button>
            </Group>
          </Stack>
        </form>
      ) : null}
    </Modal>
  );
}
