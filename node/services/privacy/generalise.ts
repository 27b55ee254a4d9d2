/**
 * The generalisation hierarchies of quasi-identifiers, finest level first, and how a value is
 * rendered at each level:
 *
 * | `generalise` | levels (report label) | released value |
 * |---|---|---|
 * | `hour` | `hour`, `day`, `month` | `2024-03-05T14:00Z`, `2024-03-05`, `2024-03` (UTC) |
 * | `day` | `day`, `month` | `2024-03-05`, `2024-03` |
 * | `month` | `month` | `2024-03` |
 * | `region` | `region 0.1°`, `region 1°`, `region 10°` | the south-west corner of the grid cell, `48.1,11.5`, `48,11`, `40,10` |
 * | `range` | `range 0.5`, `range 1`, `range 2`, `range 5`, … (from the data) | the bucket `[lo, hi)` as `10–20` |
 * | `none` | `none` | the value itself |
 *
 * A value is first reduced to its finest form (the hour or day, the 0.1° cell, the exact number),
 * which is what the first pass of anonymization counts; every level is a function of it, so the
 * counts of any level vector follow from the finest counts. `null` stays `null` at every level: it
 * is a value of its own and is counted like any other. The report's labels determine the rendering
 * completely ({@link parseLevel}), so anyone holding a released table can generalise a row of their
 * own the same way (the linkage test does exactly that, as an attacker would).
 *
 * ```ts
 * const level = parseLevel(spec, "region 1°");
 * level.render(toFinest(spec, "48.137,11.575", "row 1")); // "48,11"
 * ```
 */
import type { FieldSpec, SourceRow } from "../../../protocol/sources.ts";

/** The finest form of a quasi-identifier value: an hour or day number, a cell, an exact number or a kept value. */
export type Finest = string | number | null;
/** A released cell. */
export type Released = string | number | null;

/** One level of a field's hierarchy. */
export interface Level {
  /** As the privacy report writes it: `hour`, `region 1°`, `range 50`, `none`. */
  label: string;
  render(finest: Finest): Released;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** 0000-01-01 to 9999-12-31: four-digit years, so the ISO renderings keep one shape. */
const MIN_TIME = Date.parse("0000-01-01T00:00:00.000Z");
const MAX_TIME = Date.parse("9999-12-31T23:59:59.999Z");
/** Range widths go from 10^-6 up; places are counted in millionths of a degree. */
const MIN_EXPONENT = -6;
const MAX_EXPONENT = 300;
const LADDER = [1, 2, 5] as const;
/** Most range levels tried for one field. */
export const MAX_RANGE_LEVELS = 10;

/** A bucket width `m · 10^e` of the 1-2-5 ladder. */
export interface Width {
  m: 1 | 2 | 5;
  e: number;
}

/**
 * The finest form of `value` for a quasi-identifier, or a `TypeError` naming the field and `where`
 * (never the value: rows are personal data).
 */
export function toFinest(spec: FieldSpec, value: unknown, where: string): Finest {
  if (value === null || value === undefined) return null;
  const bad = (expected: string) => new TypeError(`Invalid ${where}: field "${spec.name}" ${expected}`);
  switch (spec.generalise) {
    case "hour":
    case "day":
    case "month": {
      if (typeof value !== "number" || !Number.isFinite(value) || value < MIN_TIME || value > MAX_TIME) {
        throw bad("is not a time (ms since the epoch, years 0 to 9999)");
      }
      return Math.floor(value / (spec.generalise === "hour" ? HOUR_MS : DAY_MS));
    }
    case "region": {
      const parts = typeof value === "string" ? value.split(",") : [];
      const lat = parts.length === 2 && parts[0].trim() !== "" ? Number(parts[0]) : NaN;
      const lng = parts.length === 2 && parts[1].trim() !== "" ? Number(parts[1]) : NaN;
      if (!(Math.abs(lat) <= 90 && Math.abs(lng) <= 180)) throw bad('is not a place ("lat,lng" in degrees)');
      // Millionths of a degree, then whole tenths: integer arithmetic, so the cells nest exactly.
      const cell = (degrees: number) => Math.floor(Math.round(degrees * 1e6) / 1e5);
      return `${cell(lat)},${cell(lng)}`;
    }
    case "range": {
      if (typeof value !== "number" || !Number.isFinite(value)) throw bad("is not a finite number");
      return value === 0 ? 0 : value; // -0 is 0
    }
    case "none":
    case undefined: {
      if (typeof value === "number" && Number.isFinite(value)) return value === 0 ? 0 : value;
      if (typeof value === "string") return value;
      throw bad("is not a string or a finite number");
    }
  }
}

/** The levels of a time, place or kept field; `range` levels come from the data ({@link rangeLevels}). */
export function fixedLevels(spec: FieldSpec): Level[] {
  switch (spec.generalise) {
    case "hour":
      return [timeLevel("hour", "hour"), timeLevel("hour", "day"), timeLevel("hour", "month")];
    case "day":
      return [timeLevel("day", "day"), timeLevel("day", "month")];
    case "month":
      return [timeLevel("day", "month")];
    case "region":
      return [regionLevel(1), regionLevel(10), regionLevel(100)];
    case "none":
    case undefined:
      return [{ label: "none", render: (v) => v }];
    case "range":
      throw new TypeError(`The levels of range field "${spec.name}" come from its data`);
  }
}

function timeLevel(finest: "hour" | "day", unit: "hour" | "day" | "month"): Level {
  const ms = finest === "hour" ? HOUR_MS : DAY_MS;
  return {
    label: unit,
    render(v) {
      if (v === null) return null;
      const iso = new Date((v as number) * ms).toISOString();
      return unit === "hour" ? `${iso.slice(0, 13)}:00Z` : iso.slice(0, unit === "day" ? 10 : 7);
    },
  };
}

/** A grid of `tenths` tenths of a degree (1, 10 or 100). */
function regionLevel(tenths: 1 | 10 | 100): Level {
  const degrees = tenths / 10;
  return {
    label: `region ${degrees}°`,
    render(v) {
      if (v === null) return null;
      const [lat, lng] = (v as string).split(",").map(Number);
      if (tenths === 1) return `${(lat / 10).toFixed(1)},${(lng / 10).toFixed(1)}`;
      const corner = (c: number) => String(Math.floor(c / tenths) * degrees + 0);
      return `${corner(lat)},${corner(lng)}`;
    },
  };
}

/** `"0.2"`, `"50"`: a width as the report and the bucket bounds write it. */
export function formatWidth(w: Width): string {
  return formatUnits(w.m, w.e);
}

/** `units · 10^e` in decimal notation with exactly max(0, -e) decimals. */
function formatUnits(units: number, e: number): string {
  return e >= 0 ? String(units * 10 ** e + 0) : (units / 10 ** -e).toFixed(-e);
}

/** The `[lo, hi)` bucket of width `w` holding the number, as `lo–hi`. */
export function rangeLevel(w: Width): Level {
  return {
    label: `range ${formatWidth(w)}`,
    render(v) {
      if (v === null) return null;
      const x = v as number;
      // The bucket number, snapped to an integer within a few ulps so 0.6 / 0.2 is 3 and not 2.999….
      const q = (w.e >= 0 ? x / 10 ** w.e : x * 10 ** -w.e) / w.m;
      const nearest = Math.round(q);
      const bucket = Math.abs(q - nearest) <= 4 * Number.EPSILON * Math.max(1, Math.abs(q))
        ? nearest
        : Math.floor(q);
      const lo = bucket * w.m;
      return `${formatUnits(lo, w.e)}–${formatUnits(lo + w.m, w.e)}`;
    },
  };
}

/** The least ladder width ≥ x (x clamped to [10^-6, 10^300]). */
export function ladderAtLeast(x: number): Width {
  const target = Math.min(Math.max(x, 10 ** MIN_EXPONENT), 10 ** MAX_EXPONENT);
  let e = Math.max(MIN_EXPONENT, Math.floor(Math.log10(target)) - 1);
  for (;;) {
    for (const m of LADDER) if (m * 10 ** e >= target * (1 - 1e-12)) return { m, e };
    e += 1;
  }
}

/** The next wider ladder width: 1 → 2 → 5 → 10. */
export function widen(w: Width): Width {
  return w.m === 1 ? { m: 2, e: w.e } : w.m === 2 ? { m: 5, e: w.e } : { m: 1, e: w.e + 1 };
}

/**
 * Range levels chosen from the data (`counts`: each distinct number and how many rows have it): the
 * finest width is the ladder step at or above a fiftieth of the spread of the middle 90 % (of all
 * the data when that is nothing, of the value itself when there is one; at least 1 when every number
 * is an integer), then ever wider ladder steps until one bucket is as wide as
 * all the data (at most {@link MAX_RANGE_LEVELS}).
 */
export function rangeLevels(counts: Map<number, number>): Level[] {
  const values = [...counts.keys()].sort((a, b) => a - b);
  if (values.length === 0) return [rangeLevel({ m: 1, e: 0 })];
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const quantile = (q: number) => {
    let seen = 0;
    for (const v of values) {
      seen += counts.get(v)!;
      if (seen >= q * total) return v;
    }
    return values[values.length - 1];
  };
  const min = values[0];
  const max = values[values.length - 1];
  const middle = quantile(0.95) - quantile(0.05);
  // One value only: buckets of about a fiftieth of its size.
  const spread = Math.min(
    middle > 0 ? middle : max > min ? max - min : Math.max(Math.abs(max), Math.abs(min), 1),
    Number.MAX_VALUE,
  );
  let width = ladderAtLeast(spread / 50);
  if (values.every(Number.isInteger) && width.e < 0) width = { m: 1, e: 0 };
  const whole = Math.min(max - min, Number.MAX_VALUE);
  const levels = [rangeLevel(width)];
  while (levels.length < MAX_RANGE_LEVELS && width.m * 10 ** width.e < whole && width.e < MAX_EXPONENT) {
    width = widen(width);
    levels.push(rangeLevel(width));
  }
  return levels;
}

/**
 * The level a report label names for a field, or a `TypeError`: `hour|day|month` for times (no
 * finer than the field's own), `region 0.1°|1°|10°`, `range W` (W on the 1-2-5 ladder), `none`.
 */
export function parseLevel(spec: FieldSpec, label: string): Level {
  if (spec.generalise === "range") {
    const match = /^range (\S+)$/.exec(label);
    const x = match ? Number(match[1]) : NaN;
    const width = x > 0 && x < Infinity ? ladderAtLeast(x) : null;
    if (width && formatWidth(width) === match![1]) return rangeLevel(width);
  } else {
    const level = fixedLevels(spec).find((l) => l.label === label);
    if (level) return level;
  }
  throw new TypeError(`Invalid level "${label}" for field "${spec.name}" (${spec.generalise ?? "none"})`);
}

/**
 * The released values of a row's quasi-identifiers under a report's generalisations (field →
 * label), as anyone holding the released table can compute them.
 */
export function generaliseQuasi(
  fields: readonly FieldSpec[],
  generalised: Record<string, string>,
  row: SourceRow,
): Record<string, Released> {
  const out: Record<string, Released> = {};
  for (const spec of fields) {
    if (spec.role !== "quasi") continue;
    const label = generalised[spec.name];
    if (label === undefined) throw new TypeError(`The report names no level for field "${spec.name}"`);
    out[spec.name] = parseLevel(spec, label).render(toFinest(spec, row[spec.name], "row"));
  }
  return out;
}
