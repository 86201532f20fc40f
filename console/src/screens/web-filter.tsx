// The web filter: test what it does with an address for a person (SYS-5, WEB-1, WEB-2, MIS-2),
// the activity in aggregate (WEB-6: never one person), what each category blocks for each pack
// group, the school's own allow and deny lists (PER-4), the category lists loaded, and the requests
// to review a blocked site (MIS-1).
import { Tabs } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Loading, Page } from '../components/page.tsx';
import { useSession } from '../session.tsx';

const TestTab = lazy(() => import('./web-filter-test.tsx').then((m) => ({ default: m.TestTab })));
const ActivityTab = lazy(() =>
  import('./web-filter-activity.tsx').then((m) => ({ default: m.ActivityTab })),
);
const CategoriesTab = lazy(() =>
  import('./web-filter-categories.tsx').then((m) => ({ default: m.CategoriesTab })),
);
const SchoolListsTab = lazy(() =>
  import('./web-filter-lists.tsx').then((m) => ({ default: m.SchoolListsTab })),
);
const ListsTab = lazy(() =>
  import('./web-filter-lists.tsx').then((m) => ({ default: m.ListsTab })),
);
const ReviewsTab = lazy(() =>
  import('./web-filter-reviews.tsx').then((m) => ({ default: m.ReviewsTab })),
);

interface TabDef {
  value: string;
  label: string;
  permissions: string[];
  render(): React.ReactNode;
}

const TABS: TabDef[] = [
  {
    value: 'test',
    label: 'Test a URL',
    permissions: ['webfilter.test'],
    render: () => <TestTab />,
  },
  {
    value: 'activity',
    label: 'Activity',
    permissions: ['webfilter.reports'],
    render: () => <ActivityTab />,
  },
  {
    value: 'categories',
    label: 'Categories',
    permissions: ['webfilter.manage', 'policy.manage'],
    render: () => <CategoriesTab />,
  },
  {
    value: 'school-lists',
    label: 'School lists',
    permissions: ['webfilter.manage'],
    render: () => <SchoolListsTab />,
  },
  { value: 'lists', label: 'Lists', permissions: ['webfilter.manage'], render: () => <ListsTab /> },
  {
    value: 'reviews',
    label: 'Review requests',
    permissions: ['webfilter.reviews.read'],
    render: () => <ReviewsTab />,
  },
];

export function WebFilterScreen() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((t) => t.permissions.some((p) => can(p)));
  const asked = params.get('tab');
  const tab = tabs.find((t) => t.value === asked)?.value ?? tabs[0]?.value ?? 'test';
  const choose = (value: string | null) => {
    if (!value) return;
    setParams(value === tabs[0]?.value ? {} : { tab: value }, { replace: true });
  };

  return (
    <Page
      title="Web filter"
      description="What the web filter does with an address and why, its activity in aggregate, the categories each group may not open, the lists it uses, and requests to unblock a site (SYS-5, WEB-1, WEB-2, WEB-6, MIS-1, MIS-2, PER-4)."
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
