/**
 * `kosmos publish FILE --title … --category … --price … --license … [--stake N]` —
 * uploads a file to a running node (`POST /api/v1/datasets`), streaming it as
 * `multipart/form-data` with a progress bar of the bytes sent on stderr, and
 * with `--stake` lists it on the registry in the same flow (the fee is shown
 * and confirmed first, `--yes` to accept it). On success prints
 * `{"id":…,"manifestCid":…}` (plus `"stake"` when listed) on stdout.
 */
import { basename, extname } from "node:path";
import { KosmosError } from "../errors.ts";
import { describeFailure, getNodeTarget, NODE_FLAGS_USAGE, parseArgs, requestNode } from "./args.ts";
import {
  callSigned,
  checkCanConfirm,
  type CommandIo,
  makeCommand,
  readAmount,
  UsageError,
} from "./command.ts";
import { type ProgressBarInit, readFileWithProgress } from "./progress.ts";

export const PUBLISH_USAGE =
  `Usage: kosmos publish FILE --title TEXT --category NAME --price KOS --license ID [flags]

Encrypts FILE on a running node and announces it to the network as a dataset.

Flags:
  --title TEXT         the listing's title (required)
  --description TEXT   what the data holds
  --category NAME      analytics, sensors, mobility, energy, environment, health,
                       finance, media, commerce, social or other (required)
  --price KOS          price in tokens, such as 2.5 (required)
  --license ID         licence id, such as CC-BY-4.0 (required)
  --gateway ADDRESS    gateway operator credited with 10 % of sales (default: the node's wallet)
  --stake N            then list it on the registry with N KOS of stake (100 makes it buyable)
  --yes                accept the staking fee without asking (needed without a terminal)
  --json               print only the JSON result on stdout (it always does)
${NODE_FLAGS_USAGE}
`;

/** Bytes read from the file at a time. */

const FIELDS = ["title", "description", "category", "price", "license", "gateway"] as const;

const CONTENT_TYPES: Record<string, string> = {
  ".csv": "text/csv",
  ".ndjson": "application/x-ndjson",
  ".jsonl": "application/x-ndjson",
  ".json": "application/json",
};

export interface RunPublishOptions extends CommandIo {
  env?: Record<string, string>;
  /** Where the result goes. @default console.log */
  print?: (line: string) => void;
  /** @default Deno.stderr */
  progressOutput?: ProgressBarInit["output"];
  signal?: AbortSignal;
}

/** Runs `kosmos publish`; resolves with the exit code. */
export async function runPublish(args: string[], options: RunPublishOptions = {}): Promise<number> {
  const print = options.print ?? console.log;
  const { positionals, flags, help, switches } = parseArgs(
    "publish",
    args,
    [...FIELDS, "url", "data-dir", "licence", "stake"],
    { booleans: ["json", "yes"] },
  );
  if (help) {
    print(PUBLISH_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("publish: give exactly one FILE (try --help)");
  if (flags.has("licence") && !flags.has("license")) flags.set("license", flags.get("licence")!);
  const missing = ["title", "category", "price", "license"].filter((f) => !flags.get(f)?.trim());
  if (missing.length > 0) {
    throw new UsageError(`publish: missing ${missing.map((f) => `--${f}`).join(", ")} (try --help)`);
  }
  const node = await getNodeTarget("publish", flags, options.env ?? Deno.env.toObject());
  const { url, token } = node;
  const cmd = makeCommand("publish", node, { positionals, flags, switches }, options);
  // Checked before the upload: a stake that cannot be confirmed should not leave an unlisted dataset.
  const stake = flags.has("stake") ? readAmount(cmd, "stake") : undefined;
  if (stake !== undefined) checkCanConfirm(cmd);
  const path = positionals[0];
  const { stream: counted, bar } = await readFileWithProgress("publish", path, {
    label: "Uploading",
    output: options.progressOutput,
  });
  // Every field, the optional ones empty when not given: the node streams a file that follows all of them.
  const fields = FIELDS.map((name) => [name, flags.get(name) ?? ""] as const);
  const { body, contentType } = encodeMultipart(fields, {
    name: "file",
    filename: basename(path),
    contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
    body: counted,
  });
  const target = new URL("/api/v1/datasets", url);
  const response = await requestNode("publish", target, {
    token,
    method: "POST",
    headers: { "content-type": contentType, accept: "application/json" },
    body,
    signal: options.signal,
  });
  bar.finish();
  if (response.status !== 201) {
    throw new KosmosError(`publish: the node refused ${basename(path)}: ${await describeFailure(response)}`);
  }
  const result = await response.json() as { id: string; manifestCid: string };
  console.error(
    `Published ${JSON.stringify(flags.get("title"))} → ${new URL(`/datasets/${result.id}`, url)}`,
  );
  if (stake === undefined) {
    print(JSON.stringify(result));
    return 0;
  }
  let staked: { listingId: string; stake: string; created: boolean; txHash: string };
  try {
    staked = await callSigned(cmd, "/api/v1/stakes", {
      body: { manifestCid: result.manifestCid, amount: stake },
      what: `stake on ${result.manifestCid}`,
      describe: `List ${result.manifestCid} with ${stake} KOS of stake`,
    });
  } catch (err) {
    // The dataset stays published: say how to list it later.
    if (err instanceof KosmosError) {
      err.message = `${err.message}; ${result.manifestCid} is published but not listed ` +
        `(kosmos stake ${result.manifestCid} --amount ${stake})`;
    }
    throw err;
  }
  console.error(`Listed as registry listing ${staked.listingId} (tx ${staked.txHash})`);
  print(JSON.stringify({ ...result, stake: staked }));
  return 0;
}

/** Streams fields and then one file part as a `multipart/form-data` body. */
export function encodeMultipart(
  fields: readonly (readonly [string, string])[],
  file: { name: string; filename: string; contentType: string; body: ReadableStream<Uint8Array> },
): { body: ReadableStream<Uint8Array>; contentType: string } {
  const boundary = `----kosmos${crypto.randomUUID().replaceAll("-", "")}`;
  const enc = new TextEncoder();
  const quote = (s: string) => s.replace(/["\\\r\n]/g, (c) => encodeURIComponent(c));
  let head = "";
  for (const [name, value] of fields) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.name)}"; filename="${
    quote(file.filename)
  }"\r\nContent-Type: ${file.contentType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const headBytes = enc.encode(head);
  const tailBytes = enc.encode(tail);
  const reader = file.body.getReader();
  let state: "head" | "file" | "done" = "head";
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (state === "head") {
        state = "file";
        controller.enqueue(headBytes);
        return;
      }
      const { done, value } = await reader.read();
      if (!done) return controller.enqueue(value);
      controller.enqueue(tailBytes);
      controller.close();
      state = "done";
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
