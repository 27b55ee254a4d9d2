/** Formatting of node values for people: wei as ETH, long ids shortened, dates for tables. */

/**
 * Formats a wei amount (decimal string or bigint) as ETH with at most
 * `maxDecimals` decimals, rounded down, trailing zeros trimmed.
 *
 * ```ts
 * formatEther("1500000000000000000"); // "1.5"
 * ```
 */
export function formatEther(wei: string | bigint, maxDecimals = 6): string {
  if (typeof wei === "string" && !/^-?\d+$/.test(wei)) {
    throw new TypeError(`Cannot format "${wei}" as ETH: not an integer amount of wei`);
  }
  const value = BigInt(wei);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / 10n ** 18n;
  const fraction = (abs % 10n ** 18n).toString().padStart(18, "0").slice(0, maxDecimals).replace(/0+$/, "");
  const wholeText = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${wholeText}${fraction ? "." + fraction : ""}`;
}

/** Shortens a long id to its head and tail: `12D3KooW…x9Yz`. */
export function shortenId(id: string, head = 8, tail = 4): string {
  return id.length <= head + tail + 1 ? id : `${id.slice(0, head)}…${id.slice(-tail)}`;
}

/** A date for tables: `2026-03-14 09:26 UTC`. */
export function formatDay(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

/**
 * " (80 %)" for `part` of `whole` (token wei), to a tenth of a percent,
 * rounded down; nothing when `whole` is 0 (a free listing).
 */
export function formatShare(part: string | bigint, whole: string | bigint): string {
  const total = BigInt(whole);
  if (total === 0n) return "";
  const tenths = Number(BigInt(part) * 1000n / total);
  return ` (${(tenths / 10).toLocaleString("en-US")} %)`;
}
