/**
 * Earnings from the command line: `kosmos earnings` shows what each pool sale and each mining epoch
 * owes this node's wallet (recomputed from the chain's events and checked against the root on
 * chain), with the mining schedule; `kosmos claim [DISTRIBUTION_ID]` claims one distribution, or
 * every claimable one, after previewing the fee (`--yes` to accept it). A claim made before is
 * reported and sends nothing.
 */
import type { ClaimsPreviewView, ClaimsView, EarningsView, EarningView } from "../../protocol/api/mod.ts";
import {
  callApi,
  checkPreview,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatKos,
  formatTime,
  output,
  runCommand,
  UsageError,
  YES_USAGE,
} from "./command.ts";
import { confirmFee } from "./confirm.ts";

export const EARNINGS_USAGE = `Usage: kosmos earnings [--json]

What each pool sale and each mining epoch owes this node's wallet, recomputed from the chain's
events: AMOUNT, STATUS (claimable, claimed, or unverifiable when the distribution's root does not
match the events: it is never claimed), and the mining schedule. Claim with kosmos claim.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const CLAIM_USAGE = `Usage: kosmos claim [DISTRIBUTION_ID] [--yes] [--json]

Claims what distribution DISTRIBUTION_ID owes this node's wallet, or every claimable earning
without it (one transaction each). A distribution claimed before sends nothing.

Flags:
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos earnings`. */
export function runEarnings(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "earnings", usage: EARNINGS_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const earnings = await callApi<EarningsView>(cmd, "/api/v1/earnings", { what: "read earnings" });
    output(cmd, earnings, () => {
      const rows = [...earnings.pools, ...earnings.epochs];
      const lines = rows.length === 0
        ? ["No earnings yet: join a pool (kosmos pool join) and they appear when its versions sell."]
        : table(["DISTRIBUTION", "SOURCE", "FROM", "AMOUNT", "STATUS", "CLAIM TX"], rows.map(toRow));
      lines.push("", `Total ${formatKos(earnings.total)}, claimable ${formatKos(earnings.claimable)}`);
      const s = earnings.schedule;
      if (s) {
        lines.push(
          `Mining: epoch ${s.currentEpoch ?? "not started"}, ${formatKos(s.currentReward)} per epoch until ${
            formatTime(s.nextHalvingAt)
          } (halving at epoch ${s.nextHalvingEpoch}), ${formatKos(s.allocationLeft)} of ${
            formatKos(s.allocation)
          } left`,
        );
      }
      return lines;
    });
  });
}

/** Runs `kosmos claim`. */
export function runClaim(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "claim", usage: CLAIM_USAGE, operands: [0, 1] as const, signs: true };
  return runCommand(spec, args, io, async (cmd) => {
    const [id] = cmd.positionals;
    if (id !== undefined && !/^[1-9]\d{0,76}$/.test(id)) {
      throw new UsageError(`claim: "${id.slice(0, 40)}" is not a distribution id (a positive whole number)`);
    }
    const body = id === undefined ? {} : { distributionId: id };
    const what = id === undefined ? "claim every claimable earning" : `claim distribution ${id}`;
    const preview = checkPreview(
      cmd,
      await callApi<Partial<ClaimsPreviewView>>(cmd, "/api/v1/earnings/claims", {
        body,
        what,
        query: { preview: "1" },
      }),
      what,
    );
    const claims = preview.claims ?? [];
    let result: ClaimsView = { claimed: [], alreadyClaimed: preview.alreadyClaimed ?? [] };
    // Nothing to send: no fee to confirm.
    if (claims.length > 0) {
      const sum = claims.reduce((s, c) => s + BigInt(c.amount), 0n);
      const ids = claims.map((c) => c.distributionId).join(", ");
      await confirmFee(
        { yes: cmd.yes, json: cmd.json },
        preview,
        `Claim ${formatKos(sum)} in ${claims.length} transaction${claims.length === 1 ? "" : "s"} (${ids})`,
        { write: cmd.printError, ...cmd.confirm },
      );
      result = await callApi<ClaimsView>(cmd, "/api/v1/earnings/claims", { body, what });
    }
    output(cmd, result, () => [
      ...result.claimed.map((c) =>
        `Claimed ${formatKos(c.amount)} of distribution ${c.distributionId} (tx ${c.txHash})`
      ),
      ...result.alreadyClaimed.map((c) =>
        `Distribution ${c.distributionId} was already claimed (${formatKos(c.amount)}${
          c.txHash ? `, tx ${c.txHash}` : ""
        }); nothing sent`
      ),
      ...(result.claimed.length + result.alreadyClaimed.length === 0 ? ["Nothing to claim"] : []),
    ]);
  });
}

function toRow(e: EarningView): string[] {
  return [
    e.distributionId,
    e.source,
    e.source === "pool" ? `pool ${e.poolId}, listing ${e.listingId}` : `epoch ${e.epoch}`,
    formatKos(e.amount),
    e.status,
    e.claimTxHash ? `${e.claimTxHash.slice(0, 12)}…` : "—",
  ];
}

/** Rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}
