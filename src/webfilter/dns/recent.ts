// The lookups recorded lately, by decision, client and name: a browser asks A, AAAA and HTTPS for
// every visit, and repeats them, and one activity record stands for them (dns.activityMergeSeconds).
// Names are looked up client by client in nested maps, so that no key string is built per query,
// and times are kept as small integers (milliseconds since a base), which V8 stores unboxed: every
// new name a device asks adds an entry, and boxed numbers and key strings were garbage to copy.

/** Re-based well before the milliseconds since the base leave V8's small integers (2^30). */
const SPAN = 2 ** 29;

export class RecentLookups {
  /** [allowed, blocked]: client → name → when last recorded (ms since `base`). */
  private readonly byDecision = [
    new Map<string, Map<string, number>>(),
    new Map<string, Map<string, number>>(),
  ];
  private size = 0;
  private base: number;

  constructor(
    private readonly mergeMs: number,
    private readonly max = 100_000,
    now = Date.now(),
  ) {
    this.base = now;
  }

  /**
   * When the same lookup was recorded, if less than the merge time before `now`; otherwise
   * undefined, and it counts as recorded at `now`.
   */
  joins(blocked: boolean, clientIp: string, host: string, now: number): number | undefined {
    if (now - this.base >= SPAN) this.clear(now);
    let t = now - this.base;
    const byClient = this.byDecision[blocked ? 1 : 0]!;
    let byName = byClient.get(clientIp);
    const last = byName?.get(host);
    if (last !== undefined && t - last < this.mergeMs) return this.base + last;
    if (last === undefined) {
      if (this.size >= this.max) {
        this.evict(t);
        // Eviction may have removed the client's map, or cleared everything and moved the base.
        byName = byClient.get(clientIp);
        t = now - this.base;
      }
      this.size++;
    }
    if (byName === undefined) {
      byName = new Map();
      byClient.set(clientIp, byName);
    }
    byName.set(host, t);
    return undefined;
  }

  /** Forgets what is past the merge time; everything when that is not enough. */
  private evict(t: number): void {
    for (const byClient of this.byDecision) {
      for (const [client, byName] of byClient) {
        for (const [host, last] of byName) {
          if (t - last < this.mergeMs) continue;
          byName.delete(host);
          this.size--;
        }
        if (byName.size === 0) byClient.delete(client);
      }
    }
    if (this.size >= this.max) this.clear(this.base + t);
  }

  private clear(now: number): void {
    for (const byClient of this.byDecision) byClient.clear();
    this.size = 0;
    this.base = now;
  }
}
