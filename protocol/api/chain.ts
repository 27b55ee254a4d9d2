/**
 * The HTTP API contract, the chain and the wallet: stakes, payouts, challenges.
 * Views are the JSON bodies the routes answer with; `ChainApi` is what the node implements.
 */

import * as v from "valibot";
import { manifestCid, registryListingId, strictBody, tokenAmount } from "./schema.ts";

/** `GET /api/v1/chain` */
export interface ChainInfo {
  chainId: number;
  rpcUrl: string;
  /** The chain's latest block number. */
  block: number;
  /** `null` on a chain without the Kosmos contracts. */
  contracts: {
    token: `0x${string}`;
    registry: `0x${string}`;
    escrow: `0x${string}`;
    consent: `0x${string}`;
    ownership: `0x${string}`;
    rewards: `0x${string}`;
    anchor: `0x${string}`;
    /** Pools (data unions): versions and their sale distributions. */
    pools: `0x${string}`;
    /** The mining schedule; publishes epoch distributions. */
    mining: `0x${string}`;
    /** The test-token faucet; dev networks only. */
    faucet?: `0x${string}`;
  } | null;
}

/** A registry listing owned by this node's wallet. Amounts in token base units, decimal strings. */
export interface StakeView {
  /** The registry's listing id (decimal). */
  listingId: string;
  manifestCid: string;
  kind: "dataset" | "stream";
  stake: string;
  /** Unix seconds from which the stake can be withdrawn; `null` when no withdrawal was requested. */
  withdrawableAt: number | null;
  challengeCount: number;
}

/** `GET /api/v1/wallet`. Amounts in base units (wei, token base units), decimal strings. */
export interface WalletView {
  address: `0x${string}`;
  chainId: number;
  /** Whether this node's wallet resolves the registry's challenges. */
  arbiter: boolean;
  /** False on a chain without the Kosmos contracts (token figures are then "0"). */
  contracts: boolean;
  balances: { eth: string; token: string };
  /** Earnings from completed sales, withdrawable now. */
  payouts: string;
  stakes: StakeView[];
}

/** A listing with open challenges, `GET /api/v1/challenges`. */
export interface ChallengeView {
  listingId: string;
  manifestCid: string;
  owner: `0x${string}`;
  stake: string;
  challengeCount: number;
  /** Sum of the open challenge stakes, in the token's smallest unit. */
  challenged: string;
  /** Challenged stake at which the arbiter may resolve at once, in the token's smallest unit. */
  threshold: string;
  /** Unix seconds from which the arbiter may resolve whatever the challenged stake. */
  reviewableAt: number;
  /** Whether the arbiter may resolve now (threshold reached or review period over). */
  resolvable: boolean;
  challenges: { challenger: `0x${string}`; amount: string }[];
}

/**
 * Answer of a chain write: what changed and the transaction, with what the
 * transactions it sent cost (`gasUsed` summed over them, e.g. an approval and
 * the challenge; the price per gas paid, in wei; decimal strings).
 */
export interface ChainWriteResult {
  txHash: `0x${string}`;
  gasUsed?: string;
  effectiveGasPrice?: string;
}

export interface ChainApi {
  /**
   * Chain and wallet. Failures: `ChainUnavailableError` (no contracts, RPC down),
   * `ContractRevertError` (its `revert` is the contract's custom error name),
   * `NotArbiterError`.
   */
  getChainInfo(options?: { signal?: AbortSignal }): Promise<ChainInfo>;
  /** Whether this node's wallet is the registry's arbiter (false without contracts). */
  isArbiter(options?: { signal?: AbortSignal }): Promise<boolean>;
  getWallet(options?: { signal?: AbortSignal }): Promise<WalletView>;
  /** Withdraws every payout the escrow holds for this node. */
  withdrawPayouts(options?: { signal?: AbortSignal }): Promise<ChainWriteResult & { amount: string }>;
  /** Lists `manifestCid` with `amount` tokens, or adds them to this node's listing of it. */
  stakeListing(
    params: { manifestCid: string; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<ChainWriteResult & { listingId: string; stake: string; created: boolean }>;
  /** Requests the withdrawal of a stake, or withdraws it once the delay is over. */
  withdrawStake(
    listingId: bigint,
    options?: { signal?: AbortSignal },
  ): Promise<
    ChainWriteResult & { status: "requested" | "withdrawn"; withdrawableAt?: number; amount?: string }
  >;
  challengeListing(
    params: { listingId: bigint; amount: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<ChainWriteResult & { listingId: string; challengeCount: number }>;
  /** Listings with open challenges. */
  listChallenges(options?: { signal?: AbortSignal }): Promise<ChallengeView[]>;
  /** Resolves a listing's challenges; arbiter only. `valid: false` removes the listing. */
  resolveChallenge(
    listingId: bigint,
    params: { valid: boolean },
    options?: { signal?: AbortSignal },
  ): Promise<
    ChainWriteResult & { valid: boolean; toChallengers: string; toOwner: string; toTreasury: string }
  >;
}

/** `POST /api/v1/stakes` */
export const StakeBody = strictBody(
  { manifestCid, amount: tokenAmount("amount") },
  { example: '{ "manifestCid": "bafyrei…", "amount": "100" }' },
);

/** `POST /api/v1/challenges` */
export const ChallengeBody = strictBody(
  { listingId: registryListingId, amount: tokenAmount("amount") },
  { example: '{ "listingId": "1", "amount": "10" }' },
);

/** `POST /api/v1/challenges/:listingId/resolve` */
export const ResolveBody = strictBody(
  { valid: v.boolean('"valid" must be true (the listing stays) or false (the listing is removed)') },
  { example: '{ "valid": true }' },
);

/** The registry's listing id in a path (`/stakes/:listingId/withdrawal`). */
export const RegistryListingId = registryListingId;
