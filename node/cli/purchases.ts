/**
 * Purchases and sales from the command line: `kosmos purchases [ID]` (this
 * node's purchases, or one), `kosmos sales` (sales of this node's datasets)
 * and `kosmos evidence ID` (the bad-data evidence of a disputed purchase, for
 * the arbiter).
 */
import type { PurchaseView, SaleView } from "../../protocol/api/mod.ts";
import {
  callApi,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatKos,
  formatTime,
  output,
  runCommand,
} from "./command.ts";

export const PURCHASES_USAGE = `Usage: kosmos purchases [PURCHASE_ID] [--json]

Lists this node's purchases (status, price, seller, progress), or shows one.
Read a complete purchase with kosmos exports PURCHASE_ID.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const SALES_USAGE = `Usage: kosmos sales [--json]

Lists the sales of this node's datasets: buyer, price, status and what each
pays this node's wallet.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const EVIDENCE_USAGE = `Usage: kosmos evidence PURCHASE_ID [--json]

Prints the bad-data evidence this node committed to when it disputed a
purchase (it holds the sale key: hand it only to the arbiter).

Flags:
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos purchases`. */
export function runPurchases(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "purchases", usage: PURCHASES_USAGE, operands: [0, 1] as const };
  return runCommand(spec, args, io, async (cmd) => {
    const [id] = cmd.positionals;
    if (id !== undefined) {
      const p = await callApi<PurchaseView>(cmd, `/api/v1/purchases/${encodeURIComponent(id)}`, {
        what: `find purchase ${id}`,
      });
      output(cmd, p, () => [
        describePurchase(p),
        `sale ${p.saleId}, registry listing ${p.registryListingId}, seller ${p.seller}, gateway ${p.gateway}`,
        `licence ${p.rights.licence} from ${formatTime(p.rights.from)}`,
        ...p.txs.map((tx) => `  ${tx.action.padEnd(8)} ${tx.txHash}`),
        ...(p.error ? [`error: ${p.error}`] : []),
      ]);
      return;
    }
    const { purchases } = await callApi<{ purchases: PurchaseView[] }>(cmd, "/api/v1/purchases");
    output(
      cmd,
      { purchases },
      () =>
        purchases.length === 0
          ? ["No purchases yet (kosmos buy LISTING_ID)."]
          : purchases.map(describePurchase),
    );
  });
}

/** Runs `kosmos sales`. */
export function runSales(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "sales", usage: SALES_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const { sales } = await callApi<{ sales: SaleView[] }>(cmd, "/api/v1/sales");
    output(
      cmd,
      { sales },
      () =>
        sales.length === 0
          ? ["No sales yet."]
          : sales.map((s) =>
            `${s.saleId.slice(0, 18)}…  ${s.listingId}  ${s.status.padEnd(9)} ${
              formatKos(s.price)
            } from ${s.buyer}, pays ${formatKos(s.payout)}`
          ),
    );
  });
}

/** Runs `kosmos evidence`. */
export function runEvidence(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "evidence", usage: EVIDENCE_USAGE, operands: [1, 1] }, args, io, async (cmd) => {
    const id = cmd.positionals[0];
    const e = await callApi<{ evidence: string; evidenceHash: string }>(
      cmd,
      `/api/v1/purchases/${encodeURIComponent(id)}/evidence`,
      { what: `read the evidence of purchase ${id}` },
    );
    output(cmd, e, () => [`evidence hash ${e.evidenceHash}`, e.evidence]);
  });
}

function describePurchase(p: PurchaseView): string {
  return `${p.id}  ${p.listingId}  ${p.status.padEnd(11)} ${
    formatKos(p.price)
  }  ${p.progress.chunksVerified}/${p.progress.chunksTotal} chunks`;
}
