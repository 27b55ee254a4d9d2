/**
 * Netflix `ViewingActivity.csv` (`Profile Name,Start Time,Duration,Attributes,Title,Supplemental
 * Video Type,Device Type,Bookmark,Latest Bookmark,Country`). Older exports lack some columns (the
 * country, the supplemental type, the bookmarks): those fields are null. Start times are UTC.
 */
import { cellAt, openCsvTable } from "./csv.ts";
import { batchRows, type Fail, failAt, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";
import { parseDuration, parseTime, quote, textOrNull } from "./values.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";

const row = rowBuilder("netflix");

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const table = await openCsvTable(input, {
    filename,
    what: "a Netflix ViewingActivity.csv",
    required: ["Start Time", "Duration", "Title"],
  });
  const col = {
    start: table.column("Start Time"),
    duration: table.column("Duration"),
    title: table.column("Title"),
    type: table.column("Supplemental Video Type"),
    country: table.column("Country"),
    profile: table.column("Profile Name"),
    device: table.column("Device Type"),
  };
  for await (const record of table.rows) {
    const fail: Fail = failAt(filename, `line ${record.line}`);
    const start = cellAt(record, col.start);
    const startedAt = parseTime(start);
    if (startedAt == null) fail(`Start Time ${quote(start)} is not a date`);
    const duration = cellAt(record, col.duration);
    const durationS = parseDuration(duration);
    if (durationS === undefined) fail(`Duration ${quote(duration)} is not a H:MM:SS duration`);
    // "DE (Germany)" → "DE"
    const country = textOrNull(cellAt(record, col.country).replace(/\s*\(.*\)$/, ""));
    yield row({
      startedAt,
      durationS,
      title: textOrNull(cellAt(record, col.title)),
      videoType: textOrNull(cellAt(record, col.type)),
      country,
      profile: textOrNull(cellAt(record, col.profile)),
      device: textOrNull(cellAt(record, col.device)),
    });
  }
}

export const netflix: Importer = {
  kind: "netflix",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
