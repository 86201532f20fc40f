// Visits (WEB-6): one subject's requests to one site, grouped so that reports can say how long and
// how often a site is used. A visit runs from its first request to its last and ends after an idle
// gap. This file holds the open visits in memory and decides when they end; the activity recorder
// feeds it and writes what it hands out.
import { newTimeId } from '../store/columns.ts';
import type { WebVisitsTable } from '../store/schema.ts';

export interface Visit<R = unknown> {
  readonly id: string;
  readonly source: string;
  readonly personId: string | null;
  readonly deviceId: string | null;
  readonly clientIp: string;
  readonly host: string;
  first: number;
  last: number;
  requests: number;
  blocked: number;
  bytes: number;
  closed: boolean;
  /** Changed since it was last handed out for writing. */
  dirty: boolean;
  /** For the activity recorder: its rows of this visit in the window starting at `window`, by
   *  path, so that a decision is matched among the few of the same address (null: none yet). */
  window: number;
  rows: Map<string, R[]> | null;
}

/** What a visit takes from a request (an activity event has all of it). */
export interface VisitRequest {
  source: string;
  personId: string | null;
  deviceId: string | null;
  clientIp: string;
  host: string;
  bytes: number;
}

export interface VisitTrackerOptions {
  /** A visit with no request for longer than this has ended. */
  idleMs: number;
  /** Open visits held at most; beyond, the longest-open one is closed early. */
  capacity: number;
}

/** Who a visit belongs to: the person when known, else the device, else the client's address. */
const subjectOf = (e: VisitRequest): string => e.personId ?? e.deviceId ?? e.clientIp;

export function createVisitTracker<R = unknown>(options: VisitTrackerOptions) {
  // Found by source, subject and host in nested maps: no key string is built per request.
  const index = new Map<string, Map<string, Map<string, Visit<R>>>>();
  /** The open visits, oldest first. */
  const open = new Set<Visit<R>>();
  /** Ended, and not yet written since. */
  let ended: Visit<R>[] = [];
  let dropped = 0;
  let cursor = open.values();

  function end(visit: Visit<R>) {
    open.delete(visit);
    const bySubject = index.get(visit.source);
    const byHost = bySubject?.get(subjectOf(visit));
    byHost?.delete(visit.host);
    if (byHost?.size === 0) bySubject!.delete(subjectOf(visit));
    visit.rows = null;
    visit.closed = true;
    visit.dirty = true;
    ended.push(visit);
    // The database has been away for long: the oldest ended visits go, counted. Trimmed once
    // the list is twice the bound, so that ending many visits at once stays linear.
    if (ended.length >= 2 * options.capacity) trimEnded();
  }

  function trimEnded() {
    const excess = ended.length - options.capacity;
    if (excess <= 0) return;
    ended = ended.slice(excess);
    dropped += excess;
  }

  return {
    /** One request at `t` (ms); answers its visit. */
    touch(t: number, e: VisitRequest, blocked: boolean): Visit<R> {
      let bySubject = index.get(e.source);
      if (bySubject === undefined) {
        bySubject = new Map();
        index.set(e.source, bySubject);
      }
      const subject = subjectOf(e);
      let byHost = bySubject.get(subject);
      let visit = byHost?.get(e.host);
      if (visit !== undefined && t - visit.last > options.idleMs) {
        end(visit);
        visit = undefined;
      }
      if (visit === undefined) {
        if (open.size >= options.capacity) {
          // A cursor kept across calls, so that finding the oldest never rescans deleted slots.
          let next = cursor.next();
          if (next.done) {
            cursor = open.values();
            next = cursor.next();
          }
          if (!next.done) end(next.value);
        }
        visit = {
          id: newTimeId(t),
          source: e.source,
          personId: e.personId,
          deviceId: e.deviceId,
          clientIp: e.clientIp,
          host: e.host,
          first: t,
          last: t,
          requests: 0,
          blocked: 0,
          bytes: 0,
          closed: false,
          dirty: true,
          window: Number.NaN,
          rows: null,
        };
        open.add(visit);
        // Looked up again: ending the oldest visit may have emptied and removed this map.
        byHost = bySubject.get(subject);
        if (byHost === undefined) {
          byHost = new Map();
          bySubject.set(subject, byHost);
        }
        byHost.set(e.host, visit);
      }
      // A request reported late (the proxy records one when it ends, with the time it began)
      // does not move the start: the row keeps the start it was first written with.
      if (t > visit.last) visit.last = t;
      visit.requests++;
      if (blocked) visit.blocked++;
      if (e.bytes > 0) visit.bytes += e.bytes;
      visit.dirty = true;
      return visit;
    },

    /** Ends the visits idle for longer than the gap at `now` (ms); all of them with `all`. */
    sweep(now: number, all = false): void {
      for (const visit of open.values()) {
        if (all || now - visit.last > options.idleMs) end(visit);
      }
    },

    /**
     * The visits changed since they were last taken, as rows, marked clean: every ended one, and
     * the open ones that have gone on for longer than the idle gap. A shorter visit is written
     * once, when it ends; most visits are short (a DNS lookup of a name asked for once is one),
     * and writing each of them twice, open and then closed, doubled the cost of recording.
     * Give the same list to `failed` when they could not be written, so that they are taken
     * again.
     */
    take(now: number): Visit<R>[] {
      const out: Visit<R>[] = [];
      for (const visit of ended) {
        visit.dirty = false;
        out.push(visit);
      }
      ended = [];
      for (const visit of open.values()) {
        if (!visit.dirty || now - visit.first <= options.idleMs) continue;
        visit.dirty = false;
        out.push(visit);
      }
      return out;
    },

    failed(visits: readonly Visit<R>[]): void {
      const back: Visit<R>[] = [];
      for (const visit of visits) {
        visit.dirty = true;
        if (visit.closed) back.push(visit);
      }
      ended = back.concat(ended);
      trimEnded();
    },

    stats: () => ({ open: open.size, waiting: ended.length, dropped }),
  };
}

export type VisitTracker = ReturnType<typeof createVisitTracker>;

export function toVisitRow(v: Visit<unknown>): WebVisitsTable {
  return {
    id: v.id,
    source: v.source,
    person_id: v.personId,
    device_id: v.deviceId,
    client_ip: v.clientIp,
    host: v.host,
    started_at: new Date(v.first).toISOString(),
    ended_at: new Date(v.last).toISOString(),
    duration_ms: v.last - v.first,
    requests: v.requests,
    blocked: v.blocked,
    bytes: Math.round(v.bytes),
    closed: v.closed ? 1 : 0,
  };
}
