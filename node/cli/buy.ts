/**
 * `kosmos buy LISTING` — asks a running node to buy a dataset listing
 * (`POST /api/v1/purchases`) and follows `GET /api/v1/purchases/:id` with a
 * progress bar on stderr: the sale's steps (quote, lock, reveal, verify),
 * then the verified chunks. Prints the final purchase as JSON on stdout.
 * Buying a listing already bought shows that purchase and pays nothing.
 * Opening the sale signs a transaction: the node previews it first
 * (`?preview=1`) and the fee is confirmed (`--yes` to accept it).
 */
import type { PurchaseView } from "../../protocol/api/market.ts";
import { KosmosError } from "../errors.ts";
import {
  type FollowCommandOptions,
  followJob,
  NODE_FLAGS_USAGE,
  parseNodeCommand,
  startJob,
} from "./args.ts";
import { createProgressBar } from "./progress.ts";
import { callApi, checkPreview, type CommandIo, makeCommand } from "./command.ts";
import { confirmFee } from "./confirm.ts";
import type { BuyPreviewView } from "../../protocol/api/fees.ts";
import { formatUnits } from "viem";

export const BUY_USAGE = `Usage: kosmos buy LISTING_ID [--yes] [--json] [--url URL]

Buys a dataset listing (its manifest CID) with the fair key sale: the node
checks the seller's quote, locks the price in escrow, verifies the revealed
key, and downloads and verifies every chunk. Shows the progress, and the
price and network fee before anything is signed.

Flags:
  --yes            accept the price and fee without asking (needed without a terminal)
  --json           print only the final purchase as JSON on stdout (it always does)
${NODE_FLAGS_USAGE}
`;

const STEPS: Record<string, string> = {
  quoted: "Quoted",
  opened: "Locked the price; waiting for the key",
  revealed: "Key revealed and checked",
  downloading: "Downloading",
  verified: "Data verified; confirming",
};

export type RunBuyOptions = FollowCommandOptions & Pick<CommandIo, "confirm" | "printError">;

/** Runs `kosmos buy`; resolves with the exit code. */
export async function runBuy(args: string[], options: RunBuyOptions = {}): Promise<number> {
  const print = options.print ?? console.log;
  const command = await parseNodeCommand("buy", args, {
    usage: BUY_USAGE,
    operand: "LISTING_ID",
    print,
    env: options.env,
    booleans: ["yes"],
  });
  if (!command) return 0;
  const { url, token, positionals: [listingId] } = command;
  const cmd = makeCommand("buy", command, { ...command, flags: new Map() }, options);
  const preview = checkPreview(
    cmd,
    await callApi<Partial<BuyPreviewView>>(cmd, "/api/v1/purchases", {
      body: { listingId },
      query: { preview: "1" },
      what: `buy ${listingId}`,
    }),
    `buying ${listingId}`,
  );
  // A listing bought already shows its purchase and pays nothing: nothing to confirm.
  if (preview.purchaseId === undefined) {
    const price = preview.quote ? ` for ${formatUnits(BigInt(preview.quote.price), 18)} KOS` : "";
    await confirmFee({ yes: cmd.yes, json: cmd.json }, preview, `Buy ${listingId}${price}`, {
      write: cmd.printError,
      ...cmd.confirm,
    });
  }
  const first = await startJob("buy", new URL("/api/v1/purchases", url), {
    subject: listingId,
    body: { listingId },
    token,
    signal: options.signal,
  }) as PurchaseView;
  let step = "";
  let bar: ReturnType<typeof createProgressBar> | undefined;
  const purchase = await followJob("buy", new URL(`/api/v1/purchases/${first.id}`, url), {
    first,
    // A dispute waits for the arbiter (days): the command ends there and says so.
    running: (p) => !["complete", "refunded", "failed", "disputed"].includes(p.status),
    onView: (p) => {
      if (p.status === "downloading") {
        bar ??= createProgressBar({
          label: "Downloading",
          total: p.progress.chunksTotal,
          output: options.progressOutput,
        });
        bar.update(p.progress.chunksVerified, p.progress.chunksTotal);
      } else if (p.status !== step) {
        step = p.status;
        console.error(STEPS[step] ?? step);
      }
    },
    subject: first.id,
    interval: options.interval,
    token,
    signal: options.signal,
  });
  // The download starts when the sale opens, so a short one may end between two polls: show where it ended.
  if (purchase.status === "complete") {
    bar ??= createProgressBar({
      label: "Downloading",
      total: purchase.progress.chunksTotal,
      output: options.progressOutput,
    });
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
