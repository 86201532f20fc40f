import { expect, it } from 'vitest';
import { signedInAs, testContext } from '../../test/support/app.ts';
import { replaceOnce, shippedPackText } from '../../test/support/policy-pack.ts';
import { describeEachStore } from '../../test/support/stores.ts';
import { buildApp } from '../api/app.ts';

const staffMayReadPeople = () =>
  replaceOnce(
    replaceOnce(shippedPackText(), 'name: palfrey-infant', 'name: palfrey-infant-2'),
    'makes requests and reports.\n    permissions: [',
    'makes requests and reports.\n    permissions: [people.read, ',
  );

function multipart(fileName: string, text: string) {
  const boundary = '----custos-test-boundary';
  const payload = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/yaml\r\n\r\n${text}\r\n--${boundary}--\r\n`,
    'utf8',
  );
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` };
}

describeEachStore('policy pack routes', (t) => {
  async function setUp() {
    const ctx = await testContext(t.store);
    const { app } = await buildApp(ctx);
    const sbm = await signedInAs(ctx, ['sbm']);
    const staff = await signedInAs(ctx, ['staff']);
    return { ctx, app, sbm, staff };
  }

  it('GOV-1: a broken pack is stored as a candidate with every error by file, line, column and key', async () => {
    const { app, sbm } = await setUp();
    const broken = replaceOnce(
      replaceOnce(shippedPackText(), 'reviewIntervalMonths: 12', 'reviewIntervalMonths: twelve'),
      'mail (MAIL-6).\n    permissions: [policy.read,',
      'mail (MAIL-6).\n    permissions: [people.reed,',
    );
    const lineOf = (needle: string) => broken.split('\n').findIndex((l) => l.includes(needle)) + 1;
    const res = await app.inject({
      method: 'POST',
      url: '/api/policy/packs',
      headers: { ...sbm.headers, 'content-type': 'application/yaml' },
      payload: broken,
    });
    expect(res.statusCode).toBe(201);
    const pack = res.json();
    expect(pack.valid).toBe(false);
    expect(pack.errors).toEqual([
      expect.objectContaining({
        file: 'policy.yaml',
        line: lineOf('twelve'),
        key: 'document.reviewIntervalMonths',
      }),
      expect.objectContaining({
        line: lineOf('people.reed'),
        key: 'roles.slt.permissions[0]',
        column: expect.any(Number),
      }),
    ]);
    const apply = await app.inject({
      method: 'POST',
      url: `/api/policy/packs/${pack.id}/apply`,
      headers: sbm.headers,
    });
    expect(apply.statusCode).toBe(409);
    expect(apply.json().error.message).toMatch(/2 problem\(s\).*upload it again/);
    await app.close();
  });

  it('GOV-6: applying a valid pack changes what a role may do on the very next request', async () => {
    const { app, sbm, staff, ctx } = await setUp();
    const before = await app.inject({ method: 'GET', url: '/api/people', headers: staff.headers });
    expect(before.statusCode).toBe(403);

    const upload = await app.inject({
      method: 'POST',
      url: '/api/policy/packs',
      headers: { ...sbm.headers, 'content-type': multipart('x', '').contentType },
      payload: multipart('policy.yaml', staffMayReadPeople()).payload,
    });
    expect(upload.statusCode).toBe(201);
    const pack = upload.json();
    expect(pack).toMatchObject({ valid: true, name: 'palfrey-infant-2', inForce: false });
    expect(pack.summary).toMatchObject({
      clauses: ctx.policy.current().clauses.size,
      roles: ctx.policy.current().roles.size,
    });

    const list = await app.inject({
      method: 'GET',
      url: '/api/policy/packs',
      headers: sbm.headers,
    });
    expect(list.json().inForce).toMatchObject({ source: 'folder', id: null });
    expect(list.json().packs.map((p: { id: string }) => p.id)).toEqual([pack.id]);

    const apply = await app.inject({
      method: 'POST',
      url: `/api/policy/packs/${pack.id}/apply`,
      headers: sbm.headers,
    });
    expect(apply.statusCode).toBe(200);
    expect(apply.json()).toMatchObject({
      pack: { inForce: true },
      previous: { name: 'palfrey-infant' },
      summary: { name: 'palfrey-infant-2' },
    });
    expect(ctx.policy.current().name).toBe('palfrey-infant-2');

    const after = await app.inject({ method: 'GET', url: '/api/people', headers: staff.headers });
    expect(after.statusCode).toBe(200);
    const listed = await app.inject({
      method: 'GET',
      url: '/api/policy/packs',
      headers: sbm.headers,
    });
    expect(listed.json().inForce).toMatchObject({ source: 'database', id: pack.id });
    const again = await app.inject({
      method: 'GET',
      url: `/api/policy/packs/${pack.id}`,
      headers: sbm.headers,
    });
    expect(again.json().yaml).toBe(staffMayReadPeople());
    const audit = await app.inject({
      method: 'GET',
      url: '/api/audit/entries?action=policy.applied',
      headers: sbm.headers,
    });
    expect(audit.json().entries).toEqual([
      expect.objectContaining({ targetId: pack.id, clauseIds: ['GOV-1', 'GOV-6'] }),
    ]);
    await app.close();
  });

  it('JSON uploads work, an empty body is refused with what to send, and staff may not upload', async () => {
    const { app, sbm, staff } = await setUp();
    const json = await app.inject({
      method: 'POST',
      url: '/api/policy/packs',
      headers: sbm.headers,
      payload: { yaml: 'format: 1\nname: [', fileName: 'mine.yaml' },
    });
    expect(json.statusCode).toBe(201);
    expect(json.json()).toMatchObject({ valid: false, fileName: 'mine.yaml' });
    expect(json.json().errors[0]).toMatchObject({ file: 'mine.yaml', key: '(yaml)' });
    const empty = await app.inject({
      method: 'POST',
      url: '/api/policy/packs',
      headers: { ...sbm.headers, 'content-type': 'application/yaml' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.message).toMatch(/policy\.yaml/);
    const refused = await app.inject({
      method: 'POST',
      url: '/api/policy/packs',
      headers: { ...staff.headers, 'content-type': 'application/yaml' },
      payload: shippedPackText(),
    });
    expect(refused.statusCode).toBe(403);
    const missing = await app.inject({
      method: 'POST',
      url: '/api/policy/packs/00000000-0000-4000-8000-000000000000/apply',
      headers: sbm.headers,
    });
    expect(missing.statusCode).toBe(404);
    await app.close();
  });
});
