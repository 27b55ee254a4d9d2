/**
 * The importers of the `sources` service: one streaming parser per kind of personal-data export,
 * each turning its file into batches of rows of exactly the fields `SOURCE_KIND_INFO[kind]` lists
 * (`protocol/sources.ts`), and answering a file it cannot read with an {@link ImportError} that
 * names the file and the line (CSV) or record (JSON, 1-based).
 *
 * | kind | file | reader |
 * | --- | --- | --- |
 * | spotify | `StreamingHistory*.json`, `Streaming_History_Audio_*.json` | `spotify.ts` on `json.ts` |
 * | netflix | `ViewingActivity.csv` | `netflix.ts` on `csv.ts` |
 * | chrome | `BrowserHistory.json` | `chrome.ts` on `json.ts` |
 * | apple-health | `export.xml` | `apple_health.ts` |
 * | uber | `trips_data.csv` | `uber.ts` on `csv.ts` |
 * | amazon | `Retail.OrderHistory.*.csv`, `Items.csv` | `amazon.ts` on `csv.ts` |
 * | airbnb | `reservations.csv` | `airbnb.ts` on `csv.ts` |
 * | bank | any statement CSV | `bank.ts` on `csv.ts`, layout by `bank_layout.ts` |
 * | browsing | the extension's JSON array of visits | `browsing.ts` on `json.ts` |
 *
 * ```ts
 * const { mapping } = detectBankLayout(await readTextHead(file.stream())); // the person confirms it
 * for await (const rows of IMPORTERS.bank.parse(file.stream(), { filename: file.name, mapping })) {
 *   for (const row of rows) validateSourceRow("bank", row); // exactly the kind's fields
 * }
 * ```
 */
import type { SourceKind } from "../../../../protocol/sources.ts";
import { airbnb } from "./airbnb.ts";
import { amazon } from "./amazon.ts";
import { appleHealth } from "./apple_health.ts";
import { bank } from "./bank.ts";
import { browsing } from "./browsing.ts";
import { chrome } from "./chrome.ts";
import { netflix } from "./netflix.ts";
import { spotify } from "./spotify.ts";
import type { Importer } from "./types.ts";
import { uber } from "./uber.ts";

export * from "./types.ts";
export { type BankLayout, detectBankLayout } from "./bank_layout.ts";
export { LAYOUT_HEAD_CHARS } from "./bank.ts";
export { readTextHead } from "./csv.ts";
export { sourceRowProblem, validateSourceRow } from "./rows.ts";

/** The importer of each source kind. */
export const IMPORTERS: { readonly [K in SourceKind]: Importer } = {
  spotify,
  netflix,
  chrome,
  "apple-health": appleHealth,
  uber,
  amazon,
  airbnb,
  bank,
  browsing,
};
