/**
 * The network service: which network this node is on. It starts before the
 * chain and decides where the chain service connects:
 *
 * - `--network FILE|NAME`: that profile (its chain, contracts, bootstrap peers and protocol prefix);
 *   `--network local` is the embedded chain.
 * - `--rpc-url URL` alone: that chain, with the contracts named in `<dataDir>/chain/contracts.json`
 *   (the shortcut older setups use; protocol ids keep the plain `/kosmos` prefix).
 * - neither, with `--bootstrap`: the node asks its bootstrap peers which network they are on and
 *   joins a dev network it can reach (a local peer's embedded chain), after the chain service has
 *   checked the contracts there; unless the node already runs its own embedded chain.
 * - neither: the embedded chain, the network `local`.
 *
 * Once the chain is up, {@link NetworkService.settle} fixes the profile; the p2p service reads its
 * protocol prefix and the handshake service ({@link handshake}) tells peers about it.
 *
 * ```ts
 * const network = createNetwork({ log }, { dataDir, bootstrap: [addrOfA] });
 * await network.start();
 * network.target; // { kind: "profile", profile: <A's network>, joinedFrom: addrOfA }
 * ```
 */
import { join } from "node:path";
import {
  DEFAULT_PROTOCOL_PREFIX,
  describeNetwork,
  type NetworkContracts,
  type NetworkHello,
  networkPrefix,
  type NetworkProfile,
} from "../../../protocol/network.ts";
import { loadNetwork, LOCAL_NETWORK, writeNetworkProfile } from "../../network.ts";
import { loadJoinedNetwork } from "./saved.ts";
import { askBootstrapPeers } from "./ask.ts";
import { isLoopbackUrl } from "./loopback.ts";
import type { Logger } from "../../log.ts";
import { ConfigError } from "../../errors.ts";
import { defineService } from "../../service.ts";
import { second } from "../../constants.ts";

export { type Handshake, handshake, type PeerNetwork } from "./handshake.ts";
export { checkNetworkContracts } from "./verify.ts";
export { isLoopbackAddr, isLoopbackUrl } from "./loopback.ts";

/** Chain id of anvil, the embedded chain and the devnet. */
const DEV_CHAIN = 31337;

export interface NetworkInit {
  dataDir: string;
  /** `--network FILE|NAME`. @default undefined */
  network?: string;
  /** `--rpc-url`. @default undefined */
  rpcUrl?: string;
  /** `--bootstrap`. @default [] */
  bootstrap?: string[];
  /** Milliseconds to wait for a bootstrap peer's answer when joining. @default 10,000 */
  joinTimeout?: number;
}

/** Where the chain service connects. */
export type NetworkTarget =
  | { kind: "local" }
  | { kind: "rpc"; rpcUrl: string }
  | {
    kind: "profile";
    profile: NetworkProfile; /** the bootstrap peer it was learnt from */
    joinedFrom?: string;
  };

/** The config fields the `network` factory reads. */
export interface NetworkConfig {
  config: { dataDir: string; network?: string; rpcUrl?: string; bootstrap: string[] };
}

/** The `network` component; everything comes from the config. */
export function network(init: Pick<NetworkInit, "joinTimeout"> = {}) {
  return defineService("network", ["config"], (c: NetworkConfig & { log: Logger }) =>
    createNetwork(c, {
      ...init,
      dataDir: c.config.dataDir,
      network: c.config.network,
      rpcUrl: c.config.rpcUrl,
      bootstrap: c.config.bootstrap,
    }));
}

export function createNetwork(components: { log: Logger }, init: NetworkInit): NetworkService {
  return new NetworkService(components, init);
}

export class NetworkService {
  #log: Logger;
  #init: NetworkInit;
  #target?: NetworkTarget;
  #hello?: NetworkHello;
  #profile?: NetworkProfile;
  #rpcUrl = "";

  constructor(components: { log: Logger }, init: NetworkInit) {
    this.#log = components.log;
    this.#init = init;
  }

  /** Where the chain connects; set by start(). */
  get target(): NetworkTarget {
    if (!this.#target) throw new Error("Cannot use the network before start()");
    return this.#target;
  }

  /** The network's profile once the chain is up; `undefined` on a chain without Kosmos contracts. */
  get profile(): NetworkProfile | undefined {
    return this.#profile;
  }

  /** The network's name (`local`, `devnet`, …), once settled. */
  get name(): string {
    return this.#hello?.name ?? LOCAL_NETWORK;
  }

  /** What every gossip topic and protocol id of this node starts with. @default "/kosmos" until settled */
  get protocolPrefix(): string {
    return this.#hello?.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX;
  }

  /** A development network (test ether, faucet). */
  get dev(): boolean {
    return this.#hello?.dev ?? false;
  }

  async start(): Promise<void> {
    this.#target ??= await this.#resolve();
  }

  async #resolve(): Promise<NetworkTarget> {
    const { network: spec, rpcUrl, dataDir } = this.#init;
    if (spec !== undefined) {
      const choice = await loadNetwork(spec, { dataDir });
      if (choice.kind === "local") {
        if (rpcUrl) {
          throw new ConfigError("--rpc-url cannot be used with --network local (the embedded chain)");
        }
        return { kind: "local" };
      }
      const profile = rpcUrl ? { ...choice.profile, rpcUrls: [rpcUrl] } : choice.profile;
      return { kind: "profile", profile };
    }
    if (rpcUrl) return { kind: "rpc", rpcUrl };
    const bootstrap = this.#init.bootstrap ?? [];
    const saved = await loadJoinedNetwork(dataDir);
    const ownChain = await exists(join(dataDir, "chain", "contracts.json"));
    if (bootstrap.length > 0 && (!ownChain || saved)) {
      const joined = await askBootstrapPeers(bootstrap, {
        log: this.#log,
        timeout: this.#init.joinTimeout ?? 10 * second,
      });
      if (joined) {
        this.#log.info(`joining network ${describeNetwork(joinedHello(joined.profile))} of ${joined.from}`);
        return { kind: "profile", profile: joined.profile, joinedFrom: joined.from };
      }
    }
    if (saved) {
      this.#log.info(`rejoining network ${describeNetwork(joinedHello(saved.profile))}`, {
        from: saved.from,
      });
      return { kind: "profile", profile: saved.profile, joinedFrom: saved.from };
    }
    return { kind: "local" };
  }

  /**
   * Called by the chain service once connected: fixes the profile (the `local` one is named after
   * its registry). Throws {@link ConfigError} when a profile's chain id is not the chain's.
   */
  async settle(info: { chainId: number; rpcUrl: string; contracts?: NetworkContracts }): Promise<void> {
    const target = this.target;
    this.#rpcUrl = info.rpcUrl;
    if (target.kind === "profile") {
      if (target.profile.chainId !== info.chainId) {
        throw new ConfigError(
          `network "${target.profile.name}" is chain ${target.profile.chainId}, but ${info.rpcUrl} is chain ${info.chainId}`,
        );
      }
      this.#profile = target.profile;
      if (target.joinedFrom) await saveJoined(this.#init.dataDir, target.profile, target.joinedFrom);
    } else if (target.kind === "local" && info.contracts) {
      this.#profile = {
        name: LOCAL_NETWORK,
        chainId: info.chainId,
        rpcUrls: [info.rpcUrl],
        contracts: info.contracts,
        bootstrap: [],
        protocolPrefix: networkPrefix(LOCAL_NETWORK, info.contracts.registry),
        dev: true,
      };
    }
    this.#hello = {
      v: 1,
      name: this.#profile?.name ?? "rpc",
      chainId: info.chainId,
      protocolPrefix: this.#profile?.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX,
      dev: this.#profile?.dev ?? info.chainId === DEV_CHAIN,
      contracts: this.#profile?.contracts ?? info.contracts ?? null,
      rpcUrls: [],
    };
  }

  /**
   * What this node tells a peer. The RPC URL goes only to a peer connected over loopback, and only on
   * a dev network whose RPC is itself on loopback: such an anvil answers local processes only, and a
   * URL on another host may carry an API key.
   */
  hello(options: { loopbackPeer: boolean }): NetworkHello {
    if (!this.#hello) throw new Error("Cannot describe the network before the chain started");
    const share = options.loopbackPeer && this.#hello.dev && this.#hello.contracts !== null &&
      isLoopbackUrl(this.#rpcUrl);
    return { ...this.#hello, rpcUrls: share ? [this.#rpcUrl] : [] };
  }
}

function joinedHello(profile: NetworkProfile) {
  return { name: profile.name, chainId: profile.chainId, contracts: profile.contracts };
}

async function saveJoined(dataDir: string, profile: NetworkProfile, from: string): Promise<void> {
  await writeNetworkProfile(join(dataDir, "chain", "joined-network.json"), profile);
  await Deno.writeTextFile(join(dataDir, "chain", "joined-from"), from + "\n");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
