/**
 * Parsers of the values the exports write: times, days in the bank date formats, amounts with
 * either decimal separator, thousands separators and currency signs, durations. Each returns
 * `null` for an empty cell and `undefined` for one it cannot read, so the importer can say which.
 */
import type { BankDateFormat } from "../../../../protocol/sources.ts";

/** A cell quoted for an error message, cut to 40 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?(?:\s*(?:UTC|GMT))?$/i;

/**
 * An ISO-like time (`2023-05-01 13:45`, `2023-05-01T13:45:12.345Z`, `2019-08-14 21:34:53 +0000 UTC`)
 * as ms since the epoch; no zone means UTC.
 */
export function parseTime(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  const m = t.match(TIME);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = ""] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, Number(frac.padEnd(3, "0").slice(0, 3)));
  if (!validDate(+y, +mo, +d) || +h > 23 || +mi > 59 || +s > 60) return undefined;
  const z = zone.toUpperCase();
  if (z === "" || z === "Z" || z === "UTC" || z === "GMT") return ms;
  const sign = z[0] === "-" ? -1 : 1;
  const digits = z.slice(1).replace(":", "");
  return ms - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  // German, French, Dutch and Spanish abbreviations that differ
  mär: 3,
  mrz: 3,
  mai: 5,
  okt: 10,
  dez: 12,
  janv: 1,
  févr: 2,
  fevr: 2,
  mars: 3,
  avr: 4,
  juin: 6,
  juil: 7,
  août: 8,
  aout: 8,
  déc: 12,
  mrt: 3,
  mei: 5,
  ene: 1,
  abr: 4,
  ago: 8,
  dic: 12,
  sept: 9,
}; // deno-fmt-ignore

const DAY_PATTERNS: Record<BankDateFormat, RegExp> = {
  "YYYY-MM-DD": /^(?<y>\d{4})-(?<m>\d{1,2})-(?<d>\d{1,2})$/,
  "DD.MM.YYYY": /^(?<d>\d{1,2})\.(?<m>\d{1,2})\.(?<y>\d{4}|\d{2})$/,
  "DD/MM/YYYY": /^(?<d>\d{1,2})\/(?<m>\d{1,2})\/(?<y>\d{4}|\d{2})$/,
  "MM/DD/YYYY": /^(?<m>\d{1,2})\/(?<d>\d{1,2})\/(?<y>\d{4}|\d{2})$/,
  "DD-MM-YYYY": /^(?<d>\d{1,2})-(?<m>\d{1,2})-(?<y>\d{4}|\d{2})$/,
  "D MMM YYYY": /^(?<d>\d{1,2})[ -](?<mon>[\p{L}]{3,5})\.?[ -](?<y>\d{4}|\d{2})$/u,
};

/**
 * A day in one of the bank date formats (two-digit years read as 20YY; a trailing time ignored) as
 * ms since the epoch at 00:00 UTC.
 */
export function parseDay(text: string, format: BankDateFormat): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  const day = t.replace(/[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC)?$/i, "");
  const g = day.match(DAY_PATTERNS[format])?.groups;
  if (!g) return undefined;
  const y = g.y.length === 2 ? 2000 + Number(g.y) : Number(g.y);
  const m = g.mon ? MONTHS[g.mon.toLowerCase()] : Number(g.m);
  const d = Number(g.d);
  if (!m || !validDate(y, m, d)) return undefined;
  return Date.UTC(y, m - 1, d);
}

const SYMBOLS: [RegExp, string][] = [
  [/€/, "EUR"],
  [/£/, "GBP"],
  [/¥/, "JPY"],
  [/₹/, "INR"],
  [/CHF|Fr\./, "CHF"],
  [/A\$|AU\$/, "AUD"],
  [/C\$|CA\$/, "CAD"],
  [/\$/, "USD"],
];

/** The currency a cell or a header names: an ISO code (`EUR`) or a sign (`€1,234.00` → EUR). */
export function currencyOf(text: string): string | null {
  const code = text.match(/(?:^|[^A-Za-z])([A-Z]{3})(?:$|[^A-Za-z])/);
  if (code && code[1] !== "UTC") return code[1];
  for (const [sign, iso] of SYMBOLS) if (sign.test(text)) return iso;
  return null;
}

/**
 * An amount: `-12.50`, `12,50-`, `(12.50)`, `€1,234.00`, `1.234,56 €`, `1 234,56`, `12.50 CR`/`DR`.
 * With `decimal` the other separator is a thousands separator; without, the separator followed by one
 * or two final digits (or the last one when both appear) is the decimal one.
 */
export function parseAmount(text: string, decimal?: "." | ","): number | null | undefined {
  let t = text.trim();
  if (t === "" || t === "-" || /^n\/?a$|^not available$/i.test(t)) return null;
  let negative = false;
  const dr = t.match(/\s*\b(CR|DR|Cr|Dr)\.?$/);
  if (dr) {
    negative = dr[1].toUpperCase() === "DR";
    t = t.slice(0, dr.index);
  }
  t = t.replace(/[A-Z]{3}|[€£¥₹$]|CHF|Fr\.|[\s\u00a0\u202f']/g, "");
  if (/^\(.*\)$/.test(t)) {
    negative = !negative;
    t = t.slice(1, -1);
  }
  if (t.endsWith("-")) {
    negative = !negative;
    t = t.slice(0, -1);
  } else if (t.startsWith("-") || t.startsWith("−")) {
    negative = !negative;
    t = t.slice(1);
  } else if (t.startsWith("+")) t = t.slice(1);
  if (!/^[\d.,]*\d[\d.,]*$/.test(t)) return undefined;
  const sep = decimal ?? guessDecimal(t);
  const thousands = sep === "." ? "," : ".";
  const parts = t.split(sep);
  if (parts.length > 2) return undefined;
  const whole = parts[0].split(thousands);
  if (whole.length > 1 && whole.slice(1).some((g) => g.length !== 3)) return undefined;
  const value = Number(`${whole.join("")}.${parts[1] ?? "0"}`.replace(/^\./, "0."));
  if (!Number.isFinite(value)) return undefined;
  return negative && value !== 0 ? -value : value;
}

function guessDecimal(t: string): "." | "," {
  const dot = t.lastIndexOf(".");
  const comma = t.lastIndexOf(",");
  if (dot >= 0 && comma >= 0) return dot > comma ? "." : ",";
  if (comma >= 0) {
    return /,\d{1,2}$/.test(t) || (t.match(/,/g)!.length === 1 && !/,\d{3}$/.test(t)) ? "," : ".";
  }
  if (dot >= 0 && t.match(/\./g)!.length > 1) return ",";
  return ".";
}

/** A plain decimal number (`12`, `3.5`); `undefined` when it is not one. */
export function parseNumber(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && Number.isFinite(n) ? n : undefined;
}

/** `H:MM:SS` (or `MM:SS`) as seconds. */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim();
  if (t === "") return null;
  const m = t.match(/^(?:(\d+):)?(\d{1,2}):(\d{2})$/);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** A trimmed cell, or null when empty. */
export function textOrNull(text: string | undefined | null): string | null {
  const t = text?.trim() ?? "";
  return t === "" ? null : t;
}
