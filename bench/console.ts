// Console speed: the first-load JavaScript the browser downloads (gzip and brotli, against the
// 250 KB budget), and, in Chromium against a real `custos serve` with 5,000 imported people, the
// people list: time from typing a filter to the list showing it (p50/p95), and the longest frame
// while scrolling. The peer, in the same browser and run: the same 5,000 people in a plain,
// non-virtualised HTML table filtered in the page itself, printed beside Custos as a ratio.
// Run: npx tsx bench/console.ts [--people 5000] [--queries 20]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { CONSOLE_DIST, ensureConsoleBuilt } from '../test/browser/support/console-build.ts';
import { launchBrowser, SBM, signIn, VIEWPORT } from '../test/browser/support/harness.ts';
import { serve } from '../test/support/process.ts';

const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '5000' },
    queries: { type: 'string', default: '20' },
  },
});
const PEOPLE = Number.parseInt(args.people, 10);
const QUERIES = Number.parseInt(args.queries, 10);
const BUDGET_KB = 250;

// --- 1. First-load JavaScript ----------------------------------------------------------------

await ensureConsoleBuilt(); // builds console/dist when it is missing or older than its sources
const index = readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
const firstLoad = [
  ...index.matchAll(/<script[^>]+src="([^"]+\.js)"/g),
  ...index.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g),
].map((m) => m[1]!);
let raw = 0;
let gzip = 0;
let brotli = 0;
for (const file of new Set(firstLoad)) {
  const bytes = readFileSync(path.join(CONSOLE_DIST, file.replace(/^\//, '')));
  raw += bytes.length;
  gzip += gzipSync(bytes, { level: 9 }).length;
  brotli += brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
  }).length;
}
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

// --- 2. The people list against a real server -------------------------------------------------

const FAMILY = [
  'Abbott',
  'Bhatt',
  'Carver',
  'Dimitrov',
  'Eastwood',
  'Fairbairn',
  'Gallagher',
  'Hussain',
  'Ingram',
  'Jankowski',
  'Kowalczyk',
  'Lindqvist',
  'Mbeki',
  'Nakamura',
  'Okonkwo',
  'Pemberton',
  'Quayle',
  'Rasmussen',
  'Szabo',
  'Thornbury',
  'Underwood',
  'Vasquez',
  'Whitlock',
  'Yardley',
  'Zielinski',
];
const GIVEN = ['Amelia', 'Olivia', 'Isla', 'Noah', 'Arthur', 'Leo', 'Priya', 'Kwame', 'Rhys'];

function peopleCsv(n: number): string {
  const lines = ['staff_id,email,given_name,family_name,kind,groups,start_date'];
  for (let i = 0; i < n; i++) {
    const family = FAMILY[i % FAMILY.length]!;
    const given = GIVEN[Math.floor(i / FAMILY.length) % GIVEN.length]!;
    lines.push(
      `S${String(i).padStart(5, '0')},${given.toLowerCase()}.${family.toLowerCase()}.${i}@bench.example,${given},${family},employee,staff,2020-09-01`,
    );
  }
  return lines.join('\n');
}

/** Runs in the page: sets the filter, waits until the first shown row matches, then a frame. */
const MEASURE = `async ({ input, row, queries }) => {
  const field = document.querySelector(input);
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  const firstShown = () => {
    for (const r of document.querySelectorAll(row)) if (r.style.display !== 'none') return r;
    return null;
  };
  const times = [];
  for (const q of queries) {
    const t0 = performance.now();
    setter.call(field, q);
    field.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((resolve) => {
      const done = () => {
        const first = firstShown();
        return first && first.textContent.toLowerCase().includes(q.toLowerCase());
      };
      if (done()) return resolve();
      const observer = new MutationObserver(() => {
        if (done()) { observer.disconnect(); resolve(); }
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  return times;
}`;

/** Runs in the page: scrolls the container a fixed step per frame and records frame lengths. */
const SCROLL = `async ({ container, frames, step }) => {
  const el = document.querySelector(container);
  let longestLoaf = 0;
  let observer = null;
  try {
    observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longestLoaf = Math.max(longestLoaf, e.duration);
    });
    observer.observe({ type: 'long-animation-frame', buffered: false });
  } catch {}
  const deltas = [];
  let last = await new Promise((r) => requestAnimationFrame(r));
  for (let i = 0; i < frames; i++) {
    el.scrollTop += step;
    const now = await new Promise((r) => requestAnimationFrame(r));
    deltas.push(now - last);
    last = now;
  }
  observer?.disconnect();
  deltas.sort((a, b) => a - b);
  return {
    longest: deltas.at(-1),
    p95: deltas[Math.floor(deltas.length * 0.95)],
    over50: deltas.filter((d) => d > 50).length,
    longestLoaf,
    reached: el.scrollTop,
  };
}`;

interface ScrollResult {
  longest: number;
  p95: number;
  over50: number;
  longestLoaf: number;
  reached: number;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
};

const queries = Array.from({ length: QUERIES }, (_, i) => FAMILY[i % FAMILY.length]!);
const warmUp = [FAMILY.at(-1)!, FAMILY.at(-2)!];

// The console and API only: the gateways are not what this measures.
const work = mkdtempSync(path.join(tmpdir(), 'custos-bench-console-'));
const server = await serve(
  {
    CUSTOS_DATA_DIR: work,
    CUSTOS_AUTH__ARGON2__MEMORY_KI_B: '8192',
    CUSTOS_AUTH__ARGON2__TIME_COST: '1',
  },
  ['--only', 'api'],
);
const browser = await launchBrowser();
try {
  let token: string | undefined;
  for (let i = 0; i < 100 && !token; i++) {
    token = /\/setup#token=([A-Za-z0-9_-]{20,})/.exec(server.output())?.[1];
    if (!token) await new Promise((r) => setTimeout(r, 50));
  }
  const setup = await fetch(`${server.url}/api/auth/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, ...SBM }),
  });
  if (!setup.ok) throw new Error(`setup answered ${setup.status}: ${await setup.text()}`);
  const account: { email: string; password: string; totpSecret?: string } = {
    email: SBM.email,
    password: SBM.password,
  };
  const context = await browser.newContext({
    viewport: VIEWPORT,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    baseURL: server.url,
  });
  context.setDefaultTimeout(60_000);
  const page = await context.newPage();
  await signIn(page, account, server.url);
  const session = (await (await page.request.get('/api/auth/session')).json()) as {
    csrfToken: string;
  };
  const started = Date.now();
  const imported = await page.request.post('/api/people/import', {
    headers: { 'content-type': 'text/csv', 'x-csrf-token': session.csrfToken },
    data: peopleCsv(PEOPLE),
    timeout: 300_000,
  });
  if (imported.status() !== 200) throw new Error(`import: ${await imported.text()}`);
  const importSeconds = (Date.now() - started) / 1000;

  // Custos: the people screen.
  await page.goto('/people');
  await page.getByTestId('person-row').first().waitFor();
  const input = 'input[type=search]';
  await page.evaluate(
    `(${MEASURE})(${JSON.stringify({ input, row: '[data-testid=person-row]', queries: warmUp })})`,
  );
  const custosTimes = (await page.evaluate(
    `(${MEASURE})(${JSON.stringify({ input, row: '[data-testid=person-row]', queries })})`,
  )) as number[];
  await page
    .evaluate(
      `(${MEASURE})(${JSON.stringify({ input, row: '[data-testid=person-row]', queries: [''] })})`,
    )
    .catch(() => undefined);
  await page.goto('/people');
  await page.getByTestId('person-row').first().waitFor();
  const custosScroll = (await page.evaluate(
    `(${SCROLL})(${JSON.stringify({ container: 'section.virtual-scroll', frames: 300, step: 160 })})`,
  )) as ScrollResult;

  // The peer: a plain table of the same people, every row in the DOM, filtered in the page.
  const everyone: { givenName: string; familyName: string; email: string; kind: string }[] = [];
  for (let offset = 0; ; offset += 500) {
    const res = await page.request.get(`/api/people?limit=500&offset=${offset}`);
    const body = (await res.json()) as { total: number; people: typeof everyone };
    everyone.push(...body.people);
    if (everyone.length >= body.total || body.people.length === 0) break;
  }
  const html = (s: string) =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const peerFile = path.join(work, 'peer.html');
  writeFileSync(
    peerFile,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Peer</title>
<style>body{font-family:system-ui;margin:16px} #scroll{height:480px;overflow:auto} td{padding:8px;border-bottom:1px solid #ddd}</style></head>
<body><label>Search <input type="search" id="q"></label><div id="scroll"><table><tbody id="rows">
${everyone
  .sort(
    (a, b) => a.familyName.localeCompare(b.familyName) || a.givenName.localeCompare(b.givenName),
  )
  .map(
    (p) =>
      `<tr><td>${html(p.familyName)}, ${html(p.givenName)}</td><td>${html(p.email)}</td><td>${html(p.kind)}</td></tr>`,
  )
  .join('\n')}
</tbody></table></div>
<script>
const rows = [...document.querySelectorAll('#rows tr')];
const text = rows.map((r) => r.textContent.toLowerCase());
document.getElementById('q').addEventListener('input', (e) => {
  const q = e.target.value.trim().toLowerCase();
  for (let i = 0; i < rows.length; i++) rows[i].style.display = !q || text[i].includes(q) ? '' : 'none';
});
</script></body></html>`,
  );
  const peer = await context.newPage();
  await peer.goto(`file://${peerFile}`);
  await peer.evaluate(
    `(${MEASURE})(${JSON.stringify({ input: '#q', row: '#rows tr', queries: warmUp })})`,
  );
  const peerTimes = (await peer.evaluate(
    `(${MEASURE})(${JSON.stringify({ input: '#q', row: '#rows tr', queries })})`,
  )) as number[];
  await peer.evaluate(
    `(${MEASURE})(${JSON.stringify({ input: '#q', row: '#rows tr', queries: ['@'] })})`,
  );
  const peerScroll = (await peer.evaluate(
    `(${SCROLL})(${JSON.stringify({ container: '#scroll', frames: 300, step: 160 })})`,
  )) as ScrollResult;

  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const c50 = quantile(custosTimes, 0.5);
  const c95 = quantile(custosTimes, 0.95);
  const p50 = quantile(peerTimes, 0.5);
  const p95 = quantile(peerTimes, 0.95);
  console.log(
    `Console bench — ${new Date().toISOString()}, Chromium headless, ${VIEWPORT.width}x${VIEWPORT.height}`,
  );
  console.log('');
  console.log(`First-load JavaScript (${new Set(firstLoad).size} files from index.html)`);
  console.log(
    `  raw ${kb(raw)}, gzip -9 ${kb(gzip)}, brotli q11 ${kb(brotli)}; budget ${BUDGET_KB} KB compressed: ${gzip / 1024 <= BUDGET_KB ? 'within' : 'OVER'} (gzip ${((gzip / 1024 / BUDGET_KB) * 100).toFixed(0)}% of it)`,
  );
  console.log('');
  console.log(
    `People list: ${PEOPLE} people imported in ${importSeconds.toFixed(1)} s; ${QUERIES} filters typed`,
  );
  console.log(
    '  filter typed -> list shows it (a school-sized directory is filtered in the page: no round trip)',
  );
  console.log(`    Custos:  p50 ${ms(c50)}, p95 ${ms(c95)}, max ${ms(Math.max(...custosTimes))}`);
  console.log(`    peer:    p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(Math.max(...peerTimes))}`);
  console.log(`    ratio Custos/peer: p50 ${ratio(c50, p50)}, p95 ${ratio(c95, p95)}`);
  console.log('  scrolling 300 frames, 160 px a frame');
  console.log(
    `    Custos:  longest frame ${ms(custosScroll.longest)}, p95 ${ms(custosScroll.p95)}, frames > 50 ms: ${custosScroll.over50}, longest animation frame entry ${ms(custosScroll.longestLoaf)}, scrolled ${custosScroll.reached} px`,
  );
  console.log(
    `    peer:    longest frame ${ms(peerScroll.longest)}, p95 ${ms(peerScroll.p95)}, frames > 50 ms: ${peerScroll.over50}, longest animation frame entry ${ms(peerScroll.longestLoaf)}, scrolled ${peerScroll.reached} px`,
  );
  console.log(
    `    ratio Custos/peer longest frame: ${ratio(custosScroll.longest, peerScroll.longest)}`,
  );
  await context.close();
} finally {
  await browser.close().catch(() => undefined);
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
