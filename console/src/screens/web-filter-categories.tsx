// Categories: each category of the web filter with its name, entry counts and, for each pack group
// and for everyone, whether it is blocked. Those who manage the policy change the boxes; the
// console then edits the text of the pack in force (web.groups.<group>.block, web.everyone.block,
// keeping its comments), uploads it as a new pack for the usual check, and applies it after a
// confirmation naming each change. Policy changes always go through the versioned, audited pack.
import {
  Alert,
  Anchor,
  Button,
  Card,
  Checkbox,
  Code,
  Group,
  List,
  Modal,
  ScrollArea,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { type Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { api, isApiError } from '../api.ts';
import { ErrorAlert, Loading } from '../components/page.tsx';
import { plural } from '../format.ts';
import { SESSION_KEY, useSession } from '../session.tsx';
import { type BlockState, LISTS_KEY, type ListsState, useLists } from '../webfilter-data.ts';
import type { StoredPack } from './settings.tsx';

const EVERYONE = '*everyone';
const PACKS_KEY = ['policy', 'packs'] as const;

interface PackList {
  packs: StoredPack[];
  inForce: { source: 'database' | 'folder'; id: string | null; yaml?: string };
}

/** A box of the grid: the group's own rule, and whether its members are blocked another way. */
type Cell = BlockState & {
  /** Blocked for the group's members through a default group, not by the group's own rule. */
  viaDefault?: boolean;
};

interface Grid {
  groups: { id: string; name: string }[];
  categories: {
    id: string;
    name: string;
    inPolicy: boolean;
    domains: number | null;
    urls: number | null;
    everyone: BlockState;
    groups: Record<string, Cell>;
  }[];
  countsKnown: boolean;
}

interface Change {
  category: string;
  categoryName: string;
  group: string;
  groupName: string;
  block: boolean;
}

const key = (category: string, group: string) => `${category}|${group}`;

// --- Reading and editing the pack's text ---------------------------------------------------------

const plain = (node: unknown): unknown =>
  node && typeof node === 'object' && 'toJSON' in node
    ? (node as { toJSON(): unknown }).toJSON()
    : node;

function stringList(doc: Document, path: string[]): string[] {
  const value = plain(doc.getIn(path, true));
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The grid as the pack's text says it, for when the API does not list the categories. */
function gridFromPack(text: string): Grid | null {
  const doc = parseDocument(text);
  if (doc.errors.length) return null;
  const cats = doc.getIn(['web', 'categories'], true);
  if (!isMap(cats)) return null;
  const groupsNode = doc.get('groups', true);
  const groups: Grid['groups'] = [];
  if (isMap(groupsNode)) {
    for (const pair of groupsNode.items) {
      const id = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const name = isMap(pair.value) ? pair.value.get('name') : null;
      groups.push({ id, name: typeof name === 'string' ? name : id });
    }
  }
  const everyone = new Set(stringList(doc, ['web', 'everyone', 'block']));
  const everyoneClauses = stringList(doc, ['web', 'everyone', 'clauseIds']);
  const blocks = new Map(
    groups.map((g) => [g.id, new Set(stringList(doc, ['web', 'groups', g.id, 'block']))]),
  );
  const allows = new Map(
    groups.map((g) => [g.id, new Set(stringList(doc, ['web', 'groups', g.id, 'allow']))]),
  );
  const categories: Grid['categories'] = [];
  for (const pair of cats.items) {
    const id = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const body = plain(pair.value) as { name?: unknown; clauseIds?: unknown } | null;
    const clauseIds = Array.isArray(body?.clauseIds) ? (body.clauseIds as string[]) : [];
    const groupState: Record<string, BlockState> = {};
    for (const g of groups) {
      // The group's own rule, as the API reports it: its block list less its allow list.
      const blocked =
        everyone.has(id) || (!!blocks.get(g.id)?.has(id) && !allows.get(g.id)?.has(id));
      groupState[g.id] = { blocked, clauseIds: blocked ? clauseIds : [] };
    }
    categories.push({
      id,
      name: typeof body?.name === 'string' ? body.name : id,
      inPolicy: true,
      domains: null,
      urls: null,
      everyone: {
        blocked: everyone.has(id),
        clauseIds: everyone.has(id) ? [...new Set([...everyoneClauses, ...clauseIds])] : [],
      },
      groups: groupState,
    });
  }
  return { groups, categories, countsKnown: false };
}

/**
 * The API says what applies to a group's members; a box shows the group's own rule, which is
 * what a change edits. A block its members get through a default group is marked apart.
 */
function ownRule(state: BlockState, everyone: BlockState): Cell {
  if (state.rule === undefined) return state;
  const own = everyone.blocked || state.rule === 'block';
  return { blocked: own, clauseIds: own ? state.clauseIds : [], viaDefault: state.blocked && !own };
}

function gridFromLists(lists: ListsState): Grid {
  return {
    groups: lists.groups,
    categories: lists.categories.map((c) => ({
      ...c,
      groups: Object.fromEntries(
        Object.entries(c.groups).map(([g, state]) => [g, ownRule(state, c.everyone)]),
      ),
    })),
    countsKnown: true,
  };
}

/** Adds or removes `value` in the sequence at `path`; true when the text changed. */
function setMember(doc: Document, path: string[], value: string, present: boolean): boolean {
  const node = doc.getIn(path, true);
  if (isSeq(node)) {
    const at = node.items.findIndex((item) => (isScalar(item) ? item.value : item) === value);
    if (present && at < 0) {
      node.add(doc.createNode(value));
      return true;
    }
    if (!present && at >= 0) {
      node.delete(at);
      return true;
    }
    return false;
  }
  if (!present) return false;
  doc.setIn(path, doc.createNode([value], { flow: true }));
  return true;
}

/** The pack's text with the changes made; `unchanged` lists changes the text could not express. */
export function editPack(text: string, changes: Change[]): { yaml: string; unchanged: Change[] } {
  const doc = parseDocument(text);
  const unchanged: Change[] = [];
  for (const c of changes) {
    let changed: boolean;
    if (c.group === EVERYONE) {
      changed = setMember(doc, ['web', 'everyone', 'block'], c.category, c.block);
    } else {
      changed = setMember(doc, ['web', 'groups', c.group, 'block'], c.category, c.block);
      if (c.block) {
        changed = setMember(doc, ['web', 'groups', c.group, 'allow'], c.category, false) || changed;
      }
    }
    if (!changed) unchanged.push(c);
  }
  return { yaml: doc.toString(), unchanged };
}

// --- The screen ----------------------------------------------------------------------------------

export function CategoriesTab() {
  const { can } = useSession();
  const queryClient = useQueryClient();
  const mayEdit = can('policy.manage');
  const lists = useLists(can('webfilter.manage'));
  const packText = useQuery({
    queryKey: [...PACKS_KEY, 'in-force-text'],
    enabled: mayEdit,
    queryFn: async (): Promise<{ yaml: string; fileName: string } | null> => {
      const list = await api<PackList>('/api/policy/packs');
      if (list.inForce.id) {
        const pack = await api<StoredPack & { yaml: string }>(
          `/api/policy/packs/${encodeURIComponent(list.inForce.id)}`,
        );
        return { yaml: pack.yaml, fileName: pack.fileName };
      }
      return typeof list.inForce.yaml === 'string'
        ? { yaml: list.inForce.yaml, fileName: 'policy.yaml' }
        : null;
    },
  });
  const [pending, setPending] = useState<Record<string, boolean>>({});
  const [checked, setChecked] = useState<{
    pack: StoredPack;
    changes: Change[];
    unchanged: Change[];
  } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [applied, setApplied] = useState<Change[] | null>(null);

  const grid = useMemo<Grid | null>(() => {
    const fromPack = packText.data ? gridFromPack(packText.data.yaml) : null;
    if (!lists.data) return fromPack;
    const grid = gridFromLists(lists.data);
    if (!fromPack) return grid;
    // Groups of the pack with no web rule of their own yet: a column each, so that one can be set.
    const known = new Set(grid.groups.map((g) => g.id));
    const extra = fromPack.groups.filter((g) => !known.has(g.id));
    for (const g of extra) {
      for (const c of grid.categories) {
        c.groups[g.id] = fromPack.categories.find((p) => p.id === c.id)?.groups[g.id] ?? {
          blocked: c.everyone.blocked,
          clauseIds: [],
        };
      }
    }
    return { ...grid, groups: [...grid.groups, ...extra] };
  }, [lists.data, packText.data]);

  const editable = mayEdit && !!packText.data;
  const defaultGroups = useMemo(() => {
    if (!packText.data) return lists.data?.defaultGroups ?? [];
    const doc = parseDocument(packText.data.yaml);
    return stringList(doc, ['web', 'defaultGroups']);
  }, [packText.data, lists.data]);
  const stateOf = (category: string, group: string): Cell | undefined => {
    const c = grid?.categories.find((x) => x.id === category);
    return group === EVERYONE ? c?.everyone : c?.groups[group];
  };

  const changes: Change[] = useMemo(() => {
    if (!grid) return [];
    const out: Change[] = [];
    for (const [k, block] of Object.entries(pending)) {
      const [category, group] = k.split('|') as [string, string];
      const c = grid.categories.find((x) => x.id === category);
      if (!c) continue;
      const now = group === EVERYONE ? c.everyone.blocked : (c.groups[group]?.blocked ?? false);
      if (now === block) continue;
      out.push({
        category,
        categoryName: c.name,
        group,
        groupName:
          group === EVERYONE
            ? 'everyone'
            : (grid.groups.find((g) => g.id === group)?.name ?? group),
        block,
      });
    }
    return out;
  }, [pending, grid]);

  const check = useMutation({
    mutationFn: async () => {
      const source = packText.data!;
      const { yaml, unchanged } = editPack(source.yaml, changes);
      const pack = await api<StoredPack>('/api/policy/packs', {
        method: 'POST',
        body: { yaml, fileName: source.fileName },
      });
      return { pack, changes, unchanged };
    },
    onSuccess: async (result) => {
      setChecked(result);
      setApplied(null);
      await queryClient.invalidateQueries({ queryKey: PACKS_KEY, exact: true });
    },
  });

  const apply = useMutation({
    mutationFn: (pack: StoredPack) =>
      api<unknown>(`/api/policy/packs/${encodeURIComponent(pack.id)}/apply`, { method: 'POST' }),
    onSuccess: async () => {
      setApplied(checked?.changes ?? []);
      setConfirming(false);
      setChecked(null);
      setPending({});
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: LISTS_KEY }),
        queryClient.invalidateQueries({ queryKey: ['policy'] }),
        queryClient.invalidateQueries({ queryKey: SESSION_KEY }),
      ]);
    },
  });

  if (lists.isPending && can('webfilter.manage'))
    return <Loading label="Loading the categories…" />;
  if (mayEdit && packText.isPending && !lists.data)
    return <Loading label="Loading the categories…" />;

  const listsMissing = isApiError(lists.error) && lists.error.code === 'not_found';

  if (!grid) {
    return (
      <Stack gap="md">
        {lists.error && !listsMissing ? (
          <ErrorAlert error={lists.error} title="The categories did not load" />
        ) : null}
        <ErrorAlert error={packText.error} title="The policy pack did not load" />
        <Alert color="blue" variant="light" title="No categories to show yet">
          The server does not list its categories yet, and no policy pack has been applied from{' '}
          <Anchor component={Link} to="/settings">
            Settings
          </Anchor>
          . Upload and apply your school's policy.yaml there; its <Code>web</Code> section then
          shows here.
        </Alert>
      </Stack>
    );
  }

  const toggle = (category: string, group: string, value: boolean) => {
    setChecked(null);
    check.reset();
    setPending((p) => ({ ...p, [key(category, group)]: value }));
  };
  const shownAs = (category: string, group: string) =>
    pending[key(category, group)] ?? stateOf(category, group)?.blocked ?? false;
  const columns = [...grid.groups, { id: EVERYONE, name: 'Everyone' }];

  return (
    <Stack gap="lg">
      {applied ? (
        <Alert color="green" variant="light" role="status" title="The changed pack is in force">
          {plural(applied.length, 'change')} made to the web filter. The new pack is recorded in the
          audit trail and listed in Settings.
        </Alert>
      ) : null}
      {!mayEdit ? (
        <Text size="sm">
          The policy pack decides what each group may open. Only those who manage the policy can
          change it.
        </Text>
      ) : !editable ? (
        <Alert color="blue" variant="light" title="These boxes are read-only">
          The text of the pack in force is not available here, because the pack was loaded from the
          server's folder. Upload your school's policy.yaml in{' '}
          <Anchor component={Link} to="/settings">
            Settings
          </Anchor>{' '}
          and apply it; after that, changes made here become a new version of that pack.
        </Alert>
      ) : (
        <Text size="sm">
          Tick a box to block a category for a group, untick it to let the group open it. Nothing
          changes until you check the changed pack and apply it. Categories blocked for everyone
          cannot be opened by any group (WEB-1, MIS-2).
        </Text>
      )}
      {defaultGroups.length ? (
        <Text size="sm" c="dimmed">
          Each box shows a group's own rule. Everyone in the directory is also in{' '}
          {defaultGroups.map((id) => grid.groups.find((g) => g.id === id)?.name ?? id).join(', ')}{' '}
          for web rules, so those blocks apply to them as well: a box with a dash is blocked for the
          group's members that way.
        </Text>
      ) : null}
      <ScrollArea type="auto">
        <Table
          striped
          highlightOnHover
          miw={900}
          aria-label="Categories and who they are blocked for"
          data-testid="categories-grid"
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Category</Table.Th>
              {grid.countsKnown ? <Table.Th ta="right">Entries</Table.Th> : null}
              {columns.map((g) => (
                <Table.Th key={g.id} ta="center" fz="xs">
                  {g.name}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {grid.categories.map((c) => (
              <Table.Tr key={c.id} data-testid="category-row" data-category={c.id}>
                <Table.Th scope="row" fw={400}>
                  <Text size="sm" fw={600}>
                    {c.name}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {c.inPolicy ? '' : 'Not in the policy pack, never blocked · '}
                    {c.id}
                    {c.everyone.clauseIds.length ||
                    Object.values(c.groups).some((g) => g.clauseIds.length)
                      ? ` · ${[...new Set([...c.everyone.clauseIds, ...Object.values(c.groups).flatMap((g) => g.clauseIds)])].join(', ')}`
                      : ''}
                  </Text>
                </Table.Th>
                {grid.countsKnown ? (
                  <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                    <Text size="sm">{plural(c.domains ?? 0, 'domain')}</Text>
                    <Text size="xs" c="dimmed">
                      {plural(c.urls ?? 0, 'address', 'addresses')}
                    </Text>
                  </Table.Td>
                ) : null}
                {columns.map((g) => {
                  const forEveryone = g.id !== EVERYONE && shownAs(c.id, EVERYONE);
                  const value = forEveryone || shownAs(c.id, g.id);
                  const changed =
                    pending[key(c.id, g.id)] !== undefined &&
                    pending[key(c.id, g.id)] !== stateOf(c.id, g.id)?.blocked;
                  const viaDefault = !value && !changed && !!stateOf(c.id, g.id)?.viaDefault;
                  return (
                    <Table.Td key={g.id} ta="center">
                      <Checkbox
                        aria-label={`${c.name}: blocked for ${g.id === EVERYONE ? 'everyone' : g.name}`}
                        title={
                          viaDefault ? 'Blocked for its members through a default group' : undefined
                        }
                        checked={value}
                        indeterminate={viaDefault}
                        variant={viaDefault ? 'outline' : undefined}
                        disabled={!editable || forEveryone || !c.inPolicy}
                        onChange={(e) => toggle(c.id, g.id, e.currentTarget.checked)}
                        styles={{ body: { justifyContent: 'center' } }}
                        color={changed ? 'orange.9' : undefined}
                        data-testid={`block-${c.id}-${g.id === EVERYONE ? 'everyone' : g.id}`}
                      />
                    </Table.Td>
                  );
                })}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea>
      {editable && changes.length ? (
        <Card withBorder padding="lg" data-testid="category-changes">
          <Stack gap="sm">
            <Title order={2} size="h4">
              {plural(changes.length, 'change')} not yet in force
            </Title>
            <ChangeList changes={changes} />
            <Group>
              <Button onClick={() => check.mutate()} loading={check.isPending}>
                Check the changed pack
              </Button>
              <Button variant="default" onClick={() => setPending({})}>
                Undo the changes
              </Button>
            </Group>
            <ErrorAlert error={check.error} title="The changed pack was not sent" />
          </Stack>
        </Card>
      ) : null}
      {checked ? <CheckedPack result={checked} onApply={() => setConfirming(true)} /> : null}
      <Modal
        opened={confirming && !!checked}
        onClose={() => {
          setConfirming(false);
          apply.reset();
        }}
        title="Apply the changed pack?"
        size="lg"
        closeButtonProps={{ 'aria-label': 'Cancel: keep the pack in force' }}
      >
        {checked ? (
          <Stack gap="md">
            <Text size="sm">
              It replaces the pack in force at once and for everyone. The web filter then:
            </Text>
            <ChangeList changes={checked.changes.filter((c) => !checked.unchanged.includes(c))} />
            <Text size="sm">The change is recorded in the audit trail (GOV-6).</Text>
            <ErrorAlert error={apply.error} title="The pack was not applied" />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setConfirming(false)}>
                Cancel
              </Button>
              <Button onClick={() => apply.mutate(checked.pack)} loading={apply.isPending}>
                Apply
              </Button>
            </Group>
          </Stack>
        ) : null}
      </Modal>
    </Stack>
  );
}

function ChangeList({ changes }: { changes: Change[] }) {
  return (
    <List size="sm" spacing={2}>
      {changes.map((c) => (
        <List.Item key={key(c.category, c.group)}>
          {c.block ? 'Blocks' : 'Lets through'} <strong>{c.categoryName}</strong> for{' '}
          {c.group === EVERYONE ? 'everyone' : <strong>{c.groupName}</strong>}
        </List.Item>
      ))}
    </List>
  );
}

function CheckedPack({
  result,
  onApply,
}: {
  result: { pack: StoredPack; changes: Change[]; unchanged: Change[] };
  onApply(): void;
}) {
  const { pack, unchanged } = result;
  return (
    <Card withBorder padding="lg" data-testid="category-check">
      <Stack gap="sm">
        {pack.valid ? (
          <Alert color="blue" variant="light" role="status" title="The changed pack is valid">
            {pack.name} passed every check. Nothing has changed yet: apply it to put it in force.
          </Alert>
        ) : (
          <Alert
            color="red"
            variant="light"
            role="alert"
            title="The changed pack cannot be applied"
          >
            <Stack gap={4}>
              <Text size="sm">
                The check found {plural(pack.errors.length, 'problem')}. The policy in force has not
                changed.
              </Text>
              <List size="sm">
                {pack.errors.map((e) => (
                  <List.Item key={`${e.line}:${e.column}:${e.key}`}>
                    Line {e.line}, <Code>{e.key}</Code>: {e.message}
                  </List.Item>
                ))}
              </List>
            </Stack>
          </Alert>
        )}
        {unchanged.length ? (
          <Alert color="yellow" variant="light" title="Some boxes need another change">
            <List size="sm">
              {unchanged.map((c) => (
                <List.Item key={key(c.category, c.group)}>
                  {c.categoryName} stays {c.block ? 'open' : 'blocked'} for {c.groupName}: it is set
                  by another group or by a rule for everyone, not by this group's own list.
                </List.Item>
              ))}
            </List>
          </Alert>
        ) : null}
        {pack.valid && unchanged.length < result.changes.length ? (
          <Group>
            <Button onClick={onApply}>Apply…</Button>
          </Group>
        ) : null}
      </Stack>
    </Card>
  );
}
