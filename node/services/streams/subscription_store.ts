/**
 * The buyer's tables of stream subscriptions: one row per subscription, one per key sale of it (the first
 * span and each renewal: a state machine that survives restarts), the epoch keys each revealed sale
 * delivered (with the result of checking each against the gateway's `EpochOpened` / `EpochSealed`
 * commitment), and the readings decrypted from live batches (durable, in arrival order). Secrets (`kSale`,
 * `Z`, the epoch keys) live here and nowhere else; the database is owner-only.
 *
 * ```ts
 * const store = new SubscriptionStore(db);
 * const sub = store.insertSubscription({ id, streamId, title, targets: [] });
 * store.insertSale({ saleId, subscriptionId: sub.id, first, last, … });
 * store.keyFor(streamId, epoch); // Uint8Array | undefined
 * ```
 */
import type { Hex } from "viem";
import type { Sale } from "../../../protocol/quote.ts";
import { quoteToJson } from "../../../protocol/sale.ts";
import { type Database, migrate, transaction } from "../db/mod.ts";
import { type BoughtSaleColumns, readBoughtSale, saleToJson } from "../market/mod.ts";

export const SUBSCRIPTION_MIGRATIONS: readonly string[] = [
  `CREATE TABLE stream_subscriptions (
    id TEXT PRIMARY KEY,
    stream_id TEXT NOT NULL,
    title TEXT NOT NULL,
    epoch_ms INTEGER NOT NULL,
    targets TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    received INTEGER NOT NULL DEFAULT 0,
    last_reading_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX stream_subscriptions_stream ON stream_subscriptions (stream_id);
  CREATE TABLE stream_subscription_sales (
    sale_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('quoted', 'opened', 'revealed', 'disputed', 'complete', 'refunded',
      'failed')),
    seller_peer TEXT NOT NULL,
    quote TEXT NOT NULL,
    signature TEXT NOT NULL,
    z TEXT NOT NULL,
    sale TEXT,
    k_sale TEXT,
    evidence TEXT,
    txs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX stream_subscription_sales_sub ON stream_subscription_sales (subscription_id, first);
  CREATE TABLE stream_keys (
    subscription_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    sale_id TEXT NOT NULL,
    key BLOB NOT NULL,
    checked INTEGER NOT NULL DEFAULT 0,
    fetched INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription_id, epoch)
  );
  CREATE INDEX stream_keys_unfetched ON stream_keys (fetched, epoch);
  CREATE INDEX stream_keys_stream ON stream_keys (stream_id, epoch);
  CREATE TABLE stream_received (
    subscription_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    sensor_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, sensor_id, ts)
  );
  CREATE INDEX stream_received_epoch ON stream_received (subscription_id, epoch, ts);`,
];

export type SubscriptionSaleStatus =
  | "quoted"
  | "opened"
  | "revealed"
  | "disputed"
  | "complete"
  | "refunded"
  | "failed";

/** A transaction this node sent for a subscription's sale. */
export interface SubscriptionTx {
  action: "open" | "confirm" | "complain" | "dispute" | "refund";
  hash: Hex;
}

export interface SubscriptionRecord {
  id: string;
  streamId: string;
  title: string;
  epochMs: number;
  targets: string[];
  error?: string;
  received: number;
  lastReadingAt?: number;
  createdAt: number;
  updatedAt: number;
}

/** One key sale of a subscription (epochs `first..last`). Holds `z` and `kSale`: never log it. */
export interface SubscriptionSaleRecord extends BoughtSaleColumns<SubscriptionSaleStatus, SubscriptionTx> {
  subscriptionId: string;
  first: number;
  last: number;
}

/** How a held key compares with the gateway's signed commitment: not yet seen, equal, or different. */
export type KeyCheck = "unchecked" | "ok" | "mismatch";
const CHECKS: readonly KeyCheck[] = ["unchecked", "ok", "mismatch"];

export interface HeldKey {
  subscriptionId: string;
  streamId: string;
  epoch: number;
  saleId: Hex;
  /** The epoch key. Never log it. */
  key: Uint8Array;
  check: KeyCheck;
}

export interface StoredReading {
  sensorId: string;
  ts: number;
  values: Record<string, number | string | boolean | null>;
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

function toSubscription(r: Row): SubscriptionRecord {
  const s: SubscriptionRecord = {
    id: r.id,
    streamId: r.stream_id,
    title: r.title,
    epochMs: r.epoch_ms,
    targets: JSON.parse(r.targets),
    received: r.received,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.error !== null) s.error = r.error;
  if (r.last_reading_at !== null) s.lastReadingAt = r.last_reading_at;
  return s;
}

function toSale(r: Row): SubscriptionSaleRecord {
  return {
    subscriptionId: r.subscription_id,
    first: r.first,
    last: r.last,
    ...readBoughtSale<SubscriptionSaleStatus, SubscriptionTx>(r),
  };
}

function toKey(r: Row): HeldKey {
  return {
    subscriptionId: r.subscription_id,
    streamId: r.stream_id,
    epoch: r.epoch,
    saleId: r.sale_id,
    key: new Uint8Array(r.key),
    check: CHECKS[r.checked] ?? "unchecked",
  };
}

export interface SubscriptionSaleUpdate {
  status?: SubscriptionSaleStatus;
  sale?: Sale;
  kSale?: Hex;
  evidence?: string;
  tx?: SubscriptionTx;
  error?: string | null;
}

export class SubscriptionStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    migrate(db, "stream_subscriptions", SUBSCRIPTION_MIGRATIONS);
  }

  insertSubscription(
    s: { id: string; streamId: string; title: string; epochMs: number; targets: readonly string[] },
  ): SubscriptionRecord {
    const now = Date.now();
    this.#db.prepare(
      `INSERT INTO stream_subscriptions (id, stream_id, title, epoch_ms, targets, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(s.id, s.streamId, s.title, s.epochMs, JSON.stringify(s.targets), now, now);
    return this.getSubscription(s.id)!;
  }

  getSubscription(id: string): SubscriptionRecord | undefined {
    const r = this.#db.prepare("SELECT * FROM stream_subscriptions WHERE id = ?").get(id) as Row | undefined;
    return r ? toSubscription(r) : undefined;
  }

  listSubscriptions(filter: { streamId?: string } = {}): SubscriptionRecord[] {
    const rows = filter.streamId === undefined
      ? this.#db.prepare("SELECT * FROM stream_subscriptions ORDER BY created_at DESC").all()
      : this.#db.prepare("SELECT * FROM stream_subscriptions WHERE stream_id = ? ORDER BY created_at DESC")
        .all(filter.streamId);
    return (rows as Row[]).map(toSubscription);
  }

  setSubscriptionError(id: string, error: string | null): void {
    this.#db.prepare("UPDATE stream_subscriptions SET error = ?, updated_at = ? WHERE id = ?")
      .run(error, Date.now(), id);
  }

  insertSale(
    s: Omit<SubscriptionSaleRecord, "txs" | "createdAt" | "updatedAt" | "status">,
  ): SubscriptionSaleRecord {
    const now = Date.now();
    this.#db.prepare(
      `INSERT INTO stream_subscription_sales (sale_id, subscription_id, first, last, status, seller_peer, quote,
         signature, z, created_at, updated_at) VALUES (?, ?, ?, ?, 'quoted', ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.saleId,
      s.subscriptionId,
      s.first,
      s.last,
      s.sellerPeer,
      JSON.stringify(quoteToJson(s.quote)),
      s.signature,
      s.z,
      now,
      now,
    );
    return this.getSale(s.saleId)!;
  }

  getSale(saleId: string): SubscriptionSaleRecord | undefined {
    const r = this.#db.prepare("SELECT * FROM stream_subscription_sales WHERE sale_id = ?").get(saleId) as
      | Row
      | undefined;
    return r ? toSale(r) : undefined;
  }

  /** The sales of a subscription, oldest span first. */
  listSales(subscriptionId: string): SubscriptionSaleRecord[] {
    return (this.#db.prepare(
      "SELECT * FROM stream_subscription_sales WHERE subscription_id = ? ORDER BY first ASC, created_at ASC",
    ).all(subscriptionId) as Row[]).map(toSale);
  }

  /** Sales whose state machine has work left. */
  listUnfinishedSales(): SubscriptionSaleRecord[] {
    return (this.#db.prepare(
      "SELECT * FROM stream_subscription_sales WHERE status IN ('quoted', 'opened', 'revealed', 'disputed')",
    ).all() as Row[]).map(toSale);
  }

  updateSale(saleId: string, u: SubscriptionSaleUpdate): SubscriptionSaleRecord {
    return transaction(this.#db, () => {
      const current = this.getSale(saleId);
      if (!current) throw new RangeError(`Cannot update subscription sale "${saleId}": unknown`);
      const txs = u.tx ? [...current.txs, u.tx] : current.txs;
      this.#db.prepare(
        `UPDATE stream_subscription_sales SET status = ?, sale = ?, k_sale = ?, evidence = ?, txs = ?, error = ?,
           updated_at = ? WHERE sale_id = ?`,
      ).run(
        u.status ?? current.status,
        u.sale ? saleToJson(u.sale) : current.sale ? saleToJson(current.sale) : null,
        u.kSale ?? current.kSale ?? null,
        u.evidence ?? current.evidence ?? null,
        JSON.stringify(txs),
        u.error === undefined ? current.error ?? null : u.error,
        Date.now(),
        saleId,
      );
      return this.getSale(saleId)!;
    });
  }

  /** Stores a revealed sale's keys (epoch `first + i` gets `keys[i]`) and moves it to `revealed`, at once. */
  putKeys(sale: SubscriptionSaleRecord, streamId: string, keys: readonly Uint8Array[], kSale: Hex): void {
    transaction(this.#db, () => {
      const put = this.#db.prepare(
        `INSERT OR IGNORE INTO stream_keys (subscription_id, stream_id, epoch, sale_id, key) VALUES (?, ?, ?, ?, ?)`,
      );
      keys.forEach((key, i) => put.run(sale.subscriptionId, streamId, sale.first + i, sale.saleId, key));
      this.#db.prepare(
        "UPDATE stream_subscription_sales SET status = 'revealed', k_sale = ?, updated_at = ? WHERE sale_id = ?",
      ).run(kSale, Date.now(), sale.saleId);
    });
  }

  /** The key this node holds for epoch `epoch` of `streamId` (from any of its subscriptions). Never log it. */
  keyFor(streamId: string, epoch: number): Uint8Array | undefined {
    const r = this.#db.prepare("SELECT key FROM stream_keys WHERE stream_id = ? AND epoch = ? LIMIT 1")
      .get(streamId, epoch) as { key: Uint8Array } | undefined;
    return r ? new Uint8Array(r.key) : undefined;
  }

  /** Whether the subscription holds the key of `epoch`. */
  holdsKey(subscriptionId: string, epoch: number): boolean {
    return this.#db.prepare("SELECT 1 FROM stream_keys WHERE subscription_id = ? AND epoch = ?")
      .get(subscriptionId, epoch) !== undefined;
  }

  /** Every key a subscription holds, by epoch. */
  listKeys(subscriptionId: string): HeldKey[] {
    return (this.#db.prepare("SELECT * FROM stream_keys WHERE subscription_id = ? ORDER BY epoch ASC")
      .all(subscriptionId) as Row[]).map(toKey);
  }

  /** Keys of one sale, by epoch. */
  listSaleKeys(saleId: string): HeldKey[] {
    return (this.#db.prepare("SELECT * FROM stream_keys WHERE sale_id = ? ORDER BY epoch ASC").all(
      saleId,
    ) as Row[])
      .map(toKey);
  }

  /** Held keys of epochs whose sealed file was not fetched yet, oldest epoch first. */
  listUnfetched(limit = 100): HeldKey[] {
    return (this.#db.prepare(
      "SELECT * FROM stream_keys WHERE fetched = 0 AND checked != 2 ORDER BY epoch LIMIT ?",
    )
      .all(limit) as Row[]).map(toKey);
  }

  /** Records that an epoch's sealed file was fetched (its readings handed on). */
  setFetched(subscriptionId: string, epoch: number): void {
    this.#db.prepare("UPDATE stream_keys SET fetched = 1 WHERE subscription_id = ? AND epoch = ?")
      .run(subscriptionId, epoch);
  }

  setKeyCheck(subscriptionId: string, epoch: number, check: KeyCheck): void {
    this.#db.prepare("UPDATE stream_keys SET checked = ? WHERE subscription_id = ? AND epoch = ?")
      .run(CHECKS.indexOf(check), subscriptionId, epoch);
  }

  /**
   * Stores decrypted readings of one epoch (a reading already stored is kept once) and counts them on the
   * subscription, in one transaction; returns the readings that were new.
   */
  putReadings(subscriptionId: string, epoch: number, readings: readonly StoredReading[]): StoredReading[] {
    const now = Date.now();
    return transaction(this.#db, () => {
      const put = this.#db.prepare(
        `INSERT OR IGNORE INTO stream_received (subscription_id, epoch, sensor_id, ts, values_json, received_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      );
      const fresh = readings.filter((r) =>
        Number(put.run(subscriptionId, epoch, r.sensorId, r.ts, JSON.stringify(r.values), now).changes) > 0
      );
      if (fresh.length > 0) {
        this.#db.prepare(
          `UPDATE stream_subscriptions SET received = received + ?, last_reading_at = ?, updated_at = ?
           WHERE id = ?`,
        ).run(fresh.length, now, now, subscriptionId);
      }
      return fresh;
    });
  }

  /** How many readings of `epoch` the subscription stored. */
  countReadings(subscriptionId: string, epoch: number): number {
    return (this.#db.prepare(
      "SELECT COUNT(*) AS n FROM stream_received WHERE subscription_id = ? AND epoch = ?",
    )
      .get(subscriptionId, epoch) as { n: number }).n;
  }

  /** Readings stored for a subscription, in `(ts, sensorId)` order, optionally of one epoch. */
  listReadings(subscriptionId: string, options: { epoch?: number; limit?: number } = {}): StoredReading[] {
    const limit = options.limit ?? 100_000;
    const rows = options.epoch === undefined
      ? this.#db.prepare(
        "SELECT * FROM stream_received WHERE subscription_id = ? ORDER BY ts, sensor_id LIMIT ?",
      ).all(subscriptionId, limit)
      : this.#db.prepare(
        "SELECT * FROM stream_received WHERE subscription_id = ? AND epoch = ? ORDER BY ts, sensor_id LIMIT ?",
      ).all(subscriptionId, options.epoch, limit);
    return (rows as Row[]).map((r) => ({
      sensorId: r.sensor_id,
      ts: r.ts,
      values: JSON.parse(r.values_json),
    }));
  }
}
