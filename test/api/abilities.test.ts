// The abilities the API returns with a record are promises: each one claimed true must succeed
// when the console acts on it, and each one claimed false must be refused. Proved by reading the
// same records as the School Business Manager and as roles that may only read, then calling the
// routes each ability stands for.
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { signedInAs, type TestSession, testContext } from '../support/app.ts';
import { replaceOnce, shippedPackText } from '../support/policy-pack.ts';
import { freshStore } from '../support/stores.ts';

type Call = (app: FastifyInstance, who: TestSession) => Promise<number>;

let serial = 0;
const personBody = () => ({
  email: `new-${++serial}@school.test`,
  givenName: 'New',
  familyName: `Person ${serial}`,
  kind: 'employee',
});

/** What each ability lets the console do, as one request; answers the HTTP status. */
function personActions(personId: string): Record<string, Call> {
  return {
    edit: async (app, who) =>
      (
        await app.inject({
          method: 'PATCH',
          url: `/api/people/${personId}`,
          headers: who.headers,
          payload: { givenName: `Renamed ${++serial}` },
        })
      ).statusCode,
    changeRoles: async (app, who) =>
      (
        await app.inject({
          method: 'PATCH',
          url: `/api/people/${personId}`,
          headers: who.headers,
          payload: { roles: serial++ % 2 ? ['governor'] : [] },
        })
      ).statusCode,
    export: async (app, who) =>
      (await app.inject({ method: 'GET', url: '/api/people/export', headers: who.headers }))
        .statusCode,
    viewAudit: async (app, who) =>
      (
        await app.inject({
          method: 'GET',
          url: `/api/audit/entries?targetId=${personId}`,
          headers: who.headers,
        })
      ).statusCode,
  };
}

const listActions: Record<string, Call> = {
  read: async (app, who) =>
    (await app.inject({ method: 'GET', url: '/api/people', headers: who.headers })).statusCode,
  create: async (app, who) =>
    (
      await app.inject({
        method: 'POST',
        url: '/api/people',
        headers: who.headers,
        payload: personBody(),
      })
    ).statusCode,
  import: async (app, who) => {
    const p = personBody();
    return (
      await app.inject({
        method: 'POST',
        url: '/api/people/import?dryRun=true',
        headers: { ...who.headers, 'content-type': 'text/csv' },
        payload: `email,given_name,family_name,kind\n${p.email},${p.givenName},${p.familyName},${p.kind}\n`,
      })
    ).statusCode;
  },
  export: async (app, who) =>
    (await app.inject({ method: 'GET', url: '/api/people/export', headers: who.headers }))
      .statusCode,
};

async function check(
  app: FastifyInstance,
  who: TestSession,
  abilities: Record<string, boolean>,
  actions: Record<string, Call>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const [name, call] of Object.entries(actions)) {
    expect(abilities, `ability ${name} is answered`).toHaveProperty(name);
    const status = await call(app, who);
    const succeeded = status >= 200 && status < 300;
    if (abilities[name] && !succeeded) wrong.push(`${name} claimed true but answered ${status}`);
    if (!abilities[name] && status !== 403)
      wrong.push(`${name} claimed false but answered ${status}`);
  }
  return wrong;
}

describe('abilities returned with records', () => {
  it('the same person read by the SBM and by a read-only role shows different abilities, each one honest', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const { app } = await buildApp(ctx);
    const sbm = await signedInAs(ctx, ['sbm']);
    const slt = await signedInAs(ctx, ['slt']); // reads the directory, changes nothing
    const subject = await signedInAs(ctx, ['staff']);

    const read = async (who: TestSession) => {
      const res = await app.inject({
        method: 'GET',
        url: `/api/people/${subject.personId}`,
        headers: who.headers,
      });
      expect(res.statusCode).toBe(200);
      return res.json().abilities as Record<string, boolean>;
    };
    const forSbm = await read(sbm);
    const forSlt = await read(slt);
    expect(forSbm).toEqual({ edit: true, changeRoles: true, export: true, viewAudit: true });
    expect(forSlt).toEqual({ edit: false, changeRoles: false, export: false, viewAudit: false });
    expect(await check(app, sbm, forSbm, personActions(subject.personId))).toEqual([]);
    expect(await check(app, slt, forSlt, personActions(subject.personId))).toEqual([]);

    // Staff may not read the record at all: the route refuses before any ability is shown.
    const staffRead = await app.inject({
      method: 'GET',
      url: `/api/people/${subject.personId}`,
      headers: subject.headers,
    });
    expect(staffRead.statusCode).toBe(403);
    await app.close();
  });

  it('the people list answers list-level abilities that match what the routes do', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const { app } = await buildApp(ctx);
    for (const roles of [['sbm'], ['slt'], ['dpo']]) {
      const who = await signedInAs(ctx, roles);
      const res = await app.inject({ method: 'GET', url: '/api/people', headers: who.headers });
      const abilities = res.json().abilities as Record<string, boolean>;
      expect(Object.keys(abilities).sort()).toEqual(['create', 'export', 'import', 'read']);
      expect(await check(app, who, abilities, listActions), roles.join()).toEqual([]);
    }
    await app.close();
  });

  it('GOV-6: the policy says who may apply a pack; the SBM can and staff cannot', async () => {
    const store = await freshStore('sqlite');
    const ctx = await testContext(store);
    const { app } = await buildApp(ctx);
    const sbm = await signedInAs(ctx, ['sbm']);
    const staff = await signedInAs(ctx, ['staff']);
    const upload = async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/api/policy/packs',
        headers: { ...sbm.headers, 'content-type': 'application/yaml' },
        payload: replaceOnce(shippedPackText(), 'name: palfrey-infant', `name: pack-${++serial}`),
      });
      return res.json().id as string;
    };
    const applyPack: Call = async (a, who) =>
      (
        await a.inject({
          method: 'POST',
          url: `/api/policy/packs/${await upload()}/apply`,
          headers: who.headers,
        })
      ).statusCode;

    for (const [who, expected] of [
      [sbm, true],
      [staff, false],
    ] as const) {
      const res = await app.inject({ method: 'GET', url: '/api/policy', headers: who.headers });
      expect(res.statusCode).toBe(200);
      const abilities = res.json().abilities as Record<string, boolean>;
      expect(abilities).toMatchObject({
        read: true,
        applyPack: expected,
        publish: expected,
        manageAcceptance: expected,
      });
      expect(await check(app, who, abilities, { applyPack })).toEqual([]);

      const session = await app.inject({
        method: 'GET',
        url: '/api/auth/session',
        headers: who.headers,
      });
      expect(session.json().abilities).toMatchObject({
        settings: expected,
        policy: { applyPack: expected },
        people: { read: expected, import: expected },
      });
    }
    await app.close();
  });
});
