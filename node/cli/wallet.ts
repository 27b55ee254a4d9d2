/**
 * `kosmos wallet` — this node's balances, payouts and stakes
 * (`GET /api/v1/wallet`); `kosmos withdraw` — withdraws the payouts of
 * completed sales to the wallet (`POST /api/v1/wallet/withdraw`), after the
 * fee preview and confirmation.
 */
import type { WalletView } from "../../protocol/api/mod.ts";
import {
  callApi,
  callSigned,
  type CommandIo,
  COMMON_FLAGS_USAGE,
  formatEth,
  formatKos,
  formatTime,
  output,
  runCommand,
  YES_USAGE,
} from "./command.ts";

export const WALLET_USAGE = `Usage: kosmos wallet [--json]

Shows this node's wallet: its address and chain, ETH and KOS balances, the
payouts of completed sales it can withdraw, and its registry stakes.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const WITHDRAW_USAGE = `Usage: kosmos withdraw [--yes] [--json]

Withdraws the payouts of completed sales from the escrow to this node's wallet.

Flags:
${YES_USAGE}
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos wallet`. */
export function runWallet(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "wallet", usage: WALLET_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const wallet = await callApi<WalletView>(cmd, "/api/v1/wallet", { what: "read the wallet" });
    output(cmd, wallet, () => [
      `Wallet ${wallet.address} on chain ${wallet.chainId}${
        wallet.arbiter ? " (the registry's arbiter)" : ""
      }`,
      ...(wallet.contracts ? [] : ["This chain has no Kosmos contracts."]),
      `Balance  ${formatEth(wallet.balances.eth)}, ${formatKos(wallet.balances.token)}`,
      `Payouts  ${formatKos(wallet.payouts)} to withdraw${
        BigInt(wallet.payouts) > 0n ? " (kosmos withdraw)" : ""
      }`,
      ...(wallet.stakes.length === 0 ? ["Stakes   none"] : [
        "Stakes",
        ...wallet.stakes.map((s) =>
          `  listing ${s.listingId}  ${s.manifestCid}  ${formatKos(s.stake)}  ${s.challengeCount} challenge${
            s.challengeCount === 1 ? "" : "s"
          }${s.withdrawableAt === null ? "" : `  withdrawable from ${formatTime(s.withdrawableAt)}`}`
        ),
      ]),
    ]);
  });
}

/** Runs `kosmos withdraw`. */
export function runWithdraw(args: string[], io: CommandIo = {}): Promise<number> {
  const spec = { name: "withdraw", usage: WITHDRAW_USAGE, operands: [0, 0] as const, signs: true };
  return runCommand(spec, args, io, async (cmd) => {
    const wallet = await callApi<WalletView>(cmd, "/api/v1/wallet", { what: "read the wallet" });
    const result = await callSigned<{ amount: string; txHash: string }>(cmd, "/api/v1/wallet/withdraw", {
      method: "POST",
      what: "the withdrawal of payouts",
      describe: `Withdraw ${formatKos(wallet.payouts)} of payouts to ${wallet.address}`,
    });
    output(
      cmd,
      result,
      () => [`Withdrew ${formatKos(result.amount)} to ${wallet.address} (tx ${result.txHash})`],
    );
  });
}
