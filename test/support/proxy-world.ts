// A filtering proxy over real sockets for the proxy suites: origin servers on 127.0.0.1, the
// shipped policy pack, the mini category lists, and clients that speak HTTP, CONNECT or raw bytes.
// Every site name resolves to 127.0.0.1 through the test resolver, so no request leaves the machine.
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeAll } from 'vitest';
import { createAuditLog } from '../../src/audit/service.ts';
import { createAccountsService } from '../../src/auth/accounts.service.ts';
import { createPasswordHasher } from '../../src/auth/hashing.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createPolicyHolder } from '../../src/policy/holder.ts';
import type { Store } from '../../src/store/database.ts';
import { createActivityRecorder } from '../../src/webfilter/activity.ts';
import { createWebAlerts } from '../../src/webfilter/alerts.ts';
import { type CategoryIndex, loadCategoryFolder } from '../../src/webfilter/categories/index.ts';
import { createProxyAuthenticator } from '../../src/webfilter/proxy/auth.ts';
import { type ProxyListener, startProxy } from '../../src/webfilter/proxy/server.ts';
import type { Resolver } from '../../src/webfilter/proxy/target.ts';
import { createWebFilterState } from '../../src/webfilter/state.ts';
import { shippedPolicy } from './app.ts';
import { addAccount, addDevice, addPerson } from './seed.ts';

export { freePort } from './ports.ts';

export const MINI = path.resolve(import.meta.dirname, '../fixtures/lists/ut1-mini');
export const PUBLIC_URL = 'http://console.school.test:8080';
export let lists: CategoryIndex;

beforeAll(async () => {
  lists = (await loadCategoryFolder(MINI)).index;
});

export const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/** An origin server that answers with what it received. */
export async function origin(): Promise<{
  port: number;
  seen: { url: string; headers: IncomingHttpHeaders; body: string }[];
}> {
  const seen: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.setHeader('Connection', 'keep-alive, X-Secret-Hop');
      res.setHeader('X-Secret-Hop', 'private');
      res.end(`hello from origin: ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  return { port: (server.address() as AddressInfo).port, seen };
}

export async function echoServer(): Promise<number> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

export interface World {
  store: Store;
  proxy: ProxyListener;
  personId: string;
  flush(): Promise<void>;
  refresh(): Promise<void>;
}

export async function world(
  store: Store,
  options: {
    device?: boolean;
    config?: Record<string, unknown>;
    allowLoopback?: boolean;
    password?: string;
    lists?: CategoryIndex;
    /** Name resolution; every name goes to 127.0.0.1 unless a test says otherwise. */
    resolve?: Resolver;
  } = {},
): Promise<World> {
  const config = loadConfig({ env: {}, overrides: options.config ?? {} });
  const policy = createPolicyHolder(await shippedPolicy());
  const audit = createAuditLog(store);
  const personId = await addPerson(store, { email: 'amy@school.test' });
  if (options.device !== false) await addDevice(store, personId);
  if (options.password) {
    const hasher = createPasswordHasher(config.auth.argon2);
    await addAccount(store, personId, { passwordHash: await hasher.hash(options.password) });
  }
  const state = await createWebFilterState({ store, policy, lists: options.lists ?? lists });
  const activity = createActivityRecorder(store, { flushMs: 50 });
  const log = pino({ level: 'silent' });
  const authenticator = createProxyAuthenticator({
    verifier: createAccountsService({ store, audit, policy, config }),
    cacheSeconds: config.proxy.authCacheSeconds,
  });
  const proxy = await startProxy(
    {
      engine: state.engine,
      activity,
      store,
      audit,
      log,
      authenticator,
      resolve: options.resolve ?? (async () => ({ address: '127.0.0.1', family: 4 })),
      alerts: createWebAlerts({
        store,
        audit,
        policy: () => policy.current(),
        log,
        publicUrl: PUBLIC_URL,
        repeatMinutes: config.webfilter.alertRepeatMinutes,
      }),
    },
    {
      ...config.proxy,
      host: '127.0.0.1',
      port: 0,
      publicUrl: PUBLIC_URL,
      publicHost: 'proxy.school.test',
      allowedTargets: options.allowLoopback === false ? [] : ['127.0.0.1'],
    },
  );
  stops.push(async () => {
    await proxy.stop();
    await activity.stop();
    state.stop();
  });
  return {
    store,
    proxy,
    personId,
    flush: () => activity.flush(),
    refresh: () => state.refresh(),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function viaProxy(
  proxy: ProxyListener,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxy.address.port,
      method: options.method ?? 'GET',
      path: url,
      headers: options.headers ?? {},
      agent: false,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export function connect(
  proxy: ProxyListener,
  authority: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; socket: net.Socket; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxy.address.port,
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    req.on('connect', (res, socket) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          socket: res.socket,
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and collects what comes back until the proxy closes or goes quiet. */
export function raw(proxy: ProxyListener, bytes: string | Buffer, quietMs = 400): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(proxy.address.port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    socket.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes, () => arm());
  });
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
