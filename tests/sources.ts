/**
 * Export files for the sources tests, in the services' real formats, made here so each test says
 * what it holds.
 *
 * ```ts
 * const csv = viewingActivity(400); // 400 views, four an hour from March 1st, 2024
 * ```
 */

export const HOUR = 3_600_000;
/** The first view's start. */
export const T0 = Date.UTC(2024, 2, 1);
const encoder = new TextEncoder();

/** A Netflix ViewingActivity.csv of `rows` views, four an hour, from two profiles on one device kind. */
export function viewingActivity(
  rows: number,
  bad?: { line: number; start: string },
): Uint8Array<ArrayBuffer> {
  const lines = [
    "Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country",
  ];
  for (let i = 0; i < rows; i++) {
    const start = new Date(T0 + Math.floor(i / 4) * HOUR + (i % 4) * 600_000).toISOString().slice(0, 19)
      .replace("T", " ");
    lines.push(
      `${i % 2 ? "Ana" : "Ben"},${bad && lines.length + 1 === bad.line ? bad.start : start},00:${
        String(10 + (i % 40)).padStart(2, "0")
      }:00,,Show ${i % 3},,Smart TV,00:10:00,00:10:00,DE (Germany)`,
    );
  }
  return encoder.encode(lines.join("\n") + "\n");
}
