// Mail gateway activity in aggregate: messages per day and direction with what became of them,
// and the verdicts per rule and action. Counts only: who wrote to whom is read only inside a
// monitoring case (MON-1, MON-5), so nothing here names a sender, a recipient or a subject.
// Days are UK days (Europe/London), as the school counts them.
import type { PolicyHolder } from '../policy/holder.ts';
import { AppError } from '../shared/errors.ts';
import { fromJson } from '../store/columns.ts';
import type { Store } from '../store/database.ts';
import * as repo from './repository.ts';
import type { Activity } from './schema.ts';
import type { Direction, MailAction, Verdict } from './types.ts';
import { ruleName } from './views.ts';

const MAX_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;

const UK_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London' });
const UK_HOUR = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  hour: '2-digit',
  hourCycle: 'h23',
});

/** The UK day (YYYY-MM-DD) of an instant. */
export const ukDayOf = (ms: number) => UK_DAY.format(ms);

/** The instant a UK day begins (clocks change at 01:00 UTC, never at midnight). */
export function ukMidnight(day: string): string {
  const utc = Date.parse(`${day}T00:00:00Z`);
  const offsetHours = Number(UK_HOUR.format(utc));
  return new Date(utc - offsetHours * 3_600_000).toISOString();
}

const addDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

type Outcome = 'delivered' | 'held' | 'released' | 'deleted' | 'rejected' | 'failed';

/** A record's status as the report counts it ('pending' is a delivery still under way). */
const OUTCOME: Readonly<Record<string, Outcome>> = {
  pending: 'delivered',
  delivered: 'delivered',
  held: 'held',
  released: 'released',
  deleted: 'deleted',
  rejected: 'rejected',
  failed: 'failed',
};

const emptyOutcomes = (): Record<Outcome, number> => ({
  delivered: 0,
  held: 0,
  released: 0,
  deleted: 0,
  rejected: 0,
  failed: 0,
});

export function createMailActivityService(deps: {
  store: Store;
  policy: PolicyHolder;
  clock: () => Date;
}) {
  return {
    async summary(query: {
      from?: string | undefined;
      to?: string | undefined;
    }): Promise<Activity> {
      const lastDay = query.to ?? ukDayOf(deps.clock().getTime());
      const firstDay = query.from ?? addDays(lastDay, -6);
      if (firstDay > lastDay) {
        throw new AppError('validation_failed', 'The first day must be on or before the last day.');
      }
      if (Date.parse(lastDay) - Date.parse(firstDay) >= MAX_RANGE_DAYS * DAY_MS) {
        throw new AppError(
          'validation_failed',
          `Ask for at most ${MAX_RANGE_DAYS} days at a time.`,
        );
      }
      const from = ukMidnight(firstDay);
      const to = ukMidnight(addDays(lastDay, 1));
      const policy = deps.policy.current();
      const [counts, verdicts, held] = await Promise.all([
        repo.countsByHour(deps.store, from, to),
        repo.verdictsByHour(deps.store, from, to),
        repo.heldSummary(deps.store),
      ]);
      const dayOf = (hour: string) => ukDayOf(Date.parse(`${hour}:00:00Z`));

      const byDay = new Map<
        string,
        { day: string; direction: Direction; messages: number } & Record<Outcome, number>
      >();
      const total = { messages: 0, inbound: 0, outbound: 0 };
      for (const c of counts) {
        const direction = c.direction as Direction;
        const day = dayOf(c.hour);
        const key = `${day} ${direction}`;
        const entry = byDay.get(key) ?? { day, direction, messages: 0, ...emptyOutcomes() };
        entry.messages += c.n;
        entry[OUTCOME[c.status] ?? 'delivered'] += c.n;
        byDay.set(key, entry);
        total.messages += c.n;
        if (direction === 'inbound' || direction === 'outbound') total[direction] += c.n;
      }

      const byRule = new Map<
        string,
        { rule: string; action: MailAction; clauseIds: Set<string>; messages: number }
      >();
      const byRuleDay = new Map<string, { day: string; rule: string; messages: number }>();
      for (const row of verdicts) {
        const day = dayOf(row.hour);
        // A rule counts once per message, with the strictest action it took.
        const seen = new Map<string, Verdict>();
        for (const v of fromJson<Verdict[]>(row.verdicts, [])) seen.set(`${v.rule} ${v.action}`, v);
        for (const v of seen.values()) {
          const key = `${v.rule} ${v.action}`;
          const entry = byRule.get(key) ?? {
            rule: v.rule,
            action: v.action,
            clauseIds: new Set<string>(),
            messages: 0,
          };
          entry.messages += row.n;
          for (const id of v.clauseIds) entry.clauseIds.add(id);
          byRule.set(key, entry);
        }
        for (const rule of new Set([...seen.values()].map((v) => v.rule))) {
          const dayKey = `${day} ${rule}`;
          const perDay = byRuleDay.get(dayKey) ?? { day, rule, messages: 0 };
          perDay.messages += row.n;
          byRuleDay.set(dayKey, perDay);
        }
      }

      return {
        from: firstDay,
        to: lastDay,
        total,
        byDay: [...byDay.values()].sort(
          (a, b) => a.day.localeCompare(b.day) || a.direction.localeCompare(b.direction),
        ),
        byRule: [...byRule.values()]
          .map((r) => ({
            rule: r.rule,
            name: ruleName(policy, r.rule),
            action: r.action,
            clauseIds: [...r.clauseIds],
            messages: r.messages,
          }))
          .sort((a, b) => b.messages - a.messages || a.rule.localeCompare(b.rule)),
        byRuleDay: [...byRuleDay.values()].sort(
          (a, b) => a.day.localeCompare(b.day) || a.rule.localeCompare(b.rule),
        ),
        heldNow: held.count,
      };
    },
  };
}
