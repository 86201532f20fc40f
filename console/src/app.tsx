// The routes. Sign-in, first-run setup and set-password are open; everything else sits inside
// the shell, needs a session, and checks the permission the screen reads.
import { lazy, type ReactNode, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { Empty, Loading, NoAccess, Page } from './components/page.tsx';
import { Shell } from './components/shell.tsx';
import { HomeScreen } from './screens/home.tsx';
import { SetPasswordScreen } from './screens/set-password.tsx';
import { SetupScreen } from './screens/setup.tsx';
import { SignInScreen } from './screens/sign-in.tsx';
import { SessionProvider, signInPath, useSession } from './session.tsx';

// Screens past Home load when first opened, so the sign-in page and Home come down quickly.
const AuditScreen = lazy(() =>
  import('./screens/audit.tsx').then((m) => ({ default: m.AuditScreen })),
);
const PeopleScreen = lazy(() =>
  import('./screens/people.tsx').then((m) => ({ default: m.PeopleScreen })),
);
const PeopleImportScreen = lazy(() =>
  import('./screens/people-import.tsx').then((m) => ({ default: m.PeopleImportScreen })),
);
const PersonScreen = lazy(() =>
  import('./screens/person.tsx').then((m) => ({ default: m.PersonScreen })),
);
const PolicyScreen = lazy(() =>
  import('./screens/policy.tsx').then((m) => ({ default: m.PolicyScreen })),
);
const SettingsScreen = lazy(() =>
  import('./screens/settings.tsx').then((m) => ({ default: m.SettingsScreen })),
);
const SecurityScreen = lazy(() =>
  import('./screens/security.tsx').then((m) => ({ default: m.SecurityScreen })),
);
const MailScreen = lazy(() =>
  import('./screens/mail.tsx').then((m) => ({ default: m.MailScreen })),
);
const WebFilterScreen = lazy(() =>
  import('./screens/web-filter.tsx').then((m) => ({ default: m.WebFilterScreen })),
);

/** Lets signed-in people (and locked sessions, under the overlay) through. */
function RequireSession({ children }: { children: ReactNode }) {
  const { session, loading } = useSession();
  const location = useLocation();
  if (loading || !session) return <Loading label="Opening the console…" />;
  if (session.state === 'ok' || session.state === 'locked') return children;
  return <Navigate to={signInPath(location)} replace />;
}

function Allowed({
  permission,
  what,
  children,
}: {
  /** One permission, or a list of which any one will do. */
  permission: string | readonly string[];
  what: string;
  children: ReactNode;
}) {
  const { session, can } = useSession();
  // A locked session has no permissions to show yet: keep the page until it is unlocked.
  if (session?.state === 'locked') return <Loading label="Locked" />;
  const allowed = typeof permission === 'string' ? can(permission) : permission.some((p) => can(p));
  if (!allowed) return <NoAccess what={what} />;
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

const WEB_FILTER_PERMISSIONS = [
  'webfilter.test',
  'webfilter.reports',
  'webfilter.manage',
  'webfilter.reviews.read',
];

/** Any of these opens the Mail screen; each tab needs its own. */
const MAIL_PERMISSIONS = ['mail.quarantine.read', 'mail.reports', 'mail.test'];

function NotFound() {
  return (
    <Page title="Page not found">
      <Empty title="There is no page at this address">
        Check the address, or choose a page from the navigation on the left.
      </Empty>
    </Page>
  );
}

export function App() {
  return (
    <SessionProvider>
      <Routes>
        <Route path="/sign-in" element={<SignInScreen />} />
        <Route path="/setup" element={<SetupScreen />} />
        <Route path="/set-password" element={<SetPasswordScreen />} />
        <Route
          element={
            <RequireSession>
              <Shell />
            </RequireSession>
          }
        >
          <Route index element={<HomeScreen />} />
          <Route
            path="/people"
            element={
              <Allowed permission="people.read" what="the directory">
                <PeopleScreen />
              </Allowed>
            }
          />
          <Route
            path="/people/import"
            element={
              <Allowed permission="people.manage" what="importing people">
                <PeopleImportScreen />
              </Allowed>
            }
          />
          <Route
            path="/people/:id"
            element={
              <Allowed permission="people.read" what="the directory">
                <PersonScreen />
              </Allowed>
            }
          />
          <Route
            path="/policy"
            element={
              <Allowed permission="policy.read" what="the policy">
                <PolicyScreen />
              </Allowed>
            }
          />
          <Route
            path="/audit"
            element={
              <Allowed permission="audit.read" what="the audit trail">
                <AuditScreen />
              </Allowed>
            }
          />
          <Route
            path="/security"
            element={
              <Allowed permission="security.flags.read" what="sign-ins flagged for review">
                <SecurityScreen />
              </Allowed>
            }
          />
          <Route
            path="/settings"
            element={
              <Allowed permission="policy.manage" what="the settings">
                <SettingsScreen />
              </Allowed>
            }
          />
          <Route
            path="/web-filter"
            element={
              <Allowed permission={WEB_FILTER_PERMISSIONS} what="the web filter">
                <WebFilterScreen />
              </Allowed>
            }
          />
          <Route
            path="/mail"
            element={
              <Allowed permission={MAIL_PERMISSIONS} what="the mail gateway">
                <MailScreen />
              </Allowed>
            }
          />
          <Route path="/home" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </SessionProvider>
  );
}
