// The mail gateway: the messages it holds for review (release or delete with a note), its
// activity in aggregate (never one person's mail), "test a message" and the mail rules of the
// policy pack in force (MAIL-4, MAIL-5, MAIL-12, MAIL-13, SYS-4, SYS-7, SYS-8, MON-2, MON-3).
import { Tabs } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Loading, Page } from '../components/page.tsx';
import { useSession } from '../session.tsx';

const QuarantineTab = lazy(() =>
  import('./mail-quarantine.tsx').then((m) => ({ default: m.QuarantineTab })),
);
const ActivityTab = lazy(() =>
  import('./mail-activity.tsx').then((m) => ({ default: m.MailActivityTab })),
);
const TestTab = lazy(() => import('./mail-test.tsx').then((m) => ({ default: m.MailTestTab })));
const RulesTab = lazy(() => import('./mail-rules.tsx').then((m) => ({ default: m.MailRulesTab })));

interface TabDef {
  value: string;
  label: string;
  permissions: string[];
  render(): React.ReactNode;
}

const TABS: TabDef[] = [
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

export function MailScreen() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((t) => t.permissions.some((p) => can(p)));
  const asked = params.get('tab');
  const tab = tabs.find((t) => t.value === asked)?.value ?? tabs[0]?.value ?? 'quarantine';
  const choose = (value: string | null) => {
    if (!value) return;
    setParams(value === tabs[0]?.value ? {} : { tab: value }, { replace: true });
  };

  return (
    <Page
      title="Mail"
      description="The mail gateway: messages held for review, mail in aggregate, testing a message against the rules, and the rules themselves (MAIL-4, MAIL-5, MAIL-12, SYS-4, SYS-7, SYS-8)."
    >
      <Tabs value={tab} onChange={choose} keepMounted={false}>
        <Tabs.List>
          {tabs.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {tabs.map((t) => (
          <Tabs.Panel key={t.value} value={t.value} pt="lg">
            <Suspense fallback={<Loading />}>{t.render()}</Suspense>
          </Tabs.Panel>
        ))}
      </Tabs>
    </Page>
  );
}
