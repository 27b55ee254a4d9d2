/**
 * Deploys the Kosmos contracts (token, registry, escrow, consent, ownership, rewards, anchor, pools,
 * mining, and on dev networks the faucet) to any EVM chain with a viem wallet client, waiting for each
 * receipt with an explicit timeout. The token mints the mining contract's allocation to the address the
 * mining contract will be deployed at (the deployer's nonce after the others).
 *
 * ```ts
 * const addresses = await deployContracts(walletClient, publicClient, {
 *   arbiter: me, treasury: me, rewardsReserve: me,
 *   faucetContract: {}, // dev networks: the treasury's allocation goes to a KosmosFaucet
 *   mining: { epochLength: 60 }, // dev networks: one-minute epochs
 * });
 * console.log(addresses.escrow, addresses.faucet);
 * ```
 */
import {
  type Account,
  type Address,
  type Chain,
  getAddress,
  getContractAddress,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import {
  kosmosAnchorAbi,
  kosmosAnchorBytecode,
  kosmosConsentAbi,
  kosmosConsentBytecode,
  kosmosEscrowAbi,
  kosmosEscrowBytecode,
  kosmosFaucetAbi,
  kosmosFaucetBytecode,
  kosmosMiningAbi,
  kosmosMiningBytecode,
  kosmosOwnershipAbi,
  kosmosOwnershipBytecode,
  kosmosPoolsAbi,
  kosmosPoolsBytecode,
  kosmosRegistryAbi,
  kosmosRegistryBytecode,
  kosmosRewardsAbi,
  kosmosRewardsBytecode,
  kosmosTokenAbi,
  kosmosTokenBytecode,
} from "../../../protocol/contracts_generated.ts";

const token = 10n ** 18n;
const day = 24 * 60 * 60;

/** Addresses of the deployed contracts. */
export interface ContractAddresses {
  token: Address;
  registry: Address;
  escrow: Address;
  consent: Address;
  /** Publication ownership records, checked against `consent`. */
  ownership: Address;
  rewards: Address;
  anchor: Address;
  /** Pools (data unions): versions and sale distributions, on `rewards`. */
  pools: Address;
  /** The mining schedule, holding its allocation of the supply; publishes epochs on `rewards`. */
  mining: Address;
  /** The test-token faucet; dev networks only. */
  faucet?: Address;
}

/** The faucet a dev network deploys ({@link DeployContractsOptions.faucetContract}). */
export interface FaucetContractOptions {
  /** Tokens it holds. @default the treasury's allocation (the treasury then gets none) */
  supply?: bigint;
  /** Tokens per drip. @default 10,000 tokens */
  amount?: bigint;
  /** Wei a recipient's ether is topped up to, from the faucet's own ether. @default 1 ether */
  ethAmount?: bigint;
  /** Seconds between two drips to one address. @default 1 hour */
  cooldown?: number;
  /** Drips per cooldown period, all addresses together. @default 100 */
  maxDripsPerPeriod?: number;
}

/** The mining contract's schedule ({@link DeployContractsOptions.mining}). */
export interface MiningScheduleOptions {
  /** Who publishes the epochs. @default the arbiter */
  distributor?: Address;
  /** Unix time (s) epoch 0 starts at. @default the deployment block's time */
  start?: number;
  /** Seconds per epoch. @default 1 day */
  epochLength?: number;
  /** Epochs between two halvings of the reward. @default 365 */
  halvingEpochs?: number;
  /**
   * Tokens each epoch pays before the first halving. The schedule's sum,
   * `halvingEpochs * Σ_k (initialReward >> k)`, must fit the allocation.
   * @default the allocation / (2 × halvingEpochs), rounded down (the sum then fits)
   */
  initialReward?: bigint;
}

export interface DeployContractsOptions {
  /** Resolves registry challenges. */
  arbiter: Address;
  /** Receives protocol shares and its token allocation. */
  treasury: Address;
  /** Receives the rewards allocation. */
  rewardsReserve: Address;
  /** Dev chains only: an account that receives `faucetAmount` tokens. @default none */
  faucet?: Address;
  /**
   * Dev networks only: deploys a KosmosFaucet right after the token, minted `supply` tokens by the
   * token's constructor (its ether is sent separately). @default none
   */
  faucetContract?: FaucetContractOptions;
  /** @default 10,000,000 tokens (the treasury gets the rest of the 21,000,000) */
  rewardsAmount?: bigint;
  /** Tokens of `rewardsAmount` minted to the mining contract instead of the reserve. @default half of it */
  miningAmount?: bigint;
  /** The mining schedule. @default one-day epochs halving yearly, paying out the whole allocation */
  mining?: MiningScheduleOptions;
  /** @default 1,000,000 tokens when `faucet` is set */
  faucetAmount?: bigint;
  /** @default 100 tokens */
  minStake?: bigint;
  /** @default 10 tokens */
  minChallengeStake?: bigint;
  /** Sum of open challenge stakes at which the arbiter may resolve at once. @default 100 tokens */
  challengeThreshold?: bigint;
  /**
   * Most challenges open at a time on one listing (a gas bound on resolve). Must satisfy
   * `maxChallenges * minChallengeStake >= challengeThreshold`, so filling every slot makes the listing
   * resolvable at once. @default 64
   */
  maxChallenges?: number;
  /** Seconds after the oldest open challenge from which the arbiter may resolve any. @default 3 days */
  reviewPeriod?: number;
  /** Seconds between a stake withdrawal request and the withdrawal. @default 7 days */
  withdrawDelay?: number;
  /** Seconds after the delay during which a withdrawal request can be executed. @default 2 days */
  withdrawWindow?: number;
  /** Share of a bad listing's stake paid to challengers. @default 5000 */
  challengerBps?: number;
  /** Share of the challenge stakes paid to a good listing's owner. @default 5000 */
  listerBps?: number;
  /** Seconds the seller has to reveal the sale key. @default 1 day */
  revealWindow?: number;
  /** Seconds the buyer has to complain or dispute after the reveal. @default 2 days */
  disputeWindow?: number;
  /** Seconds the arbiter has to rule on a disputed sale before it completes for the seller. @default 7 days */
  arbitrationWindow?: number;
  /** Escrow price split (seller, gateway, treasury) in basis points. @default [8000, 1000, 1000] */
  split?: readonly [number, number, number];
  /** Milliseconds to wait for each deployment receipt. @default 60,000 */
  timeout?: number;
  /** Stops between deployments (a sent transaction is not recalled). */
  signal?: AbortSignal;
}

/** Total supply of the token, in its smallest unit. */
export const TOTAL_SUPPLY = 21_000_000n * token;

/** Deploys every contract in order and returns their addresses. */
export async function deployContracts(
  walletClient: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  options: DeployContractsOptions,
): Promise<ContractAddresses> {
  const timeout = options.timeout ?? 60_000;
  const deployed = async (hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout });
    options.signal?.throwIfAborted();
    if (receipt.status !== "success" || !receipt.contractAddress) {
      throw new Error(`Cannot deploy the contracts: transaction ${hash} reverted`);
    }
    return getAddress(receipt.contractAddress);
  };
  options.signal?.throwIfAborted();
  const rewardsAmount = options.rewardsAmount ?? 10_000_000n * token;
  const faucetAmount = options.faucet ? options.faucetAmount ?? 1_000_000n * token : 0n;
  if (rewardsAmount + faucetAmount > TOTAL_SUPPLY) {
    throw new RangeError("Cannot deploy the contracts: rewards and faucet allocations exceed the supply");
  }
  let treasuryAmount = TOTAL_SUPPLY - rewardsAmount - faucetAmount;
  const miningAmount = options.miningAmount ?? rewardsAmount / 2n;
  if (miningAmount <= 0n || miningAmount > rewardsAmount) {
    throw new RangeError(
      "Cannot deploy the contracts: the mining allocation must be a part of the rewards allocation",
    );
  }
  const schedule = miningSchedule(miningAmount, options.mining ?? {}, options.arbiter);
  const recipients: Address[] = [];
  const amounts: bigint[] = [];
  if (rewardsAmount > miningAmount) {
    recipients.push(options.rewardsReserve);
    amounts.push(rewardsAmount - miningAmount);
  }
  if (options.faucet) {
    recipients.push(options.faucet);
    amounts.push(faucetAmount);
  }
  // The faucet is deployed right after the token, by the next nonce: the token mints to that address.
  const from = walletClient.account.address;
  const nonce = await publicClient.getTransactionCount({ address: from, blockTag: "pending" });
  const faucetOptions = options.faucetContract;
  let faucetAddress: Address | undefined;
  if (faucetOptions) {
    const supply = faucetOptions.supply ?? treasuryAmount;
    if (supply <= 0n || supply > treasuryAmount) {
      throw new RangeError(
        "Cannot deploy the contracts: the faucet's supply exceeds the treasury's allocation",
      );
    }
    treasuryAmount -= supply;
    faucetAddress = getContractAddress({ from, nonce: BigInt(nonce + 1) });
    recipients.push(faucetAddress);
    amounts.push(supply);
  }
  if (treasuryAmount > 0n) {
    recipients.unshift(options.treasury);
    amounts.unshift(treasuryAmount);
  }
  // Token, [faucet], registry, escrow, consent, ownership, rewards, anchor, pools, then mining.
  const miningNonce = nonce + (faucetOptions ? 1 : 0) + 8;
  const miningAddress = getContractAddress({ from, nonce: BigInt(miningNonce) });
  recipients.push(miningAddress);
  amounts.push(miningAmount);
  const tokenAddress = await deployed(
    await walletClient.deployContract({
      abi: kosmosTokenAbi,
      bytecode: kosmosTokenBytecode,
      args: [recipients, amounts],
      nonce,
    }),
  );
  if (faucetOptions) {
    const deployedFaucet = await deployed(
      await walletClient.deployContract({
        abi: kosmosFaucetAbi,
        bytecode: kosmosFaucetBytecode,
        args: [{
          token: tokenAddress,
          amount: faucetOptions.amount ?? 10_000n * token,
          ethAmount: faucetOptions.ethAmount ?? 10n ** 18n,
          cooldown: BigInt(faucetOptions.cooldown ?? 3600),
          maxDripsPerPeriod: BigInt(faucetOptions.maxDripsPerPeriod ?? 100),
        }],
        nonce: nonce + 1,
      }),
    );
    if (deployedFaucet !== faucetAddress) {
      throw new Error(
        `Cannot deploy the contracts: the faucet landed at ${deployedFaucet}, not ${faucetAddress}`,
      );
    }
  }
  const registry = await deployed(
    await walletClient.deployContract({
      abi: kosmosRegistryAbi,
      bytecode: kosmosRegistryBytecode,
      args: [{
        token: tokenAddress,
        arbiter: options.arbiter,
        treasury: options.treasury,
        minStake: options.minStake ?? 100n * token,
        minChallengeStake: options.minChallengeStake ?? 10n * token,
        challengeThreshold: options.challengeThreshold ?? 100n * token,
        maxChallenges: BigInt(options.maxChallenges ?? 64),
        reviewPeriod: BigInt(options.reviewPeriod ?? 3 * day),
        withdrawDelay: BigInt(options.withdrawDelay ?? 7 * day),
        withdrawWindow: BigInt(options.withdrawWindow ?? 2 * day),
        challengerBps: BigInt(options.challengerBps ?? 5000),
        listerBps: BigInt(options.listerBps ?? 5000),
      }],
    }),
  );
  const [sellerBps, gatewayBps, treasuryBps] = options.split ?? [8000, 1000, 1000];
  const escrow = await deployed(
    await walletClient.deployContract({
      abi: kosmosEscrowAbi,
      bytecode: kosmosEscrowBytecode,
      args: [{
        token: tokenAddress,
        registry,
        treasury: options.treasury,
        revealWindow: options.revealWindow ?? day,
        disputeWindow: options.disputeWindow ?? 2 * day,
        arbitrationWindow: options.arbitrationWindow ?? 7 * day,
        sellerBps: BigInt(sellerBps),
        gatewayBps: BigInt(gatewayBps),
        treasuryBps: BigInt(treasuryBps),
      }],
    }),
  );
  const consent = await deployed(
    await walletClient.deployContract({ abi: kosmosConsentAbi, bytecode: kosmosConsentBytecode }),
  );
  const ownership = await deployOwnership(walletClient, publicClient, consent, { timeout });
  const rewards = await deployed(
    await walletClient.deployContract({
      abi: kosmosRewardsAbi,
      bytecode: kosmosRewardsBytecode,
      args: [tokenAddress],
    }),
  );
  const anchor = await deployed(
    await walletClient.deployContract({ abi: kosmosAnchorAbi, bytecode: kosmosAnchorBytecode }),
  );
  const pools = await deployed(
    await walletClient.deployContract({
      abi: kosmosPoolsAbi,
      bytecode: kosmosPoolsBytecode,
      args: [tokenAddress, registry, escrow, rewards],
    }),
  );
  const mining = await deployed(
    await walletClient.deployContract({
      abi: kosmosMiningAbi,
      bytecode: kosmosMiningBytecode,
      args: [tokenAddress, rewards, schedule],
    }),
  );
  if (mining !== miningAddress) {
    throw new Error(
      `Cannot deploy the contracts: the mining contract landed at ${mining}, not ${miningAddress}`,
    );
  }
  return {
    token: tokenAddress,
    registry,
    escrow,
    consent,
    ownership,
    rewards,
    anchor,
    pools,
    mining,
    ...(faucetAddress ? { faucet: faucetAddress } : {}),
  };
}

/** What {@link deployPoolsAndMining} needs of an existing deployment. */
export type DeployedCore = Pick<ContractAddresses, "token" | "registry" | "escrow" | "rewards">;

export interface DeployPoolsAndMiningOptions {
  /** Publishes the mining epochs unless `mining.distributor` is set. */
  arbiter: Address;
  /** Tokens the wallet sends the mining contract before deploying it (its allocation). */
  miningAmount: bigint;
  /** The mining schedule. @default see {@link DeployContractsOptions.mining} */
  mining?: MiningScheduleOptions;
  /** Milliseconds to wait for each receipt. @default 60,000 */
  timeout?: number;
}

/**
 * Adds KosmosPools and KosmosMining to a deployment from before they existed. The token is already
 * minted, so the wallet funds the mining contract's allocation itself: it transfers `miningAmount` to
 * the address of its next deployment after the pools, then deploys the mining contract there.
 */
export async function deployPoolsAndMining(
  walletClient: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  contracts: DeployedCore,
  options: DeployPoolsAndMiningOptions,
): Promise<{ pools: Address; mining: Address }> {
  const timeout = options.timeout ?? 60_000;
  const schedule = miningSchedule(options.miningAmount, options.mining ?? {}, options.arbiter);
  const mined = async (hash: Hex, what: string) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout });
    if (receipt.status !== "success") {
      throw new Error(`Cannot deploy the ${what}: transaction ${hash} reverted`);
    }
    return receipt;
  };
  const from = walletClient.account.address;
  const nonce = await publicClient.getTransactionCount({ address: from, blockTag: "pending" });
  const predicted = getContractAddress({ from, nonce: BigInt(nonce + 2) });
  const poolsReceipt = await mined(
    await walletClient.deployContract({
      abi: kosmosPoolsAbi,
      bytecode: kosmosPoolsBytecode,
      args: [contracts.token, contracts.registry, contracts.escrow, contracts.rewards],
      nonce,
    }),
    "pools contract",
  );
  await mined(
    await walletClient.writeContract({
      address: contracts.token,
      abi: kosmosTokenAbi,
      functionName: "transfer",
      args: [predicted, options.miningAmount],
      nonce: nonce + 1,
    }),
    "mining allocation",
  );
  const miningReceipt = await mined(
    await walletClient.deployContract({
      abi: kosmosMiningAbi,
      bytecode: kosmosMiningBytecode,
      args: [contracts.token, contracts.rewards, schedule],
      nonce: nonce + 2,
    }),
    "mining contract",
  );
  const mining = getAddress(miningReceipt.contractAddress!);
  if (mining !== predicted) {
    throw new Error(`Cannot deploy the mining contract: it landed at ${mining}, not ${predicted}`);
  }
  return { pools: getAddress(poolsReceipt.contractAddress!), mining };
}

/** The mining constructor's schedule, with the defaults filled in and checked against `allocation`. */
function miningSchedule(allocation: bigint, options: MiningScheduleOptions, arbiter: Address) {
  const epochLength = options.epochLength ?? day;
  const halvingEpochs = options.halvingEpochs ?? 365;
  const start = options.start ?? 0;
  for (
    const [name, value, min] of [["epochLength", epochLength, 1], ["halvingEpochs", halvingEpochs, 1], [
      "start",
      start,
      0,
    ]] as const
  ) {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`Cannot deploy the contracts: mining.${name} must be an integer >= ${min}`);
    }
  }
  const initialReward = options.initialReward ?? allocation / (2n * BigInt(halvingEpochs));
  let sum = 0n;
  for (let reward = initialReward; reward > 0n; reward >>= 1n) sum += reward * BigInt(halvingEpochs);
  if (initialReward <= 0n || sum > allocation) {
    throw new RangeError(
      `Cannot deploy the contracts: a mining schedule paying ${sum} exceeds its allocation of ${allocation}`,
    );
  }
  return {
    distributor: options.distributor ?? arbiter,
    start: BigInt(start),
    epochLength: BigInt(epochLength),
    initialReward,
    halvingEpochs: BigInt(halvingEpochs),
  };
}

/**
 * Deploys a KosmosOwnership over the consent contract `consent` (alone: a deployment from before it
 * existed gets it this way) and returns its address.
 */
export async function deployOwnership(
  walletClient: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  consent: Address,
  options: { timeout?: number } = {},
): Promise<Address> {
  const hash = await walletClient.deployContract({
    abi: kosmosOwnershipAbi,
    bytecode: kosmosOwnershipBytecode,
    args: [consent],
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: options.timeout ?? 60_000 });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new Error(`Cannot deploy the ownership contract: transaction ${hash} reverted`);
  }
  return getAddress(receipt.contractAddress);
}
