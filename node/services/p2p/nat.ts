/**
 * The libp2p service that keeps a node behind NAT reachable: when it
 * connects directly to a peer that runs a circuit relay v2 server (a public
 * node, see `relayServerOptions`), it reserves a slot there, up to
 * `maxReservations` relays, unless the node already has a confirmed public
 * address. Peers then dial it at `/…/p2p/<relay>/p2p-circuit/p2p/<node>`, and
 * DCUtR upgrades such a connection to a direct one where it can. It also
 * reports the node's reachability (see `addresses.ts`).
 *
 * Reservations are made only on relays the node is connected to (bootstrap
 * peers, peers found in the DHT), never by a random walk of the network.
 *
 * ```ts
 * services: { nat: natService({ log, maxReservations: 2 }) }
 * node.services.nat.reachability(); // { reachability: "private", relayAddresses: [...] }
 * ```
 */
import type { Connection, PeerId } from "@libp2p/interface";
import { RELAY_V2_HOP_CODEC } from "@libp2p/circuit-relay-v2";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "../../log.ts";
import {
  type AddressMetadata,
  addressScope,
  describeReachability,
  isRelayAddress,
  type ReachabilityView,
} from "./addresses.ts";

/** The parts of libp2p's internal components this service uses. */
export interface NatServiceComponents {
  addressManager: { getAddressesWithMetadata(): AddressMetadata[] };
  transportManager: { listen(addrs: Multiaddr[]): Promise<void> };
  connectionManager: { getConnections(peer?: PeerId): Connection[] };
  registrar: {
    register(
      protocol: string,
      topology: {
        onConnect?(peer: PeerId, connection: Connection): void;
        onDisconnect?(peer: PeerId): void;
      },
    ): Promise<string>;
    unregister(id: string): void;
  };
}

export interface NatServiceInit {
  log: Logger;
  /** Reserve relay slots at all (off for a node that announces public addresses). @default true */
  reserve?: boolean;
  /** Relays to hold a reservation on at once. @default 2 */
  maxReservations?: number;
}

/** Resource limits of the relay server a public node runs (`--relay`). */
export const relayServerOptions = {
  // Relayed connections are not capped in bytes or time: a buyer whose hole punch failed still buys
  // and downloads a dataset from a home node through the relay. What a relay spends is bounded by
  // the number of nodes it holds a slot for, and the streams open through it.
  reservations: { maxReservations: 32, reservationTtl: 60 * 60 * 1000, applyDefaultLimit: false },
  maxInboundHopStreams: 32,
  maxOutboundHopStreams: 32,
  maxOutboundStopStreams: 64,
  hopTimeout: 30_000,
};

export class NatService {
  readonly #c: NatServiceComponents;
  readonly #log: Logger;
  readonly #reserve: boolean;
  readonly #max: number;
  #topology?: string;
  /** Relays asked for a slot (pending or held), by peer id. */
  #relays = new Set<string>();

  constructor(components: NatServiceComponents, init: NatServiceInit) {
    this.#c = components;
    this.#log = init.log;
    this.#reserve = init.reserve ?? true;
    this.#max = init.maxReservations ?? 2;
  }

  readonly [Symbol.toStringTag] = "kosmos:nat";

  async start(): Promise<void> {
    if (!this.#reserve) return;
    this.#topology = await this.#c.registrar.register(RELAY_V2_HOP_CODEC, {
      onConnect: (peer, connection) => void this.#maybeReserve(peer, connection),
      // the reservation ends with the connection; the next connection to that relay reserves again
      onDisconnect: (peer) => void this.#relays.delete(peer.toString()),
    });
  }

  stop(): void {
    if (this.#topology) this.#c.registrar.unregister(this.#topology);
    this.#topology = undefined;
    this.#relays.clear();
  }

  /** Public, private or unknown, with the confirmed public and relay addresses. */
  reachability(): ReachabilityView {
    return describeReachability(this.#c.addressManager.getAddressesWithMetadata());
  }

  /** Connected peers, each `direct` or through a circuit relay (`direct: false`), sorted. */
  connections(): { peerId: string; direct: boolean }[] {
    const byPeer = new Map<string, boolean>();
    for (const conn of this.#c.connectionManager.getConnections()) {
      const id = conn.remotePeer.toString();
      byPeer.set(id, (byPeer.get(id) ?? false) || !isRelayAddress(conn.remoteAddr));
    }
    return [...byPeer].sort(([a], [b]) => a < b ? -1 : 1).map(([peerId, direct]) => ({ peerId, direct }));
  }

  async #maybeReserve(peer: PeerId, connection: Connection): Promise<void> {
    const key = peer.toString();
    if (this.#relays.has(key) || this.#relays.size >= this.#max) return;
    if (isRelayAddress(connection.remoteAddr)) return; // a relay is reserved on over a direct connection
    if (this.reachability().reachability === "public") return;
    this.#relays.add(key);
    let error = "";
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      if (!this.#topology) return;
      // An open direct connection to the relay, else the address it was reached at (listening
      // on the relay dials it again): the first connection may have been closed as a duplicate.
      const direct = this.#c.connectionManager.getConnections(peer)
        .find((c) => c.status === "open" && !isRelayAddress(c.remoteAddr)) ?? connection;
      const relayAddr = direct.remoteAddr.getComponents().some((c) => c.name === "p2p")
        ? direct.remoteAddr
        : direct.remoteAddr.encapsulate(`/p2p/${key}`);
      try {
        await this.#c.transportManager.listen([relayAddr.encapsulate("/p2p-circuit")]);
        this.#log.info("reserved a relay slot", { relay: key });
        return;
      } catch (err) {
        // the listen error wraps the reservation's; keep its one line
        const message = (err as Error).message;
        error = (message.split("\n").find((l) => l.includes("Error:")) ?? message).trim();
      }
    }
    this.#relays.delete(key);
    this.#log.warn("failed to reserve a relay slot", { relay: key, error });
  }
}

/**
 * Keeps the relay transport's own discovery from seeing any peer: `nat.ts` chooses the relays
 * (an attempt of the transport's, turned down, would mark the relay unusable).
 */
export const NO_RELAY_DISCOVERY = { has: () => true, add: () => {}, remove: () => {} };

/**
 * Whether a node relays for others: `on`, `off`, or `auto`, which relays when the node announces
 * addresses (`--announce`) or listens on a public IP address, i.e. when it is a public node.
 */
export function servesRelay(
  config: { listen: string[]; announce?: string[]; relay?: "auto" | "on" | "off" },
): boolean {
  const relay = config.relay ?? "auto";
  if (relay !== "auto") return relay === "on";
  return isPublicNode(config);
}

/** A node that announces addresses, or listens on a public IP address. */
export function isPublicNode(config: { listen: string[]; announce?: string[] }): boolean {
  if ((config.announce ?? []).length > 0) return true;
  return config.listen.some((addr) => {
    const ma = multiaddr(addr);
    const host = ma.getComponents()[0]?.value;
    return host !== "0.0.0.0" && host !== "::" && addressScope(ma) === "public";
  });
}

/** The `nat` libp2p service. */
export function natService(init: NatServiceInit): (components: NatServiceComponents) => NatService {
  return (components) => new NatService(components, init);
}
