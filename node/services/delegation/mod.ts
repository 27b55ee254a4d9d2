/**
 * Selling while offline: a seller delegates the key sales of a listing to
 * nodes it names (for example its gateway), over `/kosmos/delegate/1.0.0`
 * (codecs in `protocol/delegation.ts`; the key is sealed by `./seal.ts`).
 *
 * Seller: {@link Delegation.delegateSales} asks the delegate for its wallet
 * and X25519 key, approves the wallet on the escrow for that one listing
 * (`setDelegate(listingId, …)`), seals the
 * DEK to the key and sends it with the manifest CID and registry listing id.
 *
 * Delegate: opens the sealed DEK, checks it against the manifest's
 * `dekCommit` and the listing on chain (the sender's listing, this wallet
 * approved for it), and stores it. From then on the market quotes and reveals
 * for that listing like its seller, signing with the delegate's own wallet;
 * the escrow still pays the listing's owner.
 *
 * ```ts
 * const delegation = createDelegation({ db, identity, p2p, chain, datasets, blocks, transfer, sites, log });
 * await delegation.start();
 * await delegation.delegateSales(manifestCid, gatewayPeerId);
 * ```
 */
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Connection, Stream } from "@libp2p/interface";
import { type Address, bytesToHex, getAddress, hexToBytes } from "viem";
import { toManifestCid } from "../../../protocol/ids.ts";
import { computeDekCommit } from "../../../protocol/quote.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import {
  type ChainService,
  estimateCallFee,
  estimateFeesPerGas,
  type FeeEstimate,
  findOwnListing,
  getListing,
  isSaleDelegate,
  setSaleDelegate,
  toFeeEstimate,
} from "../chain/mod.ts";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import type { Datasets } from "../datasets/mod.ts";
import type { BlockStore } from "../blocks/mod.ts";
import { loadManifest, type Transfer } from "../transfer/mod.ts";
import type { Sites } from "../sites/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { second } from "../../constants.ts";
import { defineService } from "../../service.ts";
import {
  decodeDelegateRequest,
  decodeDelegateResponse,
  DELEGATE_PROTOCOL,
  type DelegateRefusal,
  type DelegateRequest,
  type DelegateResponse,
  encodeDelegateRequest,
  encodeDelegateResponse,
  MAX_DELEGATE_FRAME_BYTES,
} from "../../../protocol/delegation.ts";
import { openDek, sealDek } from "./seal.ts";

export * from "../../../protocol/delegation.ts";
export * from "./seal.ts";
export * from "./delegates.ts";

/** A delegate refused the key, or could not be reached. Nothing was stored on its side. */
export class DelegationError extends KosmosError {
  override name = "DelegationError";
}

/** A listing this node sells on behalf of its owner. `dek` is secret: never log it. */
export interface DelegatedKey {
  manifestCid: string;
  listingId: bigint;
  owner: Address;
  dek: Uint8Array;
  fromPeer: string;
  createdAt: number;
}

export interface DelegationComponents {
  db: Database;
  identity: Identity;
  p2p: P2P;
  chain: ChainService;
  datasets: Datasets;
  blocks: BlockStore;
  transfer: Transfer;
  log: Logger;
  /** Holds this node's X25519 key pair (loaded when sites starts). */
  sites: Pick<Sites, "encryptionKey">;
}

export interface DelegationInit {
  /** ms one exchange with a delegate may take. @default 10 s */
  timeout?: number;
}

export interface DelegateSalesResult {
  manifestCid: string;
  listingId: bigint;
  peerId: string;
  delegate: Address;
  /** The approval transaction, when one was needed. */
  hash?: `0x${string}`;
  /** With `preview`: the approval's estimated fee (no gas when the delegate is approved already). */
  fee?: FeeEstimate;
}

const MIGRATIONS = [
  `CREATE TABLE market_delegated_keys (
    manifest_cid TEXT PRIMARY KEY,
    listing_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    dek BLOB NOT NULL,
    from_peer TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );`,
];

/**
 * The `delegation` service (log `kosmos:delegate`): the delegate side of
 * `/kosmos/delegate/1.0.0` and {@link Delegation.delegateSales}.
 */
export function delegation(init: DelegationInit = {}) {
  return defineService(
    "delegation",
    ["db", "identity", "p2p", "chain", "datasets", "blocks", "transfer", "sites"],
    (c: DelegationComponents) => new Delegation(c, init),
    { log: "kosmos:delegate" },
  );
}

export function createDelegation(components: DelegationComponents, init: DelegationInit = {}): Delegation {
  return new Delegation(components, init);
}

export class Delegation {
  readonly #c: DelegationComponents;
  readonly #timeout: number;
  #controller?: AbortController;
  #migrated = false;

  constructor(components: DelegationComponents, init: DelegationInit = {}) {
    this.#c = components;
    this.#timeout = init.timeout ?? 10 * second;
  }

  async start(): Promise<void> {
    if (!this.#migrated) migrate(this.#c.db, "market_delegate", MIGRATIONS);
    this.#migrated = true;
    this.#controller = new AbortController();
    await this.#c.p2p.handle(
      DELEGATE_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      {
        maxInboundStreams: 4,
        maxOutboundStreams: 4,
      },
    );
  }

  async stop(): Promise<void> {
    this.#controller?.abort(new KosmosError("delegation stopping"));
    try {
      await this.#c.p2p.unhandle(DELEGATE_PROTOCOL);
    } catch { /* p2p already stopped */ }
  }

  /** The key of a listing this node sells for its owner, or `undefined`. Never log it. */
  getDelegatedKey(manifestCid: string): DelegatedKey | undefined {
    if (!this.#migrated) return undefined;
    const row = this.#c.db.prepare(
      "SELECT manifest_cid, listing_id, owner, dek, from_peer, created_at FROM market_delegated_keys WHERE manifest_cid = ?",
    ).get(manifestCid) as
      | {
        manifest_cid: string;
        listing_id: string;
        owner: string;
        dek: Uint8Array;
        from_peer: string;
        created_at: number;
      }
      | undefined;
    if (!row) return undefined;
    return {
      manifestCid: row.manifest_cid,
      listingId: BigInt(row.listing_id),
      owner: getAddress(row.owner),
      dek: new Uint8Array(row.dek),
      fromPeer: row.from_peer,
      createdAt: row.created_at,
    };
  }

  // ---------------------------------------------------------------- seller

  /**
   * Lets `peerId` sell the listing `manifestCid` (a dataset this node
   * published and listed): approves its wallet on the escrow and hands it the
   * DEK sealed to its key. Throws `NotFoundError` for a dataset this node does
   * not sell, {@link DelegationError} when the delegate refuses.
   */
  async delegateSales(
    manifestCid: string,
    peerId: string,
    options: {
      signal?: AbortSignal;
      /** Estimate the approval's fee; sign nothing, send no key. @default false */
      preview?: boolean;
    } = {},
  ): Promise<DelegateSalesResult> {
    const cid = toManifestCid(manifestCid);
    let peer;
    try {
      peer = peerIdFromString(peerId);
    } catch (cause) {
      throw new TypeError(`Cannot delegate to "${peerId.slice(0, 60)}": not a peer id`, { cause });
    }
    if (peer.equals(this.#c.p2p.peerId)) throw new TypeError("Cannot delegate sales to this node itself");
    const dek = this.#c.datasets.getDatasetKey(cid);
    if (!dek) throw new NotFoundError(`This node does not sell "${cid}"`, { details: { manifestCid: cid } });
    const listingId = await findOwnListing(this.#c, cid);
    if (listingId === undefined) {
      throw new NotFoundError(`"${cid}" is not listed in the registry by this node`, {
        details: { manifestCid: cid },
      });
    }
    const hello = await this.#exchange(peerId, { v: 1, type: "hello" }, options);
    if (!("address" in hello)) throw this.#refused(peerId, hello);
    const delegate = hello.address;
    if (delegate === this.#c.identity.account.address) {
      throw new TypeError("Cannot delegate sales to this wallet");
    }
    const client = this.#c.chain.client;
    const approved = await isSaleDelegate(client, { listingId, delegate });
    if (options.preview) {
      // Signs nothing and hands over no key: the delegate only told its wallet.
      const fee = approved
        ? toFeeEstimate(0n, await estimateFeesPerGas(client))
        : await estimateCallFee(client, {
          address: client.contracts.escrow,
          abi: kosmosEscrowAbi,
          functionName: "setDelegate",
          args: [listingId, delegate, true],
        }, { action: `set a sale delegate of listing ${listingId}` });
      return { manifestCid: cid, listingId, peerId, delegate, fee };
    }
    let hash: `0x${string}` | undefined;
    if (!approved) {
      const signal = this.#signal(options.signal);
      hash = (await this.#c.chain.exclusive(() => setSaleDelegate(client, { listingId, delegate, signal })))
        .hash;
      this.#c.log.info("approved sale delegate", { manifestCid: cid, listingId, delegate, tx: hash });
    }
    const sealed = await sealDek(dek, {
      publicKey: hexToBytes(hello.publicKey),
      manifestCid: cid,
      listingId,
    });
    const owner = this.#c.identity.account.address;
    const answer = await this.#exchange(peerId, {
      v: 1,
      type: "key",
      manifestCid: cid,
      listingId,
      owner,
      sealed,
    }, options);
    if (!("accepted" in answer)) throw this.#refused(peerId, answer);
    this.#c.log.info("delegated sales", { manifestCid: cid, listingId, peerId, delegate });
    return { manifestCid: cid, listingId, peerId, delegate, ...(hash && { hash }) };
  }

  #refused(peerId: string, response: DelegateResponse): DelegationError {
    const why = "error" in response
      ? `${response.error.code}: ${response.error.message}`
      : "unexpected answer";
    return new DelegationError(`Delegate ${peerId.slice(-8)} refused: ${why}`, { details: { peerId } });
  }

  #signal(signal?: AbortSignal): AbortSignal {
    return AbortSignal.any(
      [AbortSignal.timeout(this.#timeout * 3), this.#controller?.signal, signal].filter((s) =>
        s !== undefined
      ),
    );
  }

  async #exchange(
    peerId: string,
    request: DelegateRequest,
    options: { signal?: AbortSignal },
  ): Promise<DelegateResponse> {
    const signal = AbortSignal.any(
      [AbortSignal.timeout(this.#timeout), this.#controller?.signal, options.signal].filter((s) =>
        s !== undefined
      ),
    );
    let stream: Stream;
    try {
      stream = await this.#c.p2p.dialProtocol(peerIdFromString(peerId), DELEGATE_PROTOCOL, { signal });
    } catch (cause) {
      throw new DelegationError(`Cannot reach delegate ${peerId.slice(-8)}: ${(cause as Error).message}`, {
        cause,
        details: { peerId },
      });
    }
    const lp = lpStream(stream, { maxDataLength: MAX_DELEGATE_FRAME_BYTES });
    try {
      await lp.write(encodeDelegateRequest(request), { signal });
      const response = decodeDelegateResponse((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => {});
      return response;
    } catch (err) {
      stream.abort(err as Error);
      throw err;
    }
  }

  // ---------------------------------------------------------------- delegate

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#controller!.signal]);
    const lp = lpStream(stream, { maxDataLength: MAX_DELEGATE_FRAME_BYTES });
    const peerId = connection.remotePeer.toString();
    const refuse = (code: DelegateRefusal, message: string): DelegateResponse => ({
      v: 1,
      error: { code, message: message.slice(0, 300) },
    });
    try {
      let response: DelegateResponse;
      let request: DelegateRequest | undefined;
      try {
        request = decodeDelegateRequest((await lp.read({ signal })).subarray());
      } catch (err) {
        if (signal.aborted) throw err;
        response = refuse("bad-request", (err as Error).message);
      }
      if (request?.type === "hello") {
        response = {
          v: 1,
          address: this.#c.identity.account.address,
          publicKey: bytesToHex(this.#c.sites.encryptionKey.publicKey),
        };
      } else if (request?.type === "key") {
        try {
          await this.#accept(request, peerId, signal);
          response = { v: 1, accepted: true };
        } catch (err) {
          if (signal.aborted) throw err;
          response = refuse(
            err instanceof RejectedKeyError ? "rejected" : "unavailable",
            (err as Error).message,
          );
          this.#c.log.warn("refused a delegated key", {
            peerId,
            manifestCid: request.manifestCid,
            error: err,
          });
        }
      }
      await lp.write(encodeDelegateResponse(response!), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
    }
  }

  async #accept(request: Extract<DelegateRequest, { type: "key" }>, peerId: string, signal: AbortSignal) {
    const { manifestCid, listingId, owner } = request;
    const me = this.#c.identity.account.address;
    const dek = await openDek(request.sealed, this.#c.sites.encryptionKey, { manifestCid, listingId }).catch(
      (err) => {
        throw new RejectedKeyError((err as Error).message);
      },
    );
    const client = this.#c.chain.client;
    const listing = await getListing(client, { listingId });
    if (!listing || listing.manifestCid !== manifestCid || getAddress(listing.owner) !== owner) {
      throw new RejectedKeyError(`listing ${listingId} is not "${manifestCid}" of ${owner}`);
    }
    if (!(await isSaleDelegate(client, { listingId, delegate: me }))) {
      throw new RejectedKeyError(
        `${owner} has not approved this node's wallet as a delegate of listing ${listingId}`,
      );
    }
    const manifest = await loadManifest(this.#c, manifestCid, { peerId, signal });
    if (computeDekCommit([bytesToHex(dek)]) !== manifest.dekCommit) {
      throw new RejectedKeyError("the key does not match the manifest's dekCommit");
    }
    if (listing.dekCommit.toLowerCase() !== manifest.dekCommit) {
      throw new RejectedKeyError(
        `listing ${listingId} was staked with another key commitment than the manifest's`,
      );
    }
    this.#c.db.prepare(
      `INSERT OR REPLACE INTO market_delegated_keys (manifest_cid, listing_id, owner, dek, from_peer, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(manifestCid, listingId.toString(), owner, dek, peerId, Date.now());
    this.#c.log.info("accepted delegated sales", { manifestCid, listingId, owner, peerId });
  }
}

/** The delegated key fails a check; the delegate stores nothing. */
class RejectedKeyError extends KosmosError {
  override name = "RejectedKeyError";
}
