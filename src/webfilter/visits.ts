// Visits (WEB-6): one subject's requests to one site, grouped so that reports can say how long and
// how often a site is used. A visit runs from its first request to its last and ends after an idle
// gap. This file holds the open visits in memory and decides when they end; the activity recorder
// feeds it and writes what it hands out. Visits are held in columns by slot (slots.ts), not as
// objects: a DNS filter starts one for every new name a device asks.
import { isoAt, newTimeId } from '../store/columns.ts';
import type { WebVisitsTable } from '../store/schema.ts';
import { grown, SlotOrder, SlotPool } from './slots.ts';

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
const subjectOf = (personId: string | null, deviceId: string | null, clientIp: string): string =>
  personId ?? deviceId ?? clientIp;

const CLOSED = 1;
/** Changed since it was last handed out for writing. */
const DIRTY = 2;

/**
 * The open visits and the ended ones not yet written, each a slot. A slot stays the visit's until
 * `written` says it is stored (or it is dropped); the caller must not use it after.
 */
export class VisitTracker {
  private readonly pool = new SlotPool();
  /** Open visits, oldest first. */
  private readonly open = new SlotOrder();
  // Found by source, subject and host in nested maps: no key string is built per request.
  private readonly index = new Map<string, Map<string, Map<string, number>>>();
  /** Ended, and not yet written since. */
  private ended: number[] = [];
  private dropped = 0;

  // Columns, by slot. The id is made when the visit is first written.
  private ids: (string | undefined)[] = [];
  private sources: string[] = [];
  private persons: (string | null)[] = [];
  private devices: (string | null)[] = [];
  private clients: string[] = [];
  private hosts: string[] = [];
  private first = new Float64Array(1024);
  private last = new Float64Array(1024);
  private requests = new Float64Array(1024);
  private blocked = new Float64Array(1024);
  private bytes = new Float64Array(1024);
  private flags = new Uint8Array(1024);
  // For the activity recorder: the window its newest row of this visit is in, and that row.
  private window = new Float64Array(1024);
  private row = new Int32Array(1024);

  constructor(private readonly options: VisitTrackerOptions) {}

  /** One request at `t` (ms); answers its visit's slot. */
  touch(t: number, e: VisitRequest, blocked: boolean): number {
    let bySubject = this.index.get(e.source);
    if (bySubject === undefined) {
      bySubject = new Map();
      this.index.set(e.source, bySubject);
    }
    const subject = subjectOf(e.personId, e.deviceId, e.clientIp);
    let visit = bySubject.get(subject)?.get(e.host) ?? -1;
    if (visit >= 0 && t - this.last[visit]! > this.options.idleMs) {
      this.end(visit);
      visit = -1;
    }
    if (visit < 0) {
      if (this.open.live >= this.options.capacity) this.end(this.open.oldest());
      visit = this.start(t, e);
      // Looked up again: ending the oldest visit may have emptied and removed this map.
      let byHost = bySubject.get(subject);
      if (byHost === undefined) {
        byHost = new Map();
        bySubject.set(subject, byHost);
      }
      byHost.set(e.host, visit);
    }
    // A request reported late (the proxy records one when it ends, with the time it began)
    // does not move the start: the row keeps the start it was first written with.
    if (t > this.last[visit]!) this.last[visit] = t;
    this.requests[visit]!++;
    if (blocked) this.blocked[visit]!++;
    if (e.bytes > 0) this.bytes[visit]! += e.bytes;
    this.flags[visit]! |= DIRTY;
    return visit;
  }

  private start(t: number, e: VisitRequest): number {
    const visit = this.pool.take();
    if (visit >= this.first.length) {
      const n = visit + 1;
      this.first = grown(this.first, n);
      this.last = grown(this.last, n);
      this.requests = grown(this.requests, n);
      this.blocked = grown(this.blocked, n);
      this.bytes = grown(this.bytes, n);
      this.flags = grown(this.flags, n);
      this.window = grown(this.window, n);
      this.row = grown(this.row, n);
    }
    this.ids[visit] = undefined;
    this.sources[visit] = e.source;
    this.persons[visit] = e.personId;
    this.devices[visit] = e.deviceId;
    this.clients[visit] = e.clientIp;
    this.hosts[visit] = e.host;
    this.first[visit] = t;
    this.last[visit] = t;
    this.requests[visit] = 0;
    this.blocked[visit] = 0;
    this.bytes[visit] = 0;
    this.flags[visit] = DIRTY;
    this.window[visit] = Number.NaN;
    this.row[visit] = -1;
    this.open.place(visit);
    return visit;
  }

  private end(visit: number): void {
    this.open.remove(visit);
    const bySubject = this.index.get(this.sources[visit]!);
    const subject = subjectOf(this.persons[visit]!, this.devices[visit]!, this.clients[visit]!);
    const byHost = bySubject?.get(subject);
    if (byHost?.get(this.hosts[visit]!) === visit) byHost.delete(this.hosts[visit]!);
    if (byHost?.size === 0) bySubject!.delete(subject);
    this.row[visit] = -1;
    this.flags[visit] = CLOSED | DIRTY;
    this.ended.push(visit);
    // The database has been away for long: the oldest ended visits go, counted. Trimmed once
    // the list is twice the bound, so that ending many visits at once stays linear.
    if (this.ended.length >= 2 * this.options.capacity) this.trimEnded();
  }

  private trimEnded(): void {
    const excess = this.ended.length - this.options.capacity;
    if (excess <= 0) return;
    for (let i = 0; i < excess; i++) this.free(this.ended[i]!);
    this.ended = this.ended.slice(excess);
    this.dropped += excess;
  }

  private free(visit: number): void {
    this.ids[visit] = undefined;
    this.sources[visit] = '';
    this.persons[visit] = null;
    this.devices[visit] = null;
    this.clients[visit] = '';
    this.hosts[visit] = '';
    this.flags[visit] = 0;
    this.pool.release(visit);
  }

  /** The window start of the newest activity row kept for the visit (NaN: none yet). */
  rowWindow(visit: number): number {
    return this.window[visit]!;
  }

  /** The newest activity row kept for the visit in window `window`, or -1. */
  rowIn(visit: number, window: number): number {
    return this.window[visit] === window ? this.row[visit]! : -1;
  }

  setRow(visit: number, window: number, row: number): void {
    this.window[visit] = window;
    this.row[visit] = row;
  }

  /** Ends the visits idle for longer than the gap at `now` (ms); all of them with `all`. */
  sweep(now: number, all = false): void {
    const visits = all ? this.open.slots() : this.begunBefore(now - this.options.idleMs);
    for (const visit of visits) {
      if (all || now - this.last[visit]! > this.options.idleMs) this.end(visit);
    }
    this.open.compact();
  }

  /**
   * The open visits that began before `time`, found without looking at the younger ones: the
   * sweep and take() run every second or so, and a school has many visits open (one a name a
   * device looked up in the last minutes) and few old ones. Visits are kept in the order they
   * began, except one begun by a request reported late (the proxy records a request when it
   * ends, with the time it began): that one is found once those begun before it in the order are
   * old enough, within one idle gap.
   */
  private begunBefore(time: number): number[] {
    return this.open.leading((visit) => this.first[visit]! < time);
  }

  /**
   * The visits changed since they were last taken, marked clean: every ended one, and the open
   * ones that have gone on for longer than the idle gap. A shorter visit is written once, when it
   * ends; most visits are short (a DNS lookup of a name asked for once is one), and writing each
   * of them twice, open and then closed, doubled the cost of recording. Give each to `written` or
   * to `failed` once its row has been written or could not be.
   */
  take(now: number): number[] {
    const out = this.ended;
    this.ended = [];
    for (const visit of out) this.flags[visit]! &= ~DIRTY;
    for (const visit of this.begunBefore(now - this.options.idleMs)) {
      if ((this.flags[visit]! & DIRTY) === 0) continue;
      this.flags[visit]! &= ~DIRTY;
      out.push(visit);
    }
    return out;
  }

  /** The visit's row; its id is made on the first call and kept. */
  toRow(visit: number): WebVisitsTable {
    const first = this.first[visit]!;
    const last = this.last[visit]!;
    this.ids[visit] ??= newTimeId(first);
    return {
      id: this.ids[visit]!,
      source: this.sources[visit]!,
      person_id: this.persons[visit]!,
      device_id: this.devices[visit]!,
      client_ip: this.clients[visit]!,
      host: this.hosts[visit]!,
      started_at: isoAt(first),
      ended_at: isoAt(last),
      duration_ms: last - first,
      requests: this.requests[visit]!,
      blocked: this.blocked[visit]!,
      bytes: Math.round(this.bytes[visit]!),
      closed: this.flags[visit]! & CLOSED ? 1 : 0,
    };
  }

  /**
   * Taken visits whose rows are stored: the ended ones' slots are given back (unless the visit
   * ended after it was taken: it then waits among the ended, to be written closed).
   */
  written(visits: readonly number[]): void {
    for (const visit of visits) if (this.flags[visit] === CLOSED) this.free(visit);
  }

  /** Taken visits whose rows could not be written: they are taken again next time. */
  failed(visits: readonly number[]): void {
    const back: number[] = [];
    for (const visit of visits) {
      // Already among the ended when it ended after it was taken (it is dirty again then).
      if (this.flags[visit] === CLOSED) back.push(visit);
      this.flags[visit]! |= DIRTY;
    }
    this.ended = back.concat(this.ended);
    this.trimEnded();
  }

  stats() {
    return { open: this.open.live, waiting: this.ended.length, dropped: this.dropped };
  }
}

export function createVisitTracker(options: VisitTrackerOptions): VisitTracker {
  return new VisitTracker(options);
}
