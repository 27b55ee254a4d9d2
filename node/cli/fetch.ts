/**
 * `kosmos fetch CID` — asks a running node to fetch a dataset
 * (`POST /api/v1/fetches`) and follows `GET /api/v1/fetches/:cid` with a
 * progress bar of verified chunks on stderr until it is complete. Prints the
 * final progress as JSON on stdout.
 */
import type { FetchView } from "../../protocol/api/datasets.ts";
import { KosmosError } from "../errors.ts";
import {
  type FollowCommandOptions,
  followJob,
  NODE_FLAGS_USAGE,
  parseNodeCommand,
  startJob,
} from "./args.ts";
import { createProgressBar, formatBytes } from "./progress.ts";

export const FETCH_USAGE = `Usage: kosmos fetch MANIFEST_CID [--url URL]

Fetches every encrypted chunk of a dataset onto a running node, verified
against its CID, and shows the progress.

Flags:
${NODE_FLAGS_USAGE}
`;

export type RunFetchOptions = FollowCommandOptions;

/** Runs `kosmos fetch`; resolves with the exit code. */
export async function runFetch(args: string[], options: RunFetchOptions = {}): Promise<number> {
  const print = options.print ?? console.log;
  const command = await parseNodeCommand("fetch", args, {
    usage: FETCH_USAGE,
    operand: "MANIFEST_CID",
    print,
    env: options.env,
  });
  if (!command) return 0;
  const { url, token, positionals: [cid] } = command;
  const first = await startJob("fetch", new URL("/api/v1/fetches", url), {
    subject: cid,
    body: { manifestCid: cid },
    token,
    signal: options.signal,
  }) as FetchView;
  const bar = createProgressBar({
    label: "Fetching",
    total: first.chunksTotal,
    output: options.progressOutput,
  });
  const progress = await followJob("fetch", new URL(`/api/v1/fetches/${first.manifestCid}`, url), {
    first,
    running: (p) => p.status === "queued" || p.status === "running",
    onView: (p) => bar.update(p.chunksVerified, p.chunksTotal),
    subject: cid,
    interval: options.interval,
    token,
    signal: options.signal,
  });
  bar.update(progress.chunksVerified, progress.chunksTotal);
  bar.finish();
  if (progress.status === "failed") {
    throw new KosmosError(`fetch: ${cid} failed: ${progress.error ?? "no reason given"}`);
  }
  console.error(
    `Fetched ${progress.chunksVerified} chunks (${
      formatBytes(progress.bytes)
    }) from ${progress.providers.length} provider${
      progress.providers.length === 1 ? "" : "s"
    }, every one verified.`,
  );
  print(JSON.stringify(progress));
  return 0;
}
