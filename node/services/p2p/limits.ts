/**
 * Connection limits, kept the way go-libp2p's connection manager keeps them (a low and a high water
 * mark and a grace period), on top of js-libp2p's hard cap.
 *
 * Why a node used to end up connected to every peer it learnt of: kad-dht pings each new contact
 * before adding it to its routing table (one connection per peer named in any DHT answer), every
 * DHT query opens connections to the up to 20 peers it asks, and kad-dht tags its 20 closest peers
 * `keep-alive`, which libp2p redials when they drop. Nothing closes those connections: libp2p's
 * pruner only acts above `maxConnections` and never closes a connection that carries a stream other
 * than identify/ping, and every connection carries a gossipsub stream. At its cap libp2p then
 * refuses every inbound connection, so a full node (a bootstrap seed first) turned newcomers away.
 *
 * What this does instead:
 * - the node dials discovered peers only up to `targetPeers` (the low water mark; `discovery.ts`);
 * - a connection gater refuses outbound connections from the high water mark on (`maxConnections`
 *   less an inbound reserve of an eighth, at least 1) and inbound ones at `maxConnections`, so
 *   DHT queries can never fill the node and the reserve is always there for a newcomer;
 * - from the high water mark on, it closes its lowest-value connections back down to `targetPeers`;
 *   value is the sum of the peer's tags (gossipsub mesh 100 per topic, kad-dht closest 50,
 *   bootstrap 50, routing table 1), then fewer streams, then newest; a second connection to the
 *   same peer goes first;
 * - connections younger than `gracePeriod` are spared unless the reserve needs them; then those
 *   of the peers this node has known longest go first: such a peer is already part of the network
 *   (it came back for a DHT query), while a newcomer may have no other connection yet;
 * - a peer this node itself keeps alive (kad-dht's closest set, a relay it holds a slot on) is never
 *   closed (libp2p would redial it at once), and kad-dht's closest set is cut from 20 to a quarter
 *   of `targetPeers` so that it fits; nor is a peer holding a relay slot on this node.
 */
import type { Connection, ConnectionGater, Libp2p, PeerId } from "@libp2p/interface";
import { KEEP_ALIVE } from "@libp2p/interface";
import type { Logger } from "../../log.ts";
import { second } from "../../constants.ts";

/** Peers whose first connection the trim remembers (a Map of peer id → time: about 1 MiB). */
const FIRST_SEEN_PEERS = 10_000;

/** The tag circuit-relay-v2's server puts on a peer holding a reservation (not exported by it). */
const RELAY_SOURCE_TAG = "circuit-relay-source";

export interface ConnectionLimits {
  /** Connections the node dials discovered peers up to, and trims back down to (low water). */
  targetPeers: number;
  /** The hard cap: libp2p refuses inbound connections at this many. */
  maxConnections: number;
  /** How long a new connection is spared from trimming unless the inbound reserve needs it, ms. */
  gracePeriod: number;
}

/** Defaults of a node behind NAT or at home. */
export const HOME_LIMITS: ConnectionLimits = {
  targetPeers: 16,
  maxConnections: 64,
  gracePeriod: 20 * second,
};
/** Defaults of a public node (announces addresses or listens on a public IP): bootstraps and relays. */
export const PUBLIC_LIMITS: ConnectionLimits = {
  targetPeers: 32,
  maxConnections: 256,
  gracePeriod: 20 * second,
};

/** Throws a `RangeError` a person can act on when the limits cannot work together. */
export function checkLimits(limits: ConnectionLimits): ConnectionLimits {
  const { targetPeers, maxConnections, gracePeriod } = limits;
  if (!Number.isInteger(maxConnections) || maxConnections < 2) {
    throw new RangeError(`maxConnections ${maxConnections} must be an integer of at least 2`);
  }
  if (!Number.isInteger(targetPeers) || targetPeers < 1 || targetPeers > maxConnections) {
    throw new RangeError(
      `targetPeers ${targetPeers} must be an integer from 1 to maxConnections (${maxConnections})`,
    );
  }
  if (!Number.isFinite(gracePeriod) || gracePeriod < 0) {
    throw new RangeError(`gracePeriod ${gracePeriod} must be a number of milliseconds of at least 0`);
  }
  return limits;
}

/** Slots kept free for inbound connections: an eighth of the cap, at least one. */
export function inboundReserve(maxConnections: number): number {
  return Math.max(1, Math.ceil(maxConnections / 8));
}

/** Above this many connections the node trims. */
export function highWater(limits: ConnectionLimits): number {
  return limits.maxConnections - inboundReserve(limits.maxConnections);
}

/** What a trim brings the count down to (when enough connections are past their grace period). */
export function lowWater(limits: ConnectionLimits): number {
  return Math.min(limits.targetPeers, highWater(limits));
}

/** How many of its closest DHT peers a node keeps connected (kad-dht's default is 20). */
export function closestPeerSetSize(limits: ConnectionLimits): number {
  return Math.max(1, Math.floor(lowWater(limits) / 4));
}

/** One open connection as the trim sees it. */
export interface TrimCandidate {
  id: string;
  peer: string;
  /** When it opened, ms since the epoch. */
  opened: number;
  /** When this node first saw the peer connected, ms since the epoch. */
  firstSeen: number;
  /** The sum of the peer's tag values. */
  value: number;
  streams: number;
  /**
   * Never closed: this node keeps the peer connected (a `keep-alive…` tag: libp2p would redial it)
   * or the peer holds a relay slot here (`circuit-relay-source`).
   */
  kept: boolean;
}

/** The ids of the connections to close so that the node is back within its limits, in closing order. */
export function selectTrim(candidates: TrimCandidate[], limits: ConnectionLimits, now: number): string[] {
  const high = highWater(limits);
  if (candidates.length < high) return [];
  const low = lowWater(limits);
  const close: string[] = [];
  // A second connection to the same peer (two dials that crossed) goes first: it costs the peer nothing.
  const byPeer = Map.groupBy(candidates, (c) => c.peer);
  for (const conns of byPeer.values()) {
    conns.sort((a, b) => b.streams - a.streams || a.opened - b.opened);
    for (const extra of conns.slice(1)) close.push(extra.id);
  }
  const closed = new Set(close);
  let left = candidates.length - close.length;
  const open = candidates.filter((c) => !closed.has(c.id) && !c.kept);
  const old = open.filter((c) => now - c.opened >= limits.gracePeriod)
    .sort((a, b) => a.value - b.value || a.streams - b.streams || b.opened - a.opened);
  for (const c of old) {
    if (left <= low) break;
    close.push(c.id);
    left--;
  }
  if (left > high) {
    const young = open.filter((c) => now - c.opened < limits.gracePeriod)
      .sort((a, b) => a.firstSeen - b.firstSeen || a.value - b.value || a.opened - b.opened);
    for (const c of young) {
      if (left <= high) break;
      close.push(c.id);
      left--;
    }
  }
  return close;
}

/**
 * Keeps a libp2p node within its limits: a connection gater that refuses connections past them
 * (outbound ones from the high water mark on, inbound ones at the cap, counting connections that
 * passed the gate but are not open yet), and a trim whenever a connection opens and every few seconds.
 */
export class ConnectionTrimmer {
  #node?: Libp2p;
  #limits: ConnectionLimits;
  #log: Logger;
  #running?: Promise<void>;
  #again = false;
  #timer?: ReturnType<typeof setInterval>;
  /** Connections let through the gate whose `connection:open` has not come yet, by remote peer. */
  #admitted = new Map<string, number>();
  /** When each peer was first seen connected (the latest {@link FIRST_SEEN_PEERS} peers). */
  #firstSeen = new Map<string, number>();
  #onOpen = (evt: CustomEvent<Connection>) => {
    const key = evt.detail.remotePeer.toString();
    this.#release(key);
    if (!this.#firstSeen.has(key)) {
      this.#firstSeen.set(key, Date.now());
      if (this.#firstSeen.size > FIRST_SEEN_PEERS) {
        this.#firstSeen.delete(this.#firstSeen.keys().next().value!);
      }
    }
    this.schedule();
  };

  constructor(limits: ConnectionLimits, log: Logger) {
    this.#limits = checkLimits(limits);
    this.#log = log;
  }

  /** For libp2p's `connectionGater`. */
  readonly gater: Pick<
    ConnectionGater,
    "denyDialPeer" | "denyInboundUpgradedConnection" | "denyOutboundUpgradedConnection"
  > = {
    denyDialPeer: () => this.#count() >= highWater(this.#limits),
    denyOutboundUpgradedConnection: (peer) => !this.#admit(peer, highWater(this.#limits)),
    denyInboundUpgradedConnection: (peer) => !this.#admit(peer, this.#limits.maxConnections),
  };

  start(node: Libp2p): void {
    this.#node = node;
    node.addEventListener("connection:open", this.#onOpen);
    const tick = Math.max(second / 2, Math.min(10 * second, this.#limits.gracePeriod / 2));
    this.#timer = setInterval(() => this.schedule(), tick);
  }

  stop(): void {
    this.#node?.removeEventListener("connection:open", this.#onOpen);
    this.#node = undefined;
    clearInterval(this.#timer);
    this.#admitted.clear();
  }

  #count(): number {
    let admitted = 0;
    for (const n of this.#admitted.values()) admitted += n;
    return (this.#node?.getConnections().length ?? 0) + admitted;
  }

  /** Takes a slot if fewer than `limit` are used; the slot is released when the connection opens (or after a second). */
  #admit(peer: PeerId, limit: number): boolean {
    if (this.#count() >= limit) return false;
    const key = peer.toString();
    this.#admitted.set(key, (this.#admitted.get(key) ?? 0) + 1);
    setTimeout(() => this.#release(key), second); // the upgrade failed after the gate: free the slot
    return true;
  }

  #release(key: string): void {
    const n = this.#admitted.get(key) ?? 0;
    if (n > 1) this.#admitted.set(key, n - 1);
    else this.#admitted.delete(key);
  }

  /** Runs a trim now, or once more after the one running. */
  schedule(): void {
    if (!this.#node) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.trim();
        } catch (err) {
          this.#log.warn("failed to trim connections", { error: err });
        }
      } while (this.#again && this.#node);
    })().finally(() => this.#running = undefined);
  }

  /** Closes what {@link selectTrim} picks; resolves with how many connections it closed. */
  async trim(): Promise<number> {
    const node = this.#node;
    if (!node) return 0;
    const connections = node.getConnections().filter((c) => c.status === "open");
    if (connections.length < highWater(this.#limits)) return 0;
    const tags = new Map<string, { value: number; kept: boolean }>();
    await Promise.all(connections.map(async (c) => {
      const key = c.remotePeer.toString();
      if (!tags.has(key)) tags.set(key, await tagsOf(node, c.remotePeer));
    }));
    const byId = new Map<string, Connection>(connections.map((c) => [c.id, c]));
    const ids = selectTrim(
      connections.map((c) => ({
        id: c.id,
        peer: c.remotePeer.toString(),
        opened: c.timeline.open,
        firstSeen: this.#firstSeen.get(c.remotePeer.toString()) ?? c.timeline.open,
        streams: c.streams.length,
        ...tags.get(c.remotePeer.toString())!,
      })),
      this.#limits,
      Date.now(),
    );
    if (ids.length === 0) return 0;
    await Promise.all(ids.map(async (id) => {
      const c = byId.get(id)!;
      try {
        await c.close({ signal: AbortSignal.timeout(second) });
      } catch (err) {
        c.abort(err as Error);
      }
    }));
    this.#log.debug("closed connections over the node's limits", {
      closed: ids.length,
      connections: connections.length,
      highWater: highWater(this.#limits),
    });
    return ids.length;
  }
}

async function tagsOf(node: Libp2p, peer: PeerId): Promise<{ value: number; kept: boolean }> {
  try {
    const { tags } = await node.peerStore.get(peer);
    let value = 0;
    let kept = false;
    for (const [name, tag] of tags) {
      value += tag.value;
      if (name.startsWith(KEEP_ALIVE) || name === RELAY_SOURCE_TAG) kept = true;
    }
    return { value, kept };
  } catch {
    return { value: 0, kept: false }; // not in the peer store yet: no tags
  }
}

/**
 * Wraps kad-dht's factory so that it keeps only `size` closest peers connected (it keeps 20 and
 * offers no option): `routingTable.closestPeerTagger.peerSetSize`, read when the DHT starts.
 */
export function withClosestPeerSetSize<C, S>(
  factory: (components: C) => S,
  size: number,
): (components: C) => S {
  return (components) => {
    const dht = factory(components);
    const tagger = (dht as { routingTable?: { closestPeerTagger?: { peerSetSize?: unknown } } }).routingTable
      ?.closestPeerTagger;
    if (typeof tagger?.peerSetSize !== "number") {
      throw new Error("kad-dht no longer has routingTable.closestPeerTagger.peerSetSize: review limits.ts");
    }
    tagger.peerSetSize = size;
    return dht;
  };
}
