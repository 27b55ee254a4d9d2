/**
 * `kosmos query FILE|-` — asks the node's statistics API (Plausible's Stats
 * API v2, `POST /api/v2/query`) with the JSON query in FILE, or on stdin for
 * `-`, and prints the results.
 */
import { KosmosError } from "../errors.ts";
import { callApi, type CommandIo, COMMON_FLAGS_USAGE, output, runCommand, UsageError } from "./command.ts";

export const QUERY_USAGE = `Usage: kosmos query FILE|- [--json]

Runs a Plausible Stats API v2 query over the node's analytics, for a site it
owns or has events for. FILE (or stdin for -) holds the JSON query, such as
{ "site_id": "example.com", "date_range": "7d", "metrics": ["visitors", "pageviews"],
  "dimensions": ["event:page"] }

Flags:
${COMMON_FLAGS_USAGE}
`;

/** Largest query read, in bytes (the node takes up to 64 KiB). */
const MAX_QUERY_BYTES = 64 * 1024;

/** One cell of a result row: money as Plausible writes it long, no value as "-". */
function cell(v: unknown): string {
  if (v === null) return "-";
  if (typeof v === "object" && typeof (v as { long?: unknown }).long === "string") {
    return (v as { long: string }).long;
  }
  return String(v);
}

/** Runs `kosmos query`. */
export function runQuery(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "query", usage: QUERY_USAGE, operands: [1, 1] }, args, io, async (cmd) => {
    const source = cmd.positionals[0];
    let text: string;
    try {
      text = source === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(source);
    } catch (err) {
      throw new KosmosError(`query: cannot read ${source}: ${(err as Error).message}`);
    }
    if (text.length > MAX_QUERY_BYTES) throw new UsageError(`query: the query is larger than 64 KiB`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UsageError(`query: ${source === "-" ? "stdin" : source} does not hold JSON`);
    }
    const result = await callApi<{ results: { metrics: unknown[]; dimensions: unknown[] }[] }>(
      cmd,
      "/api/v2/query",
      { body, what: "run the query" },
    );
    output(
      cmd,
      result,
      () => result.results.map((r) => [...r.dimensions, ...r.metrics].map(cell).join("\t")),
    );
  });
}
