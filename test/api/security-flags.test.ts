// PWD-4: a second sign-in of one account from another address is flagged, seen by those who
// review flags, on their "Needs my attention", and marked reviewed with a note, all audited.
import { expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { sessionHeaders, signedInAs, testContext } from '../support/app.ts';
import { describeEachStore } from '../support/stores.ts';

describeEachStore('security flags', (ctx) => {
  it('PWD-4: a concurrent sign-in is listed for IT support, reviewed with a note, and audited', async () => {
    const app = await testContext(ctx.store);
    const { app: api } = await buildApp(app);
    const teacher = await signedInAs(app, ['staff'], '192.0.2.10');
    await sessionHeaders(app, teacher.accountId, '198.51.100.7'); // the same account, elsewhere
    const itSupport = await signedInAs(app, ['it_support'], '192.0.2.50');

    const attention = await api.inject({
      method: 'GET',
      url: '/api/attention',
      headers: itSupport.headers,
    });
    expect(attention.json().items.map((i: { kind: string }) => i.kind)).toContain('security.flags');

    const listed = await api.inject({
      method: 'GET',
      url: '/api/security/flags',
      headers: itSupport.headers,
    });
    expect(listed.statusCode).toBe(200);
    const [flag] = listed.json().flags;
    expect(flag).toMatchObject({
      kind: 'concurrent-sign-in',
      clauseIds: ['PWD-4'],
      account: { personId: teacher.personId },
      details: { newAddress: '198.51.100.7', otherAddresses: ['192.0.2.10'] },
    });

    const tooShort = await api.inject({
      method: 'POST',
      url: `/api/security/flags/${flag.id}/review`,
      headers: itSupport.headers,
      payload: { note: '' },
    });
    expect(tooShort.statusCode).toBe(400);
    const reviewed = await api.inject({
      method: 'POST',
      url: `/api/security/flags/${flag.id}/review`,
      headers: itSupport.headers,
      payload: { note: 'Confirmed with the teacher: laptop at home and in class.' },
    });
    expect(reviewed.statusCode).toBe(204);
    const again = await api.inject({
      method: 'POST',
      url: `/api/security/flags/${flag.id}/review`,
      headers: itSupport.headers,
      payload: { note: 'twice' },
    });
    expect(again.json().error.code).toBe('conflict');

    const open = await api.inject({
      method: 'GET',
      url: '/api/security/flags',
      headers: itSupport.headers,
    });
    expect(open.json().flags).toEqual([]);
    const actions = (await app.audit.list({ clauseId: 'PWD-4' })).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'security.concurrent-sign-in-flagged',
        'security.flags-read',
        'security.flag-reviewed',
      ]),
    );
    await api.close();
  });
});
