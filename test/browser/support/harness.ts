// The browser-test harness: a real `custos serve` on a temporary SQLite data dir, the console
// built from source, Debian's Chromium driven by playwright-core, and helpers to sign in, read
// authenticator codes, check accessibility (axe-core) and keep screenshots.
//
//   const h = await startHarness();          // in beforeAll
//   const page = await h.page(ctx);          // a fresh 1366x768 page per test
//   await h.close();                         // in afterAll
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import * as OTPAuth from 'otpauth';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { TestContext } from 'vitest';
import { ROOT, type Served, serve } from '../../support/process.ts';
import { ensureConsoleBuilt } from './console-build.ts';

export const CHROMIUM = process.env.CUSTOS_CHROMIUM ?? '/usr/bin/chromium';
export const VIEWPORT = { width: 1366, height: 768 };
export const TABLET = { width: 820, height: 1180 };
export const SCREENSHOTS = path.join(ROOT, 'docs/screenshots');
export const FAILURES = path.join(ROOT, 'test-results');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let axeSource: string | undefined;

/** The School Business Manager every browser test signs in as. */
export const SBM = {
  givenName: 'Harriet',
  familyName: 'Bains',
  email: 'h.bains@palfreyinfant.example',
  password: 'Kestrel-Lantern-42!',
};

export interface Account {
  email: string;
  password: string;
  /** The base32 TOTP secret, once the account has enrolled an authenticator app. */
  totpSecret?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- Authenticator codes ----------------------------------------------------------------------

const lastCode = new Map<string, string>();

/**
 * The current code for a secret. A code is accepted once, so when this secret's code was already
 * used in the current 30-second window, waits for the next one.
 */
export async function totpCode(secret: string): Promise<string> {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret.replace(/\s+/g, '')) });
  let code = totp.generate();
  while (lastCode.get(secret) === code) {
    await sleep(1000);
    code = totp.generate();
  }
  lastCode.set(secret, code);
  return code;
}

// --- The server -------------------------------------------------------------------------------

export interface Server {
  url: string;
  dataDir: string;
  served: Served;
  /** The one-time first-run link `custos serve` printed, rebased on the test server's address. */
  setupUrl: string | null;
  setupToken: string | null;
  /** Runs SQL against the server's SQLite database (for moving the clock of a session, PWD-5). */
  sql<T = unknown>(statement: string, ...params: unknown[]): T[];
  stop(): Promise<void>;
}

export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'custos-browser-'));
  const served = await serve({
    CUSTOS_DATA_DIR: dataDir,
    // Fast hashing: these tests are about the console, not the password cost.
    CUSTOS_AUTH__ARGON2__MEMORY_KI_B: '8192',
    CUSTOS_AUTH__ARGON2__TIME_COST: '1',
    CUSTOS_AUTH__SIGN_IN_RATE_PER_MINUTE: '1000',
    ...env,
  });
  // The link is printed once, just after the "listening" line.
  let token: string | null = null;
  for (let i = 0; i < 100 && !token; i++) {
    token = /\/setup#token=([A-Za-z0-9_-]{20,})/.exec(served.output())?.[1] ?? null;
    if (!token) await sleep(50);
  }
  const dbPath = path.join(dataDir, 'custos.db');
  return {
    url: served.url,
    dataDir,
    served,
    setupToken: token,
    setupUrl: token ? `${served.url}/setup#token=${token}` : null,
    sql<T>(statement: string, ...params: unknown[]) {
      const db = new Sqlite(dbPath);
      try {
        db.pragma('busy_timeout = 5000');
        const prepared = db.prepare(statement);
        if (prepared.reader) return prepared.all(...params) as T[];
        prepared.run(...params);
        return [];
      } finally {
        db.close();
      }
    },
    async stop() {
      await served.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates the School Business Manager's account through POST /api/auth/setup. */
export async function setUpFirstAccount(server: Server, person = SBM): Promise<Account> {
  if (!server.setupToken)
    throw new Error(`serve printed no setup link:\n${server.served.output()}`);
  const response = await fetch(`${server.url}/api/auth/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: server.setupToken, ...person }),
  });
  if (response.status !== 201 && response.status !== 200) {
    throw new Error(`setup answered ${response.status}: ${await response.text()}`);
  }
  return { email: person.email, password: person.password };
}

/**
 * Moves every live session's last activity back by `minutes`, as if nobody had touched the
 * console for that long: the server then answers `session_locked` (PWD-5).
 */
export function idleSessions(server: Server, minutes: number): void {
  const when = new Date(Date.now() - minutes * 60_000).toISOString();
  server.sql('UPDATE sessions SET last_seen_at = ? WHERE revoked_at IS NULL', when);
}

/** Marks every live session as used just now (undoes idleSessions). */
export function wakeSessions(server: Server): void {
  server.sql(
    'UPDATE sessions SET last_seen_at = ? WHERE revoked_at IS NULL',
    new Date().toISOString(),
  );
}

/**
 * Counts the page's requests in flight from now on. `quiet(ms)` waits until none has been in
 * flight for `ms`: then every request the page made has been answered, and the server has done
 * with each (a session it touched is written before the answer). Playwright's `networkidle` load
 * state fires once per navigation and does not wait for requests made later.
 */
export function trackRequests(page: Page): { quiet(ms?: number): Promise<void> } {
  let inFlight = 0;
  let lastChange = Date.now();
  page.on('request', () => {
    inFlight++;
    lastChange = Date.now();
  });
  const done = () => {
    inFlight = Math.max(0, inFlight - 1);
    lastChange = Date.now();
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return {
    async quiet(ms = 300) {
      const until = Date.now() + 15_000;
      while (inFlight > 0 || Date.now() - lastChange < ms) {
        if (Date.now() > until) throw new Error(`${inFlight} requests still in flight after 15 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

// --- The browser ------------------------------------------------------------------------------

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}. Install Debian's (apt-get install -y chromium) or set CUSTOS_CHROMIUM.`,
    );
  }
  // launch() gives every run a fresh, temporary user-data dir.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A file-system-safe name for a test. */
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 100);

/**
 * The input labelled exactly `label`; required fields' labels end in an asterisk, which this
 * ignores ("Password" does not match "New password again").
 */
export function field(page: Page, label: string) {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.getByLabel(new RegExp(`^${escaped}\\s*\\*?$`));
}

// --- Signing in -------------------------------------------------------------------------------

/**
 * Signs in through the sign-in page: e-mail and password, then the authenticator code, or the
 * first-time set-up of the authenticator app (whose secret is then kept on the account).
 */
export async function signIn(page: Page, account: Account, baseUrl?: string): Promise<void> {
  if (baseUrl || !page.url().includes('/sign-in')) {
    await page.goto(`${baseUrl ?? new URL(page.url()).origin}/sign-in`);
  }
  await field(page, 'E-mail address').fill(account.email);
  await field(page, 'Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await completeSecondStep(page, account);
}

/** After the password: answers the code or enrolment step if the page shows one. */
export async function completeSecondStep(page: Page, account: Account): Promise<void> {
  const heading = page.getByRole('heading', { level: 1 });
  // Wait until the page has left the password step: another step, or the console itself.
  await page
    .getByRole('heading', { level: 1, name: /^(Enter your code|Set up your authenticator app)$/ })
    .or(page.getByRole('navigation', { name: 'Main navigation' }))
    .first()
    .waitFor();
  if (!new URL(page.url()).pathname.startsWith('/sign-in')) return;
  const title = await heading.textContent();
  if (title === 'Set up your authenticator app') {
    const secret = await page.getByTestId('totp-secret').getAttribute('data-secret');
    if (!secret) throw new Error('The enrolment page shows no secret.');
    account.totpSecret = secret;
    await field(page, 'Six-digit code').fill(await totpCode(secret));
    await page.getByRole('button', { name: 'Confirm and continue' }).click();
  } else if (title === 'Enter your code') {
    if (!account.totpSecret) throw new Error('The account has no authenticator secret yet.');
    await field(page, 'Six-digit code').fill(await totpCode(account.totpSecret));
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
}

// --- Accessibility ----------------------------------------------------------------------------

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core (WCAG 2.0, 2.1 and 2.2 A and AA rules) on the page as it is and fails on any
 * serious or critical violation, naming the rule and the elements.
 */
export async function checkAccessibility(page: Page, what = page.url()): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) {
    // Evaluated rather than added as a <script>: the console's Content-Security-Policy forbids
    // inline scripts, and the tests keep that policy on.
    axeSource ??= readFileSync(AXE, 'utf8');
    await page.evaluate(axeSource);
  }
  const violations = (await page.evaluate(`
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
      resultTypes: ['violations'],
    }).then((r) => r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    })))
  `)) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const text = bad
      .map(
        (v) =>
          `- ${v.id} (${v.impact}): ${v.help}\n${v.nodes
            .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ')}`)
            .join('\n')}`,
      )
      .join('\n');
    throw new Error(`Accessibility problems on ${what}:\n${text}`);
  }
  return violations;
}

/** Saves docs/screenshots/<name>.png, the picture of a screen kept in the repository. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), animations: 'disabled' });
}

// --- One harness per test file ----------------------------------------------------------------

export interface Harness {
  server: Server;
  browser: Browser;
  url(pathname: string): string;
  /**
   * A fresh 1366x768 page (en-GB, Europe/London). Pass the test context so that a failing test
   * leaves a screenshot in test-results/ and the page is closed when the test ends.
   */
  page(
    ctx: TestContext,
    options?: { signedInAs?: Account; viewport?: { width: number; height: number } },
  ): Promise<Page>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  await ensureConsoleBuilt();
  const server = await startServer(env);
  let browser: Browser;
  try {
    const home = await fetch(`${server.url}/sign-in`);
    const text = await home.text();
    if (!text.includes('id="root"')) {
      throw new Error(
        `custos serve does not serve the built console at /sign-in (HTTP ${home.status}). Register consoleRoutes (src/api/console.routes.ts) in src/api/app.ts.`,
      );
    }
    browser = await launchBrowser();
  } catch (error) {
    await server.stop();
    throw error;
  }
  // One signed-in state per account, reused by later pages (an authenticator code works once).
  const states = new Map<Account, Awaited<ReturnType<BrowserContext['storageState']>>>();

  return {
    server,
    browser,
    url: (pathname) => `${server.url}${pathname}`,
    async page(ctx, options = {}) {
      const account = options.signedInAs;
      const context = await browser.newContext({
        viewport: options.viewport ?? VIEWPORT,
        locale: 'en-GB',
        timezoneId: 'Europe/London',
        baseURL: server.url,
        storageState: account ? states.get(account) : undefined,
      });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      ctx.onTestFinished(async (finished) => {
        const state = finished.task.result?.state;
        if (state === 'fail') {
          mkdirSync(FAILURES, { recursive: true });
          const file = path.join(FAILURES, `${slug(finished.task.name)}.png`);
          await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
        }
        await context.close().catch(() => undefined);
      });
      if (account && !states.has(account)) {
        await signIn(page, account, server.url);
        states.set(account, await context.storageState());
      }
      return page;
    },
    async close() {
      await browser.close().catch(() => undefined);
      await server.stop();
    },
  };
}
