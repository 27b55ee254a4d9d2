/**
 * Faucet actions (dev networks only): read the KosmosFaucet's terms and an
 * address's next drip, and ask it for test tokens (and an ether top-up) for
 * any address.
 *
 * ```ts
 * const terms = await getFaucetTerms(client);
 * if ((await getNextDripAt(client, { to })) <= now) await dripFaucet(client, { to });
 * ```
 */
import { type Address, parseEventLogs } from "viem";
import { kosmosFaucetAbi, kosmosTokenAbi } from "../../../../protocol/contracts_generated.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { KosmosError } from "../../../errors.ts";

/** The network has no faucet: it is not a dev network, or its contracts were deployed without one. */
export class FaucetUnavailableError extends KosmosError {
  override name = "FaucetUnavailableError";
}

/** The address (or this caller, or every caller) had its share; `retryAfter` says when to ask again. */
export class FaucetLimitError extends KosmosError {
  override name = "FaucetLimitError";
  /** Seconds until a request may succeed (at least 1). */
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number) {
    super(message, { details: { retryAfter } });
    this.retryAfter = Math.max(1, Math.ceil(retryAfter));
  }
}

/** The faucet's address; {@link FaucetUnavailableError} when the contracts have none. */
export function getFaucetAddress(client: KosmosClient): Address {
  const address = client.contracts.faucet;
  if (!address) throw new FaucetUnavailableError("This network's contracts have no faucet");
  return address;
}

export interface FaucetTerms {
  /** Tokens per drip, in base units. */
  amount: bigint;
  /** Wei a recipient's ether is topped up to. */
  ethAmount: bigint;
  /** Seconds between two drips to one address. */
  cooldown: number;
  /** Drips per cooldown period, all addresses together. */
  maxDripsPerPeriod: number;
  /** Tokens the faucet holds, in base units. */
  tokens: bigint;
  /** Wei the faucet holds. */
  eth: bigint;
}

/** The faucet's terms and what it holds. */
export async function getFaucetTerms(client: KosmosClient): Promise<FaucetTerms> {
  const address = getFaucetAddress(client);
  const read = (functionName: "amount" | "ethAmount" | "cooldown" | "maxDripsPerPeriod") =>
    client.publicClient.readContract({ address, abi: kosmosFaucetAbi, functionName });
  const [amount, ethAmount, cooldown, maxDripsPerPeriod, tokens, eth] = await Promise.all([
    read("amount"),
    read("ethAmount"),
    read("cooldown"),
    read("maxDripsPerPeriod"),
    client.publicClient.readContract({
      address: client.contracts.token,
      abi: kosmosTokenAbi,
      functionName: "balanceOf",
      args: [address],
    }),
    client.publicClient.getBalance({ address }),
  ]);
  return {
    amount: amount as bigint,
    ethAmount: ethAmount as bigint,
    cooldown: Number(cooldown),
    maxDripsPerPeriod: Number(maxDripsPerPeriod),
    tokens,
    eth,
  };
}

/** Unix seconds from which `to` may have a drip (0 when it never had one). */
export async function getNextDripAt(client: KosmosClient, params: { to: Address }): Promise<number> {
  const at = await client.publicClient.readContract({
    address: getFaucetAddress(client),
    abi: kosmosFaucetAbi,
    functionName: "nextDripAt",
    args: [params.to],
  });
  return Number(at);
}

/** The `drip(to)` call, for a fee estimate or to send. */
export function getDripCall(client: KosmosClient, to: Address): ContractCall {
  return { address: getFaucetAddress(client), abi: kosmosFaucetAbi, functionName: "drip", args: [to] };
}

export interface DripFaucetParameters extends ActionOptions {
  to: Address;
}
export interface DripFaucetReturnType {
  /** Tokens sent, in base units. */
  tokens: bigint;
  /** Wei sent. */
  eth: bigint;
  hash: `0x${string}`;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
}

/** Asks the faucet for a drip to `to`; the wallet pays the gas. Reverts with the faucet's errors. */
export async function dripFaucet(
  client: KosmosClient,
  params: DripFaucetParameters,
): Promise<DripFaucetReturnType> {
  const receipt = await sendContractCall(client, getDripCall(client, params.to), {
    signal: params.signal,
    action: "get test tokens",
  });
  const [dripped] = parseEventLogs({ abi: kosmosFaucetAbi, logs: receipt.logs, eventName: "Dripped" });
  return {
    tokens: dripped?.args.tokens ?? 0n,
    eth: dripped?.args.eth ?? 0n,
    hash: receipt.transactionHash,
    gasUsed: receipt.gasUsed,
    effectiveGasPrice: receipt.effectiveGasPrice,
  };
}
