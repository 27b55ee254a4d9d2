/**
 * Holding blocks for the network, shared by dataset replicas (`replication.ts`)
 * and sealed analytics batches (`ingest/`): which nodes should hold a CID
 * (XOR distance of their key to the CID's), which holders are live (DHT
 * providers that answer a `has` probe), whether a copy fits in the storage
 * quota, getting a block checked against its CID from hints or providers, and
 * announcing or withdrawing a held CID in the DHT.
 *
 * ```ts
 * const holder = new Holder({ p2p, blocks, transfer, log, quotaGB: 1 });
 * const ranked = await holder.rankHolders(cid, peers);          // closest first
 * const live = await holder.findLiveHolders(cid, { findTimeout, probeTimeout, signal });
 * if (holder.hasRoom(bytes, used)) await holder.hold(cid, { signal });
 * const bytes = await holder.getBlock(cid, { hints: [from], maxBytes, signal });
 * ```
 */
import type { CID } from "multiformats/cid";
import { type BlockStore, matchesCid } from "../blocks/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Transfer } from "../transfer/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { timeoutSignal } from "../../signals.ts";
import { datasetKey, sortByDistance } from "./distance.ts";

/** No reachable holder served a block that matches its CID. */
export class BlockUnavailableError extends KosmosError {
  override name = "BlockUnavailableError";
}

export interface HolderComponents {
  p2p: P2P;
  blocks: BlockStore;
  transfer: Transfer;
  log: Logger;
  /** Disk offered for copies, in GB (`config.storage.quotaGB`); 0 holds none. */
  quotaGB: number;
}

/** Providers asked for a block, hints included. */
const MAX_PROVIDERS = 8;
/** DHT providers probed per lookup. */
const MAX_FOUND = 20;

export class Holder {
  readonly #c: HolderComponents;

  constructor(components: HolderComponents) {
    this.#c = components;
  }

  /** `peers` ordered by the XOR distance of their key to `cid`'s, closest first. */
  async rankHolders(cid: CID, peers: string[]): Promise<string[]> {
    return await sortByDistance(await datasetKey(cid), peers);
  }

  /**
   * DHT providers of `cid` (other than this node, at most 20) that answer a
   * `has` probe within `probeTimeout`; `skip` leaves a provider out unprobed.
   * Throws only when `signal` aborts.
   */
  async findLiveHolders(
    cid: CID,
    options: {
      findTimeout: number;
      probeTimeout: number;
      signal: AbortSignal;
      skip?: (peerId: string) => boolean;
    },
  ): Promise<Set<string>> {
    const { p2p, log } = this.#c;
    const selfId = p2p.peerId.toString();
    const found = new Set<string>();
    {
      using t = timeoutSignal(options.findTimeout, options.signal);
      try {
        for await (const provider of p2p.libp2p.contentRouting.findProviders(cid, { signal: t.signal })) {
          const id = provider.id.toString();
          if (id !== selfId) found.add(id);
          if (found.size >= MAX_FOUND) break;
        }
      } catch (err) {
        if (options.signal.aborted) throw err;
        log.debug("failed to find providers", { manifestCid: cid.toString(), error: err });
      }
    }
    const live = new Set<string>();
    await Promise.all([...found].map(async (peerId) => {
      if (!options.skip?.(peerId) && await this.probe(peerId, cid, options)) live.add(peerId);
    }));
    return live;
  }

  /** Whether `peerId` answers a `has` probe for `cid` with yes within `probeTimeout`; never throws. */
  async probe(
    peerId: string,
    cid: CID,
    options: { probeTimeout: number; signal: AbortSignal },
  ): Promise<boolean> {
    using t = timeoutSignal(options.probeTimeout, options.signal);
    try {
      const session = await this.#c.transfer.openSession(peerId, { signal: t.signal });
      try {
        return await session.has(cid, { signal: t.signal });
      } finally {
        await session.close({ signal: t.signal });
      }
    } catch (err) {
      this.#c.log.debug("failed to probe provider", { peerId, error: err });
      return false;
    }
  }

  /** Whether `bytes` more fit in the storage quota beside the `used` bytes already held. */
  hasRoom(bytes: number, used: number): boolean {
    return this.#c.quotaGB > 0 && used + bytes <= this.#c.quotaGB * 1e9;
  }

  /**
   * A block by CID: from the local store, else from the `hints` peers, else
   * from DHT providers (at most 8 peers in all), each checked against the CID
   * and `maxBytes`; a peer serving a wrong block is logged and skipped. Throws
   * {@link BlockUnavailableError} when none served it, or the abort reason.
   */
  async getBlock(
    cid: CID,
    options: { hints: string[]; maxBytes: number; signal: AbortSignal },
  ): Promise<Uint8Array> {
    const { blocks, transfer, p2p, log } = this.#c;
    const { signal } = options;
    try {
      if (await blocks.has(cid)) return await blocks.get(cid);
    } catch (err) {
      if ((err as Error).name !== "CorruptBlockError" && (err as Error).name !== "NotFoundError") throw err;
    }
    const selfId = p2p.peerId.toString();
    const tried = new Set<string>([selfId]);
    const tryPeer = async (peerId: string): Promise<Uint8Array | undefined> => {
      if (tried.has(peerId) || tried.size > MAX_PROVIDERS) return undefined;
      tried.add(peerId);
      try {
        const session = await transfer.openSession(peerId, { signal });
        try {
          const bytes = await session.get(cid, { signal });
          if (bytes.byteLength > options.maxBytes || !(await matchesCid(cid, bytes))) {
            log.warn("rejected corrupt block from provider", {
              peerId,
              cid: cid.toString(),
              bytes: bytes.byteLength,
            });
            session.abort(new Error("served a corrupt block"));
            return undefined;
          }
          return bytes;
        } finally {
          await session.close({ signal });
        }
      } catch (err) {
        signal.throwIfAborted();
        log.debug("failed to get block from provider", { peerId, cid: cid.toString(), error: err });
        return undefined;
      }
    };
    for (const peerId of options.hints) {
      const bytes = await tryPeer(peerId);
      if (bytes) return bytes;
    }
    try {
      for await (const provider of p2p.libp2p.contentRouting.findProviders(cid, { signal })) {
        const bytes = await tryPeer(provider.id.toString());
        if (bytes) return bytes;
        if (tried.size > MAX_PROVIDERS) break;
      }
    } catch (err) {
      signal.throwIfAborted();
      log.debug("failed to find providers", { cid: cid.toString(), error: err });
    }
    throw new BlockUnavailableError(`Cannot get batch "${cid}": no reachable holder served it`, {
      details: { cid: cid.toString(), tried: [...tried].filter((p) => p !== selfId) },
    });
  }

  /** Announces a held CID in the DHT. */
  async hold(cid: CID, options: { signal: AbortSignal }): Promise<void> {
    await this.#c.p2p.libp2p.contentRouting.provide(cid, { signal: options.signal });
  }

  /** Stops announcing a CID (its block is the caller's to delete); never throws. */
  async release(cid: CID): Promise<void> {
    await this.#c.p2p.libp2p.contentRouting.cancelReprovide(cid).catch(() => {});
  }
}
