/**
 * Sets up a shared dev chain for `deno task devnet`: deploys the Kosmos
 * contracts once with anvil's first dev account as deployer, treasury,
 * arbiter and faucet, and funds node wallets with tokens from that faucet.
 * Each node finds the contracts through the file written into its data dir.
 *
 * ```ts
 * const dev = await setUpDevChain(anvil.rpcUrl);
 * await writeContractsFile(getContractsPath(dataDir), { chainId: 31337, contracts: dev.contracts });
 * await dev.fund(nodeAddress); // 10,000 tokens
 * ```
 */
import { type Address, createPublicClient, createWalletClient, defineChain, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID } from "./anvil.ts";
import { deployContracts } from "./deploy.ts";
import type { ContractAddresses, KosmosClient } from "./client.ts";
import { transferToken } from "./actions/token.ts";

export interface DevChain {
  contracts: ContractAddresses;
  /** The deployer, treasury, arbiter and faucet. */
  deployer: Address;
  /** Sends `amount` tokens from the faucet to `to`. @default amount 10,000 tokens */
  fund(to: Address, options?: { amount?: bigint; signal?: AbortSignal }): Promise<void>;
}

export async function setUpDevChain(
  rpcUrl: string,
  options: { signal?: AbortSignal } = {},
): Promise<DevChain> {
  const chain = defineChain({
    id: DEV_CHAIN_ID,
    name: "Kosmos devnet",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl);
  const account = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 200 });
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval: 200 });
  const contracts = await deployContracts(walletClient, publicClient, {
    arbiter: account.address,
    treasury: account.address,
    rewardsReserve: account.address,
    faucet: account.address,
    signal: options.signal,
  });
  const client: KosmosClient = { publicClient, walletClient, contracts, timeout: 30_000 };
  let queue: Promise<unknown> = Promise.resolve();
  return {
    contracts,
    deployer: account.address,
    fund(to, fundOptions = {}) {
      const amount = fundOptions.amount ?? 10_000n * 10n ** 18n;
      const run = queue.catch(() => {}).then(() =>
        transferToken(client, { to, amount, signal: fundOptions.signal })
      );
      queue = run;
      return run.then(() => {});
    },
  };
}
