// GOV-1: when the policy falls due for review, and whether that is soon or past. Pure: the
// caller gives today's date, so tests move the clock by passing another one.

export type ReviewState = 'ok' | 'due-soon' | 'overdue';

export interface ReviewStatus {
  /** YYYY-MM-DD: the date the review falls due. */
  due: string;
  state: ReviewState;
  /** Days from today to the due date; negative once overdue. */
  daysLeft: number;
}

const DAY_MS = 86_400_000;

/** `date` (YYYY-MM-DD) plus whole months, the day kept or clamped to the month's last day. */
export function addMonths(date: string, months: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0),
  ).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target.toISOString().slice(0, 10);
}

export const daysBetween = (from: string, to: string): number =>
  Math.round(
    (Date.parse(`${to.slice(0, 10)}T00:00:00Z`) - Date.parse(`${from.slice(0, 10)}T00:00:00Z`)) /
      DAY_MS,
  );

/**
 * The review date of the version in force: its approval date or release date, whichever is
 * later, plus the pack's review interval. Due soon from `reminderDays` before, overdue after.
 */
export function reviewStatus(input: {
  dates: readonly (string | null)[];
  reviewIntervalMonths: number;
  reminderDays: number;
  today: string;
}): ReviewStatus | null {
  const from = input.dates
    .filter((d): d is string => Boolean(d))
    .sort()
    .at(-1);
  if (!from) return null;
  const due = addMonths(from, input.reviewIntervalMonths);
  const daysLeft = daysBetween(input.today, due);
  const state: ReviewState =
    daysLeft < 0 ? 'overdue' : daysLeft <= input.reminderDays ? 'due-soon' : 'ok';
  return { due, state, daysLeft };
}
