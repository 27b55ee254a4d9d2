/**
 * The `date_range` of a stats query, resolved to `[from, to)` in ms (UTC), as
 * Plausible's current API resolves it relative to "now":
 *
 * - `"day"`: today; `"24h"`: the last 24 hours up to now;
 * - `"<N>d"` (N 1–5000, e.g. `7d`, `28d`, `30d`, `91d`): the N whole days before today;
 * - `"month"`, `"year"`: the current calendar month / year, whole;
 * - `"<N>mo"` (N 1–100, e.g. `6mo`, `12mo`): the N whole months before this one;
 * - `"all"`: from the day of the site's first event through today;
 * - `["2026-01-01", "2026-01-31"]`: whole days, both included;
 * - `["2026-01-01T00:00:00+03:00", "2026-01-02T12:00:00Z"]`: instants, both included.
 */
import { inspect, QueryError } from "./query_error.ts";

export type DateRangeInput = string | [string, string];

const DAY = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
/** Ranges further apart than this are refused (a mistake rather than a question). */
const MAX_SPAN = 100 * 366 * DAY;

/** Resolves a `date_range`; throws {@link QueryError} with Plausible's message. */
export function resolveDateRangeV2(
  input: unknown,
  now: number,
  firstEventTs: number | null,
): { from: number; to: number } {
  const today = Math.floor(now / DAY) * DAY;
  const d = new Date(today);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (typeof input === "string") {
    switch (input) {
      case "day":
        return { from: today, to: today + DAY };
      case "24h":
        return { from: now - DAY, to: now + 1 };
      case "month":
        return { from: Date.UTC(y, m, 1), to: Date.UTC(y, m + 1, 1) };
      case "year":
        return { from: Date.UTC(y, 0, 1), to: Date.UTC(y + 1, 0, 1) };
      case "all": {
        const first = firstEventTs === null ? today : Math.min(today, Math.floor(firstEventTs / DAY) * DAY);
        return { from: first, to: today + DAY };
      }
    }
    const days = /^(\d{1,6})d$/.exec(input);
    if (days) {
      const n = Number(days[1]);
      if (n < 1 || n > 5000) throw new QueryError(`Invalid date_range ${inspect(input)}`);
      return { from: today - n * DAY, to: today };
    }
    const months = /^(\d{1,6})mo$/.exec(input);
    if (months) {
      const n = Number(months[1]);
      if (n < 1 || n > 100) throw new QueryError(`Invalid date_range ${inspect(input)}`);
      return { from: Date.UTC(y, m - n, 1), to: Date.UTC(y, m, 1) };
    }
    throw new QueryError(`#/date_range: Invalid date range ${inspect(input)}`);
  }
  if (!Array.isArray(input) || input.length !== 2 || input.some((x) => typeof x !== "string")) {
    throw new QueryError(`#/date_range: Invalid date range ${inspect(input)}`);
  }
  const [a, b] = input as [string, string];
  const bad = (why = "") => new QueryError(`Invalid date_range '${inspect(input)}'.${why}`);
  let from: number;
  let to: number;
  const dateA = parseDate(a);
  const dateB = parseDate(b);
  if (dateA !== null && dateB !== null) {
    from = dateA;
    to = dateB + DAY;
  } else if (DATETIME_RE.test(a) && DATETIME_RE.test(b)) {
    from = Date.parse(a.replace(" ", "T"));
    to = Date.parse(b.replace(" ", "T")) + 1;
    if (Number.isNaN(from) || Number.isNaN(to) || parseDate(a.slice(0, 10)) === null) throw bad();
    if (parseDate(b.slice(0, 10)) === null) throw bad();
  } else {
    throw bad();
  }
  if (to <= from) throw bad(" The end is before the start.");
  if (to - from > MAX_SPAN) throw bad(" It spans more than 100 years.");
  return { from, to };
}

/** Midnight UTC of a `YYYY-MM-DD` calendar date, or null. */
function parseDate(s: string): number | null {
  const match = DATE_RE.exec(s);
  if (!match) return null;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : null;
}
