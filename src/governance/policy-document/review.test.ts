import { describe, expect, it } from 'vitest';
import { addMonths, reviewStatus } from './review.ts';

const status = (today: string) =>
  reviewStatus({
    dates: ['2024-11-18', '2024-12-04', null],
    reviewIntervalMonths: 12,
    reminderDays: 30,
    today,
  });

describe('policy review dates (GOV-1)', () => {
  it('GOV-1: the review falls due the review interval after the later of approval and release', () => {
    expect(status('2025-06-01')).toEqual({ due: '2025-12-04', state: 'ok', daysLeft: 186 });
  });

  it('GOV-1: the review is due soon from the reminder days before, and overdue the day after', () => {
    expect(status('2025-11-03')?.state).toBe('ok');
    expect(status('2025-11-04')).toMatchObject({ state: 'due-soon', daysLeft: 30 });
    expect(status('2025-12-04')).toMatchObject({ state: 'due-soon', daysLeft: 0 });
    expect(status('2025-12-05')).toMatchObject({ state: 'overdue', daysLeft: -1 });
  });

  it('keeps the day of the month, or the last day of a shorter month', () => {
    expect(addMonths('2024-01-31', 1)).toBe('2024-02-29');
    expect(addMonths('2023-08-31', 6)).toBe('2024-02-29');
    expect(addMonths('2024-12-04', 12)).toBe('2025-12-04');
  });

  it('has no review date without any date to count from', () => {
    expect(
      reviewStatus({
        dates: [null],
        reviewIntervalMonths: 12,
        reminderDays: 30,
        today: '2025-01-01',
      }),
    ).toBeNull();
  });
});
