// Alerts on alert categories (MIS-2(j), pornography) through a running proxy and DNS filter that
// share one WebAlerts, on both databases: what is audited, who is e-mailed, and what is not.
import http from 'node:http';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/service.ts';
import { loadConfig } from '../../src/config/config.ts';
import { listOutbox } from '../../src/notify/outbox.ts';
import { createPolicyHolder } from '../../src/policy/holder.ts';
import { newId } from '../../src/store/columns.ts';
import type { Store } from '../../src/store/database.ts';
import { createActivityRecorder } from '../../src/webfilter/activity.ts';
import { createWebAlerts, KIND_WEB_ALERT, type WebAlerts } from '../../src/webfilter/alerts.ts';
import { buildIndex } from '../../src/webfilter/categories/index.ts';
import { startDnsFilter } from '../../src/webfilter/dns/server.ts';
import type { WebDecision } from '../../src/webfilter/engine.ts';
import { type ProxyListener, startProxy } from '../../src/webfilter/proxy/server.ts';
import { createWebFilterState } from '../../src/webfilter/state.ts';
import { shippedPolicy } from '../support/app.ts';
import { ask, deadPort } from '../support/dns.ts';
import { addAccount, addDevice, addPerson as seedPerson } from '../support/seed.ts';
import { describeEachStore } from '../support/stores.ts';

const PUBLIC_URL = 'http://console.school.test:8080';
const DEVICE_IP = '127.0.0.1';
const silent = pino({ level: 'silent' });

const lists = buildIndex([
  { name: 'adult', domains: ['adult.example', 'other-adult.example'] },
  { name: 'gambling', domains: ['bets.example'] },
  { name: 'social_networks', domains: ['facebook.com'] },
]);

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function addPerson(
  store: Store,
  input: {
    givenName: string;
    roles?: string[];
    status?: string;
    account?: 'active' | 'disabled' | 'none';
  },
): Promise<{ id: string; email: string }> {
  const id = newId();
  const email = `${input.givenName.toLowerCase()}-${id.slice(0, 8)}@school.test`;
  await seedPerson(store, {
    id,
    email,
    givenName: input.givenName,
    familyName: 'Test',
    roles: input.roles,
    status: input.status,
  });
  const account = input.account ?? 'active';
  if (account !== 'none') await addAccount(store, id, { disabled: account === 'disabled' });
  return { id, email };
}

interface World {
  store: Store;
  alerts: WebAlerts;
  proxy: ProxyListener;
  dnsPort: number;
  /** The member of staff using the registered device. */
  amy: { id: string; email: string };
  /** Everyone who should be told: the pack's web.alerts.notify roles (headteacher, sbm). */
  designated: { id: string; email: string }[];
}

async function world(store: Store): Promise<World> {
  const config = loadConfig({ env: {} });
  const policy = createPolicyHolder(await shippedPolicy());
  const audit = createAuditLog(store);
  const amy = await addPerson(store, { givenName: 'Amy', roles: ['staff'] });
  const designated = [
    await addPerson(store, { givenName: 'Harriet', roles: ['sbm'] }),
    await addPerson(store, { givenName: 'Helen', roles: ['headteacher', 'slt'] }),
  ];
  // Not told: no role, a disabled account, someone who has left, no account at all.
  await addPerson(store, { givenName: 'Ivan', roles: ['it_support'] });
  await addPerson(store, { givenName: 'Dora', roles: ['sbm'], account: 'disabled' });
  await addPerson(store, { givenName: 'Leah', roles: ['headteacher'], status: 'left' });
  await addPerson(store, { givenName: 'Nora', roles: ['sbm'], account: 'none' });
  await addDevice(store, amy.id, { ip: DEVICE_IP });
  const state = await createWebFilterState({ store, policy, lists, log: silent });
  const activity = createActivityRecorder(store, { flushMs: 50 });
  const alerts = createWebAlerts({
    store,
    audit,
    policy: () => policy.current(),
    log: silent,
    publicUrl: PUBLIC_URL,
    repeatMinutes: config.webfilter.alertRepeatMinutes,
  });
  const proxy = await startProxy(
    {
      engine: state.engine,
      activity,
      store,
      audit,
      log: silent,
      alerts,
      resolve: async () => ({ address: '127.0.0.1', family: 4 }),
    },
    { ...config.proxy, host: '127.0.0.1', port: 0, publicUrl: PUBLIC_URL },
  );
  const dns = await startDnsFilter(
    { state, activity, alerts, log: silent },
    {
      ...config.dns,
      host: '127.0.0.1',
      port: 0,
      upstreams: [`127.0.0.1:${await deadPort()}`],
    },
  );
  stops.push(async () => {
    await proxy.stop();
    await dns.stop();
    await alerts.settled();
    await activity.stop();
    state.stop();
  });
  return { store, alerts, proxy, dnsPort: dns.address.udp.port, amy, designated };
}

function get(proxy: ProxyListener, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxy.address.port,
      path: url,
      agent: false,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const alertMails = (store: Store) => listOutbox(store.db, { kind: KIND_WEB_ALERT });
const alertEntries = (store: Store) =>
  store.db.selectFrom('audit_log').selectAll().where('action', '=', 'web.alert').execute();

describeEachStore('web alerts', (db) => {
  it('MIS-2(j): an attempt on an alert category e-mails the designated staff', async () => {
    const w = await world(db.store);
    expect(await get(w.proxy, 'http://www.adult.example/page')).toBe(403);
    await w.alerts.settled();

    const mails = await alertMails(w.store);
    expect(mails.map((m) => m.to).sort()).toEqual(w.designated.map((p) => p.email).sort());
    expect(mails.map((m) => m.toPersonId).sort()).toEqual(w.designated.map((p) => p.id).sort());
    const mail = mails[0]!;
    expect(mail.subject).toBe('Web filter alert: an attempt to reach a site listed as Pornography');
    // What, when, who from which device, the category and clause, and what to do next.
    expect(mail.text).toContain('Site: www.adult.example (requested through the web proxy)');
    expect(mail.text).toMatch(/When: \d\d\/\d\d\/\d{4} at \d\d:\d\d:\d\d, UK time/);
    expect(mail.text).toContain(`Who: ${w.amy.email}, on the device "Amy laptop" at 127.0.0.1`);
    expect(mail.text).toContain('Category: Pornography (WEB-1, MIS-2(a))');
    expect(mail.text).toContain('Blocked under WEB-1');
    expect(mail.text).toContain('What to do next:');
    expect(mail.text).toContain(`${PUBLIC_URL}/audit?action=web.alert&targetId=www.adult.example`);
    expect(mail.html).toContain('<a href="http://console.school.test:8080/audit?action=web.alert');

    const entries = await alertEntries(w.store);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor_id: w.amy.id, target_id: 'www.adult.example' });
    expect(JSON.parse(entries[0]!.clause_ids)).toEqual(['WEB-1', 'MIS-2(a)']);
    expect(JSON.parse(entries[0]!.details)).toMatchObject({
      source: 'proxy',
      categories: ['adult'],
      messagesQueued: 2,
    });
  });

  it('MIS-2(j): repeats by the same person on the same site are one alert, through the proxy and DNS alike', async () => {
    const w = await world(db.store);
    await get(w.proxy, 'http://www.adult.example/');
    await get(w.proxy, 'http://www.adult.example/again');
    await ask(w.dnsPort, 'www.adult.example', { from: DEVICE_IP });
    await w.alerts.settled();
    expect(await alertMails(w.store)).toHaveLength(w.designated.length);
    expect(await alertEntries(w.store)).toHaveLength(1);

    // Another site is another alert, whichever filter sees it.
    await ask(w.dnsPort, 'other-adult.example', { from: DEVICE_IP });
    await w.alerts.settled();
    const mails = await alertMails(w.store);
    expect(mails).toHaveLength(2 * w.designated.length);
    expect(mails.at(-1)!.text).toContain(
      'Site: other-adult.example (looked up through the DNS filter, A query)',
    );
    expect(await alertEntries(w.store)).toHaveLength(2);
  });

  it('MIS-2(a): an attempt on an ordinary blocked category sends nothing', async () => {
    const w = await world(db.store);
    expect(await get(w.proxy, 'http://bets.example/')).toBe(403);
    expect(await get(w.proxy, 'http://facebook.com/')).toBe(403);
    await ask(w.dnsPort, 'bets.example', { from: DEVICE_IP });
    await w.alerts.settled();
    expect(await alertMails(w.store)).toEqual([]);
    expect(await alertEntries(w.store)).toEqual([]);
  });
});

describe('web alerts on the hot path', () => {
  it('MIS-2(j): a database that fails never throws into the filter; the failure is logged', async () => {
    const errors: string[] = [];
    const log = pino(
      { level: 'error' },
      { write: (line: string) => errors.push(JSON.parse(line).msg as string) },
    );
    const broken = {
      db: {
        transaction: () => ({
          execute: () => Promise.reject(new Error('database unavailable')),
        }),
      },
    } as unknown as Store;
    const alerts = createWebAlerts({
      store: broken,
      audit: createAuditLog(broken),
      policy: () => {
        throw new Error('not reached');
      },
      log,
      publicUrl: PUBLIC_URL,
      repeatMinutes: 10,
    });
    const decision = {
      action: 'block',
      reason: 'category',
      categories: ['adult'],
      clauseIds: ['WEB-1'],
      alert: true,
      person: null,
      device: null,
    } as WebDecision;
    expect(() =>
      alerts.attempt({
        source: 'proxy',
        decision,
        host: 'adult.example',
        clientIp: '10.0.0.9',
        at: new Date(),
      }),
    ).not.toThrow();
    await alerts.settled();
    expect(errors).toEqual(['could not record the web alert or queue its e-mails']);
  });
});
