// The policy in force (GOV-2): its document record (owner, approval, next review: GOV-1, GOV-3),
// the version history with each version's approval record (GOV-4), the PDF, my read-and-accept
// of the version in force (GOV-5), and every clause with an anchor equal to its id, so that a
// block page or an audit entry can link to /policy#SYS-5. Those who may also publish a new
// version (GOV-6) and see who has accepted it (the Acceptance tab).
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
} from '@mantine/core';
import { Fragment, lazy, Suspense, useEffect, useState } from 'react';
import { useLocation, useSearchParams } from 'react-router-dom';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDate, formatDateTime } from '../format.ts';
import { type Clause, roleName, usePolicy } from '../policy-data.ts';
import {
  type PublishedVersion,
  useAccept,
  useVersions,
  type VersionsPage,
} from '../policy-versions.ts';
import { useSession } from '../session.tsx';
import { PublishVersion } from './policy-publish.tsx';

const AcceptanceTab = lazy(() =>
  import('./policy-acceptance.tsx').then((m) => ({ default: m.AcceptanceTab })),
);

const SECTIONS: Record<string, string> = {
  GOV: 'The document itself',
  SCP: 'Scope',
  BRE: 'Prohibited use and breaches',
  PWD: 'Equipment security and passwords',
  SYS: 'Systems use and data security',
  MAIL: 'E-mail etiquette and content',
  MON: 'E-mail monitoring',
  WEB: 'Internet use and monitoring',
  PER: 'Personal use',
  MIS: 'Inappropriate use and investigation',
  INC: 'Incidents and data protection',
};
const ORDER = Object.keys(SECTIONS);

const sectionOf = (c: Clause) => c.section || c.id.split('-')[0] || '';
const numberOf = (c: Clause) => Number(c.id.split('-')[1] ?? 0);

function bySection(clauses: Clause[]): [string, Clause[]][] {
  const groups = new Map<string, Clause[]>();
  for (const clause of clauses) {
    const section = sectionOf(clause);
    groups.set(section, [...(groups.get(section) ?? []), clause]);
  }
  const rank = (s: string) => (ORDER.includes(s) ? ORDER.indexOf(s) : ORDER.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([s, list]) => [s, list.sort((x, y) => numberOf(x) - numberOf(y))]);
}

/** GOV-5: the signed-in person's read-and-accept of the version in force. */
function MyAcceptance({ page }: { page: VersionsPage }) {
  const accept = useAccept();
  const { version, acceptedAt } = page.myAcceptance;
  if (acceptedAt) {
    return (
      <Alert
        color="green"
        variant="light"
        title={`You have accepted version ${version}`}
        data-testid="my-acceptance"
      >
        You confirmed on {formatDateTime(acceptedAt)} that you have read and accept version{' '}
        {version} of the policy (GOV-5).
      </Alert>
    );
  }
  return (
    <Card withBorder padding="lg" data-testid="my-acceptance">
      <Group justify="space-between" align="center" wrap="wrap" gap="md">
        <Stack gap={4} maw={680}>
          <Title order={2} size="h4">
            Please read version {version} and accept it
          </Title>
          <Text size="sm">
            All staff must read the policy carefully (GOV-5). Read the clauses below, or download
            the PDF, then confirm. Your confirmation is recorded with the date and time.
          </Text>
          <ErrorAlert error={accept.error} title="Your acceptance was not recorded" />
        </Stack>
        <Button onClick={() => accept.mutate(version)} loading={accept.isPending}>
          I have read and accept version {version}
        </Button>
      </Group>
    </Card>
  );
}

function VersionHistory({ versions }: { versions: PublishedVersion[] }) {
  return (
    <Table striped aria-label="Version history">
      <Table.Thead>
        <Table.Tr>
          <Table.Th w={90}>Version</Table.Th>
          <Table.Th>Description of the change</Table.Th>
          <Table.Th w={105}>Released</Table.Th>
          <Table.Th w={170}>Agreed by (GOV-3)</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {versions.map((v) => (
          <Table.Tr key={v.number} data-testid="version-row">
            <Table.Td>
              <Stack gap={4} align="flex-start">
                <Text size="sm" fw={v.status === 'current' ? 700 : undefined}>
                  {v.number}
                </Text>
                {v.status === 'current' ? (
                  <Badge size="sm" color="#1e6b32" variant="filled" radius="sm">
                    In force
                  </Badge>
                ) : null}
              </Stack>
            </Table.Td>
            <Table.Td>
              <Text size="sm">{v.description}</Text>
              {v.hasText ? (
                <Text size="xs">
                  <Anchor href={v.documentHtml} target="_blank">
                    Version {v.number} as a web page
                  </Anchor>
                  {' · '}
                  <Anchor href={v.documentPdf}>PDF</Anchor>
                </Text>
              ) : null}
            </Table.Td>
            <Table.Td>{v.releaseDate ? formatDate(v.releaseDate) : 'Not given'}</Table.Td>
            <Table.Td>
              {v.approval ? (
                <Text size="sm">
                  {v.approval.body}, {formatDate(v.approval.date)}
                  <br />
                  {v.approval.signatory ? `Signed by ${v.approval.signatory}` : 'Not yet signed'}
                </Text>
              ) : (
                <Text size="sm">Not recorded</Text>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function PolicyScreen() {
  const policy = usePolicy();
  const versions = useVersions();
  const { can } = useSession();
  const { hash } = useLocation();
  const [params, setParams] = useSearchParams();
  const [publishing, setPublishing] = useState(false);
  const [published, setPublished] = useState<PublishedVersion | null>(null);
  const showAcceptance = can('policy.acceptance.read');
  const tab = params.get('tab') === 'acceptance' && showAcceptance ? 'acceptance' : 'policy';
  const chooseTab = (value: string | null) =>
    setParams(value === 'acceptance' ? { tab: 'acceptance' } : {}, { replace: true });

  // Scroll to the clause named in the address once the clauses, and the acceptance card above
  // them, are on the page.
  const laidOut = Boolean(policy.data) && !versions.isPending;
  useEffect(() => {
    if (!laidOut || !hash) return;
    const id = decodeURIComponent(hash.slice(1));
    const target = document.getElementById(id);
    if (!target) return;
    target.scrollIntoView({ block: 'start' });
    target.focus({ preventScroll: true });
  }, [laidOut, hash]);

  if (policy.isPending) return <Loading label="Loading the policy…" />;
  if (policy.error) {
    return (
      <Page title="The policy">
        <ErrorAlert error={policy.error} title="The policy did not load" />
      </Page>
    );
  }
  const { document: doc, clauses } = policy.data;
  const history: PublishedVersion[] =
    versions.data?.versions ??
    [...doc.versions]
      .sort((a, b) => b.version - a.version)
      .map((v, i) => ({
        number: v.version,
        description: v.description,
        releaseDate: v.date,
        approval: i === 0 ? doc.approval : null,
        note: null,
        status: i === 0 ? 'current' : 'superseded',
        source: 'pack-history',
        packName: null,
        packSha256: null,
        hasText: false,
        publishedAt: '',
        publishedBy: '',
        supersededAt: null,
        documentHtml: '',
        documentPdf: '',
      }));
  const current = history.find((v) => v.status === 'current') ?? history[0];
  const approval = current?.approval ?? doc.approval;
  const nextReview = versions.data?.review?.due ?? doc.nextReviewDue;
  const selected = hash ? decodeURIComponent(hash.slice(1)) : null;
  const sections = bySection(clauses);

  const policyContent = (
    <Stack gap="lg">
      <SimpleGrid cols={{ base: 1, xl: 2 }} spacing="lg">
        <Card withBorder padding="lg">
          <Title order={2} size="h4" mb="sm">
            The document
          </Title>
          <Table variant="vertical" withTableBorder={false} layout="fixed">
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={190}>Version in force</Table.Th>
                <Table.Td data-testid="version-in-force">
                  {current ? `${current.number}, ${formatDate(current.releaseDate)}` : '—'}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Owner (GOV-1)</Table.Th>
                <Table.Td>
                  {doc.owner.name}, {roleName(policy.data, doc.owner.role)}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Reviewed every</Table.Th>
                <Table.Td>{doc.reviewIntervalMonths} months</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Next review due</Table.Th>
                <Table.Td data-testid="next-review">
                  {formatDate(nextReview)}
                  {versions.data?.review && versions.data.review.state !== 'ok' ? (
                    <Badge
                      ml={8}
                      color={versions.data.review.state === 'overdue' ? 'red.9' : '#9c3a06'}
                      variant="filled"
                      radius="sm"
                    >
                      {versions.data.review.state === 'overdue' ? 'Overdue' : 'Due soon'}
                    </Badge>
                  ) : null}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Agreed by (GOV-3)</Table.Th>
                <Table.Td>
                  {approval.body}, {formatDate(approval.date)}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Signed by</Table.Th>
                <Table.Td>{approval.signatory ?? 'Not yet signed'}</Table.Td>
              </Table.Tr>
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder padding="lg">
          <Title order={2} size="h4" mb="sm">
            Version history (GOV-4)
          </Title>
          <VersionHistory versions={history} />
        </Card>
      </SimpleGrid>

      <Card withBorder padding="lg" component="nav" aria-label="Clauses of the policy">
        <Title order={2} size="h4" mb="sm">
          Clauses
        </Title>
        <Group gap="xs">
          {clauses.length === 0 ? (
            <Text size="sm">The policy pack lists no clauses.</Text>
          ) : (
            sections.flatMap(([, list]) =>
              list.map((c) => (
                <Anchor key={c.id} href={`#${c.id}`} size="sm" title={c.title}>
                  {c.id}
                </Anchor>
              )),
            )
          )}
        </Group>
      </Card>

      {clauses.length === 0 ? (
        <Empty title="No clauses">
          The policy pack in force has no clauses. Ask the School Business Manager to apply the
          school's pack (custos policy apply).
        </Empty>
      ) : (
        <Stack gap="xl">
          {sections.map(([section, list]) => (
            <Stack
              key={section}
              gap="md"
              component="section"
              aria-labelledby={`section-${section}`}
            >
              <Title order={2} size="h3" id={`section-${section}`}>
                {SECTIONS[section] ?? section}
              </Title>
              {list.map((clause) => (
                <Card
                  key={clause.id}
                  id={clause.id}
                  withBorder
                  padding="lg"
                  className="clause"
                  tabIndex={-1}
                  component="article"
                  aria-labelledby={`title-${clause.id}`}
                  data-highlight={selected === clause.id}
                  data-testid="clause"
                >
                  <Group gap="sm" mb="xs" wrap="nowrap" align="baseline">
                    <Badge variant="filled" color="blue.9" radius="sm">
                      {clause.id}
                    </Badge>
                    <Title order={3} size="h5" id={`title-${clause.id}`}>
                      {clause.title}
                    </Title>
                  </Group>
                  <Text style={{ whiteSpace: 'pre-line' }}>{clause.text}</Text>
                  {clause.parts && Object.keys(clause.parts).length ? (
                    <Stack
                      gap={4}
                      mt="sm"
                      component="ol"
                      style={{ listStyle: 'none', paddingLeft: 0 }}
                    >
                      {Object.entries(clause.parts).map(([part, text]) => (
                        <Fragment key={part}>
                          <Text component="li" size="sm" id={`${clause.id}(${part})`}>
                            <strong>({part})</strong> {text}
                          </Text>
                        </Fragment>
                      ))}
                    </Stack>
                  ) : null}
                </Card>
              ))}
            </Stack>
          ))}
        </Stack>
      )}
    </Stack>
  );

  return (
    <Page
      title={doc.title}
      description={`${doc.school}: the policy in force, clause by clause.`}
      actions={
        <>
          <Button component="a" href="/api/policy/current.pdf" variant="default">
            Download PDF
          </Button>
          {can('policy.manage') && current ? (
            <Button onClick={() => setPublishing(true)}>Publish a new version</Button>
          ) : null}
        </>
      }
    >
      {current ? (
        <PublishVersion
          opened={publishing}
          onClose={() => setPublishing(false)}
          next={current.number + 1}
          onPublished={(version) => {
            setPublishing(false);
            setPublished(version);
          }}
        />
      ) : null}
      {published ? (
        <Alert
          color="green"
          variant="light"
          role="status"
          title={`Version ${published.number} is published`}
          withCloseButton
          closeButtonLabel="Dismiss"
          onClose={() => setPublished(null)}
        >
          Version {published.number} is now in force and everyone in scope is asked to read and
          accept it (GOV-6). The Acceptance tab shows who has.
        </Alert>
      ) : null}
      <ErrorAlert error={versions.error} title="The version history did not load" />
      {versions.data ? <MyAcceptance page={versions.data} /> : null}
      {showAcceptance ? (
        <Tabs value={tab} onChange={chooseTab} keepMounted={false}>
          <Tabs.List>
            <Tabs.Tab value="policy">The policy</Tabs.Tab>
            <Tabs.Tab value="acceptance">Acceptance</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="acceptance" pt="lg">
            <Suspense fallback={<Loading />}>
              <AcceptanceTab />
            </Suspense>
          </Tabs.Panel>
          <Tabs.Panel value="policy" pt="lg">
            {policyContent}
          </Tabs.Panel>
        </Tabs>
      ) : (
        policyContent
      )}
    </Page>
  );
}
