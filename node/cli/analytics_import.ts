/**
 * `kosmos analytics-import DOMAIN [FILE]` — imports a site's history from a
 * Plausible CSV export (its zip or one of its CSV files) or a GA4 BigQuery
 * export (newline-delimited JSON, or a zip of it) into one of the node's sites
 * (`POST /api/v1/sites/:domain/imports`, multipart, with a progress bar on
 * stderr); without FILE, lists what each source imported.
 */
import { basename } from "node:path";
import type { AnalyticsImportResultView, AnalyticsImportView } from "../../protocol/api/imports.ts";
import { KosmosError } from "../errors.ts";
import { describeFailure, requestNode } from "./args.ts";
import { callApi, type CommandIo, COMMON_FLAGS_USAGE, formatTime, output, runCommand } from "./command.ts";
import { type ProgressBarInit, readFileWithProgress } from "./progress.ts";
import { encodeMultipart } from "./publish.ts";

export const ANALYTICS_IMPORT_USAGE = `Usage: kosmos analytics-import DOMAIN [FILE] [--json]

Imports a site's history from another analytics tool into one of this node's
sites: a Plausible CSV export (the zip, or imported_*_YYYYMMDD_YYYYMMDD.csv) or a
Google Analytics 4 BigQuery export (newline-delimited JSON, or a zip of it). An
import replaces what the same source had imported for the days it covers; a
file the node cannot read is refused with the line at fault, and nothing changes.
Stats API queries count imported days with "include": { "imports": true }.
Without FILE, lists what each source imported.

Flags:
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos analytics-import`. */
export function runAnalyticsImport(
  args: string[],
  io: CommandIo & { progressOutput?: ProgressBarInit["output"] } = {},
): Promise<number> {
  const spec = { name: "analytics-import", usage: ANALYTICS_IMPORT_USAGE, operands: [1, 2] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const [domain, path] = cmd.positionals;
    const route = `/api/v1/sites/${encodeURIComponent(domain)}/imports`;
    if (path === undefined) {
      const list = await callApi<AnalyticsImportView[]>(cmd, route, { what: "list the imports" });
      output(
        cmd,
        list,
        () =>
          list.length === 0
            ? ["no imports"]
            : list.map((i) =>
              `${i.source}\t${i.from} … ${i.to}\t${i.days} days\t${i.visitors} visitors\t${i.pageviews} pageviews\t` +
              `imported ${formatTime(i.importedAt)}`
            ),
      );
      return;
    }
    const { stream, bar } = await readFileWithProgress("analytics-import", path, {
      label: "Importing",
      output: io.progressOutput,
    });
    const { body, contentType } = encodeMultipart([], {
      name: "file",
      filename: basename(path),
      contentType: "application/octet-stream",
      body: stream,
    });
    const response = await requestNode("analytics-import", new URL(route, cmd.url), {
      token: cmd.token,
      method: "POST",
      headers: { "content-type": contentType, accept: "application/json" },
      body,
      signal: cmd.signal,
    });
    bar.finish();
    if (response.status !== 201) {
      throw new KosmosError(
        `analytics-import: the node refused ${basename(path)}: ${await describeFailure(response)}`,
      );
    }
    const result = await response.json() as AnalyticsImportResultView;
    output(cmd, result, () => [
      `imported ${result.source} history of ${result.site}: ${result.from} … ${result.to}, ` +
      `${result.days} days, ${result.rows} rows`,
    ]);
  });
}
