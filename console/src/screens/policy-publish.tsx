// GOV-6: publishing a new version of the policy, with the approval record the governing body
// gave it (GOV-3). The new version supersedes the one in force and everyone is asked to accept
// it again.
import {
  Alert,
  Button,
  Checkbox,
  Group,
  Modal,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '../components/page.tsx';
import { parseUkDate } from '../format.ts';
import { type PublishedVersion, usePublish } from '../policy-versions.ts';

interface Fields {
  description: string;
  releaseDate: string;
  body: string;
  approvalDate: string;
  signatory: string;
  note: string;
  notify: boolean;
}

const EMPTY: Fields = {
  description: '',
  releaseDate: '',
  body: 'Full Governing Body',
  approvalDate: '',
  signatory: '',
  note: '',
  notify: true,
};

export function PublishVersion({
  opened,
  onClose,
  next,
  onPublished,
}: {
  opened: boolean;
  onClose(): void;
  next: number;
  onPublished(version: PublishedVersion): void;
}) {
  const [fields, setFields] = useState<Fields>(EMPTY);
  const [problems, setProblems] = useState<Partial<Record<keyof Fields, string>>>({});
  const publish = usePublish();
  // A field's problem goes as soon as it is changed.
  const set = (key: keyof Fields) => (value: string | boolean) => {
    setFields((f) => ({ ...f, [key]: value }));
    setProblems((p) => ({ ...p, [key]: undefined }));
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    const releaseDate = parseUkDate(fields.releaseDate);
    const approvalDate = parseUkDate(fields.approvalDate);
    const found: Partial<Record<keyof Fields, string>> = {};
    if (!fields.description.trim()) found.description = 'Say what changed in this version';
    if (!releaseDate) found.releaseDate = 'Write the date as dd/mm/yyyy';
    if (!fields.body.trim()) found.body = 'Name the body that agreed it';
    if (!approvalDate) found.approvalDate = 'Write the date as dd/mm/yyyy';
    if (!fields.signatory.trim()) found.signatory = 'Name who signed the approved copy';
    setProblems(found);
    if (Object.keys(found).length || !releaseDate || !approvalDate) return;
    publish.mutate(
      {
        description: fields.description.trim(),
        releaseDate,
        approval: {
          body: fields.body.trim(),
          date: approvalDate,
          signatory: fields.signatory.trim(),
        },
        ...(fields.note.trim() ? { note: fields.note.trim() } : {}),
        notify: fields.notify,
      },
      {
        onSuccess: (version) => {
          setFields(EMPTY);
          onPublished(version);
        },
      },
    );
  }

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={`Publish version ${next}`}
      size="lg"
      closeButtonProps={{ 'aria-label': 'Close' }}
    >
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          <Text size="sm">
            Publish the policy as the governing body agreed it (GOV-3). Version {next} supersedes
            the version in force; earlier versions stay on record (GOV-4) and everyone in scope is
            asked to read and accept version {next} (GOV-6). The rules Custos enforces are those of
            the policy pack in force; its text is recorded with this version.
          </Text>
          <Textarea
            label="Description of the change"
            required
            autosize
            minRows={2}
            value={fields.description}
            onChange={(e) => set('description')(e.currentTarget.value)}
            error={problems.description}
          />
          <TextInput
            label="Date of release"
            description="dd/mm/yyyy"
            required
            value={fields.releaseDate}
            onChange={(e) => set('releaseDate')(e.currentTarget.value)}
            error={problems.releaseDate}
          />
          <TextInput
            label="Agreed by"
            required
            value={fields.body}
            onChange={(e) => set('body')(e.currentTarget.value)}
            error={problems.body}
          />
          <Group grow align="flex-start">
            <TextInput
              label="Date agreed"
              description="dd/mm/yyyy"
              required
              value={fields.approvalDate}
              onChange={(e) => set('approvalDate')(e.currentTarget.value)}
              error={problems.approvalDate}
            />
            <TextInput
              label="Signed by"
              required
              value={fields.signatory}
              onChange={(e) => set('signatory')(e.currentTarget.value)}
              error={problems.signatory}
            />
          </Group>
          <Textarea
            label="Note"
            description="Optional, kept with the version"
            autosize
            minRows={1}
            value={fields.note}
            onChange={(e) => set('note')(e.currentTarget.value)}
          />
          <Checkbox
            label="E-mail everyone in scope to read and accept it"
            checked={fields.notify}
            onChange={(e) => set('notify')(e.currentTarget.checked)}
          />
          <ErrorAlert error={publish.error} title="The version was not published" />
          {Object.values(problems).some(Boolean) ? (
            <Alert color="red" variant="light" role="alert" title="Check the form">
              Some fields need attention; each says what is wrong.
            </Alert>
          ) : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={publish.isPending}>
              Publish version {next}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
