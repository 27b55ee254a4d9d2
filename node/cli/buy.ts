/**
 * `kosmos buy LISTING` — asks a running node to buy a dataset listing
 * (`POST /api/v1/purchases`) and follows `GET /api/v1/purchases/:id` with a
 * progress bar on stderr: the sale's steps (quote, lock, reveal, verify),
 * then the verified chunks. Prints the final purchase as JSON on stdout.
 * Buying a listing already bought shows that purchase and pays nothing.
 */
import { delay } from "../delay.ts";
import { KosmosError } from "../errors.ts";
import { second } from "../constants.ts";
import {
  describeFailure,
  type FollowCommandOptions,
  getNodeUrl,
  parseArgs,
  postJson,
  requestNode,
} from "./args.ts";
import { createProgressBar } from "./progress.ts";

export const BUY_USAGE = `Usage: kosmos buy LISTING_ID [--url URL]

Buys a dataset listing (its manifest CID) with the fair key sale: the node
checks the seller's quote, locks the price in escrow, verifies the revealed
key, and downloads and verifies every chunk. Shows the progress.

Flags:
  --url URL   the node's API (KOSMOS_URL; default http://127.0.0.1:7464)
`;

interface PurchaseView {
  id: string;
  listingId: string;
  status: "quoted" | "opened" | "revealed" | "verified" | "downloading" | "complete" | "refunded" | "failed";
  progress: { chunksVerified: number; chunksTotal: number };
  price: string;
  error?: string;
}

const STEPS: Record<string, string> = {
  quoted: "Quoted",
  opened: "Locked the price; waiting for the key",
  revealed: "Key revealed; verifying",
  verified: "Key verified",
  downloading: "Downloading",
};

export type RunBuyOptions = FollowCommandOptions;

/** Runs `kosmos buy`; resolves with the exit code. */
export async function runBuy(args: string[], options: RunBuyOptions = {}): Promise<number> {
  const print = options.print ?? console.log;
  const { positionals, flags, help } = parseArgs("buy", args, ["url"]);
  if (help) {
    print(BUY_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new KosmosError("buy: give exactly one LISTING_ID (try --help)");
  const listingId = positionals[0];
  const url = getNodeUrl("buy", flags, options.env ?? Deno.env.toObject());
  const started = await postJson("buy", new URL("/api/v1/purchases", url), {
    body: { listingId },
    signal: options.signal,
  });
  if (started.status !== 202) {
    throw new KosmosError(`buy: the node cannot buy ${listingId}: ${await describeFailure(started)}`);
  }
  let purchase = await started.json() as PurchaseView;
  let step = "";
  let bar: ReturnType<typeof createProgressBar> | undefined;
  const interval = options.interval ?? 250;
  const status = new URL(`/api/v1/purchases/${purchase.id}`, url);
  while (!["complete", "refunded", "failed"].includes(purchase.status)) {
    if (purchase.status === "downloading") {
      bar ??= createProgressBar({
        label: "Downloading",
        total: purchase.progress.chunksTotal,
        output: options.progressOutput,
      });
      bar.update(purchase.progress.chunksVerified, purchase.progress.chunksTotal);
    } else if (purchase.status !== step) {
      step = purchase.status;
      console.error(STEPS[step] ?? step);
    }
    await delay(Math.min(interval, 10 * second), options.signal);
    const response = await requestNode("buy", status, {
      headers: { accept: "application/json" },
      signal: options.signal,
    });
    if (!response.ok) {
      throw new KosmosError(`buy: lost track of ${purchase.id}: ${await describeFailure(response)}`);
    }
    purchase = await response.json() as PurchaseView;
  }
  if (bar) {
    bar.update(purchase.progress.chunksVerified, purchase.progress.chunksTotal);
    bar.finish();
  }
  if (purchase.status !== "complete") {
    throw new KosmosError(`buy: ${listingId} ${purchase.status}: ${purchase.error ?? "no reason given"}`);
  }
  const dataUrl = new URL(`/api/v1/purchases/${purchase.id}/data`, url);
  console.error(
    `Bought ${listingId}: ${purchase.progress.chunksVerified} chunks verified; read it at ${dataUrl}`,
  );
  print(JSON.stringify(purchase));
  return 0;
}
