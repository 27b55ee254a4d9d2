/**
 * How a node finds peers: it dials its bootstrap peers (again, with backoff, those not reached yet,
 * and all of them, with the peers it knows, whenever it is left without any connection), walks the DHT towards its own id
 * when a new DHT peer is identified and every 30 s, and dials what it discovers, but only while it
 * has fewer than `target` connections (the low water mark of `limits.ts`): a node does not connect
 * to every peer it learns of.
 */
import { multiaddr } from "@multiformats/multiaddr";
import type { PeerId } from "@libp2p/interface";
import type { Libp2pNode } from "./mod.ts";
import type { Logger } from "../../log.ts";
import { second } from "../../constants.ts";

/** Tries of a bootstrap peer never reached before it is given up (about 4 minutes), while the node has peers. */
const BOOTSTRAP_ATTEMPTS = 12;

export interface DiscoveryInit {
  /** Multiaddrs (with `/p2p/…`) of the peers to join through. */
  bootstrap: string[];
  /** Connections to dial discovered peers up to. */
  target: number;
  /** The DHT protocol id, under the network's prefix: a peer speaking it starts a walk. */
  kadProtocol: string;
}

export class Discovery {
  #node: Libp2pNode;
  #init: DiscoveryInit;
  #log: Logger;
  #running = false;
  #dialing = new Set<string>();
  #walking?: Promise<void>;
  #walkAgain = false;
  #walkTimer?: ReturnType<typeof setInterval>;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #bootstrapTimer?: ReturnType<typeof setTimeout>;
  /** Bootstrap addresses dialled successfully since start. */
  #reached = new Set<string>();

  constructor(node: Libp2pNode, init: DiscoveryInit, log: Logger) {
    this.#node = node;
    this.#init = init;
    this.#log = log;
  }

  start(): void {
    const node = this.#node;
    this.#running = true;
    node.addEventListener("peer:discovery", (evt) => void this.#maybeDial(evt.detail.id));
    // A new DHT peer knows peers we do not: look up our own id through it,
    // once the DHT has added it to its routing table (just after identify).
    node.addEventListener("peer:identify", (evt) => {
      if (evt.detail.protocols.includes(this.#init.kadProtocol)) this.#scheduleWalk(100);
    });
    this.#walkTimer = setInterval(() => this.#walk(), 30 * second);
    node.addEventListener("peer:disconnect", () => {
      if (node.getConnections().length === 0) this.#scheduleBootstrap(1); // alone again: rejoin
    });
    // Dial bootstrap peers right away rather than waiting for the discovery tick.
    this.#dialBootstrap(0);
  }

  stop(): void {
    this.#running = false;
    clearInterval(this.#walkTimer);
    clearTimeout(this.#bootstrapTimer);
    this.#bootstrapTimer = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /**
   * Dials the bootstrap peers not reached yet (all of them when the node has
   * no connection at all) and tries again with backoff (1 s, 2 s, 4 s … 30 s)
   * while one is left: a node whose first dial of a bootstrap peer failed
   * (peer still starting, connection limits) still reaches it, even when the
   * others let it join. A peer reached once is not dialled again while the
   * node has connections (the DHT knows it then); one never reached is given
   * up after {@link BOOTSTRAP_ATTEMPTS} tries, unless the node is alone.
   */
  #dialBootstrap(attempt: number): void {
    const node = this.#node;
    if (!this.#running) return;
    const alone = node.getConnections().length === 0;
    // Left alone (e.g. a seed every peer trimmed once they had others): dial the peers it knows too.
    const known = alone && attempt > 0 ? this.#dialKnown() : Promise.resolve();
    const dialling = alone ? this.#init.bootstrap : this.#init.bootstrap.filter((a) => !this.#reached.has(a));
    if (dialling.length === 0 || (!alone && attempt > BOOTSTRAP_ATTEMPTS)) {
      void known.then(() => {
        if (this.#running && alone && attempt > 0 && node.getConnections().length === 0) {
          this.#scheduleBootstrap(attempt + 1);
        }
      });
      return;
    }
    const dials = [
      known,
      ...dialling.map((addr) =>
        node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10 * second) }).then(
          () => void this.#reached.add(addr),
          (err) => this.#log.warn("failed to dial bootstrap peer", { addr, attempt, error: err }),
        )
      ),
    ];
    void Promise.all(dials).then(() => {
      const left = this.#init.bootstrap.some((a) => !this.#reached.has(a));
      if (this.#running && (left || node.getConnections().length === 0)) this.#scheduleBootstrap(attempt + 1);
    });
  }

  /** Dials peers from the peer store, up to the target. */
  async #dialKnown(): Promise<void> {
    const peers = await this.#node.peerStore.all().catch(() => []);
    await Promise.all(peers.map((peer) => this.#maybeDial(peer.id)));
  }

  #scheduleBootstrap(attempt: number): void {
    if (!this.#running || this.#bootstrapTimer !== undefined) return; // one rejoin at a time
    this.#bootstrapTimer = setTimeout(() => {
      this.#bootstrapTimer = undefined;
      this.#dialBootstrap(attempt);
    }, Math.min(30, 2 ** (attempt - 1)) * second);
  }

  /** Looks up the peers closest to our own id (a random walk of one), dialling what it finds. */
  #scheduleWalk(delay: number, attempt = 0): void {
    if (!this.#running) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#walk(attempt);
    }, delay);
    this.#timers.add(timer);
  }

  /**
   * @param attempt how many walks in a row found no peer to ask; the DHT adds
   * a peer to its routing table shortly after identify, so an empty walk is
   * retried with backoff (0.25 s … 4 s) before the 30 s tick takes over.
   */
  #walk(attempt = 0): void {
    const node = this.#node;
    if (!this.#running || node.getConnections().length >= this.#init.target) return;
    if (this.#walking) {
      this.#walkAgain = true;
      return;
    }
    this.#walking = (async () => {
      do {
        this.#walkAgain = false;
        const signal = AbortSignal.timeout(10 * second);
        let responses = 0;
        try {
          for await (
            const event of node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal })
          ) {
            if (event.name === "PEER_RESPONSE") {
              responses++;
              for (const peer of event.closer) void this.#maybeDial(peer.id);
            }
          }
        } catch (err) {
          this.#log.debug("failed to walk the DHT", { error: err });
        }
        if (responses === 0 && attempt < 5 && node.getConnections().length > 0) {
          this.#scheduleWalk(250 * 2 ** attempt, attempt + 1);
        }
      } while (this.#walkAgain && this.#running);
    })().finally(() => this.#walking = undefined);
  }

  /** Dials `peer` unless connected or dialling it already, or the node has its target of connections. */
  async #maybeDial(peer: PeerId): Promise<void> {
    const node = this.#node;
    if (!this.#running || peer.equals(node.peerId)) return;
    const key = peer.toString();
    if (this.#dialing.has(key) || node.getConnections(peer).length > 0) return;
    if (node.getConnections().length + this.#dialing.size >= this.#init.target) return;
    this.#dialing.add(key);
    try {
      await node.dial(peer, { signal: AbortSignal.timeout(10 * second) });
    } catch (err) {
      this.#log.debug("failed to dial discovered peer", { peerId: key, error: err });
    } finally {
      this.#dialing.delete(key);
    }
  }
}
