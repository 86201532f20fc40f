// The frame around every signed-in screen: a header with the person's name and sign-out, and a
// navigation that lists only what the person's roles allow (the API refuses the rest anyway).
import {
  Anchor,
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  Stack,
  Text,
  VisuallyHidden,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Link, Outlet, useLocation } from 'react-router-dom';
import { useSession } from '../session.tsx';
import { LockOverlay } from './lock-overlay.tsx';

export interface NavItem {
  to: string;
  label: string;
  description: string;
  /** Shown only to people holding this permission; none = everyone signed in. */
  permission?: string;
  /** Shown only to people holding at least one of these permissions. */
  anyOf?: readonly string[];
}

export const NAV_ITEMS: readonly NavItem[] = [
  { to: '/', label: 'Needs my attention', description: 'What waits for you' },
  {
    to: '/people',
    label: 'People',
    description: 'The directory (SCP-1)',
    permission: 'people.read',
  },
  {
    to: '/people/import',
    label: 'Import people',
    description: 'From a CSV file',
    permission: 'people.manage',
  },
  {
    to: '/policy',
    label: 'The policy',
    description: 'Clauses and versions (GOV)',
    permission: 'policy.read',
  },
  {
    to: '/audit',
    label: 'Audit trail',
    description: 'Every action, hash-chained',
    permission: 'audit.read',
  },
  {
    to: '/web-filter',
    label: 'Web filter',
    description: 'Categories, lists, test a URL',
    anyOf: ['webfilter.test', 'webfilter.reports', 'webfilter.manage', 'webfilter.reviews.read'],
  },
  {
    to: '/mail',
    label: 'Mail',
    description: 'Quarantine, activity, test a message',
    anyOf: ['mail.quarantine.read', 'mail.reports', 'mail.test'],
  },
  {
    to: '/security',
    label: 'Flagged sign-ins',
    description: 'Two places at once (PWD-4)',
    permission: 'security.flags.read',
  },
  {
    to: '/settings',
    label: 'Settings',
    description: 'The policy pack in force',
    permission: 'policy.manage',
  },
];

function isActive(item: NavItem, pathname: string): boolean {
  if (item.to === '/') return pathname === '/';
  if (item.to === '/people')
    return pathname === '/people' || /^\/people\/(?!import)/.test(pathname);
  return pathname === item.to || pathname.startsWith(`${item.to}/`);
}

export function Shell() {
  const { session, can, signOut } = useSession();
  const [opened, { toggle, close }] = useDisclosure(false);
  const { pathname } = useLocation();
  const items = NAV_ITEMS.filter(
    (item) =>
      (!item.permission || can(item.permission)) && (!item.anyOf || item.anyOf.some((p) => can(p))),
  );

  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 250, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="lg"
    >
      <Anchor href="#main" className="skip-link">
        Skip to the main content
      </Anchor>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={opened ? 'Close the menu' : 'Open the menu'}
            />
            <Anchor component={Link} to="/" underline="never" c="inherit" fw={700} fz="lg">
              Custos
            </Anchor>
          </Group>
          <Group gap="md" wrap="nowrap">
            {session?.person ? (
              <Text size="sm" truncate maw={260} data-testid="signed-in-as">
                <VisuallyHidden>Signed in as </VisuallyHidden>
                {session.person.name}
              </Text>
            ) : null}
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" aria-label="Main">
        <Stack gap={2} component="nav" aria-label="Main navigation">
          {items.map((item) => {
            const active = isActive(item, pathname);
            return (
              <NavLink
                key={item.to}
                component={Link}
                to={item.to}
                label={item.label}
                description={item.description}
                active={active}
                aria-current={active ? 'page' : undefined}
                variant="filled"
                onClick={close}
              />
            );
          })}
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Outlet />
      </AppShell.Main>
      <LockOverlay />
    </AppShell>
  );
}
