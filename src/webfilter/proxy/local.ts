// What the proxy serves itself: proxy.pac and wpad.dat for browsers asking the proxy directly,
// and the "ask for a review" form posted from a block page (to the blocked site's own address,
// which the browser sends through the proxy, so it works wherever the block page was shown).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PAC_CONTENT_TYPE, pacFile } from './pac.ts';
import { errorPage, reviewRecordedPage } from './pages.ts';
import { parseAbsoluteHttp } from './request-line.ts';
import { MAX_REVIEW_REASON, recordReviewRequest } from './reviews.ts';
import { type ProxyContext, sendPage } from './server.ts';
import { unmapped } from './target.ts';

export const REVIEW_PATH = '/.custos/review';
export const isReviewPath = (path: string) =>
  path === REVIEW_PATH || path.startsWith(`${REVIEW_PATH}?`);

const MAX_FORM_BYTES = 16 * 1024;
const REVIEWS_PER_HOUR = 20;

const reviewCounts = new Map<string, { count: number; until: number }>();

function tooMany(ip: string): boolean {
  const now = Date.now();
  const entry = reviewCounts.get(ip);
  if (!entry || entry.until < now) {
    if (reviewCounts.size > 10_000) reviewCounts.clear();
    reviewCounts.set(ip, { count: 1, until: now + 3_600_000 });
    return false;
  }
  entry.count++;
  return entry.count > REVIEWS_PER_HOUR;
}

export function handleLocal(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
  blockedHost?: string,
): void {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (
    (path === '/proxy.pac' || path === '/wpad.dat') &&
    (req.method === 'GET' || req.method === 'HEAD')
  ) {
    let consoleHost: string | null = null;
    try {
      consoleHost = new URL(ctx.options.publicUrl).hostname;
    } catch {}
    const body = pacFile({
      proxyHost: ctx.proxyHost(),
      proxyPort: ctx.proxyPort(),
      consoleHost,
      directRanges: [],
    });
    res.writeHead(200, {
      'Content-Type': PAC_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'max-age=300',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === REVIEW_PATH && req.method === 'POST') {
    receiveReview(ctx, req, res, blockedHost ?? null);
    return;
  }
  sendPage(
    res,
    404,
    errorPage(
      'bad-request',
      '',
      'This is the school’s web proxy. Browsers find their settings at /proxy.pac.',
    ),
  );
}

function receiveReview(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  postedTo: string | null,
): void {
  const clientIp = unmapped(req.socket.remoteAddress ?? '');
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      if (!refused) {
        refused = true;
        sendPage(res, 413, errorPage('bad-request', '', 'The form is too large.'), {}, true);
      }
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => {});
  req.on('end', () => {
    if (refused) return;
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const url = (form.get('url') ?? '').slice(0, 4096);
    const reason = (form.get('reason') ?? '').trim().slice(0, MAX_REVIEW_REASON);
    const token = form.get('token') ?? '';
    const parsed = parseAbsoluteHttp(url);
    if (!parsed || !reason || (postedTo !== null && postedTo !== parsed.target.host)) {
      sendPage(
        res,
        400,
        errorPage('bad-request', '', 'Say why you need the site, then send the form again.'),
      );
      return;
    }
    const host = parsed.target.host;
    if (!ctx.tokens.verify(token, host, clientIp)) {
      sendPage(
        res,
        403,
        errorPage(
          'bad-request',
          host,
          'This form did not come from a block page shown to this device. Open the site again and use the form on its block page.',
        ),
      );
      return;
    }
    if (tooMany(clientIp)) {
      sendPage(
        res,
        429,
        errorPage(
          'bad-request',
          host,
          'Too many review requests from this device in the last hour. Try again later.',
        ),
      );
      return;
    }
    const engine = ctx.deps.engine();
    const identified = ctx.identify(req, clientIp, engine);
    const finish = (personId: string | null | false) => {
      const decision = engine.decide({
        clientIp,
        personId: personId || null,
        host,
        path: parsed.path,
        now: ctx.clock(),
      });
      recordReviewRequest(
        { store: ctx.deps.store, audit: ctx.deps.audit, clock: ctx.clock },
        {
          host,
          url,
          personId: decision.person?.id ?? null,
          personLabel: decision.person?.label ?? null,
          deviceId: decision.device?.id ?? null,
          clientIp,
          categories: decision.categories,
          clauseIds: decision.clauseIds,
          reason,
        },
      ).then(
        () => sendPage(res, 200, reviewRecordedPage(host)),
        (err: unknown) => {
          ctx.deps.log.error({ err }, 'could not record a site review request');
          sendPage(
            res,
            503,
            errorPage(
              'overloaded',
              host,
              'The request could not be recorded just now. Try again in a few minutes.',
            ),
          );
        },
      );
    };
    if (identified instanceof Promise) identified.then(finish, () => finish(null));
    else finish(identified);
  });
}
