// The activity rows waiting to be written (activity.ts), in columns by slot (slots.ts): each stands
// for identical decisions within one window, with the first one's fields and the sums. The event a
// row is made from is copied, not kept, so that nothing the caller allocated outlives the call.

import { isoAt, newTimeId } from '../store/columns.ts';
import type { ActivityRow } from './activity.repository.ts';
import type { ActivityEvent } from './activity.ts';
import { grown, SlotOrder, SlotPool } from './slots.ts';

// The JSON of the category and clause arrays, computed once per array: the compiled policy hands
// out the same frozen arrays for every decision of a kind.
const jsonByArray = new WeakMap<readonly string[], string>();
const jsonOfSingle = new Map<string, string>();
function jsonOf(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let json = jsonByArray.get(values);
  if (json !== undefined) return json;
  if (values.length === 1) {
    // One category or clause: often a fresh array per decision, so keyed by its value instead.
    const only = values[0]!;
    json = jsonOfSingle.get(only);
    if (json === undefined) {
      json = JSON.stringify(values);
      if (jsonOfSingle.size < 10_000) jsonOfSingle.set(only, json);
    }
    return json;
  }
  json = JSON.stringify(values);
  if (Object.isFrozen(values)) jsonByArray.set(values, json);
  return json;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

const SEARCH_PARAMS = ['q', 'query', 'p', 'search_query', 'text', 'wd', 'k'];
const SEARCH_HOSTS =
  /(^|\.)(google|bing|duckduckgo|yahoo|ecosia|youtube|baidu|yandex|ask|startpage)\./;

/** Search terms where the URL shows them (WEB-6): q= on known search engines. */
export function searchTermsOf(host: string, path: string | null | undefined): string | null {
  if (!path || !SEARCH_HOSTS.test(host)) return null;
  const q = path.indexOf('?');
  if (q < 0) return null;
  const params = new URLSearchParams(path.slice(q + 1));
  for (const name of SEARCH_PARAMS) {
    const value = params.get(name);
    if (value?.trim()) return value.trim().slice(0, 500);
  }
  return null;
}

const EMPTY: readonly string[] = [];

export class PendingRows {
  private readonly pool = new SlotPool();
  /** Rows taking hits, oldest first: not yet taken for writing, nor dropped. */
  private readonly open = new SlotOrder();
  /** Open rows by the start of their window. */
  private readonly perWindow = new Map<number, number>();

  // The event's fields, by slot, and the row's id once it has been given one.
  private ids: (string | undefined)[] = [];
  private sources: string[] = [];
  private persons: (string | null)[] = [];
  private devices: (string | null)[] = [];
  private clients: string[] = [];
  private methods: (string | null)[] = [];
  private hosts: string[] = [];
  private paths: (string | null)[] = [];
  private categories: (readonly string[])[] = [];
  private decisions: string[] = [];
  private reasons: string[] = [];
  private clauses: (readonly string[])[] = [];
  private statuses: (number | null)[] = [];
  private searches: (string | null | undefined)[] = [];
  // The sums, the times and where the row belongs.
  private first = new Float64Array(1024);
  private last = new Float64Array(1024);
  private hits = new Float64Array(1024);
  private bytes = new Float64Array(1024);
  private durations = new Float64Array(1024);
  private windows = new Float64Array(1024);
  /** The visit (visits.ts) the row is of, and the visit's previous row in the same window. */
  private visits = new Int32Array(1024);
  private previous = new Int32Array(1024);

  /** Rows open now. */
  get size(): number {
    return this.open.live;
  }

  add(
    e: ActivityEvent,
    t: number,
    window: number,
    visit: number,
    previous: number,
    bytes: number,
    durationMs: number,
  ): number {
    const row = this.pool.take();
    this.ids[row] = undefined;
    if (row >= this.first.length) {
      const n = row + 1;
      this.first = grown(this.first, n);
      this.last = grown(this.last, n);
      this.hits = grown(this.hits, n);
      this.bytes = grown(this.bytes, n);
      this.durations = grown(this.durations, n);
      this.windows = grown(this.windows, n);
      this.visits = grown(this.visits, n);
      this.previous = grown(this.previous, n);
    }
    this.sources[row] = e.source;
    this.persons[row] = e.personId;
    this.devices[row] = e.deviceId;
    this.clients[row] = e.clientIp;
    this.methods[row] = e.method ?? null;
    this.hosts[row] = e.host;
    this.paths[row] = e.path ?? null;
    this.categories[row] = e.categories;
    this.decisions[row] = e.decision;
    this.reasons[row] = e.reason;
    this.clauses[row] = e.clauseIds;
    this.statuses[row] = e.status ?? null;
    this.searches[row] = e.searchTerms;
    this.first[row] = t;
    this.last[row] = t;
    this.hits[row] = 1;
    this.bytes[row] = bytes;
    this.durations[row] = durationMs;
    this.windows[row] = window;
    this.visits[row] = visit;
    this.previous[row] = previous === row ? -1 : previous;
    this.open.place(row);
    this.perWindow.set(window, (this.perWindow.get(window) ?? 0) + 1);
    return row;
  }

  /** The row is open and still of `visit` in `window` (a slot given back may be another's now). */
  isOf(row: number, visit: number, window: number): boolean {
    return this.open.has(row) && this.visits[row] === visit && this.windows[row] === window;
  }

  /** The visit's row made before this one in the same window, or -1. */
  previousOf(row: number): number {
    return this.previous[row]!;
  }

  /** The same decision as the row's, given the same source, subject and host (the visit's key). */
  sameDecision(row: number, e: ActivityEvent): boolean {
    return (
      this.paths[row] === (e.path ?? null) &&
      this.methods[row] === (e.method ?? null) &&
      this.decisions[row] === e.decision &&
      this.reasons[row] === e.reason &&
      this.statuses[row] === (e.status ?? null) &&
      this.persons[row] === e.personId &&
      this.devices[row] === e.deviceId &&
      this.clients[row] === e.clientIp &&
      this.searches[row] === e.searchTerms &&
      sameList(this.categories[row]!, e.categories) &&
      sameList(this.clauses[row]!, e.clauseIds)
    );
  }

  hit(row: number, t: number, bytes: number, durationMs: number): void {
    this.hits[row]!++;
    if (t > this.last[row]!) this.last[row] = t;
    else if (t < this.first[row]!) this.first[row] = t;
    this.bytes[row]! += bytes;
    this.durations[row]! += durationMs;
  }

  /** Drops the oldest open row; answers the decisions it stood for (0: there was none). */
  dropOldest(): number {
    const row = this.open.oldest();
    if (row < 0) return 0;
    const hits = this.hits[row]!;
    this.close(row);
    this.release(row);
    return hits;
  }

  /** A window has closed at `now` that still has open rows. */
  due(now: number, windowMs: number): boolean {
    for (const start of this.perWindow.keys()) if (start + windowMs <= now) return true;
    return false;
  }

  /**
   * Takes the open rows of the windows closed at `now` (all of them with `all`), oldest first, for
   * writing. They take no more hits; release() each once it is written or set aside.
   */
  take(now: number, windowMs: number, all: boolean): number[] {
    const out: number[] = [];
    for (const row of this.open.slots()) {
      if (all || this.windows[row]! + windowMs <= now) {
        this.close(row);
        out.push(row);
      }
    }
    this.open.compact();
    return out;
  }

  private close(row: number): void {
    this.open.remove(row);
    const window = this.windows[row]!;
    const left = (this.perWindow.get(window) ?? 1) - 1;
    if (left > 0) this.perWindow.set(window, left);
    else this.perWindow.delete(window);
  }

  /**
   * A taken row as it is written. Its id is made on the first call (with the time `now`) and kept,
   * so that a row tried again is the same row: the writer skips an id already stored.
   */
  toRow(row: number, now: number): ActivityRow {
    const host = this.hosts[row]!;
    const path = this.paths[row]!;
    const first = this.first[row]!;
    const last = this.last[row]!;
    const search = this.searches[row];
    this.ids[row] ??= newTimeId(now);
    return {
      id: this.ids[row]!,
      at: isoAt(first),
      source: this.sources[row]!,
      person_id: this.persons[row]!,
      device_id: this.devices[row]!,
      client_ip: this.clients[row]!,
      method: this.methods[row]!,
      host,
      path: path ? path.slice(0, 2000) : null,
      categories: jsonOf(this.categories[row]!),
      decision: this.decisions[row]!,
      reason: this.reasons[row]!,
      clause_ids: jsonOf(this.clauses[row]!),
      status: this.statuses[row]!,
      bytes: Math.round(this.bytes[row]!),
      duration_ms: Math.round(this.durations[row]!),
      search_terms: search ?? searchTermsOf(host, path),
      hits: this.hits[row]!,
      last_at: last > first ? isoAt(last) : null,
    };
  }

  /** Gives a taken or dropped row's slot back. */
  release(row: number): void {
    this.ids[row] = undefined;
    // References cleared, so that a slot kept for reuse holds nothing alive.
    this.persons[row] = null;
    this.devices[row] = null;
    this.hosts[row] = '';
    this.clients[row] = '';
    this.paths[row] = null;
    this.categories[row] = EMPTY;
    this.clauses[row] = EMPTY;
    this.searches[row] = undefined;
    this.pool.release(row);
  }
}
