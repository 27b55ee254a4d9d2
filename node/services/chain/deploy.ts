/**
 * Deploys the Kosmos contracts (token, registry, escrow, consent, rewards, anchor) to any EVM chain
 * with a viem wallet client, waiting for each receipt with an explicit timeout.
 *
 * ```ts
 * const addresses = await deployContracts(walletClient, publicClient, {
 *   arbiter: me, treasury: me, rewardsReserve: me, faucet: me,
 * });
 * console.log(addresses.escrow);
 * ```
 */
import {
  type Account,
  type Address,
  type Chain,
  getAddress,
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
  rewards: Address;
  anchor: Address;
}

export interface DeployContractsOptions {
  /** Resolves registry challenges. */
  arbiter: Address;
  /** Receives protocol shares and its token allocation. */
  treasury: Address;
  /** Receives the rewards allocation. */
  rewardsReserve: Address;
  /** Dev chains only: receives `faucetAmount` tokens. @default none */
  faucet?: Address;
  /** @default 10,000,000 tokens (the treasury gets the rest of the 21,000,000) */
  rewardsAmount?: bigint;
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
  const recipients: Address[] = [options.treasury, options.rewardsReserve];
  const amounts = [TOTAL_SUPPLY - rewardsAmount - faucetAmount, rewardsAmount];
  if (options.faucet) {
    recipients.push(options.faucet);
    amounts.push(faucetAmount);
  }
  const tokenAddress = await deployed(
    await walletClient.deployContract({
      abi: kosmosTokenAbi,
      bytecode: kosmosTokenBytecode,
      args: [recipients, amounts],
    }),
  );
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
  return { token: tokenAddress, registry, escrow, consent, rewards, anchor };
}
