/**
 * Dev networks (the embedded `local` network and `deno task devnet`): the
 * contracts with a faucet, and a shared dev chain for the devnet and tests.
 *
 * The token supply goes to the rewards reserve (anvil's first dev account,
 * which no node holds), the mining contract (one-minute epochs, published by
 * the arbiter) and a KosmosFaucet, which anvil funds with test ether; the
 * treasury (the devnet's first node, or the node of a `local` network) gets
 * the protocol's shares but no allocation. Nodes get their test
 * tokens from the faucet, like anyone else.
 *
 * ```ts
 * const dev = await setUpDevChain(anvil.rpcUrl, { arbiter: node0, treasury: node0 });
 * await writeContractsFile(getContractsPath(dataDir), { chainId: 31337, contracts: dev.contracts });
 * await dev.fund(nodeAddress); // one drip: 10,000 tokens
 * ```
 */
import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID } from "./anvil.ts";
import { deployContracts, type FaucetContractOptions, type MiningScheduleOptions } from "./deploy.ts";
import type { ContractAddresses, KosmosClient } from "./client.ts";
import { dripFaucet } from "./actions/faucet.ts";
import { toViemChain } from "./viem_chain.ts";

/** Wei anvil gives the faucet to top recipients up with. */
export const DEV_FAUCET_ETH = 10_000n * 10n ** 18n;

/** The rewards reserve of dev networks: anvil's first dev account, which no node holds. */
export const DEV_REWARDS_RESERVE: Address = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]).address;

export interface DeployDevContractsOptions {
  /** Resolves registry challenges. */
  arbiter: Address;
  /** Receives the protocol's shares. */
  treasury: Address;
  /** The faucet's terms. @default 10,000 tokens and up to 1 ether per address per hour, 100 drips an hour */
  faucet?: FaucetContractOptions;
  /** The mining schedule; the arbiter publishes the epochs. @default {@link DEV_MINING} */
  mining?: MiningScheduleOptions;
  signal?: AbortSignal;
}

/** A dev network's mining schedule: one-minute epochs, so an epoch ends within a test or a demo. */
export const DEV_MINING: MiningScheduleOptions = { epochLength: 60 };

/**
 * Deploys the contracts of a dev network from `walletClient`: the treasury's
 * allocation goes to a faucet, which anvil then gives {@link DEV_FAUCET_ETH}.
 */
export async function deployDevContracts(
  walletClient: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  options: DeployDevContractsOptions,
): Promise<ContractAddresses & { faucet: Address }> {
  const contracts = await deployContracts(walletClient, publicClient, {
    arbiter: options.arbiter,
    treasury: options.treasury,
    rewardsReserve: DEV_REWARDS_RESERVE,
    faucetContract: options.faucet ?? {},
    mining: { ...DEV_MINING, ...options.mining },
    signal: options.signal,
  });
  const faucet = contracts.faucet!;
  await publicClient.request({
    method: "anvil_setBalance" as never,
    params: [faucet, `0x${DEV_FAUCET_ETH.toString(16)}`] as never,
  });
  return { ...contracts, faucet };
}

export interface DevChain {
  contracts: ContractAddresses & { faucet: Address };
  /** The deployer (anvil's first dev account), which also holds the rewards reserve. */
  deployer: Address;
  /** Resolves registry challenges. */
  arbiter: Address;
  /** Receives the protocol's shares. */
  treasury: Address;
  /** One faucet drip to `to` (10,000 tokens), sent and paid by the deployer. */
  fund(to: Address, options?: { signal?: AbortSignal }): Promise<void>;
}

export interface SetUpDevChainOptions {
  /** @default the deployer */
  arbiter?: Address;
  /** @default the deployer */
  treasury?: Address;
  /** The faucet's terms. @default see {@link DeployDevContractsOptions.faucet} */
  faucet?: FaucetContractOptions;
  /** The mining schedule. @default see {@link DeployDevContractsOptions.mining} */
  mining?: MiningScheduleOptions;
  signal?: AbortSignal;
}

/** Deploys a dev network's contracts on the anvil at `rpcUrl` with anvil's first dev account. */
export async function setUpDevChain(rpcUrl: string, options: SetUpDevChainOptions = {}): Promise<DevChain> {
  const chain = toViemChain(DEV_CHAIN_ID, [rpcUrl], "Kosmos devnet");
  const transport = http(rpcUrl);
  const account = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 200 });
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval: 200 });
  const arbiter = options.arbiter ?? account.address;
  const treasury = options.treasury ?? account.address;
  const contracts = await deployDevContracts(walletClient, publicClient as PublicClient, {
    arbiter,
    treasury,
    faucet: options.faucet,
    mining: options.mining,
    signal: options.signal,
  });
  const client: KosmosClient = { publicClient, walletClient, contracts, timeout: 30_000 };
  let queue: Promise<unknown> = Promise.resolve();
  return {
    contracts,
    deployer: account.address,
    arbiter,
    treasury,
    fund(to, fundOptions = {}) {
      const run = queue.catch(() => {}).then(() => dripFaucet(client, { to, signal: fundOptions.signal }));
      queue = run;
      return run.then(() => {});
    },
  };
}
