// Dates as people in UK schools write them: dd/mm/yyyy, times on the 24-hour clock, UK time.

const DATE = new Intl.DateTimeFormat('en-GB', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  timeZone: 'Europe/London',
});
const DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
  timeZone: 'Europe/London',
});

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** dd/mm/yyyy for a YYYY-MM-DD day or an ISO timestamp; an em dash for nothing. */
export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const day = ISO_DAY.exec(value);
  if (day) return `${day[3]}/${day[2]}/${day[1]}`;
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : DATE.format(time);
}

/** dd/mm/yyyy, hh:mm:ss in UK time. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—';
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : DATE_TIME.format(time);
}

/**
 * Reads dd/mm/yyyy (or d/m/yyyy, with / . or - between) into YYYY-MM-DD; null when it is not a
 * real date.
 */
export function parseUkDate(text: string): string | null {
  const match = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(text);
  if (!match) return null;
  const [, d, m, y] = match;
  const iso = `${y}-${m!.padStart(2, '0')}-${d!.padStart(2, '0')}`;
  const date = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== iso ? null : iso;
}

export const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;
