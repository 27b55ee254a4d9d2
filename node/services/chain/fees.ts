/**
 * Transaction fees estimated on the chain: the gas calls use (simulated in
 * order with `eth_simulateV1`, or `eth_estimateGas` where the chain does not
 * simulate) and the EIP-1559 fees per gas (`estimateFeesPerGas`).
 * `sendContractCall` sends with these fees per gas and the gas limit
 * `eth_estimateGas` gives, re-estimated when the action is sent.
 *
 * ```ts
 * const estimate = await estimateCallFee(client, stakeCall);
 * console.log(`${estimate.gas} gas, at most ${formatEther(estimate.fee)} ETH`);
 * ```
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { TransactionReceipt } from "viem";
import { type ContractCall, ContractRevertError, type KosmosClient, toChainError } from "./client.ts";

/** An estimated fee. `fee = gas × maxFeePerGas`: the most it can cost, in wei. */
export interface FeeEstimate {
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  fee: bigint;
}

/** The EIP-1559 fees per gas the chain suggests now. */
export async function estimateFeesPerGas(
  client: KosmosClient,
  action = "estimate the fee",
): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
  try {
    const { maxFeePerGas, maxPriorityFeePerGas } = await client.publicClient.estimateFeesPerGas({
      type: "eip1559",
    });
    return { maxFeePerGas, maxPriorityFeePerGas };
  } catch (err) {
    throw toChainError(err, action);
  }
}

/** Gas for one call from the wallet's account (`eth_estimateGas`); a revert is a `ContractRevertError`. */
export async function estimateCallGas(
  client: KosmosClient,
  call: ContractCall,
  action = "estimate the gas",
): Promise<bigint> {
  try {
    return await client.publicClient.estimateContractGas({
      ...call,
      account: client.walletClient.account,
    } as never);
  } catch (err) {
    throw toChainError(err, action);
  }
}

/**
 * Estimates the fee of `call`, or of several calls sent one after the other
 * (a token approval, then the call that spends it), on the chain, from the
 * wallet's account. Gas is what the chain says the calls use: they are
 * simulated in order (`eth_simulateV1`), so an approval counts for the call
 * after it and a storage refund counts as it will on chain (`eth_estimateGas`
 * answers the gas limit a call needs before its refund: 13 % more than an
 * `openWithPermit` uses). On a chain that does not simulate, each call's
 * `eth_estimateGas`. Fees per gas are EIP-1559's (`estimateFeesPerGas`). A
 * call that would revert rejects with a `ContractRevertError` named after the
 * contract's error.
 */
export async function estimateCallFee(
  client: KosmosClient,
  call: ContractCall | ContractCall[],
  options: { action?: string } = {},
): Promise<FeeEstimate> {
  const calls = Array.isArray(call) ? call : [call];
  if (calls.length === 0) throw new RangeError("Cannot estimate the fee of no call");
  const action = options.action ?? "estimate the fee";
  const [gases, fees] = await Promise.all([
    simulateCallsGas(client, calls, action).catch((err) => {
      if (err instanceof ContractRevertError) throw err;
      // The chain does not simulate: estimate each call alone.
      return Promise.all(calls.map((c) => estimateCallGas(client, c, action)));
    }),
    estimateFeesPerGas(client, action),
  ]);
  return toFeeEstimate(gases.reduce((a, b) => a + b, 0n), fees);
}

/** Gas each call uses when the calls run in order from the wallet's account (`eth_simulateV1`). */
async function simulateCallsGas(
  client: KosmosClient,
  calls: ContractCall[],
  action: string,
): Promise<bigint[]> {
  let results: readonly { status: string; gasUsed: bigint; error?: unknown }[];
  try {
    ({ results } = await client.publicClient.simulateCalls({
      account: client.walletClient.account.address,
      calls: calls.map((c) => ({ to: c.address, abi: c.abi, functionName: c.functionName, args: c.args })),
    } as never) as { results: typeof results });
  } catch (err) {
    throw toChainError(err, action);
  }
  const failure = results.find((r) => r.status !== "success");
  if (failure) throw toChainError(failure.error, action);
  return results.map((r) => r.gasUsed);
}

/** A fee estimate from a gas figure and fees per gas. */
export function toFeeEstimate(
  gas: bigint,
  fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
): FeeEstimate {
  return { gas, ...fees, fee: gas * fees.maxFeePerGas };
}

/** Sums estimates of several steps of one action (fees per gas of the last). */
export function sumFeeEstimates(estimates: readonly FeeEstimate[]): FeeEstimate {
  if (estimates.length === 0) throw new RangeError("Cannot sum fee estimates: none given");
  const last = estimates[estimates.length - 1];
  const gas = estimates.reduce((a, e) => a + e.gas, 0n);
  return {
    gas,
    maxFeePerGas: last.maxFeePerGas,
    maxPriorityFeePerGas: last.maxPriorityFeePerGas,
    fee: estimates.reduce((a, e) => a + e.fee, 0n),
  };
}

/** What a mined transaction cost. */
export interface GasUsed {
  gasUsed: bigint;
  effectiveGasPrice: bigint;
}

/** The gas used and price paid of receipts (summed gas; the last receipt's price). */
export function toGasUsed(receipts: TransactionReceipt | readonly TransactionReceipt[]): GasUsed {
  const list = Array.isArray(receipts) ? receipts : [receipts as TransactionReceipt];
  if (list.length === 0) throw new RangeError("Cannot sum gas used: no receipt");
  return {
    gasUsed: list.reduce((a, r) => a + r.gasUsed, 0n),
    effectiveGasPrice: list[list.length - 1].effectiveGasPrice,
  };
}

const receiptSinks = new AsyncLocalStorage<TransactionReceipt[]>();

/**
 * Runs `fn` and gathers the receipts of every transaction `sendContractCall`
 * mined for it (an approval and the call that spends it, say), in order, so
 * an API can answer what an action cost without each action returning it.
 */
export async function collectReceipts<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; receipts: TransactionReceipt[] }> {
  const receipts: TransactionReceipt[] = [];
  const result = await receiptSinks.run(receipts, fn);
  return { result, receipts };
}

/** Hands a mined receipt to the {@link collectReceipts} call it runs under, if any. */
export function recordReceipt(receipt: TransactionReceipt): void {
  receiptSinks.getStore()?.push(receipt);
}
