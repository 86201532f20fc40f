// A section of the console as tabs: each tab shown only to people with one of its permissions,
// the chosen tab kept in the address (?tab=…) so it can be linked to, and loaded when first opened.
import { Tabs } from '@mantine/core';
import { type ReactNode, Suspense } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useSession } from '../session.tsx';
import { Loading } from './page.tsx';

export interface SectionTab {
  value: string;
  label: string;
  /** Shown to people with any of these. */
  permissions: string[];
  render(): ReactNode;
}

export function SectionTabs({ tabs: all }: { tabs: SectionTab[] }) {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const tabs = all.filter((t) => t.permissions.some((p) => can(p)));
  const asked = params.get('tab');
  const tab = tabs.find((t) => t.value === asked)?.value ?? tabs[0]?.value ?? null;
  const choose = (value: string | null) => {
    if (!value) return;
    // The first tab is the section's own address.
    setParams(value === tabs[0]?.value ? {} : { tab: value }, { replace: true });
  };

  return (
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
  );
}
