// The engine's decision for each (client, question), kept so that a repeated lookup costs one
// look-up in a compact table (question-table.ts) instead of a decision. What is kept is only ever
// the decision the engine in force would make: everything is dropped when the engine changes (a
// new policy, lists or registers make a new engine object), a decision that depends on the time
// (a person with personal-use windows, PER-1/2) holds to the end of the minute, and the number
// kept is bounded.
import type { WebDecision, WebEngine } from '../engine.ts';
import type { SafeSearchTarget } from '../safesearch.ts';
import type { CacheEntry } from './cache.ts';
import { QuestionTable } from './question-table.ts';
import { type ParsedQuery, questionOctets, type ReplyShape } from './wire.ts';

/** A decision as the filter answers it: shared by every name the client asked that got it. */
export interface Outcome {
  readonly decision: WebDecision;
  /** Until when (epoch ms) the decision holds, at most; Infinity: as long as the engine. */
  readonly validUntil: number;
  /** The parts of the block answer by kind of question (A, AAAA, any other), made on first use. */
  readonly shapes: (ReplyShape | null)[];
  /** The name is answered through this SafeSearch name (an allowed A, AAAA, HTTPS or SVCB). */
  readonly safeSearch: SafeSearchTarget | null;
}

const MINUTE = 60_000;

/**
 * Until when a decision made at `now` holds. The engine reads the clock only for personal-use
 * windows, to the minute (dates and HH:MM in local time; time zones are whole minutes off UTC), so
 * such a decision holds until the next minute starts; any other holds as long as its engine.
 */
export function validUntil(decision: WebDecision, now: number): number {
  const person = decision.person;
  if (person !== null && person.personalUse.length > 0)
    return (Math.floor(now / MINUTE) + 1) * MINUTE;
  return Number.POSITIVE_INFINITY;
}

/**
 * Decisions by client address and question, for one engine at a time. Each entry also keeps the
 * cached answer last served for it and when its last activity record was written.
 */
export class DecisionCache {
  private engine: WebEngine | null = null;
  private readonly table: QuestionTable<CacheEntry>;
  private clients = new Map<string, number>();
  private outcomes: Outcome[] = [];
  /** Per client number, its outcomes by the categories array their decision names. */
  private shared = new Map<number, Map<readonly string[], number[]>>();

  constructor(readonly maxEntries: number) {
    this.table = new QuestionTable(maxEntries);
  }

  /**
   * The entry kept for `clientIp` asking the question just parsed into `q` (its key octets are
   * still in the parse's scratch) under `engine`, or -1. Its outcome may have run out: check
   * validUntil. The entry is a handle valid until the next keep().
   */
  find(engine: WebEngine, clientIp: string, q: ParsedQuery): number {
    if (engine !== this.engine) {
      this.clear();
      this.engine = engine;
      return -1;
    }
    const client = this.clients.get(clientIp);
    if (client === undefined) return -1;
    return this.table.find(client, q.keyHash, questionOctets, q.keyLength);
  }

  outcome(entry: number): Outcome {
    return this.outcomes[this.table.value(entry)]!;
  }

  /**
   * Keeps `decision`, made by the engine find() was given at `now`, for `clientIp` and the
   * question just parsed: in `entry` when find() gave one whose outcome ran out, else in a new
   * entry; `safeSearch` when the name goes to a SafeSearch name. Returns the outcome and leaves
   * the entry (or -1 when none is kept) in `kept`.
   */
  keep(
    clientIp: string,
    q: ParsedQuery,
    entry: number,
    decision: WebDecision,
    now: number,
    safeSearch: SafeSearchTarget | null = null,
  ): Outcome {
    let client = this.clients.get(clientIp);
    const bound = Math.max(1, this.maxEntries);
    if ((client === undefined && this.clients.size >= bound) || this.outcomes.length >= 4 * bound) {
      // Forged source addresses, or decisions made minute by minute for a long time, could make
      // clients and outcomes without end: start again.
      this.clear();
      client = undefined;
      entry = -1;
    }
    if (client === undefined) {
      client = this.clients.size;
      this.clients.set(clientIp, client);
    }
    const index = this.share(client, decision, now, safeSearch);
    if (entry >= 0) {
      this.table.setValue(entry, index);
      this.table.setRef(entry, undefined);
      this.kept = entry;
    } else {
      this.kept = this.table.add(client, q.keyHash, questionOctets, q.keyLength, index);
    }
    return this.outcomes[index]!;
  }

  /** The entry keep() left, or -1. */
  kept = -1;

  /** The cached answer last served for an entry (the caller checks it has not expired). */
  answer(entry: number): CacheEntry | undefined {
    return this.table.ref(entry);
  }

  setAnswer(entry: number, answer: CacheEntry | undefined): void {
    this.table.setRef(entry, answer);
  }

  /** When the activity record that stands for this entry's lookups was written (or -Infinity). */
  recordedAt(entry: number): number {
    return this.table.stamp(entry);
  }

  setRecordedAt(entry: number, at: number): void {
    this.table.setStamp(entry, at);
  }

  clear(): void {
    this.table.clear();
    this.clients = new Map();
    this.outcomes = [];
    this.shared = new Map();
  }

  /** Entries held (both generations; one copied forward counts twice). */
  get size(): number {
    return this.table.size;
  }

  /**
   * The outcome for a client's decision: one for all its equal decisions (the engine hands out
   * shared category and clause arrays, and a client's person and device are the same for every
   * name), so the entries of thousands of names point at a handful of outcomes.
   */
  private share(
    client: number,
    d: WebDecision,
    now: number,
    safeSearch: SafeSearchTarget | null,
  ): number {
    const until = validUntil(d, now);
    let forClient = this.shared.get(client);
    if (forClient === undefined) {
      forClient = new Map();
      this.shared.set(client, forClient);
    }
    let same = forClient.get(d.categories);
    if (same === undefined) {
      same = [];
      forClient.set(d.categories, same);
    }
    for (const index of same) {
      const known = this.outcomes[index]!;
      const k = known.decision;
      if (
        known.validUntil === until &&
        known.safeSearch === safeSearch &&
        k.action === d.action &&
        k.reason === d.reason &&
        k.clauseIds === d.clauseIds &&
        k.alert === d.alert &&
        k.person === d.person &&
        k.device === d.device
      )
        return index;
    }
    const index = this.outcomes.length;
    this.outcomes.push({ decision: d, validUntil: until, shapes: [null, null, null], safeSearch });
    // Decisions made minute by minute (personal-use hours) would pile up: keep the latest few.
    if (same.length >= 16) same.shift();
    same.push(index);
    return index;
  }
}
