/**
 * The chain service: viem clients for the node's wallet on its EVM chain, the
 * Kosmos contracts on it, and the event indexer.
 *
 * Without an `rpcUrl` it starts an embedded anvil on a free loopback port
 * (state kept under `<dataDir>/chain/`) and stops it with the node; on a dev
 * chain it funds its own wallet with test ether. On its embedded chain the
 * node deploys the contracts itself on first start (as arbiter and treasury;
 * the supply goes to a faucet and the rewards reserve, and the node takes one
 * drip from the faucet as its starting balance) and saves their addresses in
 * `<dataDir>/chain/contracts.json`; later starts reuse them while code exists
 * there. With an `rpcUrl` alone it reads that file; without one the node runs
 * without contracts. Where it connects is the `network` service's choice: on a
 * network profile (`--network`, or a local peer's network it joined) it uses
 * the profile's RPC URL and contracts once `checkNetworkContracts` finds them
 * there, and in every case it tells the network service what it found
 * (`network.settle`), which fixes the profile and its protocol prefix.
 *
 * ```ts
 * const chain = createChain({ identity, db, log }, { dataDir, rpcUrl });
 * await chain.start();
 * await chain.getBalance(); // wei
 * await getTokenBalance(chain.client); // actions from ./actions/mod.ts
 * chain.addEventListener("stakes", (e) => catalog.setStakes(e.detail.stakes, e.detail));
 * ```
 *
 * It dispatches `"stakes"` ({@link StakesDetail}): once at start with every
 * manifest CID's registry stake as indexed so far (`replace: true`), then
 * for the CIDs that each batch of indexed registry events touched.
 */
import {
  type Chain as ViemChain,
  createPublicClient,
  createWalletClient,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { join } from "node:path";
import { getRegistryConfig } from "./actions/registry.ts";
import { type Anvil, DEV_ACCOUNT_KEYS, DEV_CHAIN_ID, startAnvil } from "./anvil.ts";
import type { Identity } from "../identity/mod.ts";
import type { Database } from "../db/mod.ts";
import { checkNetworkContracts, type NetworkService, type NetworkTarget } from "../network/mod.ts";
import type { Logger } from "../../log.ts";
import { StartError } from "../../errors.ts";
import { defineService } from "../../service.ts";
import { second } from "../../constants.ts";
import { deployDevContracts, DEV_MINING } from "./dev_chain.ts";
import { deployOwnership, deployPoolsAndMining } from "./deploy.ts";
import { kosmosTokenAbi } from "../../../protocol/contracts_generated.ts";
import { toViemChain } from "./viem_chain.ts";
import { dripFaucet } from "./actions/faucet.ts";
import { ChainUnavailableError, type ContractAddresses, type KosmosClient } from "./client.ts";
import {
  getContractsPath,
  hasContractCode,
  LATER_CONTRACT_NAMES,
  readContractsFile,
  type SavedContractsFile,
  writeContractsFile,
} from "./contracts.ts";
import {
  type ChainIndexer,
  type ChainIndexerInit,
  createChainIndexer,
  type IndexedDetail,
  type ManifestStake,
} from "./indexer.ts";

export * from "./client.ts";
export * from "./fees.ts";
export * from "./contracts.ts";
export * from "./indexer.ts";
export * from "./actions/mod.ts";
export * from "./stakes.ts";
export * from "./previews.ts";
export * from "./sale_fees.ts";
export { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID } from "./anvil.ts";

export interface ChainComponents {
  identity: Identity;
  db: Database;
  log: Logger;
  /** Which network to connect to; without it, `rpcUrl` or an embedded anvil. @default undefined */
  network?: NetworkService;
}

export interface ChainInit {
  dataDir: string;
  /** @default undefined: start an embedded anvil */
  rpcUrl?: string;
  /** Test ether given to the wallet on a dev chain when it has none, in wei. @default 100 ether */
  devFunding?: bigint;
  /** Event indexer settings. @default {} */
  indexer?: ChainIndexerInit;
  /** Milliseconds to wait for a transaction receipt. @default 60,000 */
  receiptTimeout?: number;
}

export type KosmosPublicClient = PublicClient<Transport, ViemChain>;
export type KosmosWalletClient = WalletClient<Transport, ViemChain, PrivateKeyAccount>;

/** Detail of the `"stakes"` event. */
export interface StakesDetail {
  /** The registry's stake per manifest CID. */
  stakes: ManifestStake[];
  /** True when `stakes` holds every manifest CID and stakes of others are gone. */
  replace: boolean;
}

/** The config fields the `chain` factory reads. */
export interface ChainConfig {
  config: { dataDir: string; rpcUrl?: string };
}

/** The `chain` component; `dataDir` and `rpcUrl` come from the config. */
export function chain(init: Omit<ChainInit, "dataDir" | "rpcUrl"> = {}) {
  return defineService(
    "chain",
    ["identity", "db", "config", "network"],
    (c: ChainComponents & ChainConfig) =>
      createChain(c, { ...init, dataDir: c.config.dataDir, rpcUrl: c.config.rpcUrl }),
  );
}

export function createChain(components: ChainComponents, init: ChainInit): ChainService {
  return new ChainService(components, init);
}

/** Dispatches `"stakes"` ({@link StakesDetail}) as registry stakes change. */
export class ChainService extends EventTarget {
  #c: ChainComponents;
  #init: ChainInit;
  #anvil?: Anvil;
  #public?: KosmosPublicClient;
  #wallet?: KosmosWalletClient;
  #rpcUrl = "";
  #chainId = 0;
  #contracts?: ContractAddresses;
  #indexer?: ChainIndexer;
  #arbiter?: Promise<`0x${string}`>;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(components: ChainComponents, init: ChainInit) {
    super();
    this.#c = components;
    this.#init = init;
  }

  get rpcUrl(): string {
    return this.#rpcUrl;
  }
  get chainId(): number {
    return this.#chainId;
  }
  /** True when this node started its own anvil. */
  get embedded(): boolean {
    return this.#anvil !== undefined;
  }
  get publicClient(): KosmosPublicClient {
    if (!this.#public) throw new Error("Cannot use the chain before start()");
    return this.#public;
  }
  get walletClient(): KosmosWalletClient {
    if (!this.#wallet) throw new Error("Cannot use the chain before start()");
    return this.#wallet;
  }
  /** Addresses of the Kosmos contracts; `undefined` on a chain without them. */
  get contracts(): ContractAddresses | undefined {
    return this.#contracts;
  }
  /** The client chain actions take. Throws {@link ChainUnavailableError} on a chain without contracts. */
  get client(): KosmosClient {
    return {
      publicClient: this.publicClient,
      walletClient: this.walletClient,
      contracts: this.#requireContracts(),
      timeout: this.#init.receiptTimeout,
    };
  }
  /** The event indexer. Throws {@link ChainUnavailableError} on a chain without contracts. */
  get indexer(): ChainIndexer {
    this.#requireContracts();
    return this.#indexer!;
  }

  /**
   * Runs `fn` after every earlier exclusive call has settled, so transactions
   * from this node's wallet never race for a nonce.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.catch(() => {}).then(fn);
    this.#writes = run;
    return run;
  }

  #requireContracts(): ContractAddresses {
    if (!this.#contracts) {
      throw new ChainUnavailableError(
        `No Kosmos contracts on chain ${this.#chainId}: start the node without --rpc-url, or put their addresses in ${
          getContractsPath(this.#init.dataDir)
        }`,
      );
    }
    return this.#contracts;
  }

  async start(): Promise<void> {
    const { log, identity } = this.#c;
    const target = this.#target();
    if (target.kind === "rpc") {
      this.#rpcUrl = target.rpcUrl;
    } else if (target.kind === "profile") {
      this.#rpcUrl = target.profile.rpcUrls[0];
    } else {
      const dir = join(this.#init.dataDir, "chain");
      await Deno.mkdir(dir, { recursive: true });
      this.#anvil = await startAnvil({ statePath: join(dir, "anvil-state.json"), stateInterval: 5 });
      this.#rpcUrl = this.#anvil.rpcUrl;
      log.info("started embedded anvil", { rpcUrl: this.#rpcUrl });
    }
    const probe = createPublicClient({
      transport: http(this.#rpcUrl, { timeout: 5 * second, retryCount: 0 }),
    });
    try {
      this.#chainId = await probe.getChainId();
    } catch (cause) {
      await this.stop();
      throw new StartError(`cannot reach rpc url ${this.#rpcUrl}: ${shortReason(cause)}`, { cause });
    }
    const chain = toViemChain(this.#chainId, [this.#rpcUrl]);
    const transport = http(this.#rpcUrl, { timeout: 30 * second });
    const pollingInterval = this.isDevChain() ? 200 : 4 * second;
    this.#public = createPublicClient({ chain, transport, pollingInterval }) as KosmosPublicClient;
    this.#wallet = createWalletClient({ chain, transport, account: identity.account, pollingInterval });
    try {
      if (this.isDevChain()) await this.#fundSelf();
      this.#contracts = target.kind === "profile"
        ? await this.#checkProfileContracts(target)
        : await this.#loadContracts();
      await this.#c.network?.settle({
        chainId: this.#chainId,
        rpcUrl: this.#rpcUrl,
        contracts: this.#contracts,
      });
    } catch (cause) {
      await this.stop();
      throw new StartError(`cannot set up the Kosmos contracts: ${shortReason(cause)}`, { cause });
    }
    if (this.#contracts) {
      this.#indexer = createChainIndexer({
        db: this.#c.db,
        log,
        publicClient: this.#public,
        contracts: this.#contracts,
        chainId: this.#chainId,
      }, { pollInterval: this.isDevChain() ? 500 : 4 * second, ...this.#init.indexer });
      this.#indexer.addEventListener("indexed", this.#onIndexed);
      this.#dispatchStakes();
      await this.#indexer.start();
    }
    log.info("connected chain", { chainId: this.#chainId, address: identity.account.address });
  }

  async stop(): Promise<void> {
    await this.#indexer?.stop();
    this.#indexer?.removeEventListener("indexed", this.#onIndexed);
    this.#indexer = undefined;
    this.#arbiter = undefined;
    await this.#anvil?.stop();
    this.#anvil = undefined;
  }

  isDevChain(): boolean {
    return this.#chainId === DEV_CHAIN_ID;
  }

  /** The wallet's native balance in wei. */
  async getBalance(options: { signal?: AbortSignal } = {}): Promise<bigint> {
    options.signal?.throwIfAborted();
    return await this.publicClient.getBalance({ address: this.#c.identity.account.address });
  }

  /** Whether this node's wallet resolves the registry's challenges. */
  async isArbiter(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (!this.#contracts) return false;
    options.signal?.throwIfAborted();
    // The arbiter is immutable: read it once per deployment.
    this.#arbiter ??= getRegistryConfig(this.client).then((c) => c.arbiter).catch((err) => {
      this.#arbiter = undefined;
      throw err;
    });
    return await this.#arbiter === this.#c.identity.account.address;
  }

  #onIndexed = (e: Event) => {
    const { events, reorg } = (e as CustomEvent<IndexedDetail>).detail;
    const listingIds = events.filter((ev) => ev.contract === "registry" && ev.listingId !== undefined)
      .map((ev) => ev.listingId!);
    if (reorg) this.#dispatchStakes();
    else if (listingIds.length > 0) this.#dispatchStakes(listingIds);
  };

  /** Tells listeners the stakes of the CIDs of `listingIds`, or of every CID (replacing) without. */
  #dispatchStakes(listingIds?: string[]): void {
    let stakes: ManifestStake[];
    try {
      stakes = this.#indexer!.listManifestStakes({ listingIds });
    } catch (err) {
      this.#c.log.warn("failed to read registry stakes", { error: err });
      return;
    }
    if (listingIds && stakes.length === 0) return;
    this.dispatchEvent(
      new CustomEvent<StakesDetail>("stakes", { detail: { stakes, replace: listingIds === undefined } }),
    );
  }

  #target(): NetworkTarget {
    if (this.#c.network) return this.#c.network.target;
    return this.#init.rpcUrl ? { kind: "rpc", rpcUrl: this.#init.rpcUrl } : { kind: "local" };
  }

  /** A profile's contracts, once their code and links check out on this chain. */
  async #checkProfileContracts(target: NetworkTarget & { kind: "profile" }): Promise<ContractAddresses> {
    const { profile } = target;
    if (profile.chainId !== this.#chainId) {
      throw new StartError(
        `network "${profile.name}" is chain ${profile.chainId}, but ${this.#rpcUrl} is chain ${this.#chainId}`,
      );
    }
    await checkNetworkContracts(this.publicClient, profile.contracts);
    this.#c.log.info("checked the network's contracts", {
      network: profile.name,
      registry: profile.contracts.registry,
    });
    return { ...profile.contracts };
  }

  /**
   * Deploys beside a saved deployment of this node's own chain the contracts added since it was written.
   * The mining contract's allocation comes from the dev rewards reserve (anvil's first dev account).
   */
  async #addLaterContracts(saved: SavedContractsFile["contracts"]): Promise<ContractAddresses> {
    const { log } = this.#c;
    const timeout = this.#init.receiptTimeout;
    const ownership = saved.ownership ??
      await deployOwnership(this.walletClient, this.publicClient, saved.consent, { timeout });
    if (!saved.ownership) log.info("deployed the ownership contract beside the saved ones", { ownership });
    if (saved.pools && saved.mining) return { ...saved, ownership, pools: saved.pools, mining: saved.mining };
    const reserve = createWalletClient({
      chain: this.walletClient.chain,
      transport: http(this.#rpcUrl, { timeout: 30 * second }),
      account: privateKeyToAccount(DEV_ACCOUNT_KEYS[0]),
    });
    const held = await this.publicClient.readContract({
      address: saved.token,
      abi: kosmosTokenAbi,
      functionName: "balanceOf",
      args: [reserve.account.address],
    });
    if (held < 2n) throw new Error("the dev rewards reserve holds no tokens to fund a mining contract with");
    const added = await deployPoolsAndMining(reserve, this.publicClient, saved, {
      arbiter: this.#c.identity.account.address,
      miningAmount: held / 2n,
      mining: DEV_MINING,
      timeout,
    });
    const contracts = {
      ...saved,
      ownership,
      pools: saved.pools ?? added.pools,
      mining: saved.mining ?? added.mining,
    };
    log.info("deployed the pools and mining contracts beside the saved ones", {
      pools: contracts.pools,
      mining: contracts.mining,
    });
    return contracts;
  }

  /** Reuses the saved deployment when its code is there; deploys on the embedded chain otherwise. */
  async #loadContracts(): Promise<ContractAddresses | undefined> {
    const { log } = this.#c;
    const path = getContractsPath(this.#init.dataDir);
    const saved = await readContractsFile(path);
    if (
      saved && saved.chainId === this.#chainId && await hasContractCode(this.publicClient, saved.contracts)
    ) {
      log.debug("reused the saved contracts", { registry: saved.contracts.registry });
      const { ownership, pools, mining } = saved.contracts;
      if (ownership && pools && mining) return { ...saved.contracts, ownership, pools, mining };
      // Deployed before some contracts existed: this node's own chain gets them added.
      if (!this.embedded) {
        const missing = LATER_CONTRACT_NAMES.filter((name) => !saved.contracts[name]);
        throw new Error(
          `${path} names no ${
            missing.join(" or ")
          } contract (added since it was written): deploy the contracts again (deno task contracts deploy) or add its address`,
        );
      }
      const contracts = await this.#addLaterContracts(saved.contracts);
      await writeContractsFile(path, { chainId: this.#chainId, contracts });
      return contracts;
    }
    if (!this.embedded) {
      log.warn("found no Kosmos contracts on this chain; staking and sales are off", { path });
      return undefined;
    }
    // The `local` network: this node is arbiter and treasury; its tokens come from the faucet.
    const me = this.#c.identity.account.address;
    const contracts = await deployDevContracts(this.walletClient, this.publicClient, {
      arbiter: me,
      treasury: me,
    });
    await writeContractsFile(path, { chainId: this.#chainId, contracts });
    log.info("deployed the Kosmos contracts", { registry: contracts.registry, faucet: contracts.faucet });
    const client: KosmosClient = {
      publicClient: this.publicClient,
      walletClient: this.walletClient,
      contracts,
      timeout: this.#init.receiptTimeout,
    };
    const { tokens } = await dripFaucet(client, { to: me });
    log.info("took a starting balance from the faucet", { tokens: tokens.toString() });
    return contracts;
  }

  async #fundSelf(): Promise<void> {
    const address = this.#c.identity.account.address;
    const balance = await this.publicClient.getBalance({ address });
    if (balance > 0n) return;
    const amount = this.#init.devFunding ?? 100n * 10n ** 18n;
    await this.publicClient.request({
      method: "anvil_setBalance" as never,
      params: [address, `0x${amount.toString(16)}`] as never,
    });
  }
}

function shortReason(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(err)).split("\n")[0];
}
