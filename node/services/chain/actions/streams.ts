/**
 * Stream listing actions: list a stream manifest on the registry (`Kind.Stream`, no key commitment: each
 * sale commits to the epoch keys it sells in its quote) and hand a listing token over to another wallet
 * (an identity proxy's takeover). Each write has its `get…Call` builder for fee previews.
 *
 * ```ts
 * const { listingId } = await listStream(client, { streamId, stake: 100n * 10n ** 18n });
 * await transferListing(proxyClient, { listingId, to: ownerWallet });
 * ```
 */
import { type Address, getAddress, type Hex, isAddress, parseEventLogs } from "viem";
import { kosmosRegistryAbi } from "../../../../protocol/contracts_generated.ts";
import { toManifestCid } from "../../../../protocol/ids.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { cidToBytes } from "./registry.ts";
import { type SentTransaction, sentTransaction } from "./sent.ts";
import { signPermit } from "./token.ts";

const STREAM_KIND = 1;
const NO_KEY_COMMIT = `0x${"0".repeat(64)}` as Hex;

export interface ListStreamParameters extends ActionOptions {
  /** The stream id: CID string of the signed stream manifest. */
  streamId: string;
  /** Tokens to stake, at least the registry's minimum. */
  stake: bigint;
}
export interface ListStreamReturnType extends SentTransaction {
  listingId: bigint;
  /** The transaction hash (also `txHash`), like `listDataset`'s. */
  hash: Hex;
}

function checkStream(params: { streamId: string; stake: bigint }): Hex {
  if (params.stake <= 0n) {
    throw new RangeError(`Cannot list a stream with ${params.stake} tokens: not positive`);
  }
  try {
    return cidToBytes(toManifestCid(params.streamId));
  } catch (cause) {
    throw new TypeError(`Cannot list stream "${String(params.streamId).slice(0, 80)}": not a stream id`, {
      cause,
    });
  }
}

/**
 * The `listWithPermit(Stream, cid, 0, stake, …)` call, with a permit signed off chain (its nonce stays
 * unused unless the call is sent): for a fee estimate or to send.
 */
export async function getListStreamCall(
  client: KosmosClient,
  params: Omit<ListStreamParameters, "signal">,
): Promise<ContractCall> {
  const cid = checkStream(params);
  const permit = await signPermit(client, { spender: client.contracts.registry, value: params.stake });
  return {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "listWithPermit",
    args: [STREAM_KIND, cid, NO_KEY_COMMIT, params.stake, permit.deadline, permit.v, permit.r, permit.s],
  };
}

/** Lists the stream manifest `streamId` with `stake` tokens from the wallet, in one transaction. */
export async function listStream(
  client: KosmosClient,
  params: ListStreamParameters,
): Promise<ListStreamReturnType> {
  const call = await getListStreamCall(client, params);
  const receipt = await sendContractCall(client, call, { signal: params.signal, action: "list the stream" });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "Listed", logs: receipt.logs });
  return { listingId: event.args.listingId, hash: receipt.transactionHash, ...sentTransaction(receipt) };
}

export interface TransferListingParameters extends ActionOptions {
  listingId: bigint;
  /** The new owner of the listing token. */
  to: Address;
}

/** The ERC-721 `transferFrom(wallet, to, listingId)` call of the registry. */
export function getTransferListingCall(
  client: KosmosClient,
  params: Omit<TransferListingParameters, "signal">,
): ContractCall {
  if (!isAddress(params.to, { strict: false })) {
    throw new TypeError(
      `Cannot hand listing ${params.listingId} over: "${String(params.to).slice(0, 60)}" is not an address`,
    );
  }
  return {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "transferFrom",
    args: [client.walletClient.account.address, getAddress(params.to), params.listingId],
  };
}

/**
 * Hands the wallet's listing token over to `to` (its stake, sales and delegates go with the token; the
 * escrow's delegates are per owner, so the new owner approves its own).
 */
export async function transferListing(
  client: KosmosClient,
  params: TransferListingParameters,
): Promise<SentTransaction> {
  const receipt = await sendContractCall(client, getTransferListingCall(client, params), {
    signal: params.signal,
    action: `hand listing ${params.listingId} over to ${params.to}`,
  });
  return sentTransaction(receipt);
}
