/**
 * Fee previews of the writes in `stakes.ts` and of the payout withdrawal: each
 * checks what the write checks, builds the very transactions the write would
 * send (an approval first when the allowance falls short), estimates them on
 * the chain ({@link estimateCallFee}) and sends nothing. A listing's preview
 * signs an EIP-2612 permit off chain to estimate `listWithPermit` as sent; the
 * signature is dropped, and its nonce stays unused.
 *
 * ```ts
 * const { fee, created } = await previewStakeManifest({ chain, identity, blocks }, { manifestCid, amount });
 * ```
 */
import { CID } from "multiformats/cid";
import type { Address } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi, kosmosTokenAbi } from "../../../protocol/contracts_generated.ts";
import { getManifest } from "../blocks/mod.ts";
import { cidToBytes, getListing, getPayoutBalance, getRegistryConfig, signPermit } from "./actions/mod.ts";
import { type ContractCall, type KosmosClient, NotArbiterError } from "./client.ts";
import { estimateCallFee, type FeeEstimate } from "./fees.ts";
import type { ChainService } from "./mod.ts";
import { listOwnStakes, type StakesComponents } from "./stakes.ts";

/** The calls of a write that spends `amount` tokens through `spender`: an approval first when needed. */
async function withApproval(
  client: KosmosClient,
  spender: Address,
  amount: bigint,
  call: ContractCall,
): Promise<ContractCall[]> {
  const allowance = await client.publicClient.readContract({
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "allowance",
    args: [client.walletClient.account.address, spender],
  });
  if (allowance >= amount) return [call];
  return [{
    address: client.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "approve",
    args: [spender, amount],
  }, call];
}

/** What staking `amount` on `manifestCid` would do: list it, or add to this node's listing. */
export async function previewStakeManifest(
  c: StakesComponents,
  params: { manifestCid: string; amount: bigint },
  options: { signal?: AbortSignal } = {},
): Promise<{ fee: FeeEstimate; created: boolean; listingId?: bigint; stake: bigint }> {
  const { chain, blocks } = c;
  const { manifestCid, amount } = params;
  if (amount <= 0n) throw new RangeError(`Cannot stake ${amount} tokens: not positive`);
  const existing = (await listOwnStakes(c)).find((s) => s.manifestCid === manifestCid);
  options.signal?.throwIfAborted();
  const client = chain.client;
  const registry = { address: client.contracts.registry, abi: kosmosRegistryAbi } as const;
  if (existing) {
    const calls = await withApproval(client, registry.address, amount, {
      ...registry,
      functionName: "addStake",
      args: [existing.listingId, amount],
    });
    const fee = await estimateCallFee(client, calls, {
      action: `add stake to listing ${existing.listingId}`,
    });
    return { fee, created: false, listingId: existing.listingId, stake: existing.stake + amount };
  }
  const cid = CID.parse(manifestCid);
  if (!(await blocks.has(cid))) {
    throw new TypeError(
      `Cannot stake "${manifestCid}": this node does not hold its manifest (publish or fetch it first)`,
    );
  }
  const { dekCommit } = await getManifest(blocks, cid);
  const permit = await signPermit(client, { spender: registry.address, value: amount });
  const fee = await estimateCallFee(client, {
    ...registry,
    functionName: "listWithPermit",
    args: [0, cidToBytes(manifestCid), dekCommit, amount, permit.deadline, permit.v, permit.r, permit.s],
  }, { action: "list the dataset" });
  return { fee, created: true, stake: amount };
}

/** What withdrawing a stake would do now: request the withdrawal, or withdraw once the delay is over. */
export async function previewWithdrawOwnStake(
  chain: ChainService,
  listingId: bigint,
  options: { signal?: AbortSignal } = {},
): Promise<{ fee: FeeEstimate; status: "requested" | "withdrawn"; amount?: bigint }> {
  options.signal?.throwIfAborted();
  const client = chain.client;
  const listing = await getListing(client, { listingId });
  const withdraw = Boolean(listing?.withdrawableAt);
  const fee = await estimateCallFee(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: withdraw ? "withdraw" : "requestWithdrawal",
    args: [listingId],
  }, { action: `${withdraw ? "withdraw the stake" : "request the withdrawal"} of listing ${listingId}` });
  return withdraw ? { fee, status: "withdrawn", amount: listing!.stake } : { fee, status: "requested" };
}

/** What challenging `listingId` with `amount` tokens would cost (an approval first when needed). */
export async function previewChallenge(
  chain: ChainService,
  params: { listingId: bigint; amount: bigint },
  options: { signal?: AbortSignal } = {},
): Promise<{ fee: FeeEstimate }> {
  if (params.amount <= 0n) {
    throw new RangeError(`Cannot challenge with ${params.amount} tokens: not positive`);
  }
  options.signal?.throwIfAborted();
  const client = chain.client;
  const calls = await withApproval(client, client.contracts.registry, params.amount, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "challenge",
    args: [params.listingId, params.amount],
  });
  return { fee: await estimateCallFee(client, calls, { action: `challenge listing ${params.listingId}` }) };
}

/** What resolving a listing's challenges would cost; arbiter only (`NotArbiterError`). */
export async function previewResolve(
  chain: ChainService,
  listingId: bigint,
  params: { valid: boolean },
  options: { signal?: AbortSignal } = {},
): Promise<{ fee: FeeEstimate }> {
  if (!(await chain.isArbiter(options))) {
    const { arbiter } = await getRegistryConfig(chain.client);
    throw new NotArbiterError(
      `Only the arbiter (${arbiter}) resolves challenges; this node's wallet is ${chain.walletClient.account.address}`,
    );
  }
  const client = chain.client;
  const fee = await estimateCallFee(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "resolve",
    args: [listingId, !params.valid],
  }, { action: `resolve the challenges of listing ${listingId}` });
  return { fee };
}

/** What withdrawing this node's payouts would cost, and how much it would withdraw. */
export async function previewWithdrawPayouts(
  chain: ChainService,
  options: { signal?: AbortSignal } = {},
): Promise<{ fee: FeeEstimate; amount: bigint }> {
  options.signal?.throwIfAborted();
  const client = chain.client;
  // With nothing to withdraw, the estimate reverts with the escrow's own NothingToWithdraw.
  const amount = await getPayoutBalance(client);
  const fee = await estimateCallFee(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "withdraw",
    args: [],
  }, { action: "withdraw payouts" });
  return { fee, amount };
}
