/**
 * What every write action returns about its mined transaction, from the receipt.
 *
 * ```ts
 * const receipt = await sendContractCall(client, call, { action: "create the pool" });
 * return { poolId, ...sentTransaction(receipt) };
 * ```
 */
import type { Hex } from "viem";

/** What a mined transaction cost and where it is. */
export interface SentTransaction {
  txHash: Hex;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
  blockNumber: bigint;
}

/** The fields of a receipt a write action returns. */
export function sentTransaction(
  receipt: { transactionHash: Hex; gasUsed: bigint; effectiveGasPrice: bigint; blockNumber: bigint },
): SentTransaction {
  return {
    txHash: receipt.transactionHash,
    gasUsed: receipt.gasUsed,
    effectiveGasPrice: receipt.effectiveGasPrice,
    blockNumber: receipt.blockNumber,
  };
}
