// The directory routes through app.inject(): search, create, import (text/csv and multipart,
// dry run and rejection), export as a CSV attachment, groups. Access control is app.ts's and is
// tested there; here a signed-in principal is set directly.
import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import pino from 'pino';
import { expect, it } from 'vitest';
import { testPolicy } from '../../test/factories.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import type { AppContext } from '../api/context.ts';
import { handleError } from '../api/errors.ts';
import { createAuditLog } from '../audit/service.ts';
import type { Principal } from '../auth/principal.ts';
import { createPolicyHolder } from '../policy/holder.ts';
import type { Store } from '../store/database.ts';
import { directoryRoutes } from './routes.ts';

const principal: Principal = {
  accountId: 'a1',
  personId: 'p-sbm',
  email: 'sbm@school.example',
  name: 'Business Manager',
  roles: ['sbm'],
  permissions: new Set(['people.read', 'people.manage']),
  sessionId: 's1',
  csrfToken: 't',
};

async function appFor(store: Store) {
  const audit = createAuditLog(store);
  const ctx = {
    store,
    audit,
    policy: createPolicyHolder(testPolicy()),
    log: pino({ level: 'silent' }),
    clock: () => new Date(),
  } as unknown as AppContext;
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    request.principal = principal;
  });
  await app.register(multipart);
  await app.register(directoryRoutes(ctx), { prefix: '/api' });
  await app.ready();
  return { app, audit };
}

const CSV =
  'Staff ID,Email address,First name,Surname,Kind,Groups,Roles\nS1,ann@school.example,Ann,Smith,employee,Office,staff\nS2,bob@school.example,Bob,Jones,volunteer,,\n';

describeEachStore('directory routes', (ctx) => {
  it('imports text/csv, previews on dryRun, rejects a bad file with 422 and every bad line', async () => {
    const { app, audit } = await appFor(ctx.store);
    const dry = await app.inject({
      method: 'POST',
      url: '/api/people/import?dryRun=true',
      headers: { 'content-type': 'text/csv' },
      payload: CSV,
    });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ dryRun: true, applied: false, created: 2 });
    expect(dry.json().preview).toHaveLength(2);

    const bad = await app.inject({
      method: 'POST',
      url: '/api/people/import',
      headers: { 'content-type': 'text/csv' },
      payload: `${CSV}S3,not-mail,Cat,Brown,employee,,\nS4,dan@school.example,=cmd,X,employee,,\n`,
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('import_rejected');
    expect(bad.json().error.details.errors.map((e: { line: number }) => e.line)).toEqual([4, 5]);

    const ok = await app.inject({
      method: 'POST',
      url: '/api/people/import',
      headers: { 'content-type': 'text/csv' },
      payload: CSV,
    });
    expect(ok.json()).toMatchObject({ applied: true, created: 2 });
    const [summary] = await audit.list({ action: 'people.imported' });
    expect(summary!.actorLabel).toBe('sbm@school.example');
  });

  it('imports a multipart upload in the field "file"', async () => {
    const { app } = await appFor(ctx.store);
    const boundary = 'XyZ';
    const payload = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename="people.csv"',
      'Content-Type: text/csv',
      '',
      CSV,
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const res = await app.inject({
      method: 'POST',
      url: '/api/people/import',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ created: 2 });
  });

  it('creates, finds, changes and exports people; manages groups', async () => {
    const { app } = await appFor(ctx.store);
    const created = await app.inject({
      method: 'POST',
      url: '/api/people',
      payload: {
        email: 'Eve@School.example',
        givenName: 'Eve',
        familyName: 'Stone',
        kind: 'employee',
      },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const dup = await app.inject({
      method: 'POST',
      url: '/api/people',
      payload: { email: 'eve@school.example', givenName: 'E', familyName: 'S', kind: 'employee' },
    });
    expect(dup.statusCode).toBe(409);
    const found = await app.inject({ method: 'GET', url: '/api/people?q=sto' });
    expect(found.json()).toMatchObject({ total: 1, people: [{ id, email: 'eve@school.example' }] });
    const patched = await app.inject({
      method: 'PATCH',
      url: `/api/people/${id}`,
      payload: { supervisedUse: true },
    });
    expect(patched.json().supervisedUse).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/api/people/nope' })).statusCode).toBe(404);

    const group = await app.inject({
      method: 'POST',
      url: '/api/groups',
      payload: { name: 'Site' },
    });
    expect(group.statusCode).toBe(201);
    const gid = group.json().id as string;
    const members = await app.inject({
      method: 'POST',
      url: `/api/groups/${gid}/members`,
      payload: { add: [id] },
    });
    expect(members.json().members).toBe(1);
    const renamed = await app.inject({
      method: 'PATCH',
      url: `/api/groups/${gid}`,
      payload: { name: 'Site team' },
    });
    expect(renamed.json()).toMatchObject({ name: 'Site team', members: 1 });
    expect((await app.inject({ method: 'GET', url: '/api/groups' })).json().groups).toHaveLength(1);

    const exported = await app.inject({ method: 'GET', url: '/api/people/export' });
    expect(exported.headers['content-type']).toContain('text/csv');
    expect(exported.headers['content-disposition']).toMatch(/^attachment; filename="people-/);
    expect(exported.body).toContain('eve@school.example,Eve,Stone,employee,Site team,');

    const deleted = await app.inject({ method: 'DELETE', url: `/api/groups/${gid}` });
    expect(deleted.json()).toEqual({ membersRemoved: 1 });
  });
});
