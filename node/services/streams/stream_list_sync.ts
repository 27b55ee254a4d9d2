/**
 * Learning the streams announced before this node joined: with every peer it meets that speaks
 * `/kosmos/streams/1.0.0` (when identify says so, and on start with the peers already connected), at most
 * once per `resyncAfter` per peer, it asks for the peer's stored announcements
 * ({@link StreamsProtocol.syncStreams}), each checked like gossip before it is stored. Without it a new
 * node would wait for the owners' next re-announcement (every 5 minutes).
 *
 * ```ts
 * const sync = new StreamListSync({ p2p, protocol, log });
 * sync.start();
 * await sync.stop();
 * ```
 */
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { STREAMS_PROTOCOL } from "../../../protocol/streams.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Logger } from "../../log.ts";
import { minute } from "../../constants.ts";
import type { StreamsProtocol } from "./protocol_handler.ts";

export interface StreamListSyncComponents {
  p2p: Pick<P2P, "libp2p" | "protocolId" | "peers">;
  protocol: Pick<StreamsProtocol, "syncStreams">;
  log: Logger;
}

export interface StreamListSyncInit {
  /** ms before the same peer is asked again. @default 10 minutes */
  resyncAfter?: number;
}

/** Asks each peer met for the streams it knows. */
export class StreamListSync {
  readonly #c: StreamListSyncComponents;
  readonly #resyncAfter: number;
  readonly #syncing = new Map<string, Promise<void>>();
  readonly #lastSync = new Map<string, number>();
  #controller?: AbortController;
  #onIdentify = (evt: CustomEvent<{ peerId: PeerId; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(this.#c.p2p.protocolId(STREAMS_PROTOCOL))) {
      this.#maybeSync(evt.detail.peerId.toString());
    }
  };

  constructor(components: StreamListSyncComponents, init: StreamListSyncInit = {}) {
    this.#c = components;
    this.#resyncAfter = init.resyncAfter ?? 10 * minute;
  }

  start(): void {
    this.#controller = new AbortController();
    this.#c.p2p.libp2p.addEventListener("peer:identify", this.#onIdentify);
    for (const peerId of this.#c.p2p.peers()) void this.#syncIfSupported(peerId);
  }

  /** Stops asking; resolves when the exchanges under way have ended. */
  async stop(): Promise<void> {
    this.#controller?.abort(new Error("stream list sync stopped"));
    try {
      this.#c.p2p.libp2p.removeEventListener("peer:identify", this.#onIdentify);
    } catch { /* p2p already stopped */ }
    await Promise.allSettled(this.#syncing.values());
  }

  async #syncIfSupported(peerId: string): Promise<void> {
    try {
      const peer = await this.#c.p2p.libp2p.peerStore.get(peerIdFromString(peerId));
      if (peer.protocols.includes(this.#c.p2p.protocolId(STREAMS_PROTOCOL))) this.#maybeSync(peerId);
    } catch { /* not identified yet: peer:identify will follow */ }
  }

  #maybeSync(peerId: string): void {
    const signal = this.#controller?.signal;
    if (!signal || signal.aborted || this.#syncing.has(peerId)) return;
    const now = Date.now();
    if (now - (this.#lastSync.get(peerId) ?? -Infinity) < this.#resyncAfter) return;
    if (this.#lastSync.size >= 10_000) this.#lastSync.clear();
    this.#lastSync.set(peerId, now);
    const run = this.#c.protocol.syncStreams(peerId, { signal }).then(
      (result) => {
        if (result.stored > 0) this.#c.log.info("learned streams from a peer", { peerId, ...result });
      },
      (err) => this.#c.log.debug("failed to ask a peer for its streams", { peerId, error: err }),
    ).finally(() => this.#syncing.delete(peerId));
    this.#syncing.set(peerId, run);
  }
}
