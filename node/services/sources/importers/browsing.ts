/**
 * The browsing log the Kosmos browser extension sends its own node: a JSON array of
 * `{ "domain": "example.org", "visitedAt": 1714567200000 }` (`protocol/browsing.ts` says what a
 * valid visit is). Read as a stream; a bad visit fails the whole file, naming its record.
 */
import { browsingVisitProblem } from "../../../../protocol/browsing.ts";
import type { SourceRow } from "../../../../protocol/sources.ts";
import { readJsonArray } from "./json.ts";
import { batchRows, failAt, rowBuilder } from "./rows.ts";
import type { Importer } from "./types.ts";

const row = rowBuilder("browsing");

async function* rows(input: ReadableStream<Uint8Array>, filename: string): AsyncGenerator<SourceRow> {
  const now = Date.now();
  for await (const { value, record } of readJsonArray(input, { filename, what: "a browsing log" })) {
    const problem = browsingVisitProblem(value, now);
    if (problem) failAt(filename, `record ${record}`)(problem);
    const visit = value as { domain: string; visitedAt: number };
    yield row({ visitedAt: visit.visitedAt, domain: visit.domain });
  }
}

export const browsing: Importer = {
  kind: "browsing",
  parse: (input, { filename, signal }) => batchRows(rows(input, filename), signal),
};
