// The mail gateway: the messages it holds for review (release or delete with a note), its
// activity in aggregate (never one person's mail), "test a message" and the mail rules of the
// policy pack in force (MAIL-4, MAIL-5, MAIL-12, MAIL-13, SYS-4, SYS-7, SYS-8, MON-2, MON-3).
import { Alert, Stack } from '@mantine/core';
import { lazy } from 'react';
import { Page } from '../components/page.tsx';
import { type SectionTab, SectionTabs } from '../components/section-tabs.tsx';
import { useScannerStatus } from '../mail-data.ts';
import { useSession } from '../session.tsx';

const QuarantineTab = lazy(() =>
  import('./mail-quarantine.tsx').then((m) => ({ default: m.QuarantineTab })),
);
const ActivityTab = lazy(() =>
  import('./mail-activity.tsx').then((m) => ({ default: m.MailActivityTab })),
);
const TestTab = lazy(() => import('./mail-test.tsx').then((m) => ({ default: m.MailTestTab })));
const RulesTab = lazy(() => import('./mail-rules.tsx').then((m) => ({ default: m.MailRulesTab })));

const TABS: SectionTab[] = [
  {
    value: 'quarantine',
    label: 'Quarantine',
    permissions: ['mail.quarantine.read'],
    render: () => <QuarantineTab />,
  },
  {
    value: 'activity',
    label: 'Activity',
    permissions: ['mail.reports'],
    render: () => <ActivityTab />,
  },
  { value: 'test', label: 'Test a message', permissions: ['mail.test'], render: () => <TestTab /> },
  { value: 'rules', label: 'Rules', permissions: ['mail.test'], render: () => <RulesTab /> },
];

/** Said loudly when mail is not being scanned, or could pass unscanned (SYS-4, SYS-7). */
function ScannerWarning() {
  const { can } = useSession();
  const { data } = useScannerStatus(can('mail.reports'));
  if (!data || (data.answering && !data.failOpen)) return null;
  const unscanned = !data.answering && data.failOpen;
  // Red either way: mail is waiting, or could pass (or is passing) unscanned.
  return (
    <Alert
      color="red"
      variant="light"
      title={
        data.answering
          ? 'Mail could pass unscanned'
          : unscanned
            ? 'Mail is passing unscanned'
            : 'Mail is waiting for the virus scanner'
      }
      role="alert"
    >
      {data.message} (clamd at {data.address}.)
    </Alert>
  );
}

export function MailScreen() {
  return (
    <Page
      title="Mail"
      description="The mail gateway: messages held for review, mail in aggregate, testing a message against the rules, and the rules themselves (MAIL-4, MAIL-5, MAIL-12, SYS-4, SYS-7, SYS-8)."
    >
      <Stack>
        <ScannerWarning />
        <SectionTabs tabs={TABS} />
      </Stack>
    </Page>
  );
}
