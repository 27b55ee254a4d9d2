/**
 * The sources service: a contributor's own data, imported from the exports of the services they
 * use (Spotify, Netflix, Chrome, Apple Health, Uber, Amazon, Airbnb, a bank statement), kept on
 * this node only, and published only anonymized and only under a valid consent.
 *
 * - Importing streams a file through its kind's importer (`importers/`), checks every row against
 *   the kind's fields (`protocol/sources.ts`), and writes the rows in batched transactions; the
 *   import is listed only once its last row is committed, and a failed, aborted or killed import
 *   leaves nothing behind.
 * - Publishing (`publications.ts`) keeps the kinds whose consent for the purpose is valid on
 *   chain now, anonymizes each (the `privacy` service), publishes the combined CSV as a dataset
 *   (the `datasets` service) with the privacy report and consent references in its manifest, and
 *   records the node wallet's ownership of it on chain (the `consent` service).
 *
 * Tables (`store.ts`): `sources` (one row per import; `complete = 0` while it is written),
 * `source_rows` (source_id, seq, at, data: the row as JSON; indexed by source and time),
 * `publications`. It speaks no protocol and dispatches no events.
 *
 * ```ts
 * const file = await Deno.open("ViewingActivity.csv");
 * const source = await node.components.sources.importFile("netflix", file.readable, {
 *   filename: "ViewingActivity.csv", onProgress: (bytes) => console.log(bytes),
 * });
 * for (const row of node.components.sources.rows(source.id)) console.log(row.title);
 * node.components.sources.previewSource(source.id, { k: 5 }); // what would leave the node
 * await node.components.sources.publish({ kinds: ["netflix"], purpose: "viewing research",
 *   title: "Viewing, 2024", price: "1000000000000000000", licence: "CC-BY-4.0" });
 * ```
 */
import { defineService } from "../../service.ts";
import { Sources, type SourcesComponents } from "./sources.ts";

export { checkKind, type ImportFileOptions, type SourcePreviewRecord, Sources } from "./sources.ts";
export type { SourcesComponents } from "./sources.ts";
export type { PublicationRecord, SourceRecord } from "./store.ts";
export {
  EmptyPublicationError,
  type Excluded,
  NothingToPublishError,
  type PublishPreview,
  type PublishSourcesFields,
} from "./publications.ts";
export { ImportError } from "./importers/types.ts";

/** The `sources` component. */
export function sources() {
  return defineService(
    "sources",
    ["db", "datasets", "privacy", "consent", "chain"],
    (c: SourcesComponents) => new Sources(c),
  );
}
