// The DNS filter over real packets: a running filter on UDP and TCP in front of a local upstream
// stand-in, with the shipped policy pack, a store holding the registers, and activity written.
// The suite runs once for each way of reading UDP (dns.test.ts: batched, the native module;
// dns-dgram.test.ts: node:dgram), since every UDP query and answer below goes through it.

import dgram from 'node:dgram';
import * as packet from 'dns-packet';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/service.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createPolicyHolder, type PolicyHolder } from '../../src/policy/holder.ts';
import { newId } from '../../src/store/columns.ts';
import type { Store } from '../../src/store/database.ts';
import { type ActivityRecorder, createActivityRecorder } from '../../src/webfilter/activity.ts';
import { createWebAlerts, type WebAlerts } from '../../src/webfilter/alerts.ts';
import { buildIndex } from '../../src/webfilter/categories/index.ts';
import { type DnsFilter, startDnsFilter } from '../../src/webfilter/dns/server.ts';
import { createWebFilterState, type WebFilterState } from '../../src/webfilter/state.ts';
import {
  ask,
  askTcp,
  deadPort,
  edeOf,
  encodeQuery,
  rcodeOf,
  type StandIn,
  sendUdp,
  startStandIn,
  ttlsOf,
} from '../support/dns.ts';
import { compileShipped, replaceOnce } from '../support/policy-pack.ts';
import { addDevice, addPerson } from '../support/seed.ts';
import { cleanupStores, freshStore } from '../support/stores.ts';

const silent = pino({ level: 'silent' });
const BLOCK_PAGE = '10.0.0.10'; // the shipped pack's dns.blockPageAddress
const STAFF = '127.0.0.1';
const UNREGISTERED = '127.0.0.2';
/** What the stand-in answers for the providers' SafeSearch names. */
const SAFE = {
  google: '192.0.2.120',
  youtube: '192.0.2.121',
  youtubeV6: '2001:db8::121',
  duckduckgo: '192.0.2.123',
  bing: '192.0.2.124',
};

const lists = buildIndex([
  { name: 'social_networks', domains: ['facebook.com'] },
  { name: 'webmail', domains: ['mail.example-webmail.com'] },
  { name: 'adult', domains: ['adult.example'] },
]);

export function dnsFilterSuite(udpTransport: 'batched' | 'dgram'): void {
  const dnsOptions = (upstreams: string[], extra: Record<string, unknown> = {}) => ({
    ...loadConfig({ env: {} }).dns,
    host: '127.0.0.1',
    port: 0,
    upstreams,
    udpTransport,
    ...extra,
  });

  let store: Store;
  let policy: PolicyHolder;
  let state: WebFilterState;
  let activity: ActivityRecorder;
  let standIn: StandIn;
  let filter: DnsFilter;
  let alerts: WebAlerts;
  let port: number;
  let personId: string;

  /** A member of staff with an approved laptop at the staff address. */
  async function addStaffMember(): Promise<string> {
    const id = await addPerson(store);
    await addDevice(store, id, { ip: STAFF });
    return id;
  }

  beforeAll(async () => {
    store = await freshStore('sqlite');
    personId = await addStaffMember();
    policy = createPolicyHolder(compileShipped());
    state = await createWebFilterState({ store, policy, lists, log: silent, refreshMs: 60_000 });
    activity = createActivityRecorder(store, { flushMs: 20 });
    standIn = await startStandIn({
      a: {
        'www.gov.uk': '192.0.2.80',
        'allowed.facebook.com': '192.0.2.81',
        'a.example': '192.0.2.1',
        'burst.example': '192.0.2.2',
        'forcesafesearch.google.com': SAFE.google,
        'restrict.youtube.com': SAFE.youtube,
        'safe.duckduckgo.com': SAFE.duckduckgo,
        'strict-bing.edge.example': SAFE.bing,
        'www.google.ie': '192.0.2.90',
      },
      aaaa: { 'restrict.youtube.com': SAFE.youtubeV6 },
      cname: { 'strict.bing.com': 'strict-bing.edge.example' },
      nxdomain: ['nope.example'],
      big: ['big.example'],
      truncate: ['tc.example'],
    });
    alerts = createWebAlerts({
      store,
      audit: createAuditLog(store),
      policy: () => policy.current(),
      log: silent,
      publicUrl: 'http://custos.school.test:8080',
      repeatMinutes: 10,
    });
    filter = await startDnsFilter(
      { state, activity, alerts, log: silent },
      dnsOptions([`127.0.0.1:${standIn.port}`]),
    );
    port = filter.address.udp.port;
  });

  afterAll(async () => {
    await filter?.stop();
    await standIn?.stop();
    state?.stop();
    await activity?.stop();
    await cleanupStores();
  });

  describe('DNS filter: block answers', () => {
    it('SYS-5: answers facebook.com with the block-page address and an Extended DNS Error', async () => {
      const reply = await ask(port, 'facebook.com', { edns: 1232, from: STAFF });
      expect(rcodeOf(reply.raw)).toBe(0);
      expect(reply.answers).toMatchObject([{ type: 'A', name: 'facebook.com', data: BLOCK_PAGE }]);
      expect(ttlsOf(reply)[0]).toBeLessThanOrEqual(60);
      const ede = edeOf(reply);
      expect(ede?.code).toBe(15); // Blocked
      expect(ede?.text).toContain('social_networks');
      expect(ede?.text).toContain('SYS-5');
      expect(standIn.count('facebook.com')).toBe(0);
    });

    it('SYS-5: blocks a subdomain (www.facebook.com) too, whatever its case', async () => {
      const reply = await ask(port, 'WWW.FaceBook.com', { edns: 1232, from: STAFF });
      expect(reply.questions?.[0]?.name).toBe('WWW.FaceBook.com');
      expect(reply.answers).toMatchObject([{ type: 'A', data: BLOCK_PAGE }]);
      expect(edeOf(reply)?.code).toBe(15);
    });

    it('SYS-5: AAAA for a blocked name gets an empty NOERROR answer (no IPv6 block address)', async () => {
      const reply = await ask(port, 'facebook.com', { type: 'AAAA', edns: 1232, from: STAFF });
      expect(rcodeOf(reply.raw)).toBe(0);
      expect(reply.answers).toEqual([]);
      expect(edeOf(reply)?.code).toBe(15);
    });

    it('adds no OPT record when the query carried none (RFC 6891)', async () => {
      const reply = await ask(port, 'facebook.com', { from: STAFF });
      expect(reply.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      expect(reply.additionals ?? []).toEqual([]);
    });

    it('SYS-6: an unregistered device gets the unregistered-device answer', async () => {
      const reply = await ask(port, 'www.gov.uk', { edns: 1232, from: UNREGISTERED });
      expect(reply.answers).toMatchObject([{ type: 'A', data: BLOCK_PAGE }]);
      const ede = edeOf(reply);
      expect(ede?.code).toBe(15);
      expect(ede?.text).toContain('SYS-6');
    });

    it('BRE-2: withdrawing internet access blocks every name for that person, until lifted', async () => {
      const withdrawal = newId();
      await store.db
        .insertInto('access_withdrawals')
        .values({
          id: withdrawal,
          person_id: personId,
          web: 1,
          mail: 0,
          reason: 'sanction',
          withdrawn_by: personId,
          withdrawn_at: new Date().toISOString(),
          lifted_by: null,
          lifted_at: null,
        })
        .execute();
      await state.refresh();
      const reply = await ask(port, 'www.gov.uk', { edns: 1232, from: STAFF });
      expect(reply.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      expect(edeOf(reply)).toMatchObject({ code: 17 }); // Filtered: a per-person measure
      expect(edeOf(reply)?.text).toContain('BRE-2');
      await store.db
        .updateTable('access_withdrawals')
        .set({ lifted_at: new Date().toISOString(), lifted_by: personId })
        .where('id', '=', withdrawal)
        .execute();
      await state.refresh();
      const after = await ask(port, 'www.gov.uk', { edns: 1232, from: STAFF });
      expect(after.answers).toMatchObject([{ data: '192.0.2.80' }]);
    });

    it('SYS-6: a name asked from an unregistered and a registered device is decided for each', async () => {
      const stranger = await ask(port, 'www.gov.uk', { edns: 1232, from: UNREGISTERED });
      expect(stranger.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      const staff = await ask(port, 'www.gov.uk', { edns: 1232, from: STAFF });
      expect(staff.answers).toMatchObject([{ data: '192.0.2.80' }]);
      const again = await ask(port, 'www.gov.uk', { edns: 1232, from: UNREGISTERED });
      expect(again.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      expect(edeOf(again)?.text).toContain('SYS-6');
    });

    it("the school's allow list lets a listed name through at once, though it was blocked a moment ago", async () => {
      const before = await ask(port, 'allowed.facebook.com', { from: STAFF });
      expect(before.answers).toMatchObject([{ type: 'A', data: BLOCK_PAGE }]);
      await store.db
        .insertInto('web_lists')
        .values({
          id: newId(),
          list: 'allow',
          host: 'allowed.facebook.com',
          reason: 'the school page',
          added_by: personId,
          added_at: new Date().toISOString(),
        })
        .execute();
      await state.refresh();
      const reply = await ask(port, 'allowed.facebook.com', { from: STAFF });
      expect(reply.answers).toMatchObject([{ type: 'A', data: '192.0.2.81' }]);
    });

    it("MIS-1: the school's deny list blocks a name already decided, once the registers are re-read", async () => {
      const before = await ask(port, 'soon-denied.example', { edns: 1232, from: STAFF });
      expect(rcodeOf(before.raw)).toBe(0);
      expect(before.answers).toEqual([]); // the stand-in's empty answer
      // Re-read with nothing changed: the same engine, so the decisions kept stay in force.
      const engine = state.engine();
      await state.refresh();
      expect(state.engine()).toBe(engine);
      await store.db
        .insertInto('web_lists')
        .values({
          id: newId(),
          list: 'deny',
          host: 'soon-denied.example',
          reason: 'a test',
          added_by: personId,
          added_at: new Date().toISOString(),
        })
        .execute();
      await state.refresh();
      expect(state.engine()).not.toBe(engine);
      const after = await ask(port, 'soon-denied.example', { edns: 1232, from: STAFF });
      expect(after.answers).toMatchObject([{ type: 'A', data: BLOCK_PAGE }]);
      expect(edeOf(after)).toMatchObject({ code: 17 }); // Filtered: the school's own list
    });

    it('nxdomain mode: a pack that answers blocked names NXDOMAIN', async () => {
      const before = policy.current();
      policy.replace(
        compileShipped((t) => replaceOnce(t, 'blockAnswer: block-page', 'blockAnswer: nxdomain')),
      );
      try {
        await state.refresh();
        const reply = await ask(port, 'facebook.com', { edns: 1232, from: STAFF });
        expect(rcodeOf(reply.raw)).toBe(3);
        expect(reply.answers).toEqual([]);
        expect(edeOf(reply)?.code).toBe(15);
      } finally {
        policy.replace(before);
        await state.refresh();
      }
    });
  });

  describe('DNS filter: forwarding and the cache', () => {
    it('forwards an allowed name and returns its answer; the second query comes from the cache with a lower TTL', async () => {
      const first = await ask(port, 'a.example', { from: STAFF, edns: 1232 });
      expect(first.answers).toMatchObject([{ type: 'A', data: '192.0.2.1', ttl: 300 }]);
      expect(edeOf(first)).toBeNull();
      expect(standIn.count('a.example')).toBe(1);
      await new Promise((r) => setTimeout(r, 1100));
      const second = await ask(port, 'A.Example', { from: STAFF });
      expect(second.questions?.[0]?.name).toBe('A.Example');
      expect(ttlsOf(second)[0]).toBeLessThan(300);
      expect(second.answers).toMatchObject([{ data: '192.0.2.1' }]);
      expect(standIn.count('a.example')).toBe(1);
    });

    it('caches NXDOMAIN for the SOA minimum (RFC 2308)', async () => {
      const first = await ask(port, 'nope.example', { from: STAFF });
      expect(rcodeOf(first.raw)).toBe(3);
      const second = await ask(port, 'nope.example', { from: STAFF });
      expect(rcodeOf(second.raw)).toBe(3);
      expect(second.authorities).toMatchObject([{ type: 'SOA' }]);
      expect(standIn.count('nope.example')).toBe(1);
    });

    it('coalesces identical queries in flight into one upstream query', async () => {
      const replies = await Promise.all(
        Array.from({ length: 5 }, () => ask(port, 'www.gov.uk', { type: 'AAAA', from: STAFF })),
      );
      expect(replies.every((r) => rcodeOf(r.raw) === 0)).toBe(true);
      expect(standIn.count('www.gov.uk', 'AAAA')).toBe(1);
    });

    it('truncates an answer larger than the client can take (TC=1) and gives it whole over TCP', async () => {
      const udp = await ask(port, 'big.example', { from: STAFF });
      expect(udp.raw[2]! & 0x02).toBe(0x02);
      const [tcp] = await askTcp(port, [encodeQuery('big.example')]);
      const decoded = packet.decode(tcp!);
      expect(decoded.answers).toHaveLength(60);
    });

    it('asks the upstream again over TCP when its UDP answer is truncated', async () => {
      // The whole answer (about 1,500 octets uncompressed) exceeds 1232, so the client's UDP reply
      // is truncated in turn; over TCP the client gets it whole, from the cache.
      const udp = await ask(port, 'tc.example', { from: STAFF, edns: 4096 });
      expect(udp.raw[2]! & 0x02).toBe(0x02);
      expect(standIn.count('tc.example')).toBe(2); // once over UDP, once over TCP
      const [tcp] = await askTcp(port, [encodeQuery('tc.example')]);
      expect(packet.decode(tcp!).answers).toHaveLength(60);
      expect(standIn.count('tc.example')).toBe(2);
    });

    it('answers SERVFAIL with an Extended DNS Error within the timeout when no upstream answers', async () => {
      const down = await startDnsFilter(
        { state, log: silent },
        dnsOptions([`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`], {
          attemptTimeoutMs: 150,
          queryTimeoutMs: 500,
        }),
      );
      try {
        const started = Date.now();
        const reply = await ask(down.address.udp.port, 'www.gov.uk', {
          from: STAFF,
          edns: 1232,
          timeoutMs: 3000,
        });
        expect(Date.now() - started).toBeLessThan(1500);
        expect(rcodeOf(reply.raw)).toBe(2);
        expect([22, 23]).toContain(edeOf(reply)?.code);
      } finally {
        await down.stop();
      }
    });

    it('moves to the next upstream when the first does not answer', async () => {
      const failover = await startDnsFilter(
        { state, log: silent },
        dnsOptions([`127.0.0.1:${await deadPort()}`, `127.0.0.1:${standIn.port}`], {
          attemptTimeoutMs: 150,
        }),
      );
      try {
        const reply = await ask(failover.address.udp.port, 'www.gov.uk', { from: STAFF });
        expect(reply.answers).toMatchObject([{ data: '192.0.2.80' }]);
      } finally {
        await failover.stop();
      }
    });
  });

  /** A query of type `qtype` (one dns-packet cannot name, such as HTTPS) for `name`. */
  function queryOfType(name: string, qtype: number): Buffer {
    const query = encodeQuery(name);
    query.writeUInt16BE(qtype, query.length - 4);
    return query;
  }

  describe('DNS filter: SafeSearch', () => {
    it('WEB-1: www.google.co.uk is answered with a CNAME to forcesafesearch.google.com and its address', async () => {
      const reply = await ask(port, 'www.google.co.uk', { edns: 1232, from: STAFF });
      expect(rcodeOf(reply.raw)).toBe(0);
      expect(reply.answers).toMatchObject([
        { type: 'CNAME', name: 'www.google.co.uk', data: 'forcesafesearch.google.com' },
        { type: 'A', name: 'forcesafesearch.google.com', data: SAFE.google },
      ]);
      expect(ttlsOf(reply).every((ttl) => ttl !== undefined && ttl > 0 && ttl <= 300)).toBe(true);
      expect(edeOf(reply)).toBeNull();
      expect(standIn.count('www.google.co.uk')).toBe(0);
      expect(standIn.count('forcesafesearch.google.com')).toBe(1);

      // Asked again in another spelling, and another Google domain: from the cache.
      const again = await ask(port, 'WWW.Google.CO.uk', { from: STAFF });
      expect(again.questions?.[0]?.name).toBe('WWW.Google.CO.uk');
      expect(again.answers).toMatchObject([
        { type: 'CNAME', data: 'forcesafesearch.google.com' },
        { type: 'A', data: SAFE.google },
      ]);
      const bare = await ask(port, 'google.com', { from: STAFF });
      expect(bare.answers).toMatchObject([
        { type: 'CNAME', name: 'google.com', data: 'forcesafesearch.google.com' },
        { type: 'A', data: SAFE.google },
      ]);
      expect(standIn.count('forcesafesearch.google.com')).toBe(1);
      expect(standIn.count('google.com')).toBe(0);

      await activity.flush();
      const rows = await store.db
        .selectFrom('web_activity')
        .selectAll()
        .where('source', '=', 'dns')
        .where('host', '=', 'www.google.co.uk')
        .execute();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]).toMatchObject({
        decision: 'allow',
        reason: 'safe-search',
        person_id: personId,
      });
      expect(JSON.parse(rows[0]!.clause_ids)).toContain('WEB-1');
    });

    it('WEB-1: www.bing.com is answered with a CNAME to strict.bing.com, its own CNAME and its address', async () => {
      const reply = await ask(port, 'www.bing.com', { edns: 1232, from: STAFF });
      expect(reply.answers).toMatchObject([
        { type: 'CNAME', name: 'www.bing.com', data: 'strict.bing.com' },
        { type: 'CNAME', name: 'strict.bing.com', data: 'strict-bing.edge.example' },
        { type: 'A', name: 'strict-bing.edge.example', data: SAFE.bing },
      ]);
      expect(standIn.count('www.bing.com')).toBe(0);
    });

    it('WEB-1: YouTube goes to restrict.youtube.com (strict, as the shipped pack says), A and AAAA, UDP and TCP', async () => {
      const a = await ask(port, 'www.youtube.com', { from: STAFF });
      expect(a.answers).toMatchObject([
        { type: 'CNAME', name: 'www.youtube.com', data: 'restrict.youtube.com' },
        { type: 'A', name: 'restrict.youtube.com', data: SAFE.youtube },
      ]);
      const aaaa = await ask(port, 'm.youtube.com', { type: 'AAAA', edns: 1232, from: STAFF });
      expect(aaaa.answers).toMatchObject([
        { type: 'CNAME', name: 'm.youtube.com', data: 'restrict.youtube.com' },
        { type: 'AAAA', name: 'restrict.youtube.com', data: SAFE.youtubeV6 },
      ]);
      const [tcp] = await askTcp(port, [encodeQuery('youtubei.googleapis.com')]);
      expect(packet.decode(tcp!).answers).toMatchObject([
        { type: 'CNAME', name: 'youtubei.googleapis.com', data: 'restrict.youtube.com' },
        { type: 'A', data: SAFE.youtube },
      ]);
      expect(standIn.count('restrict.youtube.com')).toBe(1);
      expect(standIn.count('restrictmoderate.youtube.com')).toBe(0);
    });

    it('WEB-1: duckduckgo.com is answered with a CNAME to safe.duckduckgo.com and its address', async () => {
      const reply = await ask(port, 'duckduckgo.com', { from: STAFF });
      expect(reply.answers).toMatchObject([
        { type: 'CNAME', name: 'duckduckgo.com', data: 'safe.duckduckgo.com' },
        { type: 'A', name: 'safe.duckduckgo.com', data: SAFE.duckduckgo },
      ]);
    });

    it('WEB-1: an HTTPS (type 65) query for a SafeSearch name gets no records, so the browser asks A and AAAA', async () => {
      const raw = await sendUdp(port, queryOfType('www.google.com', 65), { from: STAFF });
      expect(raw).not.toBeNull();
      expect(rcodeOf(raw!)).toBe(0);
      expect(raw!.readUInt16BE(6)).toBe(0); // no answers
      expect(standIn.count('www.google.com', 'UNKNOWN_65')).toBe(0);
    });

    it('SYS-6: a SafeSearch name blocked for the client stays blocked', async () => {
      const reply = await ask(port, 'www.google.com', { edns: 1232, from: UNREGISTERED });
      expect(reply.answers).toMatchObject([
        { type: 'A', name: 'www.google.com', data: BLOCK_PAGE },
      ]);
      expect(reply.answers).toHaveLength(1);
      expect(edeOf(reply)?.text).toContain('SYS-6');
    });

    it('a pack with google: false passes Google names through as they are', async () => {
      const before = policy.current();
      policy.replace(compileShipped((t) => replaceOnce(t, 'google: true', 'google: false')));
      try {
        await state.refresh();
        const reply = await ask(port, 'www.google.ie', { from: STAFF });
        expect(reply.answers).toMatchObject([
          { type: 'A', name: 'www.google.ie', data: '192.0.2.90' },
        ]);
        expect(reply.answers).toHaveLength(1);
        expect(standIn.count('www.google.ie')).toBe(1);
        // The other providers are still rewritten.
        const duck = await ask(port, 'www.duckduckgo.com', { from: STAFF });
        expect(duck.answers?.[0]).toMatchObject({ type: 'CNAME', data: 'safe.duckduckgo.com' });
      } finally {
        policy.replace(before);
        await state.refresh();
      }
      const after = await ask(port, 'www.google.ie', { from: STAFF });
      expect(after.answers?.[0]).toMatchObject({
        type: 'CNAME',
        data: 'forcesafesearch.google.com',
      });
    });

    it("answers Firefox's DNS-over-HTTPS canary (use-application-dns.net) NXDOMAIN, for every client", async () => {
      const staff = await ask(port, 'use-application-dns.net', { edns: 1232, from: STAFF });
      expect(rcodeOf(staff.raw)).toBe(3);
      expect(staff.answers).toEqual([]);
      const stranger = await ask(port, 'Use-Application-DNS.net', {
        type: 'AAAA',
        from: UNREGISTERED,
      });
      expect(rcodeOf(stranger.raw)).toBe(3);
      expect(standIn.count('use-application-dns.net')).toBe(0);
      expect(standIn.count('use-application-dns.net', 'AAAA')).toBe(0);
      // A name beneath it is an ordinary name.
      const below = await ask(port, 'x.use-application-dns.net', { from: STAFF });
      expect(rcodeOf(below.raw)).toBe(0);
      expect(standIn.count('x.use-application-dns.net')).toBe(1);
    });
  });

  describe(`DNS filter: UDP read and answered by ${udpTransport}`, () => {
    it(`reads UDP with the transport asked for (${udpTransport})`, () => {
      expect(filter.udp.transport).toBe(udpTransport);
    });

    it('SYS-5, SYS-6: 300 queries from two devices at once are each answered, to their sender, for their device', async () => {
      // More than one batch of 64: several reads of the socket in one wake-up, and replies
      // queued, flushed when a batch fills and sent later for forwarded names.
      const clients = [STAFF, UNREGISTERED].map((from) => {
        const socket = dgram.createSocket('udp4');
        const replies = new Map<number, packet.DecodedPacket>();
        socket.on('message', (msg) => {
          const reply = packet.decode(msg);
          replies.set(reply.id ?? -1, reply);
        });
        return { from, socket, replies };
      });
      await Promise.all(
        clients.map((c) => new Promise<void>((r) => c.socket.bind(0, c.from, () => r()))),
      );
      const names = ['facebook.com', 'www.gov.uk', 'burst.example'];
      for (let id = 0; id < 150; id++)
        for (const c of clients)
          c.socket.send(encodeQuery(names[id % 3]!, { id }), port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while (clients.some((c) => c.replies.size < 150) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      for (const c of clients) c.socket.close();
      const [staff, unregistered] = clients;
      expect(staff!.replies.size).toBe(150);
      expect(unregistered!.replies.size).toBe(150);
      for (let id = 0; id < 150; id++) {
        const asked = names[id % 3]!;
        expect(staff!.replies.get(id)?.questions?.[0]?.name).toBe(asked);
        expect(unregistered!.replies.get(id)?.questions?.[0]?.name).toBe(asked);
        // The staff laptop: facebook.com blocked, the rest as the upstream says.
        expect(staff!.replies.get(id)?.answers).toMatchObject([
          { data: id % 3 === 0 ? BLOCK_PAGE : id % 3 === 1 ? '192.0.2.80' : '192.0.2.2' },
        ]);
        // The unregistered device: everything blocked (SYS-6).
        expect(unregistered!.replies.get(id)?.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      }
    });

    it('drops a datagram longer than any query (5,000 octets) and answers the next', async () => {
      const long = Buffer.concat([encodeQuery('www.gov.uk'), Buffer.alloc(5000 - 28, 0x41)]);
      const reply = await sendUdp(port, long, { timeoutMs: 200 });
      // The native module's slots hold 4,096 octets: it drops the datagram. node:dgram reads it
      // whole, and the query at its start is answered.
      if (udpTransport === 'batched') expect(reply).toBeNull();
      else expect(reply && packet.decode(reply).answers).toMatchObject([{ data: '192.0.2.80' }]);
      const next = await ask(port, 'www.gov.uk', { from: STAFF });
      expect(next.answers).toMatchObject([{ data: '192.0.2.80' }]);
    });

    it('listens on a host given by name (localhost), as it does on an address', async () => {
      const named = await startDnsFilter(
        { state, log: silent },
        dnsOptions([`127.0.0.1:${standIn.port}`], { host: 'localhost' }),
      );
      try {
        const to = named.address.udp.address;
        expect(['127.0.0.1', '::1']).toContain(to);
        const reply = await sendUdp(named.address.udp.port, encodeQuery('www.gov.uk'), { to });
        expect(reply && packet.decode(reply).answers).toMatchObject([{ data: '192.0.2.80' }]);
      } finally {
        await named.stop();
      }
    });

    it('SYS-5: listening on "::" answers IPv4 clients (as their IPv4 device) and IPv6 clients', async () => {
      const dual = await startDnsFilter(
        { state, log: silent },
        dnsOptions([`127.0.0.1:${standIn.port}`], { host: '::' }),
      );
      try {
        const v4 = await ask(dual.address.udp.port, 'facebook.com', { from: STAFF });
        expect(v4.answers).toMatchObject([{ data: BLOCK_PAGE }]);
        const v4Allowed = await ask(dual.address.udp.port, 'www.gov.uk', { from: STAFF });
        expect(v4Allowed.answers).toMatchObject([{ data: '192.0.2.80' }]);
        const v6 = await sendUdp(dual.address.udp.port, encodeQuery('www.gov.uk'), { to: '::1' });
        expect(v6).not.toBeNull();
        // ::1 is no registered device: the unregistered-device policy (SYS-6) answers.
        expect(packet.decode(v6!).answers).toMatchObject([{ data: BLOCK_PAGE }]);
      } finally {
        await dual.stop();
      }
    });
  });

  describe('DNS filter: TCP and hostile input', () => {
    it('answers 3 pipelined queries on one TCP connection (RFC 7766)', async () => {
      const queries = [
        encodeQuery('facebook.com', { id: 1 }),
        encodeQuery('www.gov.uk', { id: 2 }),
        encodeQuery('nope.example', { id: 3 }),
      ];
      const replies = (await askTcp(port, queries)).map((r) => packet.decode(r));
      const byId = new Map(replies.map((r) => [r.id, r]));
      expect([...byId.keys()].sort()).toEqual([1, 2, 3]);
      expect(byId.get(1)?.answers).toMatchObject([{ data: BLOCK_PAGE }]);
      expect(byId.get(2)?.answers).toMatchObject([{ data: '192.0.2.80' }]);
      expect((byId.get(3)?.flags ?? 0) & 0xf).toBe(3);
    });

    it('survives a truncated TCP frame and a length beyond the data, then keeps answering', async () => {
      const net = await import('node:net');
      await new Promise<void>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => {
          s.write(Buffer.from([0x00, 0xff, 1, 2, 3])); // says 255 octets, sends 3, then hangs up
          s.end();
        });
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
      await new Promise<void>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () =>
          s.write(Buffer.from([0, 3, 1, 2, 3])),
        );
        s.on('close', () => resolve()); // a frame shorter than a header: the filter hangs up
        s.on('error', () => resolve());
      });
      const reply = await ask(port, 'www.gov.uk', { from: STAFF });
      expect(reply.answers).toMatchObject([{ data: '192.0.2.80' }]);
    });

    it('answers FORMERR to a query with two questions and to a compression pointer', async () => {
      const two = packet.encode({
        type: 'query',
        id: 7,
        questions: [
          { type: 'A', name: 'a.example' },
          { type: 'A', name: 'b.example' },
        ],
      });
      const r1 = await sendUdp(port, two);
      expect(r1 && rcodeOf(r1)).toBe(1);
      const pointer = Buffer.from([0, 8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
      const r2 = await sendUdp(port, pointer);
      expect(r2 && rcodeOf(r2)).toBe(1);
      expect(r2?.readUInt16BE(0)).toBe(8);
    });

    it('never crashes on garbage UDP and keeps answering the next client', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ minLength: 0, maxLength: 600 }),
            // A plausible header with hostile counts and a random tail.
            fc
              .tuple(
                fc.integer({ min: 0, max: 65535 }),
                fc.integer({ min: 0, max: 0x7fff }),
                fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 4, maxLength: 4 }),
                fc.uint8Array({ maxLength: 300 }),
              )
              .map(([id, flags, counts, tail]) => {
                const b = Buffer.alloc(12 + tail.length);
                b.writeUInt16BE(id, 0);
                b.writeUInt16BE(flags, 2);
                for (const [i, c] of counts.entries()) b.writeUInt16BE(c, 4 + i * 2);
                Buffer.from(tail).copy(b, 12);
                return new Uint8Array(b);
              }),
          ),
          async (bytes) => {
            const reply = await sendUdp(port, Buffer.from(bytes), { timeoutMs: 50 });
            if (reply) expect(reply.length).toBeGreaterThanOrEqual(12);
          },
        ),
        { numRuns: 100 },
      );
      const reply = await ask(port, 'www.gov.uk', { from: STAFF });
      expect(reply.answers).toMatchObject([{ data: '192.0.2.80' }]);
    });
  });

  describe('DNS filter: activity', () => {
    it('WEB-6, WEB-7: records every decision with who, where and why, without waiting on the store', async () => {
      await ask(port, 'mail.example-webmail.com', { from: STAFF });
      // The browser's AAAA for the same visit joins the same record (dns.activityMergeSeconds).
      await ask(port, 'mail.example-webmail.com', { type: 'AAAA', from: STAFF });
      await activity.flush();
      const rows = await store.db
        .selectFrom('web_activity')
        .selectAll()
        .where('source', '=', 'dns')
        .where('host', '=', 'mail.example-webmail.com')
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        decision: 'block',
        reason: 'category',
        client_ip: STAFF,
        person_id: personId,
        method: 'A',
      });
      expect(JSON.parse(rows[0]!.clause_ids)).toContain('SYS-5');
      expect(JSON.parse(rows[0]!.categories)).toEqual(['webmail']);
      const allowed = await store.db
        .selectFrom('web_activity')
        .select(['decision', 'device_id'])
        .where('host', '=', 'www.gov.uk')
        .where('decision', '=', 'allow')
        .execute();
      expect(allowed.length).toBeGreaterThan(0);
      expect(allowed[0]?.device_id).not.toBeNull();
    });

    it('MIS-2(a): a pornography lookup alerts once (web.alert in the audit log), not on every repeat', async () => {
      await ask(port, 'adult.example', { from: STAFF });
      await ask(port, 'www.adult.example', { from: STAFF });
      await ask(port, 'adult.example', { from: STAFF });
      await alerts.settled();
      const entries = await store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('action', '=', 'web.alert')
        .execute();
      expect(entries).toHaveLength(2); // adult.example once, www.adult.example once
      expect(entries[0]?.actor_id).toBe(personId);
    });
  });
}
