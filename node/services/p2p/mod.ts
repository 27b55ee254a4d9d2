/**
 * The libp2p host: TCP + WebSockets + circuit relay v2, noise, yamux, identify, ping, gossipsub
 * (peer scoring, topic validators), DCUtR, AutoNAT and a kad-dht on a private protocol id that keeps
 * public addresses (and LAN or loopback ones where this node has such: `addresses.ts`). A public node
 * relays for nodes behind NAT, which reserve slots on it (`nat.ts`). Discovered peers are dialled
 * until the node has `targetPeers` connections; above `maxConnections` less a reserve for newcomers
 * it closes its lowest-value connections back down to `targetPeers` (`limits.ts`).
 *
 * ```ts
 * const p2p = createP2P({ identity, log, listen: ["/ip4/127.0.0.1/tcp/0"] });
 * await p2p.start();
 * p2p.subscribe("/kosmos/announce/1/health", (msg) => …);
 * p2p.setTopicValidator("/kosmos/announce/1/health", (from, data) => "accept");
 * await p2p.publish("/kosmos/announce/1/health", bytes);
 * ```
 */
import "../../polyfills.ts";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { bootstrap } from "@libp2p/bootstrap";
import { type KadDHT, kadDHT } from "@libp2p/kad-dht";
import { circuitRelayServer, circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { dcutr } from "@libp2p/dcutr";
import { autoNATService } from "./autonat.ts";
import type { Identify } from "@libp2p/identify";
import type { Ping } from "@libp2p/ping";
import type { PeerId, Stream, StreamHandler, StreamHandlerOptions } from "@libp2p/interface";
import { fastMessageId, type GossipSub, gossipsub, TopicValidatorResult } from "./gossipsub.ts";
import { preferDirect } from "./direct.ts";
import { Discovery } from "./discovery.ts";
import {
  checkLimits,
  closestPeerSetSize,
  type ConnectionLimits,
  ConnectionTrimmer,
  HOME_LIMITS,
  lowWater,
  PUBLIC_LIMITS,
  withClosestPeerSetSize,
} from "./limits.ts";
import { createDhtAddressFilter, type ReachabilityView } from "./addresses.ts";
import {
  isPublicNode,
  type NatService,
  natService,
  NO_RELAY_DISCOVERY,
  relayServerOptions,
  servesRelay,
} from "./nat.ts";
import type { Identity } from "../identity/mod.ts";
import type { Logger } from "../../log.ts";
import { StartError } from "../../errors.ts";
import { DEFAULT_PROTOCOL_PREFIX, prefixProtocol, unprefixProtocol } from "../../../protocol/network.ts";
import { defineService } from "../../service.ts";
import { second } from "../../constants.ts";

const NO_REACHABILITY: ReachabilityView = {
  reachability: "unknown",
  publicAddresses: [],
  relayAddresses: [],
};
/** The DHT protocol id of Kosmos networks (keeps them apart from the public IPFS DHT). */
export const KAD_PROTOCOL = "/kosmos/kad/1.0.0";

export type ValidationResult = "accept" | "ignore" | "reject";
/** Checks a gossip message before it is delivered or forwarded. Must not throw. */
export type TopicValidator = (from: string, data: Uint8Array) => ValidationResult | Promise<ValidationResult>;
export type TopicHandler = (message: { from: string; topic: string; data: Uint8Array }) => void;

export type P2PServices = {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
  dht: KadDHT;
  nat: NatService;
};

export type Libp2pNode = Libp2p<P2PServices>;

export interface P2PComponents {
  identity: Identity;
  log: Logger;
}

export interface P2PInit {
  /** @default ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"] */
  listen?: string[];
  /** @default [] */
  bootstrap?: string[];
  /**
   * Connections the node dials discovered peers up to and trims back down to (`limits.ts`).
   * @default 16; 32 on a public node
   */
  targetPeers?: number;
  /**
   * The most connections: inbound ones are refused at this many; the node trims above it less
   * an eighth (kept free for newcomers). @default 64; 256 on a public node
   */
  maxConnections?: number;
  /** How long a new connection is spared from trimming, ms. @default 20 s */
  gracePeriod?: number;
  /** Largest gossip message accepted, in bytes. @default 1 MiB */
  maxMessageBytes?: number;
  /**
   * The network's protocol prefix, read at start: every `/kosmos/…` topic and protocol id this node
   * speaks is put under it (`/kosmos/local-1a2b3c4d/chunks/1.0.0`). @default "/kosmos"
   */
  protocolPrefix?: () => string;
  /** Multiaddrs to advertise instead of the listen addresses (`--announce`). @default [] */
  announce?: string[];
  /** Relay for nodes behind NAT (`relayServerOptions`); others reserve relay slots. @default false */
  relay?: boolean;
}

/** The config fields the `p2p` factory reads. */
export interface P2PConfig {
  config: {
    listen: string[];
    bootstrap: string[];
    announce?: string[];
    relay?: "auto" | "on" | "off";
    targetPeers?: number;
    maxConnections?: number;
  };
}

/** The `p2p` component; `listen` and `bootstrap` come from the config. */
export function p2p(init: Omit<P2PInit, "listen" | "bootstrap"> = {}) {
  return defineService(
    "p2p",
    ["identity", "config", "network"],
    (c: P2PComponents & P2PConfig & { network: { readonly protocolPrefix: string } }) =>
      createP2P(c, {
        protocolPrefix: () => c.network.protocolPrefix,
        ...init,
        listen: c.config.listen,
        bootstrap: c.config.bootstrap,
        announce: c.config.announce ?? [],
        relay: servesRelay(c.config),
        ...(c.config.targetPeers !== undefined ? { targetPeers: c.config.targetPeers } : {}),
        ...(c.config.maxConnections !== undefined ? { maxConnections: c.config.maxConnections } : {}),
      }),
  );
}

export function createP2P(components: P2PComponents, init: P2PInit = {}): P2P {
  return new P2P(components, init);
}

export class P2P {
  #c: P2PComponents;
  #init: Required<Omit<P2PInit, "protocolPrefix" | keyof ConnectionLimits>>;
  #limits: ConnectionLimits;
  #trimmer?: ConnectionTrimmer;
  #node?: Libp2pNode;
  #handlers = new Map<string, Set<TopicHandler>>();
  #discovery?: Discovery;
  #prefix = DEFAULT_PROTOCOL_PREFIX;
  #protocolPrefix?: () => string;

  constructor(components: P2PComponents, init: P2PInit) {
    this.#c = components;
    this.#protocolPrefix = init.protocolPrefix;
    this.#init = {
      listen: init.listen ?? ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
      bootstrap: init.bootstrap ?? [],
      maxMessageBytes: init.maxMessageBytes ?? 1024 * 1024,
      announce: init.announce ?? [],
      relay: init.relay ?? false,
    };
    const defaults = init.relay || isPublicNode(this.#init) ? PUBLIC_LIMITS : HOME_LIMITS;
    const maxConnections = init.maxConnections ?? defaults.maxConnections;
    this.#limits = checkLimits({
      maxConnections,
      targetPeers: init.targetPeers ?? Math.min(defaults.targetPeers, maxConnections),
      gracePeriod: init.gracePeriod ?? defaults.gracePeriod,
    });
  }

  /** The connection limits this node keeps (`limits.ts`). */
  get limits(): ConnectionLimits {
    return this.#limits;
  }

  /** The running libp2p node, for services that open streams or use the DHT. */
  get libp2p(): Libp2pNode {
    if (!this.#node) throw new Error("Cannot use p2p before start()");
    return this.#node;
  }

  get peerId(): PeerId {
    return this.#c.identity.peerId;
  }

  async start(): Promise<void> {
    const { identity, log } = this.#c;
    const init = this.#init;
    this.#prefix = this.#protocolPrefix?.() ?? DEFAULT_PROTOCOL_PREFIX;
    let created: Libp2pNode | undefined;
    const trimmer = this.#trimmer = new ConnectionTrimmer(this.#limits, log);
    try {
      this.#node = created = await createLibp2p({
        privateKey: identity.privateKey,
        addresses: { listen: init.listen, ...(init.announce.length > 0 ? { announce: init.announce } : {}) },
        transports: [tcp(), webSockets(), circuitRelayTransport({ discoveryFilter: NO_RELAY_DISCOVERY })],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: { maxConnections: this.#limits.maxConnections },
        connectionGater: trimmer.gater,
        peerDiscovery: init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 0 })] : [],
        services: {
          identify: identify(),
          ping: ping(),
          pubsub: gossipsub({
            allowPublishToZeroTopicPeers: true,
            emitSelf: false,
            maxInboundDataLength: init.maxMessageBytes,
            // Drops copies of a message already seen before their envelope
            // signature is verified again (each node gets a copy from every
            // mesh peer). Same key as the message id under StrictSign (author
            // + seqno), and only messages whose signature verified enter this
            // cache, so what counts as a duplicate is unchanged.
            fastMsgIdFn: fastMessageId,
            // Message validity is decided by our topic validators; a rejected
            // message costs its sender score through P4 (invalid deliveries).
            scoreParams: { IPColocationFactorWeight: 0 },
          }),
          dht: withClosestPeerSetSize(
            kadDHT({
              protocol: this.protocolId(KAD_PROTOCOL),
              clientMode: false,
              peerInfoMapper: createDhtAddressFilter(() => created?.getMultiaddrs() ?? []),
              initialQuerySelfInterval: 0,
              allowQueryWithZeroPeers: true,
            }),
            closestPeerSetSize(this.#limits),
          ),
          nat: natService({ log, reserve: !init.relay && !isPublicNode(init) }),
          dcutr: dcutr(),
          autoNAT: autoNATService(),
          ...(init.relay ? { relay: circuitRelayServer(relayServerOptions) } : {}),
        },
      }) as Libp2pNode;
    } catch (cause) {
      throw new StartError(`cannot start libp2p: ${(cause as Error).message}`, { cause });
    }
    const node = this.#node;
    node.services.pubsub.addEventListener("message", (evt) => {
      const msg = evt.detail;
      const handlers = this.#handlers.get(msg.topic);
      if (!handlers) return;
      const from = msg.type === "signed" ? msg.from.toString() : "";
      const topic = unprefixProtocol(this.#prefix, msg.topic) ?? msg.topic;
      for (const handler of handlers) {
        try {
          handler({ from, topic, data: msg.data });
        } catch (err) {
          log.warn("failed to handle gossip message", { topic: msg.topic, error: err });
        }
      }
    });
    node.addEventListener(
      "peer:connect",
      (evt) => log.debug("connected peer", { peerId: evt.detail.toString() }),
    );
    node.addEventListener(
      "peer:disconnect",
      (evt) => log.debug("disconnected peer", { peerId: evt.detail.toString() }),
    );
    trimmer.start(node);
    log.info("started libp2p", { peerId: node.peerId.toString(), listen: this.listenAddresses() });
    this.#discovery = new Discovery(node, {
      bootstrap: init.bootstrap,
      target: lowWater(this.#limits),
      kadProtocol: this.protocolId(KAD_PROTOCOL),
    }, log);
    this.#discovery.start();
  }

  async stop(): Promise<void> {
    this.#discovery?.stop();
    this.#discovery = undefined;
    this.#trimmer?.stop();
    this.#trimmer = undefined;
    await this.#node?.stop();
    this.#node = undefined;
  }

  /** Multiaddrs other nodes can dial, each ending in `/p2p/<peerId>`. */
  listenAddresses(): string[] {
    return this.#node?.getMultiaddrs().map((ma) => ma.toString()) ?? [];
  }

  /** Public, private or unknown, the confirmed public and relay addresses, and whether it relays. */
  reachability(): ReachabilityView & { relaying: boolean } {
    const view = this.#node?.services.nat.reachability() ?? NO_REACHABILITY;
    return { ...view, relaying: this.#init.relay };
  }

  /** Connected peers, each `direct` or through a circuit relay (`direct: false`), sorted. */
  connections(): { peerId: string; direct: boolean }[] {
    return this.#node?.services.nat.connections() ?? [];
  }

  /** Peer ids of connected peers, sorted. */
  peers(): string[] {
    return [...new Set(this.#node?.getConnections().map((c) => c.remotePeer.toString()) ?? [])].sort();
  }

  /** Subscribes to a topic; returns the function that unsubscribes this handler. */
  subscribe(name: string, handler: TopicHandler): () => void {
    const topic = this.protocolId(name);
    let set = this.#handlers.get(topic);
    if (!set) {
      set = new Set();
      this.#handlers.set(topic, set);
      this.libp2p.services.pubsub.subscribe(topic);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0) {
        this.#handlers.delete(topic);
        this.#node?.services.pubsub.unsubscribe(topic);
      }
    };
  }

  /**
   * Validates every message on `topic` before delivery and forwarding.
   * "reject" penalises the sender's peer score; "ignore" drops silently.
   */
  setTopicValidator(name: string, validate: TopicValidator): void {
    const topic = this.protocolId(name);
    this.#scoreTopic(topic);
    const results = {
      accept: TopicValidatorResult.Accept,
      ignore: TopicValidatorResult.Ignore,
      reject: TopicValidatorResult.Reject,
    };
    this.libp2p.services.pubsub.topicValidators.set(topic, async (peer, msg) => {
      try {
        return results[await validate(peer.toString(), msg.data)];
      } catch (err) {
        this.#c.log.warn("rejected gossip message: validator threw", { topic, error: err });
        return TopicValidatorResult.Reject;
      }
    });
  }

  /**
   * Scores peers on a validated topic: each rejected message costs its sender
   * (P4, squared), while quiet topics cost nothing (announcements are rare, so
   * mesh delivery deficits are not penalised).
   */
  #scoreTopic(topic: string): void {
    const pubsub = this.libp2p.services.pubsub as unknown as {
      score: { params: { topics: Record<string, unknown> } };
    };
    pubsub.score.params.topics[topic] = {
      topicWeight: 1,
      timeInMeshWeight: 0.01,
      timeInMeshQuantum: second,
      timeInMeshCap: 100,
      firstMessageDeliveriesWeight: 1,
      firstMessageDeliveriesDecay: 0.9,
      firstMessageDeliveriesCap: 10,
      meshMessageDeliveriesWeight: 0,
      meshMessageDeliveriesDecay: 0.5,
      meshMessageDeliveriesCap: 100,
      meshMessageDeliveriesThreshold: 1,
      meshMessageDeliveriesWindow: 10,
      meshMessageDeliveriesActivation: 5 * second,
      meshFailurePenaltyWeight: 0,
      meshFailurePenaltyDecay: 0.5,
      invalidMessageDeliveriesWeight: -10,
      invalidMessageDeliveriesDecay: 0.9,
    };
  }

  /** Publishes to a topic; resolves with the number of peers it was sent to. */
  async publish(topic: string, data: Uint8Array): Promise<number> {
    const { recipients } = await this.libp2p.services.pubsub.publish(this.protocolId(topic), data);
    return recipients.length;
  }

  /** Peer ids of connected peers that identify says speak `protocol`, unordered. */
  async protocolPeers(protocol: string): Promise<string[]> {
    const libp2p = this.libp2p;
    const peers = new Map<string, PeerId>();
    for (const conn of libp2p.getConnections()) peers.set(conn.remotePeer.toString(), conn.remotePeer);
    const out: string[] = [];
    await Promise.all([...peers].map(async ([id, peerId]) => {
      try {
        if ((await libp2p.peerStore.get(peerId)).protocols.includes(this.protocolId(protocol))) out.push(id);
      } catch { /* not identified yet */ }
    }));
    return out;
  }

  /** Peers currently subscribed to `topic`. */
  topicPeers(topic: string): string[] {
    return this.#node?.services.pubsub.getSubscribers(this.protocolId(topic)).map((p) => p.toString()) ?? [];
  }

  /** The gossipsub score of a peer (negative after invalid messages). */
  peerScore(peerId: string): number {
    return (this.libp2p.services.pubsub as unknown as { getScore(id: string): number }).getScore(peerId);
  }

  /** Registers a stream protocol handler (`/kosmos/chunks/1.0.0`, …) under the network's prefix. */
  async handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    await this.libp2p.handle(this.protocolId(protocol), handler, options);
  }

  /** Removes a handler registered with {@link handle}. */
  async unhandle(protocol: string): Promise<void> {
    await this.libp2p.unhandle(this.protocolId(protocol));
  }

  /** Opens a stream to `peer` on `protocol` (`/kosmos/sale/1.0.0`, …) under the network's prefix. */
  async dialProtocol(
    peer: PeerId,
    protocol: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Stream> {
    await preferDirect(this.libp2p, peer, options); // not a relayed connection DCUtR is about to close
    return this.libp2p.dialProtocol(peer, this.protocolId(protocol), options);
  }

  /** `id` (written `/kosmos/…`) as this node speaks it: under its network's protocol prefix. */
  protocolId(id: string): string {
    return prefixProtocol(this.#prefix, id);
  }
}
