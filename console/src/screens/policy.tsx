// The policy in force (GOV-2): its document record (owner, approval, next review: GOV-1, GOV-3),
// the version history (GOV-4) and every clause with an anchor equal to its id, so that a block
// page or an audit entry can link to /policy#SYS-5.
import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Fragment, useEffect } from 'react';
import { useLocation } from 'react-router-dom';
import { Empty, ErrorAlert, Loading, Page } from '../components/page.tsx';
import { formatDate } from '../format.ts';
import { type Clause, roleName, usePolicy } from '../policy-data.ts';

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

export function PolicyScreen() {
  const policy = usePolicy();
  const { hash } = useLocation();

  // Scroll to the clause named in the address once the clauses are on the page.
  useEffect(() => {
    if (!policy.data || !hash) return;
    const id = decodeURIComponent(hash.slice(1));
    const target = document.getElementById(id);
    if (!target) return;
    target.scrollIntoView({ block: 'start' });
    target.focus({ preventScroll: true });
  }, [policy.data, hash]);

  if (policy.isPending) return <Loading label="Loading the policy…" />;
  if (policy.error) {
    return (
      <Page title="The policy">
        <ErrorAlert error={policy.error} title="The policy did not load" />
      </Page>
    );
  }
  const { document: doc, clauses } = policy.data;
  const versions = [...doc.versions].sort((a, b) => b.version - a.version);
  const current = versions[0];
  const selected = hash ? decodeURIComponent(hash.slice(1)) : null;
  const sections = bySection(clauses);

  return (
    <Page title={doc.title} description={`${doc.school}: the policy in force, clause by clause.`}>
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
        <Card withBorder padding="lg">
          <Title order={2} size="h4" mb="sm">
            The document
          </Title>
          <Table variant="vertical" withTableBorder={false} layout="fixed">
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={190}>Version in force</Table.Th>
                <Table.Td>
                  {current ? `${current.version}, ${formatDate(current.date)}` : '—'}
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
                <Table.Td data-testid="next-review">{formatDate(doc.nextReviewDue)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Agreed by (GOV-3)</Table.Th>
                <Table.Td>
                  {doc.approval.body}, {formatDate(doc.approval.date)}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Signed by</Table.Th>
                <Table.Td>{doc.approval.signatory ?? 'Not yet signed'}</Table.Td>
              </Table.Tr>
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder padding="lg">
          <Title order={2} size="h4" mb="sm">
            Version history (GOV-4)
          </Title>
          <Table striped aria-label="Version history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={80}>Version</Table.Th>
                <Table.Th>Description of the change</Table.Th>
                <Table.Th w={120}>Released</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {versions.map((v) => (
                <Table.Tr key={v.version}>
                  <Table.Td>{v.version}</Table.Td>
                  <Table.Td>{v.description}</Table.Td>
                  <Table.Td>{v.date ? formatDate(v.date) : 'Not given'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
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
    </Page>
  );
}
