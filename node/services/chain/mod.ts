/**
 * The chain service: viem clients for the node's wallet on its EVM chain.
 * Without an `rpcUrl` it starts an embedded anvil on a free loopback port
 * (state kept under `<dataDir>/chain/`) and stops it with the node; on a dev
 * chain it funds its own wallet with test ether.
 *
 * ```ts
 * const chain = createChain({ identity, log }, { dataDir, rpcUrl });
 * await chain.start();
 * await chain.getBalance(); // wei
 * ```
 */
import {
  type Chain as ViemChain,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { join } from "node:path";
import { type Anvil, DEV_CHAIN_ID, startAnvil } from "./anvil.ts";
import type { Identity } from "../identity/mod.ts";
import type { Logger } from "../../log.ts";
import { StartError } from "../../errors.ts";
import { second } from "../../constants.ts";

export interface ChainComponents {
  identity: Identity;
  log: Logger;
}

export interface ChainInit {
  dataDir: string;
  /** @default undefined: start an embedded anvil */
  rpcUrl?: string;
  /** Test ether given to the wallet on a dev chain when it has none, in wei. @default 100 ether */
  devFunding?: bigint;
}

export type KosmosPublicClient = PublicClient<Transport, ViemChain>;
export type KosmosWalletClient = WalletClient<Transport, ViemChain, PrivateKeyAccount>;

export function createChain(components: ChainComponents, init: ChainInit): ChainService {
  return new ChainService(components, init);
}

export class ChainService {
  #c: ChainComponents;
  #init: ChainInit;
  #anvil?: Anvil;
  #public?: KosmosPublicClient;
  #wallet?: KosmosWalletClient;
  #rpcUrl = "";
  #chainId = 0;

  constructor(components: ChainComponents, init: ChainInit) {
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

  async start(): Promise<void> {
    const { log, identity } = this.#c;
    if (this.#init.rpcUrl) {
      this.#rpcUrl = this.#init.rpcUrl;
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
    const chain = defineChain({
      id: this.#chainId,
      name: this.#chainId === DEV_CHAIN_ID ? "Kosmos dev chain" : `chain ${this.#chainId}`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [this.#rpcUrl] } },
    });
    const transport = http(this.#rpcUrl, { timeout: 30 * second });
    this.#public = createPublicClient({ chain, transport }) as KosmosPublicClient;
    this.#wallet = createWalletClient({ chain, transport, account: identity.account });
    if (this.isDevChain()) await this.#fundSelf();
    log.info("connected chain", { chainId: this.#chainId, address: identity.account.address });
  }

  async stop(): Promise<void> {
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
