/**
 * History of a stream at a buyer: an epoch sealed by the gateway is found through its signed `EpochSealed`
 * (stored here from gossip, or asked of peers over `/kosmos/streams/1.0.0`: any node that stored it
 * answers), its dataset is fetched by the `fetches` service by its manifest CID from any provider (the
 * gateway or a replica) and decrypted with the epoch key this node holds. The key must match the sealed
 * record's `dekCommit`, and the decrypted file must hash to its `contentCid`: the exact bytes the gateway
 * sealed, so `kosmos verify` can check them against the anchored proof.
 *
 * ```ts
 * const history = new History({ catalog, protocol, fetches, blocks, log });
 * const { bytes, readings } = await history.fetchEpoch(streamId, epoch, key, { signal });
 * ```
 */
import { CID } from "multiformats/cid";
import type { Hex } from "viem";
import { hexToBytes } from "viem";
import {
  contentCidOf,
  decodeEpochFile,
  epochDekCommit,
  type StreamReading,
} from "../../../protocol/streams.ts";
import { type BlockStore, decryptDataset, getManifest } from "../blocks/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { minute } from "../../constants.ts";
import { timeoutSignal } from "../../signals.ts";
import type { SealedEpochRow, StreamCatalog } from "./catalog.ts";
import type { StreamsProtocol } from "./protocol_handler.ts";

/** An epoch is not sealed as far as this node and its peers know (yet). */
export class EpochUnavailableError extends KosmosError {
  override name = "EpochUnavailableError";
}

/** The key held does not open the epoch, or what was fetched is not what the gateway sealed. */
export class EpochIntegrityError extends KosmosError {
  override name = "EpochIntegrityError";
}

export interface HistoryComponents {
  catalog: Pick<StreamCatalog, "getEpoch" | "manifestOf">;
  protocol: Pick<StreamsProtocol, "queryPeers">;
  fetches: {
    startFetch(manifestCid: string, options?: { providers?: string[] }): unknown;
    waitForFetch(manifestCid: string, options?: { signal?: AbortSignal; timeout?: number }): Promise<unknown>;
  };
  blocks: BlockStore;
  log: Logger;
}

export interface FetchedEpoch {
  sealed: SealedEpochRow;
  /** The epoch file, exactly as sealed (NDJSON sorted by ts, sensorId). */
  bytes: Uint8Array;
  readings: StreamReading[];
}

/** Finds, fetches and decrypts sealed epochs of streams. */
export class History {
  readonly #c: HistoryComponents;

  constructor(components: HistoryComponents) {
    this.#c = components;
  }

  /** The sealed record of an epoch: stored here, else asked of peers. `undefined` when nobody has it. */
  async findEpoch(
    streamId: string,
    epoch: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<SealedEpochRow | undefined> {
    const { catalog, protocol } = this.#c;
    const known = catalog.getEpoch(streamId, epoch);
    if (known) return known;
    await protocol.queryPeers({ streamId, from: epoch, to: epoch }, {
      signal: options.signal,
      isCovered: () => catalog.getEpoch(streamId, epoch) !== undefined,
    });
    return catalog.getEpoch(streamId, epoch);
  }

  /**
   * Fetches and decrypts one sealed epoch with its key (hex). Throws {@link EpochUnavailableError} when the
   * epoch is not known to be sealed, {@link EpochIntegrityError} when the key or the content does not match
   * the gateway's signed record, and a `FetchError` when no provider serves it. @default timeout 2 minutes
   */
  async fetchEpoch(
    streamId: string,
    epoch: number,
    key: Hex,
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<FetchedEpoch> {
    using t = timeoutSignal(options.timeout ?? 2 * minute, options.signal);
    const signal = t.signal;
    const manifest = this.#c.catalog.manifestOf(streamId);
    if (!manifest) {
      throw new EpochUnavailableError(`Cannot fetch epoch ${epoch}: stream "${streamId}" is unknown`);
    }
    const sealed = await this.findEpoch(streamId, epoch, { signal });
    if (!sealed) {
      throw new EpochUnavailableError(
        `Epoch ${epoch} of "${streamId}" is not sealed (or no peer knows it yet)`,
        {
          details: { streamId, epoch },
        },
      );
    }
    if (epochDekCommit(key).toLowerCase() !== sealed.dekCommit.toLowerCase()) {
      throw new EpochIntegrityError(
        `Cannot open epoch ${epoch}: the key held does not match its commitment`,
        {
          details: { streamId, epoch, dekCommit: sealed.dekCommit },
        },
      );
    }
    let bytes = new Uint8Array(0);
    if (sealed.manifestCid !== null) {
      if (!(await this.#isLocal(sealed.manifestCid))) {
        this.#c.fetches.startFetch(sealed.manifestCid, { providers: [manifest.publisherPeer] });
        await this.#c.fetches.waitForFetch(sealed.manifestCid, { signal });
      }
      const datasetManifest = await getManifest(this.#c.blocks, CID.parse(sealed.manifestCid));
      const plain = decryptDataset(this.#c.blocks, datasetManifest, { dek: hexToBytes(key), signal });
      bytes = new Uint8Array(await new Response(plain).arrayBuffer());
    }
    if (contentCidOf(bytes) !== sealed.contentCid) {
      throw new EpochIntegrityError(
        `Epoch ${epoch} of "${streamId}" does not hash to its sealed contentCid`,
        {
          details: { streamId, epoch, contentCid: sealed.contentCid },
        },
      );
    }
    const readings = decodeEpochFile(bytes, manifest.schema);
    if (readings.length !== sealed.rows) {
      throw new EpochIntegrityError(`Epoch ${epoch} holds ${readings.length} readings, not ${sealed.rows}`);
    }
    this.#c.log.debug("fetched epoch", { streamId, epoch, rows: sealed.rows });
    return { sealed, bytes, readings };
  }

  async #isLocal(manifestCid: string): Promise<boolean> {
    const { blocks } = this.#c;
    const cid = CID.parse(manifestCid);
    if (!(await blocks.has(cid))) return false;
    try {
      const m = await getManifest(blocks, cid);
      for (const chunk of m.chunks) if (!(await blocks.has(chunk))) return false;
      return true;
    } catch {
      return false;
    }
  }
}
