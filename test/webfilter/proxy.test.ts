import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/store/columns.ts';
import { buildIndex } from '../../src/webfilter/categories/index.ts';
import type { ProxyListener } from '../../src/webfilter/proxy/server.ts';
import {
  basic,
  connect,
  echoServer,
  freePort,
  origin,
  PUBLIC_URL,
  raw,
  stops,
  viaProxy,
  world,
} from '../support/proxy-world.ts';
import { describeEachStore, freshStore } from '../support/stores.ts';

describe('filtering proxy (SQLite)', () => {
  it('SYS-5: refuses social networking to a member of staff with a block page citing SYS-5', async () => {
    const w = await world(await freshStore('sqlite'));
    const { port } = await origin();
    const answer = await viaProxy(w.proxy, `http://facebook.com:${port}/profile`);
    expect(answer.status).toBe(403);
    expect(answer.headers['content-type']).toMatch(/text\/html/);
    expect(answer.body).toContain('facebook.com');
    expect(answer.body).toContain('Social networking');
    expect(answer.body).toContain('SYS-5');
    expect(answer.body).toContain(`${PUBLIC_URL}/policy#SYS-5`);
    expect(answer.body).toContain('amy@school.test');
    expect(answer.body).toContain('Ask for a review');
    expect(answer.headers['x-custos-reason']).toContain('SYS-5');
  });

  it('SYS-5: refuses web mail with a block page citing SYS-5', async () => {
    const w = await world(await freshStore('sqlite'));
    const { port, seen } = await origin();
    const answer = await viaProxy(w.proxy, `http://mail.yahoo.com:${port}/`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('Web mail');
    expect(answer.body).toContain('/policy#SYS-5');
    expect(seen).toHaveLength(0);
  });

  it('forwards an allowed request: hop-by-hop headers removed, Via added, body streamed both ways', async () => {
    const w = await world(await freshStore('sqlite'));
    const o = await origin();
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/page?x=1`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        'proxy-authorization': basic('nobody', 'x'),
        connection: 'keep-alive, X-Drop-Me',
        'x-drop-me': '1',
        'x-keep-me': '2',
      },
      body: 'a body',
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('hello from origin: POST /page?x=1 a body');
    expect(answer.headers.via).toContain('custos');
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.headers['x-secret-hop']).toBeUndefined();
    const got = o.seen[0]!;
    expect(got.url).toBe('/page?x=1');
    expect(got.headers.host).toBe(`www.gov.uk:${o.port}`);
    expect(got.headers.via).toContain('custos');
    expect(got.headers['proxy-authorization']).toBeUndefined();
    expect(got.headers['x-drop-me']).toBeUndefined();
    expect(got.headers['x-keep-me']).toBe('2');
  });

  it('SYS-5: CONNECT to a blocked host is refused with 403 naming the clause', async () => {
    const w = await world(await freshStore('sqlite'));
    const answer = await connect(w.proxy, 'www.facebook.com:443');
    expect(answer.status).toBe(403);
    expect(answer.headers['x-custos-reason']).toContain('SYS-5');
    answer.socket.destroy();
  });

  it('CONNECT to an allowed host tunnels bytes both ways', async () => {
    const w = await world(await freshStore('sqlite'));
    const port = await echoServer();
    const answer = await connect(w.proxy, `www.gov.uk:${port}`);
    expect(answer.status).toBe(200);
    const echoed = await new Promise<string>((resolve) => {
      answer.socket.once('data', (d) => resolve(d.toString()));
      answer.socket.write('ping through the tunnel');
    });
    expect(echoed).toBe('ping through the tunnel');
    answer.socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await w.flush();
    const rows = await w.store.db.selectFrom('web_activity').selectAll().execute();
    const row = rows.find((r) => r.method === 'CONNECT')!;
    expect(row).toMatchObject({ decision: 'allow', path: null, person_id: w.personId });
    expect(row.host).toBe(`www.gov.uk:${port}`);
    expect(row.bytes).toBeGreaterThanOrEqual(2 * 'ping through the tunnel'.length);
  });

  it('SYS-6: an unregistered device reaches nothing, and the page says the device is not registered', async () => {
    const w = await world(await freshStore('sqlite'), { device: false });
    const o = await origin();
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('this device is not registered (SYS-6)');
    expect(answer.body).toContain('/policy#SYS-6');
    const tunnel = await connect(w.proxy, 'www.gov.uk:443');
    expect(tunnel.status).toBe(403);
    expect(tunnel.headers['x-custos-reason']).toContain('SYS-6');
    tunnel.socket.destroy();
  });

  it('BRE-2: a person whose internet access is withdrawn reaches nothing', async () => {
    const store = await freshStore('sqlite');
    const w = await world(store);
    await store.db
      .insertInto('access_withdrawals')
      .values({
        id: newId(),
        person_id: w.personId,
        web: 1,
        mail: 0,
        reason: 'disciplinary',
        withdrawn_by: 'head',
        withdrawn_at: new Date().toISOString(),
        lifted_by: null,
        lifted_at: null,
      })
      .execute();
    await w.refresh();
    const o = await origin();
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('/policy#BRE-2');
    expect((await connect(w.proxy, 'www.gov.uk:443')).status).toBe(403);
  });

  it("the school's allow list lets a listed site through", async () => {
    const store = await freshStore('sqlite');
    const w = await world(store);
    await store.db
      .insertInto('web_lists')
      .values({
        id: newId(),
        list: 'allow',
        host: 'facebook.com',
        reason: 'school page',
        added_by: 'sbm',
        added_at: new Date().toISOString(),
      })
      .execute();
    await w.refresh();
    const o = await origin();
    const answer = await viaProxy(w.proxy, `http://facebook.com:${o.port}/school`);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('hello from origin');
  });

  it('SYS-2, SYS-4: an executable download seen in the URL is blocked', async () => {
    const w = await world(await freshStore('sqlite'));
    const o = await origin();
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/files/setup.EXE?v=2`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('/policy#SYS-4');
    expect(o.seen).toHaveLength(0);
  });

  it('proxy authentication: 407 first, then the person is known from Basic credentials, verified once', async () => {
    const store = await freshStore('sqlite');
    const w = await world(store, {
      device: false,
      password: 'Correct-horse-9',
      config: { 'proxy.requireAuth': 'always' },
    });
    const o = await origin();
    const url = `http://www.gov.uk:${o.port}/`;
    const first = await viaProxy(w.proxy, url);
    expect(first.status).toBe(407);
    expect(first.headers['proxy-authenticate']).toBe('Basic realm="Custos"');
    const ok = await viaProxy(w.proxy, url, {
      headers: { 'proxy-authorization': basic('amy@school.test', 'Correct-horse-9') },
    });
    expect(ok.status).toBe(200);
    // The answer is remembered: with the password changed, the same credential still works
    // until the cache runs out, so the slow check did not run again.
    await store.db.updateTable('accounts').set({ password_hash: 'changed' }).execute();
    const again = await viaProxy(w.proxy, url, {
      headers: { 'proxy-authorization': basic('amy@school.test', 'Correct-horse-9') },
    });
    expect(again.status).toBe(200);
    // Social networking is blocked for this person as for any member of staff.
    const blocked = await viaProxy(w.proxy, `http://facebook.com:${o.port}/`, {
      headers: { 'proxy-authorization': basic('amy@school.test', 'Correct-horse-9') },
    });
    expect(blocked.status).toBe(403);
    expect(blocked.body).toContain('amy@school.test');
    // CONNECT asks too.
    const tunnel = await connect(w.proxy, 'www.gov.uk:443');
    expect(tunnel.status).toBe(407);
    tunnel.socket.destroy();
  });

  it('PWD-2: a wrong proxy password counts towards the lockout once per cache period', async () => {
    const store = await freshStore('sqlite');
    const w = await world(store, {
      device: false,
      password: 'Correct-horse-9',
      config: { 'proxy.requireAuth': 'unregistered-devices' },
    });
    const o = await origin();
    for (let i = 0; i < 3; i++) {
      const answer = await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/`, {
        headers: { 'proxy-authorization': basic('amy@school.test', 'wrong-password') },
      });
      expect(answer.status).toBe(407);
    }
    const account = await store.db.selectFrom('accounts').selectAll().executeTakeFirstOrThrow();
    expect(account.failed_sign_ins).toBe(1);
    const audit = await store.db
      .selectFrom('audit_log')
      .select('action')
      .where('action', '=', 'sign-in.failed')
      .execute();
    expect(audit).toHaveLength(1);
  });

  it('serves proxy.pac and wpad.dat to browsers that ask the proxy directly', async () => {
    const w = await world(await freshStore('sqlite'));
    for (const file of ['/proxy.pac', '/wpad.dat']) {
      const answer = await viaProxy(w.proxy, file);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/x-ns-proxy-autoconfig');
      expect(answer.body).toContain('function FindProxyForURL');
      expect(answer.body).toContain(`PROXY proxy.school.test:${w.proxy.address.port}`);
      expect(answer.body).toContain('"console.school.test"');
    }
  });

  it('refuses request smuggling: both lengths, two lengths, or an encoding other than chunked', async () => {
    const w = await world(await freshStore('sqlite'));
    const o = await origin();
    const target = `http://www.gov.uk:${o.port}/`;
    const attempts = [
      `POST ${target} HTTP/1.1\r\nHost: www.gov.uk\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST ${target} HTTP/1.1\r\nHost: www.gov.uk\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
      `POST ${target} HTTP/1.1\r\nHost: www.gov.uk\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
      `POST ${target} HTTP/1.1\r\nHost: www.gov.uk\r\nTransfer-Encoding: gzip\r\n\r\nhello`,
      `POST ${target} HTTP/1.1\r\nHost: www.gov.uk\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    ];
    for (const attempt of attempts) {
      const out = await raw(w.proxy, attempt);
      expect(out, attempt).toMatch(/^HTTP\/1\.1 400 /);
      expect(out.toLowerCase()).toContain('connection: close');
    }
    expect(o.seen).toHaveLength(0);
  });

  it('answers 431 to a 100 KB header and still serves the next client', async () => {
    const w = await world(await freshStore('sqlite'));
    const o = await origin();
    const big = `GET http://www.gov.uk:${o.port}/ HTTP/1.1\r\nHost: www.gov.uk\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`;
    expect(await raw(w.proxy, big)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/`)).status).toBe(200);
  });

  it('answers 414 to an over-long URL', async () => {
    const w = await world(await freshStore('sqlite'), { config: { 'proxy.maxUrlLength': 300 } });
    const answer = await viaProxy(w.proxy, `http://www.gov.uk/${'a'.repeat(400)}`);
    expect(answer.status).toBe(414);
  });

  it('answers 502 with what to do next when the site is down', async () => {
    const w = await world(await freshStore('sqlite'));
    const port = await freePort();
    const answer = await viaProxy(w.proxy, `http://www.gov.uk:${port}/`);
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('could not be reached');
    expect(answer.body).toContain('Try again');
    const tunnel = await connect(w.proxy, `www.gov.uk:${port}`);
    expect(tunnel.status).toBe(502);
  });

  it('answers 504 when the site does not answer in time', async () => {
    const w = await world(await freshStore('sqlite'), {
      config: { 'proxy.upstreamResponseTimeoutMs': 200 },
    });
    const silent = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    stops.push(() => {
      silent.close();
    });
    const answer = await viaProxy(
      w.proxy,
      `http://www.gov.uk:${(silent.address() as AddressInfo).port}/`,
    );
    expect(answer.status).toBe(504);
  });

  it('refuses loopback and private targets, by address and by a name that resolves to one', async () => {
    const w = await world(await freshStore('sqlite'), { allowLoopback: false });
    const o = await origin();
    for (const url of [
      `http://127.0.0.1:${o.port}/`,
      `http://[::1]:${o.port}/`,
      `http://intranet.example:${o.port}/`,
      `http://169.254.169.254/latest/meta-data/`,
    ]) {
      const answer = await viaProxy(w.proxy, url);
      expect(answer.status, url).toBe(403);
      expect(answer.body).toContain('does not connect to this address');
    }
    const tunnel = await connect(w.proxy, `localhost.example:${o.port}`);
    expect(tunnel.status).toBe(403);
    expect(o.seen).toHaveLength(0);
  });

  it('never proxies into its own port, even where loopback is allowed', async () => {
    const w = await world(await freshStore('sqlite'));
    const answer = await viaProxy(w.proxy, `http://127.0.0.1:${w.proxy.address.port}/proxy.pac`);
    expect(answer.status).toBe(403);
  });

  it('answers 503 beyond the connection cap', async () => {
    const w = await world(await freshStore('sqlite'), { config: { 'proxy.maxConnections': 2 } });
    const held = [
      net.connect(w.proxy.address.port, '127.0.0.1'),
      net.connect(w.proxy.address.port, '127.0.0.1'),
    ];
    await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))));
    await new Promise((r) => setTimeout(r, 50));
    expect(await raw(w.proxy, 'GET /proxy.pac HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 503 /);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await viaProxy(w.proxy, '/proxy.pac')).status).toBe(200);
  });

  it('survives any bytes a client sends: it answers or closes, and serves the next client', async () => {
    const w = await world(await freshStore('sqlite'));
    const o = await origin();
    const line = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom(
        `GET http://www.gov.uk:${o.port}/ HTTP/1.1`,
        'CONNECT www.gov.uk:1 HTTP/1.1',
        'CONNECT [::1 HTTP/1.1',
        'Content-Length: -1',
        'Transfer-Encoding: chunked',
        'Host: \u0000',
        'GET http://@/ HTTP/1.1',
        'GET http://a:99999/ HTTP/1.1',
        'POST /.custos/review HTTP/1.1',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.array(line, { maxLength: 6 }).map((ls) => Buffer.from(`${ls.join('\r\n')}\r\n\r\n`)),
        ),
        async (bytes) => {
          await raw(w.proxy, bytes, 60);
        },
      ),
      { numRuns: 60 },
    );
    expect((await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/`)).status).toBe(200);
  });

  it('MIS-2(a): an attempt on an alert category (pornography) is audited as web.alert', async () => {
    const store = await freshStore('sqlite');
    const w = await world(store, {
      lists: buildIndex([{ name: 'adult', domains: ['adult.example'] }]),
    });
    const answer = await viaProxy(w.proxy, 'http://www.adult.example/');
    expect(answer.status).toBe(403);
    await new Promise((r) => setTimeout(r, 100));
    const entries = await store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'web.alert')
      .execute();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.actor_id).toBe(w.personId);
    expect(JSON.parse(entries[0]!.clause_ids)).toContain('MIS-2(a)');
    // Repeated attempts within a minute are one alert, not a flood.
    await viaProxy(w.proxy, 'http://www.adult.example/again');
    await new Promise((r) => setTimeout(r, 100));
    expect(
      await store.db
        .selectFrom('audit_log')
        .select('seq')
        .where('action', '=', 'web.alert')
        .execute(),
    ).toHaveLength(1);
  });
});

describeEachStore('filtering proxy records', (ctx) => {
  it('WEB-6, WEB-7: every decision is recorded with person, device, clause ids, status, bytes', async () => {
    const w = await world(ctx.store);
    const o = await origin();
    await viaProxy(w.proxy, `http://facebook.com:${o.port}/x`);
    await viaProxy(w.proxy, `http://www.gov.uk:${o.port}/search?q=term`);
    const tunnel = await connect(w.proxy, 'mail.yahoo.com:443');
    tunnel.socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await w.flush();
    const rows = await ctx.store.db.selectFrom('web_activity').selectAll().orderBy('at').execute();
    const blocked = rows.find((r) => r.host === 'facebook.com')!;
    expect(blocked).toMatchObject({
      decision: 'block',
      method: 'GET',
      path: '/x',
      status: 403,
      person_id: w.personId,
      client_ip: '127.0.0.1',
      source: 'proxy',
    });
    expect(blocked.device_id).not.toBeNull();
    expect(JSON.parse(blocked.clause_ids)).toContain('SYS-5');
    expect(JSON.parse(blocked.categories)).toContain('social_networks');
    const allowed = rows.find((r) => r.host === 'www.gov.uk')!;
    expect(allowed).toMatchObject({ decision: 'allow', status: 200, path: '/search?q=term' });
    expect(Number(allowed.bytes)).toBeGreaterThan(0);
    const connectRow = rows.find((r) => r.method === 'CONNECT')!;
    expect(connectRow).toMatchObject({ decision: 'block', host: 'mail.yahoo.com', path: null });
    expect(JSON.parse(connectRow.clause_ids)).toContain('SYS-5');
  });

  it('records a review request from the block page, with what was blocked, and audits it', async () => {
    const w = await world(ctx.store);
    const o = await origin();
    const page = await viaProxy(w.proxy, `http://facebook.com:${o.port}/school-page`);
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)![1]!;
    const token = /name="token" value="([^"]+)"/.exec(page.body)![1]!;
    const url = /name="url" value="([^"]+)"/.exec(page.body)![1]!;
    expect(action).toBe(`http://facebook.com:${o.port}/.custos/review`);
    const form = new URLSearchParams({ url, token, reason: 'The school page is run from here.' });
    const answer = await viaProxy(w.proxy, action.replace(/&amp;/g, '&'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('recorded');
    const rows = await ctx.store.db.selectFrom('site_review_requests').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      host: 'facebook.com',
      person_id: w.personId,
      status: 'open',
      reason: 'The school page is run from here.',
      client_ip: '127.0.0.1',
    });
    expect(JSON.parse(rows[0]!.clause_ids)).toContain('SYS-5');
    const audit = await ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'web.review-requested')
      .execute();
    expect(audit).toHaveLength(1);
    // A forged form (wrong token) is refused.
    const forged = await viaProxy(w.proxy, action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ url, token: 'x', reason: 'forged' }).toString(),
    });
    expect(forged.status).toBe(403);
    expect(o.seen).toHaveLength(0);
  });
});

describe('SafeSearch through the proxy (WEB-1)', () => {
  /** A resolver that knows only the SafeSearch names, and notes every name it is asked. */
  function safeNamesOnly() {
    const asked: string[] = [];
    const known = new Set([
      'forcesafesearch.google.com',
      'strict.bing.com',
      'restrict.youtube.com',
    ]);
    const resolve = async (host: string) => {
      asked.push(host);
      if (!known.has(host)) throw Object.assign(new Error(host), { code: 'ENOTFOUND' });
      return { address: '127.0.0.1', family: 4 as const };
    };
    return { asked, resolve };
  }

  it('WEB-1: CONNECT www.google.com is tunnelled to the address of forcesafesearch.google.com', async () => {
    const dns = safeNamesOnly();
    const w = await world(await freshStore('sqlite'), { resolve: dns.resolve });
    const port = await echoServer();
    const answer = await connect(w.proxy, `www.google.com:${port}`);
    expect(answer.status).toBe(200);
    const echoed = await new Promise<string>((resolve) => {
      answer.socket.once('data', (d) => resolve(d.toString()));
      answer.socket.write('client hello for www.google.com');
    });
    expect(echoed).toBe('client hello for www.google.com');
    answer.socket.destroy();
    expect(dns.asked).toEqual(['forcesafesearch.google.com']);
    // The record names the site asked for.
    await new Promise((r) => setTimeout(r, 50));
    await w.flush();
    const rows = await w.store.db.selectFrom('web_activity').selectAll().execute();
    expect(rows.find((r) => r.method === 'CONNECT')?.host).toBe(`www.google.com:${port}`);
  });

  it('WEB-1: a plain request for www.google.co.uk or www.youtube.com goes to the safe name, Host unchanged', async () => {
    const dns = safeNamesOnly();
    const w = await world(await freshStore('sqlite'), { resolve: dns.resolve });
    const o = await origin();
    const google = await viaProxy(w.proxy, `http://www.google.co.uk:${o.port}/search?q=x`);
    expect(google.status).toBe(200);
    expect(o.seen[0]?.headers.host).toBe(`www.google.co.uk:${o.port}`);
    const youtube = await viaProxy(w.proxy, `http://www.youtube.com:${o.port}/`);
    expect(youtube.status).toBe(200);
    // A chunked upload goes through the strict node:http path, which resolves on its own.
    const bing = await viaProxy(w.proxy, `http://www.bing.com:${o.port}/search`, {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: 'q=x',
    });
    expect(bing.status).toBe(200);
    expect(o.seen[2]?.body).toBe('q=x');
    expect(dns.asked).toEqual([
      'forcesafesearch.google.com',
      'restrict.youtube.com',
      'strict.bing.com',
    ]);
  });

  it('WEB-1: a blocked name stays blocked, and other names are resolved as they are', async () => {
    const dns = safeNamesOnly();
    const w = await world(await freshStore('sqlite'), { resolve: dns.resolve });
    const blocked = await connect(w.proxy, 'www.facebook.com:443');
    expect(blocked.status).toBe(403);
    blocked.socket.destroy();
    const other = await connect(w.proxy, 'www.gov.uk:443');
    expect(other.status).toBe(502); // this resolver does not know it
    other.socket.destroy();
    expect(dns.asked).toEqual(['www.gov.uk']);
  });
});

describe('custos serve', () => {
  it('starts the proxy beside the API and stops it on SIGTERM', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { serve } = await import('../support/process.ts');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'custos-proxy-serve-'));
    const served = await serve({ CUSTOS_DATA_DIR: dataDir });
    try {
      let match: RegExpMatchArray | null = null;
      for (let i = 0; i < 100 && !match; i++) {
        match = served
          .output()
          .match(/"url":"http:\/\/127\.0\.0\.1:(\d+)"[^\n]*web proxy listening/);
        if (!match) await new Promise((r) => setTimeout(r, 100));
      }
      expect(match, served.output()).not.toBeNull();
      const proxy = { address: { port: Number(match![1]) } } as ProxyListener;
      const pac = await viaProxy(proxy, '/proxy.pac');
      expect(pac.status).toBe(200);
      expect(pac.body).toContain('FindProxyForURL');
      // Nothing is registered: SYS-6 applies.
      const tunnel = await connect(proxy, 'www.gov.uk:443');
      expect(tunnel.status).toBe(403);
      expect(tunnel.headers['x-custos-reason']).toContain('SYS-6');
      tunnel.socket.destroy();
    } finally {
      expect(await served.stop()).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
