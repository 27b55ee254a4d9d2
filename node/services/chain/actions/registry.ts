/**
 * Registry actions: list a manifest with a stake, add stake, withdraw it after
 * the delay, challenge a listing, resolve challenges (arbiter), and reads.
 * Listing ids here are the registry's ERC-721 token ids.
 *
 * ```ts
 * const { listingId } = await listDataset(client, { manifestCid, dekCommit: manifest.dekCommit, stake: 100n * 10n ** 18n });
 * await challengeListing(otherClient, { listingId, amount: 10n * 10n ** 18n });
 * ```
 */
import { type Address, type Hex, isHex, parseEventLogs, size } from "viem";
import { CID } from "multiformats/cid";
import { kosmosRegistryAbi } from "../../../../protocol/contracts_generated.ts";
import {
  type ActionOptions,
  type ContractCall,
  ContractRevertError,
  type KosmosClient,
  sendContractCall,
  toChainError,
} from "../client.ts";
import { ensureAllowance, signPermit } from "./token.ts";

/** What a listing sells, as the registry's `Kind` enum. */
export type ListingKind = "dataset" | "stream";
const kindIndex: Record<ListingKind, number> = { dataset: 0, stream: 1 };

/** Binary form of a CID string, as the registry stores it. */
export function cidToBytes(cid: string): Hex {
  let parsed: CID;
  try {
    parsed = CID.parse(cid);
  } catch (cause) {
    throw new TypeError(`Invalid manifest CID "${cid.slice(0, 80)}": not a CID`, { cause });
  }
  return `0x${Array.from(parsed.bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The CID string of the registry's binary CID. */
export function bytesToCid(bytes: Hex): string {
  if (bytes === "0x") return "";
  const raw = new Uint8Array((bytes.length - 2) / 2);
  for (let i = 0; i < raw.length; i++) raw[i] = parseInt(bytes.slice(2 + 2 * i, 4 + 2 * i), 16);
  try {
    return CID.decode(raw).toString();
  } catch {
    return bytes;
  }
}

function positive(what: string, amount: bigint): void {
  if (amount <= 0n) throw new RangeError(`Cannot ${what} ${amount} tokens: not positive`);
}

export interface ListDatasetParameters extends ActionOptions {
  /** CID string of the signed manifest. */
  manifestCid: string;
  /** The manifest's `dekCommit` (`keccak256(DEK)`); every sale of the listing must deliver that key. */
  dekCommit: Hex;
  /** Tokens to stake, at least the registry's minimum. */
  stake: bigint;
  /** @default "dataset" */
  kind?: ListingKind;
}
export interface ListDatasetReturnType {
  listingId: bigint;
  hash: Hex;
}

/**
 * Lists `manifestCid` bound to its key commitment `dekCommit` with `stake` tokens, in one transaction
 * with an EIP-2612 permit.
 */
export async function listDataset(
  client: KosmosClient,
  params: ListDatasetParameters,
): Promise<ListDatasetReturnType> {
  positive("stake", params.stake);
  const cid = cidToBytes(params.manifestCid);
  if (
    !isHex(params.dekCommit, { strict: true }) || size(params.dekCommit) !== 32 ||
    BigInt(params.dekCommit) === 0n
  ) {
    throw new TypeError(
      `Cannot list "${params.manifestCid}": dekCommit must be a non-zero 32-byte hex value`,
    );
  }
  const permit = await signPermit(client, { spender: client.contracts.registry, value: params.stake });
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "listWithPermit",
    args: [
      kindIndex[params.kind ?? "dataset"],
      cid,
      params.dekCommit,
      params.stake,
      permit.deadline,
      permit.v,
      permit.r,
      permit.s,
    ],
  }, { signal: params.signal, action: "list the dataset" });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "Listed", logs: receipt.logs });
  return { listingId: event.args.listingId, hash: receipt.transactionHash };
}

export interface AddStakeParameters extends ActionOptions {
  listingId: bigint;
  amount: bigint;
}
export interface AddStakeReturnType {
  /** The listing's stake afterwards. */
  stake: bigint;
  hash: Hex;
}

/** Adds `amount` tokens to the stake of the wallet's listing (approving the registry first if needed). */
export async function addStake(
  client: KosmosClient,
  params: AddStakeParameters,
): Promise<AddStakeReturnType> {
  positive("stake", params.amount);
  await checkBeforeApproval(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "addStake",
    args: [params.listingId, params.amount],
  }, `add stake to listing ${params.listingId}`);
  await ensureAllowance(client, {
    spender: client.contracts.registry,
    amount: params.amount,
    signal: params.signal,
  });
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "addStake",
    args: [params.listingId, params.amount],
  }, { signal: params.signal, action: `add stake to listing ${params.listingId}` });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "StakeAdded", logs: receipt.logs });
  return { stake: event.args.stake, hash: receipt.transactionHash };
}

export interface RequestWithdrawalParameters extends ActionOptions {
  listingId: bigint;
}
export interface RequestWithdrawalReturnType {
  /** Unix seconds from which {@link withdrawStake} succeeds. */
  withdrawableAt: number;
  hash: Hex;
}

/** Starts the withdrawal delay of the wallet's listing. */
export async function requestWithdrawal(
  client: KosmosClient,
  params: RequestWithdrawalParameters,
): Promise<RequestWithdrawalReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "requestWithdrawal",
    args: [params.listingId],
  }, { signal: params.signal, action: `request the withdrawal of listing ${params.listingId}` });
  const [event] = parseEventLogs({
    abi: kosmosRegistryAbi,
    eventName: "WithdrawalRequested",
    logs: receipt.logs,
  });
  return { withdrawableAt: Number(event.args.withdrawableAt), hash: receipt.transactionHash };
}

export interface WithdrawStakeParameters extends ActionOptions {
  listingId: bigint;
}
export interface WithdrawStakeReturnType {
  amount: bigint;
  hash: Hex;
}

/** After the delay and with no open challenge, returns the whole stake and burns the listing. */
export async function withdrawStake(
  client: KosmosClient,
  params: WithdrawStakeParameters,
): Promise<WithdrawStakeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "withdraw",
    args: [params.listingId],
  }, { signal: params.signal, action: `withdraw the stake of listing ${params.listingId}` });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "Withdrawn", logs: receipt.logs });
  return { amount: event.args.amount, hash: receipt.transactionHash };
}

export interface ChallengeListingParameters extends ActionOptions {
  listingId: bigint;
  amount: bigint;
}
export interface ChallengeListingReturnType {
  /** Open challenges of the listing afterwards. */
  count: number;
  hash: Hex;
}

/** Challenges someone else's listing with `amount` tokens (approving the registry first if needed). */
export async function challengeListing(
  client: KosmosClient,
  params: ChallengeListingParameters,
): Promise<ChallengeListingReturnType> {
  positive("challenge with", params.amount);
  await checkBeforeApproval(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "challenge",
    args: [params.listingId, params.amount],
  }, `challenge listing ${params.listingId}`);
  await ensureAllowance(client, {
    spender: client.contracts.registry,
    amount: params.amount,
    signal: params.signal,
  });
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "challenge",
    args: [params.listingId, params.amount],
  }, { signal: params.signal, action: `challenge listing ${params.listingId}` });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "Challenged", logs: receipt.logs });
  return { count: Number(event.args.count), hash: receipt.transactionHash };
}

export interface ResolveChallengeParameters extends ActionOptions {
  listingId: bigint;
  /** True when the listing is found bad (its stake goes to the challengers and treasury). */
  bad: boolean;
}
export interface ResolveChallengeReturnType {
  bad: boolean;
  toChallengers: bigint;
  toOwner: bigint;
  toTreasury: bigint;
  hash: Hex;
}

/** Resolves the open challenges of a listing (the arbiter's wallet only). */
export async function resolveChallenge(
  client: KosmosClient,
  params: ResolveChallengeParameters,
): Promise<ResolveChallengeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "resolve",
    args: [params.listingId, params.bad],
  }, { signal: params.signal, action: `resolve the challenges of listing ${params.listingId}` });
  const [event] = parseEventLogs({ abi: kosmosRegistryAbi, eventName: "Resolved", logs: receipt.logs });
  const { bad, toChallengers, toOwner, toTreasury } = event.args;
  return { bad, toChallengers, toOwner, toTreasury, hash: receipt.transactionHash };
}

export interface GetListingParameters {
  listingId: bigint;
}
export interface ListingState {
  listingId: bigint;
  owner: Address;
  kind: ListingKind;
  manifestCid: string;
  /** The key commitment the listing was staked with; quotes must carry it. */
  dekCommit: Hex;
  stake: bigint;
  /** Unix seconds; 0 when no withdrawal is pending (never requested, or cancelled by a challenge). */
  withdrawableAt: number;
  challengeCount: number;
  /** Sum of the open challenge stakes. */
  challenged: bigint;
  /** Unix seconds of the oldest open challenge; 0 when none is open. */
  challengedAt: number;
}
/** `undefined` when the listing never existed or was burned. */
export type GetListingReturnType = ListingState | undefined;

/** The current state of a listing. */
export async function getListing(
  client: KosmosClient,
  params: GetListingParameters,
): Promise<GetListingReturnType> {
  const registry = { address: client.contracts.registry, abi: kosmosRegistryAbi } as const;
  const listing = await client.publicClient.readContract({
    ...registry,
    functionName: "getListing",
    args: [params.listingId],
  });
  if (listing.cid === "0x") return undefined;
  const owner = await client.publicClient.readContract({
    ...registry,
    functionName: "ownerOf",
    args: [params.listingId],
  });
  return {
    listingId: params.listingId,
    owner,
    kind: listing.kind === 1 ? "stream" : "dataset",
    manifestCid: bytesToCid(listing.cid),
    dekCommit: listing.dekCommit,
    stake: listing.stake,
    withdrawableAt: Number(listing.withdrawableAt),
    challengeCount: Number(listing.challengeCount),
    challenged: listing.challenged,
    challengedAt: Number(listing.challengedAt),
  };
}

export interface GetListingStakeParameters {
  listingId: bigint;
}
export type GetListingStakeReturnType = bigint;

/** Tokens staked on a listing (0 once withdrawn or removed). */
export async function getListingStake(
  client: KosmosClient,
  params: GetListingStakeParameters,
): Promise<GetListingStakeReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "stakeOf",
    args: [params.listingId],
  });
}

export interface GetChallengesParameters {
  listingId: bigint;
}
export type GetChallengesReturnType = { challenger: Address; amount: bigint }[];

/** The open challenges of a listing. */
export async function getChallenges(
  client: KosmosClient,
  params: GetChallengesParameters,
): Promise<GetChallengesReturnType> {
  const challenges = await client.publicClient.readContract({
    address: client.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "challengesOf",
    args: [params.listingId],
  });
  return challenges.map((c) => ({ challenger: c.challenger, amount: c.amount }));
}

export interface RegistryConfig {
  arbiter: Address;
  treasury: Address;
  minStake: bigint;
  minChallengeStake: bigint;
  /** Sum of open challenge stakes (tokens) at which the arbiter may resolve at once. */
  challengeThreshold: bigint;
  /** Most challenges open at a time on one listing. */
  maxChallenges: number;
  /** Seconds after the oldest open challenge from which the arbiter may resolve whatever the amount. */
  reviewPeriod: number;
  /** Seconds between a withdrawal request and the withdrawal. */
  withdrawDelay: number;
  /** Seconds after the delay during which a withdrawal request can be executed. */
  withdrawWindow: number;
}
export type GetRegistryConfigReturnType = RegistryConfig;

/** The registry's fixed parameters. */
export async function getRegistryConfig(client: KosmosClient): Promise<GetRegistryConfigReturnType> {
  const registry = { address: client.contracts.registry, abi: kosmosRegistryAbi } as const;
  const read = client.publicClient;
  const [arbiter, treasury, minStake, minChallengeStake, threshold, max, review, delay, window] =
    await Promise
      .all([
        read.readContract({ ...registry, functionName: "arbiter" }),
        read.readContract({ ...registry, functionName: "treasury" }),
        read.readContract({ ...registry, functionName: "minStake" }),
        read.readContract({ ...registry, functionName: "minChallengeStake" }),
        read.readContract({ ...registry, functionName: "challengeThreshold" }),
        read.readContract({ ...registry, functionName: "maxChallenges" }),
        read.readContract({ ...registry, functionName: "reviewPeriod" }),
        read.readContract({ ...registry, functionName: "withdrawDelay" }),
        read.readContract({ ...registry, functionName: "withdrawWindow" }),
      ]);
  return {
    arbiter,
    treasury,
    minStake,
    minChallengeStake,
    challengeThreshold: threshold,
    maxChallenges: Number(max),
    reviewPeriod: Number(review),
    withdrawDelay: Number(delay),
    withdrawWindow: Number(window),
  };
}

/**
 * Simulates `call` before the registry is approved to take tokens for it:
 * a call the contract refuses for any reason but the missing allowance (no
 * such listing, own listing, stake too low, …) throws that revert here, so a
 * refused request leaves no approval (and spends no gas) behind.
 */
async function checkBeforeApproval(client: KosmosClient, call: ContractCall, action: string): Promise<void> {
  try {
    await client.publicClient.simulateContract({ ...call, account: client.walletClient.account } as never);
  } catch (err) {
    const error = toChainError(err, action);
    if (error instanceof ContractRevertError && error.revert === "ERC20InsufficientAllowance") return;
    throw error;
  }
}
