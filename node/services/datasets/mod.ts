/**
 * The datasets service: publishing a file as a dataset this node sells.
 * {@link Datasets.publishDataset} streams the file through the block
 * pipeline (analyze, chunk, encrypt, store), keeps the dataset key (DEK) in
 * the node's database for the sale that will deliver it, signs the
 * announcement with the node's wallet, hands it to the catalog (which indexes
 * and gossips it), to replication (which provides it in the DHT) and the
 * manifest CID to the anchor (which timestamps it on chain in its next batch).
 *
 * ```ts
 * const datasets = createDatasets({ db, blocks, identity, p2p, catalog, replication, anchor, log });
 * await datasets.start();
 * const file = await Deno.open("trips.csv");
 * const { manifestCid } = await datasets.publishDataset(file.readable, {
 *   title: "Taxi trips, May", category: "mobility", price: "1000000000000000000",
 *   licence: "kosmos-research-1", filename: "trips.csv",
 * });
 * datasets.getDatasetKey(manifestCid); // Uint8Array(32), never logged
 * ```
 */
import { CID } from "multiformats/cid";
import { type AnnouncementBody, signAnnouncement } from "../../../protocol/announcement.ts";
import { type ManifestCid, toManifestCid } from "../../../protocol/ids.ts";
import type { Category, Manifest, PrivacyReport } from "../../../protocol/manifest.ts";
import { type BlockStore, prepareDataset } from "../blocks/mod.ts";
import type { Catalog } from "../catalog/mod.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import type { P2P } from "../p2p/mod.ts";
import type { Replication } from "../replication/mod.ts";
import type { Logger } from "../../log.ts";
import { defineService } from "../../service.ts";

export interface DatasetsComponents {
  db: Database;
  blocks: BlockStore;
  identity: Identity;
  p2p: P2P;
  catalog: Catalog;
  replication: Replication;
  /** Each published manifest is queued for anchoring (`anchor` service). */
  anchor: { add(cid: string): unknown };
  log: Logger;
}

export interface PublishDatasetOptions {
  title: string;
  /** @default "" */
  description?: string;
  category: Category;
  /** Token base units. */
  price: bigint | string;
  /** Licence id. */
  licence: string;
  /** Gateway operator credited with 10 % of sales. @default this node's wallet */
  gateway?: string;
  /** Kept in the manifest; used to detect the format. */
  filename?: string;
  /** Used to detect the format. */
  contentType?: string;
  /** @default 1 MiB */
  chunkSize?: number;
  /** The k and ε the seller applied, kept in the manifest. @default {} */
  privacy?: PrivacyReport;
  /** References to the consent records the data is shared under, kept in the manifest. @default [] */
  consent?: string[];
  signal?: AbortSignal;
}

export interface PublishDatasetResult {
  /** The listing id: the manifest CID. */
  id: ManifestCid;
  manifestCid: ManifestCid;
  manifest: Manifest;
}

const MIGRATIONS = [
  `CREATE TABLE dataset_keys (
    manifest_cid TEXT PRIMARY KEY,
    dek BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );`,
];

/** The `datasets` component. */
export function datasets() {
  return defineService(
    "datasets",
    ["db", "blocks", "identity", "p2p", "catalog", "replication", "anchor"],
    (c: DatasetsComponents) => createDatasets(c),
  );
}

export function createDatasets(components: DatasetsComponents): Datasets {
  return new Datasets(components);
}

export class Datasets {
  readonly #c: DatasetsComponents;
  #started = false;

  constructor(components: DatasetsComponents) {
    this.#c = components;
  }

  start(): Promise<void> {
    migrate(this.#c.db, "datasets", MIGRATIONS);
    this.#started = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#started = false;
    return Promise.resolve();
  }

  /**
   * Publishes `stream` as a dataset sold by this node. Memory stays bounded
   * by a few chunks whatever the size. When any step before the
   * announcement is out fails, the stored blocks and key are removed again.
   * Providing in the DHT is best effort: a failure is logged, the replication
   * repair loop counts providers from then on.
   */
  async publishDataset(
    stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options: PublishDatasetOptions,
  ): Promise<PublishDatasetResult> {
    if (!this.#started) throw new Error("Cannot publish a dataset before start()");
    const { blocks, identity, db, catalog, replication, log } = this.#c;
    const seller = identity.account.address;
    const prepared = await prepareDataset(blocks, stream, {
      title: options.title,
      description: options.description ?? "",
      category: options.category,
      seller,
      gateway: options.gateway ?? seller,
      price: options.price,
      licence: options.licence,
      filename: options.filename,
      contentType: options.contentType,
      chunkSize: options.chunkSize,
      privacy: options.privacy,
      consent: options.consent,
      signal: options.signal,
    });
    const { manifest, manifestCid } = prepared;
    try {
      db.prepare("INSERT OR REPLACE INTO dataset_keys (manifest_cid, dek, created_at) VALUES (?, ?, ?)")
        .run(manifestCid, prepared.dek, Date.now());
      const body: AnnouncementBody = {
        v: 1,
        manifestCid,
        title: manifest.title,
        description: manifest.description,
        category: manifest.category,
        price: manifest.price,
        seller: manifest.seller,
        gateway: manifest.gateway,
        byteLength: manifest.byteLength,
        rowCount: manifest.rowCount,
        chunkCount: manifest.chunks.length,
        schema: manifest.schema,
        preview: manifest.preview,
        licence: manifest.licence.id,
        createdAt: manifest.createdAt,
        timestamp: Math.max(Date.now(), manifest.createdAt),
        providers: [this.#c.p2p.peerId.toString()],
      };
      const announcement = await signAnnouncement(identity.account, body);
      await catalog.publishAnnouncement(announcement, { signal: options.signal });
    } catch (err) {
      await this.#discard(manifestCid, manifest);
      throw err;
    }
    log.info("published dataset", {
      manifestCid,
      chunks: manifest.chunks.length,
      bytes: manifest.byteLength,
      category: manifest.category,
    });
    try {
      this.#c.anchor.add(manifestCid);
    } catch (err) {
      log.warn("failed to queue the manifest for anchoring", { manifestCid, error: err });
    }
    try {
      await replication.provideDataset(manifestCid, { role: "origin", signal: options.signal });
    } catch (err) {
      log.warn("failed to provide published dataset", { manifestCid, error: err });
    }
    return { id: manifestCid, manifestCid, manifest };
  }

  /** The key of a dataset this node published, or `undefined`. Never log it. */
  getDatasetKey(manifestCid: string): Uint8Array | undefined {
    const row = this.#c.db.prepare("SELECT dek FROM dataset_keys WHERE manifest_cid = ?").get(
      toManifestCid(manifestCid),
    ) as { dek: Uint8Array } | undefined;
    return row ? new Uint8Array(row.dek) : undefined;
  }

  async #discard(manifestCid: ManifestCid, manifest: Manifest): Promise<void> {
    this.#c.db.prepare("DELETE FROM dataset_keys WHERE manifest_cid = ?").run(manifestCid);
    for (const cid of [CID.parse(manifestCid), ...manifest.chunks]) {
      await this.#c.blocks.delete(cid).catch(() => {});
    }
  }
}
