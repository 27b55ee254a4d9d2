/**
 * The seller's view of its sale delegates: which wallets the escrow lets sell
 * this node's listings (read from the escrow's `DelegateSet` events, each
 * checked against `isDelegate` now, since a transfer of the listing drops an
 * approval), and removing one (`setDelegate(listingId, delegate, false)`),
 * or estimating its fee without signing.
 *
 * ```ts
 * const delegates = await listSaleDelegates(chain, { owner, listingIds: [1n] });
 * const fee = await previewRemoveSaleDelegate(chain, { listingId: 1n, delegate });
 * await removeSaleDelegate(chain, { listingId: 1n, delegate });
 * ```
 */
import { type Address, getAddress } from "viem";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import { NotFoundError } from "../../errors.ts";
import {
  type ChainService,
  type ContractCall,
  estimateCallFee,
  type FeeEstimate,
  isSaleDelegate,
  setSaleDelegate,
  writeFromWallet,
} from "../chain/mod.ts";

/** A wallet the escrow lets sell one of this node's registry listings. */
export interface SaleDelegate {
  listingId: bigint;
  delegate: Address;
}

/**
 * The delegates approved now on `listingIds` (listings `owner` owns), oldest
 * approval first. Reads the escrow's `DelegateSet` events of `owner`, then
 * asks the escrow whether each approval still holds.
 */
export async function listSaleDelegates(
  chain: ChainService,
  params: { owner: Address; listingIds: readonly bigint[] },
): Promise<SaleDelegate[]> {
  if (!chain.contracts || params.listingIds.length === 0) return [];
  const client = chain.client;
  const logs = await client.publicClient.getContractEvents({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    eventName: "DelegateSet",
    args: { owner: params.owner },
    fromBlock: 0n,
    strict: true,
  });
  const wanted = new Set(params.listingIds);
  const seen = new Map<string, SaleDelegate>();
  for (const log of logs) {
    const { listingId, delegate } = log.args as { listingId: bigint; delegate: Address };
    if (!wanted.has(listingId)) continue;
    seen.set(`${listingId}:${delegate.toLowerCase()}`, { listingId, delegate: getAddress(delegate) });
  }
  const candidates = [...seen.values()];
  const approved = await Promise.all(
    candidates.map((d) => isSaleDelegate(client, { listingId: d.listingId, delegate: d.delegate })),
  );
  return candidates.filter((_, i) => approved[i]);
}

export interface RemoveSaleDelegateParameters {
  listingId: bigint;
  delegate: Address;
  signal?: AbortSignal;
}

/**
 * Withdraws `delegate`'s approval to sell listing `listingId` on the escrow.
 * Throws `NotFoundError` when it is not a delegate of that listing now.
 */
export async function removeSaleDelegate(
  chain: ChainService,
  params: RemoveSaleDelegateParameters,
): Promise<{ hash: `0x${string}` }> {
  await checkDelegate(chain, params);
  const { listingId, delegate, signal } = params;
  return await writeFromWallet(
    chain,
    () => setSaleDelegate(chain.client, { listingId, delegate, approved: false, signal }),
    signal,
  );
}

/** The estimated fee of {@link removeSaleDelegate}; sends nothing. Throws like it. */
export async function previewRemoveSaleDelegate(
  chain: ChainService,
  params: RemoveSaleDelegateParameters,
): Promise<FeeEstimate> {
  await checkDelegate(chain, params);
  const call: ContractCall = {
    address: chain.client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "setDelegate",
    args: [params.listingId, params.delegate, false],
  };
  return await estimateCallFee(chain.client, call, { action: "remove a sale delegate" });
}

async function checkDelegate(chain: ChainService, { listingId, delegate }: RemoveSaleDelegateParameters) {
  if (!(await isSaleDelegate(chain.client, { listingId, delegate }))) {
    throw new NotFoundError(`${delegate} is not a sale delegate of listing ${listingId}`, {
      details: { listingId: listingId.toString(), delegate },
    });
  }
}
