/**
 * The client every chain action takes: the node's public and wallet clients
 * plus the addresses of the Kosmos contracts on that chain, and the helpers the
 * actions share (simulate, write, wait for the receipt with a timeout, turn a
 * revert into a {@link ContractRevertError} named after the custom error).
 *
 * ```ts
 * const client: KosmosClient = { publicClient, walletClient, contracts };
 * const { listingId } = await listDataset(client, { manifestCid, stake: 100n * 10n ** 18n });
 * ```
 */
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";
import {
  kosmosAnchorAbi,
  kosmosConsentAbi,
  kosmosEscrowAbi,
  kosmosMiningAbi,
  kosmosOwnershipAbi,
  kosmosPoolsAbi,
  kosmosRegistryAbi,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../../../protocol/contracts_generated.ts";
import type { ContractAddresses } from "./deploy.ts";
import { KosmosError } from "../../errors.ts";
import { estimateCallGas, estimateFeesPerGas, recordReceipt } from "./fees.ts";

export type { ContractAddresses };

/** A public client on a known chain. */
export type ChainPublicClient = PublicClient<Transport, Chain>;
/** A wallet client with a local account on a known chain. */
export type ChainWalletClient = WalletClient<Transport, Chain, Account>;

/** What every Kosmos chain action runs over. */
export interface KosmosClient {
  publicClient: ChainPublicClient;
  walletClient: ChainWalletClient;
  contracts: ContractAddresses;
  /** Milliseconds to wait for a transaction receipt. @default 60,000 */
  timeout?: number;
}

/** Options every action that sends a transaction accepts. */
export interface ActionOptions {
  /** Stops waiting (a sent transaction is not recalled). */
  signal?: AbortSignal;
}

/** A transaction reverted (in simulation or on chain); `revert` is the contract's custom error name. */
export class ContractRevertError extends KosmosError {
  override name = "ContractRevertError";
  /** The custom error's name, such as `"StakeTooLow"`; `"Revert"` when the chain gave none. */
  readonly revert: string;
  /** The custom error's arguments, by position. */
  readonly args: readonly unknown[];
  constructor(action: string, revert: string, args: readonly unknown[], options: { cause?: unknown } = {}) {
    super(`Cannot ${action}: ${revert}${args.length ? `(${args.map(String).join(", ")})` : ""}`, {
      details: { revert, args: args.map(String) },
      cause: options.cause,
    });
    this.revert = revert;
    this.args = args;
  }
}

/** The chain could not be reached or did not answer in time. */
export class ChainUnavailableError extends KosmosError {
  override name = "ChainUnavailableError";
}

/** Every custom error our contracts (and the OpenZeppelin code in them) can return. */
export const kosmosErrorsAbi: Abi = (() => {
  const seen = new Set<string>();
  const errors = [];
  for (
    const item of [
      ...kosmosTokenAbi,
      ...kosmosRegistryAbi,
      ...kosmosEscrowAbi,
      ...kosmosConsentAbi,
      ...kosmosOwnershipAbi,
      ...kosmosRewardsAbi,
      ...kosmosAnchorAbi,
      ...kosmosPoolsAbi,
      ...kosmosMiningAbi,
    ]
  ) {
    if (item.type !== "error") continue;
    const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push(item);
  }
  return errors as Abi;
})();

/** A contract call as the actions describe it (typed by each action, loosely here). */
export interface ContractCall {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

/**
 * Simulates `call` from the wallet's account, sends it with the gas limit
 * and EIP-1559 fees per gas estimated on the chain (`fees.ts`), and waits for the receipt (its `gasUsed` and
 * `effectiveGasPrice` are what the transaction cost). Reverts become {@link ContractRevertError}; a receipt that does not
 * arrive within the client's timeout, or `signal`, rejects.
 */
export async function sendContractCall(
  client: KosmosClient,
  call: ContractCall,
  options: ActionOptions & { action: string },
): Promise<TransactionReceipt> {
  options.signal?.throwIfAborted();
  const account = client.walletClient.account;
  let request: unknown;
  try {
    const simulated = await client.publicClient.simulateContract({ ...call, account } as never) as {
      request: unknown;
    };
    request = simulated.request;
  } catch (err) {
    throw toChainError(err, options.action);
  }
  options.signal?.throwIfAborted();
  // Sent with the fees per gas estimated on the chain now (EIP-1559) and eth_estimateGas as the gas limit:
  // the figures a preview of the same call shows (it counts the gas used after refunds).
  const [gas, { maxFeePerGas, maxPriorityFeePerGas }] = await Promise.all([
    estimateCallGas(client, call, options.action),
    estimateFeesPerGas(client, options.action),
  ]);
  options.signal?.throwIfAborted();
  let hash: Hex;
  try {
    hash = await client.walletClient.writeContract(
      { ...(request as object), gas, maxFeePerGas, maxPriorityFeePerGas } as never,
    );
  } catch (err) {
    throw toChainError(err, options.action);
  }
  const receipt = await waitForReceipt(client, hash, options);
  if (receipt.status !== "success") {
    throw new ContractRevertError(options.action, "Revert", [], { cause: hash });
  }
  recordReceipt(receipt);
  return receipt;
}

/** Waits for the receipt of `hash` for at most the client's timeout, or until `signal` aborts. */
export async function waitForReceipt(
  client: KosmosClient,
  hash: Hex,
  options: ActionOptions & { action: string },
): Promise<TransactionReceipt> {
  const { signal } = options;
  signal?.throwIfAborted();
  const timeout = client.timeout ?? 60_000;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      client.publicClient.waitForTransactionReceipt({ hash, timeout }),
      aborted,
    ]);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ChainUnavailableError(
      `Cannot ${options.action}: no receipt for ${hash} within ${timeout} ms (${shortReason(err)})`,
      { cause: err },
    );
  } finally {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/** Turns a viem error into a {@link ContractRevertError} (with the custom error's name) or a {@link ChainUnavailableError}. */
export function toChainError(err: unknown, action: string): Error {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as
      | ContractFunctionRevertedError
      | null;
    if (reverted) {
      if (reverted.data?.errorName) {
        return new ContractRevertError(action, reverted.data.errorName, reverted.data.args ?? [], {
          cause: err,
        });
      }
      if (reverted.raw && reverted.raw.length >= 10) {
        try {
          const decoded = decodeErrorResult({ abi: kosmosErrorsAbi, data: reverted.raw });
          return new ContractRevertError(action, decoded.errorName, decoded.args ?? [], { cause: err });
        } catch { /* not one of ours */ }
      }
      return new ContractRevertError(action, reverted.reason ?? "Revert", [], { cause: err });
    }
    return new ChainUnavailableError(`Cannot ${action}: ${shortReason(err)}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

export function shortReason(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(err)).split("\n")[0];
}

/** Only the registry's arbiter may do this, and this node's wallet is not it. */
export class NotArbiterError extends KosmosError {
  override name = "NotArbiterError";
}
