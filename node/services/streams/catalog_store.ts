/**
 * The tables of the stream catalog: every stream this node knows (its manifest and latest signed
 * announcement), the sensors of the streams this node publishes, each own stream's secret (the root of its
 * epoch keys), the sealed epochs of every known stream (the signed `EpochSealed` records, as gossiped and
 * as served over `/kosmos/streams/1.0.0`) and the epoch-key commitments opened by the gateways.
 *
 * ```ts
 * const store = new StreamCatalogStore(db, { maxStreams: 10_000 });
 * store.putStream({ streamId, manifestBytes, … });
 * store.listEpochs(streamId, { from: 0, to: 100, limit: 1000 });
 * ```
 */
import { type Database, migrate, transaction } from "../db/mod.ts";

export const MIGRATIONS = [
  `CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    manifest BLOB NOT NULL,
    announcement BLOB,
    listing_id TEXT,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    gateway TEXT NOT NULL,
    publisher_peer TEXT NOT NULL,
    epoch_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    announced_at INTEGER NOT NULL,
    mine INTEGER NOT NULL DEFAULT 0,
    seen_at INTEGER NOT NULL
  );
  CREATE INDEX streams_seen ON streams (mine, seen_at);
  CREATE TABLE stream_sensors (
    stream_id TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (stream_id, sensor_id)
  );
  CREATE INDEX stream_sensors_sensor ON stream_sensors (sensor_id, created_at);
  CREATE TABLE stream_secrets (
    stream_id TEXT PRIMARY KEY,
    secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE stream_epochs (
    stream_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    manifest_cid TEXT,
    content_cid TEXT NOT NULL,
    rows INTEGER NOT NULL,
    dek_commit TEXT NOT NULL,
    sealed BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (stream_id, epoch)
  );
  CREATE TABLE stream_opened (
    stream_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    dek_commit TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (stream_id, epoch)
  );`,
];

/** One known stream as stored. */
export interface StreamRow {
  streamId: string;
  /** The manifest's DAG-CBOR bytes (its CID is the stream id). */
  manifestBytes: Uint8Array;
  /** The latest signed announcement's bytes, when one was seen. */
  announcementBytes: Uint8Array | null;
  listingId: string | null;
  title: string;
  owner: `0x${string}`;
  gateway: `0x${string}`;
  publisherPeer: string;
  epochMs: number;
  createdAt: number;
  /** The announcement's timestamp (ms); 0 when only the manifest is known. */
  announcedAt: number;
  /** This node is the stream's gateway. */
  mine: boolean;
}

/** One sealed epoch as stored (from a verified `EpochSealed`). */
export interface SealedEpochRow {
  streamId: string;
  epoch: number;
  /** The epoch's dataset; null for an empty epoch (nothing to fetch). */
  manifestCid: string | null;
  contentCid: string;
  rows: number;
  dekCommit: `0x${string}`;
  /** The signed `EpochSealed` bytes, exactly as gossiped. */
  sealedBytes: Uint8Array;
}

interface RawStream {
  stream_id: string;
  manifest: Uint8Array;
  announcement: Uint8Array | null;
  listing_id: string | null;
  title: string;
  owner: string;
  gateway: string;
  publisher_peer: string;
  epoch_ms: number;
  created_at: number;
  announced_at: number;
  mine: number;
}

interface RawEpoch {
  stream_id: string;
  epoch: number;
  manifest_cid: string | null;
  content_cid: string;
  rows: number;
  dek_commit: string;
  sealed: Uint8Array;
}

function toStream(r: RawStream): StreamRow {
  return {
    streamId: r.stream_id,
    manifestBytes: new Uint8Array(r.manifest),
    announcementBytes: r.announcement === null ? null : new Uint8Array(r.announcement),
    listingId: r.listing_id,
    title: r.title,
    owner: r.owner as `0x${string}`,
    gateway: r.gateway as `0x${string}`,
    publisherPeer: r.publisher_peer,
    epochMs: r.epoch_ms,
    createdAt: r.created_at,
    announcedAt: r.announced_at,
    mine: r.mine === 1,
  };
}

function toEpoch(r: RawEpoch): SealedEpochRow {
  return {
    streamId: r.stream_id,
    epoch: r.epoch,
    manifestCid: r.manifest_cid,
    contentCid: r.content_cid,
    rows: r.rows,
    dekCommit: r.dek_commit as `0x${string}`,
    sealedBytes: new Uint8Array(r.sealed),
  };
}

export interface StreamCatalogStoreInit {
  /** Most streams of other nodes kept; a new one pushes out the one seen longest ago. @default 10_000 */
  maxStreams?: number;
}

/** Reads and writes of the stream catalog's tables; every write is one transaction. */
export class StreamCatalogStore {
  readonly #db: Database;
  readonly #maxStreams: number;

  constructor(db: Database, init: StreamCatalogStoreInit = {}) {
    this.#db = db;
    this.#maxStreams = init.maxStreams ?? 10_000;
    if (!Number.isSafeInteger(this.#maxStreams) || this.#maxStreams < 1) {
      throw new RangeError(
        `Cannot open the stream catalog: maxStreams ${this.#maxStreams} must be at least 1`,
      );
    }
    migrate(db, "stream_catalog", MIGRATIONS);
  }

  /**
   * Inserts or replaces a stream (keeping `mine` once set, and the listing id when the new row has none);
   * when other nodes' streams exceed `maxStreams`, the ones seen longest ago are dropped with their epochs.
   */
  putStream(row: StreamRow, sensors: readonly string[] = []): void {
    const now = Date.now();
    transaction(this.#db, () => {
      this.#db.prepare(
        `INSERT INTO streams (stream_id, manifest, announcement, listing_id, title, owner, gateway, publisher_peer,
           epoch_ms, created_at, announced_at, mine, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET
           announcement = COALESCE(excluded.announcement, streams.announcement),
           listing_id = COALESCE(excluded.listing_id, streams.listing_id),
           announced_at = MAX(excluded.announced_at, streams.announced_at),
           mine = MAX(excluded.mine, streams.mine),
           seen_at = excluded.seen_at`,
      ).run(
        row.streamId,
        row.manifestBytes,
        row.announcementBytes,
        row.listingId,
        row.title,
        row.owner,
        row.gateway,
        row.publisherPeer,
        row.epochMs,
        row.createdAt,
        row.announcedAt,
        row.mine ? 1 : 0,
        now,
      );
      const sensor = this.#db.prepare(
        "INSERT OR IGNORE INTO stream_sensors (stream_id, sensor_id, created_at) VALUES (?, ?, ?)",
      );
      for (const id of sensors) sensor.run(row.streamId, id, row.createdAt);
      const { n } = this.#db.prepare("SELECT COUNT(*) AS n FROM streams WHERE mine = 0").get() as {
        n: number;
      };
      if (n > this.#maxStreams) {
        const drop = this.#db.prepare(
          "SELECT stream_id FROM streams WHERE mine = 0 ORDER BY seen_at ASC LIMIT ?",
        ).all(n - this.#maxStreams) as { stream_id: string }[];
        for (const { stream_id } of drop) this.#deleteStream(stream_id);
      }
    });
  }

  #deleteStream(streamId: string): void {
    for (const table of ["streams", "stream_epochs", "stream_opened", "stream_sensors"]) {
      this.#db.prepare(`DELETE FROM ${table} WHERE stream_id = ?`).run(streamId);
    }
  }

  getStream(streamId: string): StreamRow | undefined {
    const r = this.#db.prepare("SELECT * FROM streams WHERE stream_id = ?").get(streamId) as
      | RawStream
      | undefined;
    return r ? toStream(r) : undefined;
  }

  /** Known streams, newest first. */
  listStreams(options: { mine?: boolean; limit?: number } = {}): StreamRow[] {
    const limit = options.limit ?? 1000;
    const rows = options.mine === undefined
      ? this.#db.prepare("SELECT * FROM streams ORDER BY created_at DESC LIMIT ?").all(limit)
      : this.#db.prepare("SELECT * FROM streams WHERE mine = ? ORDER BY created_at DESC LIMIT ?")
        .all(options.mine ? 1 : 0, limit);
    return (rows as unknown as RawStream[]).map(toStream);
  }

  /** Signed announcements stored here, by stream id ascending after `after`, at most `limit`. */
  listAnnouncements(after: string | undefined, limit: number): { streamId: string; bytes: Uint8Array }[] {
    const rows = this.#db.prepare(
      `SELECT stream_id, announcement FROM streams WHERE announcement IS NOT NULL AND stream_id > ?
       ORDER BY stream_id LIMIT ?`,
    ).all(after ?? "", limit) as { stream_id: string; announcement: Uint8Array }[];
    return rows.map((r) => ({ streamId: r.stream_id, bytes: new Uint8Array(r.announcement) }));
  }

  countStreams(): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM streams").get() as { n: number }).n;
  }

  /** The newest own stream whose manifest lists `sensorId`. */
  streamOfSensor(sensorId: string): string | undefined {
    const r = this.#db.prepare(
      `SELECT s.stream_id FROM stream_sensors s JOIN streams t ON t.stream_id = s.stream_id
       WHERE s.sensor_id = ? AND t.mine = 1 ORDER BY s.created_at DESC LIMIT 1`,
    ).get(sensorId) as { stream_id: string } | undefined;
    return r?.stream_id;
  }

  /** Stores an own stream's secret unless one exists; returns the stored one. Never log it. */
  ensureSecret(streamId: string, secret: Uint8Array): Uint8Array {
    this.#db.prepare("INSERT OR IGNORE INTO stream_secrets (stream_id, secret, created_at) VALUES (?, ?, ?)")
      .run(streamId, secret, Date.now());
    return this.getSecret(streamId)!;
  }

  getSecret(streamId: string): Uint8Array | undefined {
    const r = this.#db.prepare("SELECT secret FROM stream_secrets WHERE stream_id = ?").get(streamId) as
      | { secret: Uint8Array }
      | undefined;
    return r ? new Uint8Array(r.secret) : undefined;
  }

  /** Stores a sealed epoch; returns false when one was stored for that epoch already (first one wins). */
  putEpoch(row: SealedEpochRow): boolean {
    const result = this.#db.prepare(
      `INSERT OR IGNORE INTO stream_epochs (stream_id, epoch, manifest_cid, content_cid, rows, dek_commit, sealed,
         received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.streamId,
      row.epoch,
      row.manifestCid,
      row.contentCid,
      row.rows,
      row.dekCommit,
      row.sealedBytes,
      Date.now(),
    );
    return Number(result.changes) > 0;
  }

  getEpoch(streamId: string, epoch: number): SealedEpochRow | undefined {
    const r = this.#db.prepare("SELECT * FROM stream_epochs WHERE stream_id = ? AND epoch = ?")
      .get(streamId, epoch) as RawEpoch | undefined;
    return r ? toEpoch(r) : undefined;
  }

  /** Sealed epochs of a stream in `[from, to]`, ascending, at most `limit`. */
  listEpochs(streamId: string, range: { from: number; to: number; limit: number }): SealedEpochRow[] {
    const rows = this.#db.prepare(
      "SELECT * FROM stream_epochs WHERE stream_id = ? AND epoch >= ? AND epoch <= ? ORDER BY epoch ASC LIMIT ?",
    ).all(streamId, range.from, range.to, range.limit) as unknown as RawEpoch[];
    return rows.map(toEpoch);
  }

  /** The newest sealed epoch of a stream stored here, or `undefined`. */
  lastSealedEpoch(streamId: string): number | undefined {
    const r = this.#db.prepare("SELECT MAX(epoch) AS e FROM stream_epochs WHERE stream_id = ?").get(
      streamId,
    ) as {
      e: number | null;
    };
    return r.e ?? undefined;
  }

  /** Records the key commitment a gateway opened an epoch with; the first one stays. */
  putOpened(streamId: string, epoch: number, dekCommit: `0x${string}`): boolean {
    const result = this.#db.prepare(
      "INSERT OR IGNORE INTO stream_opened (stream_id, epoch, dek_commit, received_at) VALUES (?, ?, ?, ?)",
    ).run(streamId, epoch, dekCommit, Date.now());
    return Number(result.changes) > 0;
  }

  getOpened(streamId: string, epoch: number): `0x${string}` | undefined {
    const r = this.#db.prepare("SELECT dek_commit FROM stream_opened WHERE stream_id = ? AND epoch = ?")
      .get(streamId, epoch) as { dek_commit: string } | undefined;
    return r?.dek_commit as `0x${string}` | undefined;
  }
}
