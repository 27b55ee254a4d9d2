/**
 * Getting bought data out of the node: `kosmos exports PURCHASE_ID` (the rows
 * as CSV or NDJSON, or the original file, to a file or stdout) and
 * `kosmos deliveries` (list deliveries, or start one of a purchase's rows to a
 * directory or a webhook, `--wait` to follow it to the end).
 */
import type { DeliveryView } from "../../protocol/api/mod.ts";
import { delay } from "../delay.ts";
import { KosmosError } from "../errors.ts";
import { describeFailure, requestNode } from "./args.ts";
import {
  callApi,
  type Command,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  output,
  runCommand,
  UsageError,
} from "./command.ts";
import { createProgressBar, formatBytes } from "./progress.ts";

export const EXPORTS_USAGE =
  `Usage: kosmos exports PURCHASE_ID [--format csv|ndjson|original] [--output FILE] [--json]

Exports a complete purchase: its rows re-encoded as CSV (the default) or
NDJSON, or the original file as the seller published it. Writes to FILE, or
to stdout without --output.

Flags:
  --format F       csv, ndjson or original (default csv)
  --output FILE    write here instead of stdout (needed with --json, which then
                   prints { purchaseId, format, path, bytes })
${COMMON_FLAGS_USAGE}
`;

export const DELIVERIES_USAGE = `Usage: kosmos deliveries [--json]
       kosmos deliveries PURCHASE_ID --dir DIR|--webhook URL [--format csv|ndjson] [--wait] [--json]

Without a purchase, lists every delivery with its status. With one, the node
delivers the purchase's rows in batches to a directory (under
<data-dir>/deliveries or one allowed by --delivery-directory-allow) or POSTs
them to a webhook, in the background; --wait follows it until it is done.

Flags:
  --dir DIR        an absolute directory to write the rows to
  --webhook URL    an http(s) URL to POST the batches to
  --format F       csv or ndjson (default csv)
  --wait           wait until the delivery is delivered or failed
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos exports`. */
export function runExports(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "exports",
    usage: EXPORTS_USAGE,
    operands: [1, 1] as const,
    flags: ["format", "output"],
  };
  return runCommand(spec, args, io, async (cmd) => {
    const id = cmd.positionals[0];
    const format = cmd.flags.get("format") ?? "csv";
    if (!["csv", "ndjson", "original"].includes(format)) {
      throw new UsageError(
        `exports: --format must be csv, ndjson or original, got ${JSON.stringify(format)}`,
      );
    }
    const path = cmd.flags.get("output");
    if (cmd.json && path === undefined) {
      throw new UsageError("exports: --json needs --output FILE (stdout holds the JSON document)");
    }
    const url = new URL(
      `/api/v1/purchases/${encodeURIComponent(id)}/${format === "original" ? "data" : "export"}`,
      cmd.url,
    );
    if (format !== "original") url.searchParams.set("format", format);
    const response = await requestNode("exports", url, { token: cmd.token, signal: cmd.signal });
    if (!response.ok || !response.body) {
      throw new KosmosError(`exports: cannot export purchase ${id}: ${await describeFailure(response)}`);
    }
    const total = Number(response.headers.get("content-length") ?? 0) || 0;
    const bar = path === undefined
      ? undefined
      : createProgressBar({ label: "Exporting", total, format: formatBytes });
    let bytes = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          bar?.update(bytes);
          controller.enqueue(chunk);
        },
      }),
    );
    if (path === undefined) {
      await counted.pipeTo(Deno.stdout.writable, { preventClose: true });
      return;
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, create: true, truncate: true });
    } catch (err) {
      await counted.cancel();
      throw new KosmosError(`exports: cannot write ${path}: ${(err as Error).message}`);
    }
    await counted.pipeTo(file.writable);
    bar?.finish();
    output(cmd, { purchaseId: id, format, path, bytes }, () => [`Exported ${formatBytes(bytes)} to ${path}`]);
  });
}

/** Runs `kosmos deliveries`. */
export function runDeliveries(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = {
    name: "deliveries",
    usage: DELIVERIES_USAGE,
    operands: [0, 1] as const,
    flags: ["dir", "webhook", "format"],
    switches: ["wait"],
  };
  return runCommand(spec, args, io, async (cmd) => {
    const [id] = cmd.positionals;
    if (id === undefined) {
      if (["dir", "webhook", "format"].some((f) => cmd.flags.has(f)) || cmd.switches.has("wait")) {
        throw new UsageError("deliveries: name the PURCHASE_ID to deliver (try --help)");
      }
      const { deliveries } = await callApi<{ deliveries: DeliveryView[] }>(cmd, "/api/v1/deliveries");
      output(
        cmd,
        { deliveries },
        () => deliveries.length === 0 ? ["No deliveries yet."] : deliveries.map(describeDelivery),
      );
      return;
    }
    const dir = cmd.flags.get("dir");
    const webhook = cmd.flags.get("webhook");
    if ((dir === undefined) === (webhook === undefined)) {
      throw new UsageError("deliveries: give exactly one of --dir DIR and --webhook URL (try --help)");
    }
    const format = cmd.flags.get("format");
    if (format !== undefined && format !== "csv" && format !== "ndjson") {
      throw new UsageError(`deliveries: --format must be csv or ndjson, got ${JSON.stringify(format)}`);
    }
    const body = {
      ...(dir !== undefined ? { connector: "directory", dir } : { connector: "webhook", url: webhook }),
      ...(format ? { format } : {}),
    };
    let delivery = await callApi<DeliveryView>(
      cmd,
      `/api/v1/purchases/${encodeURIComponent(id)}/deliveries`,
      {
        body,
        what: `deliver purchase ${id}`,
      },
    );
    if (cmd.switches.has("wait")) delivery = await waitForDelivery(cmd, delivery);
    output(cmd, delivery, () => [describeDelivery(delivery)]);
    if (delivery.status === "failed") {
      throw new KosmosError(
        `deliveries: delivery ${delivery.id} failed: ${delivery.lastError ?? "no reason given"}`,
      );
    }
  });
}

async function waitForDelivery(cmd: Command, first: DeliveryView): Promise<DeliveryView> {
  let delivery = first;
  let interval = 250;
  while (delivery.status === "pending") {
    await delay(interval, cmd.signal);
    interval = Math.min(interval * 2, 5000);
    const { deliveries } = await callApi<{ deliveries: DeliveryView[] }>(cmd, "/api/v1/deliveries");
    const found = deliveries.find((d) => d.id === first.id);
    if (!found) throw new KosmosError(`deliveries: lost track of delivery ${first.id}`);
    if (found.batches !== delivery.batches) {
      cmd.printError(`Delivered ${found.batches} batches, ${found.rows} rows`);
    }
    delivery = found;
  }
  return delivery;
}

function describeDelivery(d: DeliveryView): string {
  return `${d.id}  purchase ${d.purchaseId}  ${d.connector} ${d.target}  ${d.format}  ${d.status}  ${d.rows} rows in ${d.batches} batches${
    d.lastError ? `  (last error: ${d.lastError})` : ""
  }`;
}
