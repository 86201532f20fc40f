// The web filter: test what it does with an address for a person (SYS-5, WEB-1, WEB-2, MIS-2),
// the activity in aggregate (WEB-6: never one person), what each category blocks for each pack
// group, the school's own allow and deny lists (PER-4), the category lists loaded, and the requests
// to review a blocked site (MIS-1).
import { lazy } from 'react';
import { Page } from '../components/page.tsx';
import { type SectionTab, SectionTabs } from '../components/section-tabs.tsx';

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

const TABS: SectionTab[] = [
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
  return (
    <Page
      title="Web filter"
      description="What the web filter does with an address and why, its activity in aggregate, the categories each group may not open, the lists it uses, and requests to unblock a site (SYS-5, WEB-1, WEB-2, WEB-6, MIS-1, MIS-2, PER-4)."
    >
      <SectionTabs tabs={TABS} />
    </Page>
  );
}
