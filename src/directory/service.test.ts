// The directory service on both databases: people with kinds from the policy (SCP-1), unique
// e-mail and staff id, supervised use (PWD-6), leavers (PWD-8), roles, groups and search.
import { describe, expect, it } from 'vitest';
import { factories } from '../../test/support/directory.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { AppError } from '../shared/errors.ts';

const actor = { id: null, label: 'test' };

describeEachStore('directory service', (ctx) => {
  const make = () => factories(ctx.store);

  it('creates a person with a kind from the policy, lower-cased e-mail and an audit entry citing SCP-1', async () => {
    const { directory, audit } = make();
    const person = await directory.createPerson(
      {
        email: '  Ann.Smith@School.Example ',
        givenName: 'Ann',
        familyName: 'Smith',
        kind: 'employee',
        staffId: 'S001',
        groups: ['Office', 'Teaching staff'],
        roles: ['staff'],
        startDate: '2024-09-01',
      },
      actor,
    );
    expect(person).toMatchObject({
      email: 'ann.smith@school.example',
      kind: 'employee',
      status: 'active',
      staffId: 'S001',
      groups: ['Office', 'Teaching staff'],
      roles: ['staff'],
      supervisedUse: false,
    });
    expect(await directory.getPerson(person.id)).toEqual(person);
    expect(await directory.findByEmail('ANN.SMITH@school.example')).toEqual(person);
    const entries = await audit.list({ action: 'person.created' });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.clauseIds).toContain('SCP-1');
    expect(entries[0]!.targetId).toBe(person.id);
    expect(await directory.countPeople()).toBe(1);
  });

  it('refuses a kind or role the policy does not define, listing the valid ones (SCP-1)', async () => {
    const { directory } = make();
    const error = await directory
      .createPerson(
        {
          email: 'x@school.example',
          givenName: 'X',
          familyName: 'Y',
          kind: 'pupil',
          roles: ['king'],
        },
        actor,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('validation_failed');
    expect((error as AppError).message).toMatch(/"pupil" is not a person kind.*employee/);
    expect((error as AppError).message).toMatch(/"king" is not a role.*sbm/);
    expect(await directory.countPeople()).toBe(0);
  });

  it('refuses a duplicate e-mail or staff id as a conflict naming the other person', async () => {
    const { directory } = make();
    const first = await directory.createPerson(
      {
        email: 'a@school.example',
        givenName: 'A',
        familyName: 'One',
        kind: 'employee',
        staffId: 'S1',
      },
      actor,
    );
    const byEmail = await directory
      .createPerson(
        { email: 'A@School.example', givenName: 'B', familyName: 'Two', kind: 'employee' },
        actor,
      )
      .catch((e: unknown) => e as AppError);
    expect(byEmail).toMatchObject({
      code: 'conflict',
      details: { field: 'email', personId: first.id },
    });
    expect((byEmail as AppError).message).toContain('a@school.example');
    const byStaff = await directory
      .createPerson(
        {
          email: 'b@school.example',
          givenName: 'B',
          familyName: 'Two',
          kind: 'employee',
          staffId: 'S1',
        },
        actor,
      )
      .catch((e: unknown) => e as AppError);
    expect(byStaff).toMatchObject({
      code: 'conflict',
      details: { field: 'staffId', personId: first.id },
    });
  });

  it('updates only what changed, cites PWD-6 and PWD-8, and writes nothing for a no-op', async () => {
    const { directory, audit } = make();
    const p = await directory.createPerson(
      { email: 'c@school.example', givenName: 'C', familyName: 'Three', kind: 'volunteer' },
      actor,
    );
    const updated = await directory.updatePerson(
      p.id,
      { supervisedUse: true, status: 'left', leaveDate: '2025-07-31' },
      actor,
    );
    expect(updated).toMatchObject({ supervisedUse: true, status: 'left', leaveDate: '2025-07-31' });
    const [entry] = await audit.list({ action: 'person.updated' });
    expect(entry!.clauseIds).toEqual(expect.arrayContaining(['PWD-6', 'PWD-8']));
    expect(Object.keys(entry!.details.changes as object).sort()).toEqual([
      'leaveDate',
      'status',
      'supervisedUse',
    ]);
    const before = (await audit.list()).length;
    await directory.updatePerson(p.id, { supervisedUse: true }, actor);
    expect((await audit.list()).length).toBe(before);
  });

  it('refuses a leaving date before the start date', async () => {
    const { directory } = make();
    await expect(
      directory.createPerson(
        {
          email: 'd@school.example',
          givenName: 'D',
          familyName: 'Four',
          kind: 'employee',
          startDate: '2024-09-01',
          leaveDate: '2024-08-31',
        },
        actor,
      ),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('sets roles from the policy and records the change', async () => {
    const { directory, audit } = make();
    const p = await directory.createPerson(
      { email: 'e@school.example', givenName: 'E', familyName: 'Five', kind: 'employee' },
      actor,
    );
    await directory.setRoles(p.id, ['sbm', 'staff'], actor);
    expect((await directory.getPerson(p.id))!.roles).toEqual(['sbm', 'staff']);
    await directory.setRoles(p.id, ['staff'], actor);
    expect((await directory.getPerson(p.id))!.roles).toEqual(['staff']);
    await expect(directory.setRoles(p.id, ['nope'], actor)).rejects.toMatchObject({
      code: 'validation_failed',
    });
    expect(await audit.list({ action: 'person.updated', targetId: p.id })).toHaveLength(2);
  });

  it('runs inside a caller transaction and rolls back with it', async () => {
    const { directory } = make();
    await expect(
      ctx.store.db.transaction().execute(async (trx) => {
        await directory.createPerson(
          { email: 'f@school.example', givenName: 'F', familyName: 'Six', kind: 'employee' },
          actor,
          trx,
        );
        throw new Error('caller gives up');
      }),
    ).rejects.toThrow('caller gives up');
    expect(await directory.countPeople()).toBe(0);
  });

  it('searches by name, e-mail and staff id (contains), filters by kind, group, role, status, and counts', async () => {
    const { directory } = make();
    const people = [
      ['Ann', 'Smith', 'employee', 'Office', 'sbm', 'T100'],
      ['Bob', 'Smithson', 'employee', 'Teaching', 'staff', 'T101'],
      ['Cat', 'Jones', 'volunteer', 'Teaching', 'staff', 'V200'],
      ['Dan', 'Brown_%', 'governor', 'Governors', 'governor', 'G300'],
    ] as const;
    for (const [given, family, kind, group, role, staffId] of people) {
      await directory.createPerson(
        {
          email: `${given.toLowerCase()}@school.example`,
          givenName: given,
          familyName: family,
          kind,
          groups: [group],
          roles: [role],
          staffId,
        },
        actor,
      );
    }
    const names = async (q: Parameters<typeof directory.search>[0]) =>
      (await directory.search(q)).people.map((p) => p.givenName);
    expect(await names({ q: 'smith' })).toEqual(['Ann', 'Bob']);
    expect(await names({ q: 'ann smith' })).toEqual(['Ann']);
    expect(await names({ q: 'CAT@' })).toEqual(['Cat']);
    expect(await names({ q: 't10' })).toEqual(['Ann', 'Bob']);
    expect(await names({ q: '_%' })).toEqual(['Dan']);
    expect(await names({ q: '%' })).toEqual(['Dan']);
    expect(await names({ kind: 'employee' })).toEqual(['Ann', 'Bob']);
    expect(await names({ group: 'teaching' })).toEqual(['Cat', 'Bob']);
    expect(await names({ role: 'staff', sort: '-name' })).toEqual(['Bob', 'Cat']);
    expect(await names({ group: 'nobody' })).toEqual([]);
    const page = await directory.search({ limit: 2, offset: 1 });
    expect(page.total).toBe(4);
    expect(page.people.map((p) => p.givenName)).toEqual(['Cat', 'Ann']);
    await expect(directory.search({ sort: 'shoe' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('creates, renames and deletes groups with member counts, and adds and removes members', async () => {
    const { directory, audit } = make();
    const group = await directory.createGroup({ name: 'Year 1' }, actor);
    expect(group.members).toBe(0);
    await expect(directory.createGroup({ name: 'year 1' }, actor)).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(directory.createGroup({ name: 'a;b' }, actor)).rejects.toMatchObject({
      code: 'validation_failed',
    });
    const p = await directory.createPerson(
      { email: 'g@school.example', givenName: 'G', familyName: 'Seven', kind: 'employee' },
      actor,
    );
    expect((await directory.addMembers(group.id, [p.id, p.id], actor)).members).toBe(1);
    expect((await directory.addMembers(group.id, [p.id], actor)).members).toBe(1);
    await expect(directory.addMembers(group.id, ['missing'], actor)).rejects.toMatchObject({
      code: 'not_found',
    });
    const renamed = await directory.updateGroup(group.id, { name: 'Year One' }, actor);
    expect(renamed).toMatchObject({ name: 'Year One', members: 1 });
    expect((await directory.getPerson(p.id))!.groups).toEqual(['Year One']);
    expect((await directory.listGroups()).map((g) => [g.name, g.members])).toEqual([
      ['Year One', 1],
    ]);
    expect((await directory.removeMembers(group.id, [p.id], actor)).members).toBe(0);
    await directory.addMembers(group.id, [p.id], actor);
    expect(await directory.deleteGroup(group.id, actor)).toEqual({ membersRemoved: 1 });
    expect((await directory.getPerson(p.id))!.groups).toEqual([]);
    const actions = (await audit.list()).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'group.created',
        'group.renamed',
        'group.members-added',
        'group.members-removed',
        'group.deleted',
      ]),
    );
  });
});

describe('directory rules', () => {
  it('reads UK and ISO dates and refuses impossible ones', async () => {
    const { parseDate } = await import('./rules.ts');
    expect(parseDate('01/09/2024')).toBe('2024-09-01');
    expect(parseDate('1/9/2024')).toBe('2024-09-01');
    expect(parseDate('2024-09-01')).toBe('2024-09-01');
    expect(parseDate('31/02/2024')).toBeNull();
    expect(parseDate('29/02/2023')).toBeNull();
    expect(parseDate('29/02/2024')).toBe('2024-02-29');
    expect(parseDate('09/01/24')).toBeNull();
    expect(parseDate('2024-13-01')).toBeNull();
  });

  it('treats =, +, @, tab, CR and - (except plain negative numbers) as formula starts', async () => {
    const { isFormulaLike } = await import('./rules.ts');
    for (const v of ['=1+1', '+44 20', '@SUM(A1)', '\tx', '\rx', '-2+3', '-cmd', '=HYPERLINK("x")'])
      expect(isFormulaLike(v)).toBe(true);
    for (const v of ['-', '-12', '-12.5', 'Smith-Jones', 'a=b', '', "O'Brien"])
      expect(isFormulaLike(v)).toBe(false);
  });
});
