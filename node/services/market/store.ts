/**
 * The market's SQLite tables: one row per purchase (buyer side) and per
 * opened sale (seller side), each a state machine that survives restarts, and
 * the seller's reserved quote nonces. Quotes nobody opened are never written
 * here (the market keeps them in memory). Secrets (`k_sale`, `z`, the DEK)
 * live here and nowhere else; the database is owner-only.
 */
import type { Address, Hex } from "viem";
import type { Quote, Sale } from "../../../protocol/quote.ts";
import { type Database, migrate, transaction } from "../db/mod.ts";
import { quoteFromJson, quoteToJson } from "../../../protocol/sale.ts";
import { saleFromJson } from "../chain/mod.ts";

export { saleFromJson };

export const PURCHASE_STATUSES = [
  "quoted",
  "opened",
  "revealed",
  "downloading",
  "verified",
  "disputed",
  "complete",
  "refunded",
  "failed",
] as const;
export type PurchaseStatus = typeof PURCHASE_STATUSES[number];
/**
 * A seller's side of a sale moves through a subset of the same states
 * ("quoted" only for rows written before quotes were kept in memory).
 */
export type SaleStatus = "quoted" | "opened" | "revealed" | "disputed" | "complete" | "refunded" | "failed";

/** A transaction this node sent for a purchase or sale. */
export interface MarketTx {
  action: "open" | "reveal" | "confirm" | "complain" | "dispute" | "refund" | "finalize";
  hash: Hex;
  /** From the receipt, when this node sent it (decimal strings). */
  gasUsed?: string;
  effectiveGasPrice?: string;
}

export interface PurchaseRecord {
  id: string;
  manifestCid: string;
  /** The registry's listing id. */
  listingId: bigint;
  seller: Address;
  sellerPeer: string;
  licence: string;
  status: PurchaseStatus;
  saleId: Hex;
  quote: Quote;
  signature: Hex;
  z: Hex;
  sale?: Sale;
  openedBlock?: bigint;
  kSale?: Hex;
  dek?: Uint8Array;
  /** The bad-data evidence (JSON text) this node committed to in its dispute; holds `kSale` and `Z`. */
  evidence?: string;
  txs: MarketTx[];
  error?: string;
  createdAt: number;
  updatedAt: number;
}

export interface SaleRecord {
  saleId: Hex;
  manifestCid: string;
  listingId: bigint;
  buyer: Address;
  buyerPeer: string;
  licence: string;
  status: SaleStatus;
  quote: Quote;
  kSale: Hex;
  sale?: Sale;
  txs: MarketTx[];
  error?: string;
  createdAt: number;
  updatedAt: number;
}

/** The market's schema versions, oldest first (exported for the migration tests). */
export const MARKET_MIGRATIONS: readonly string[] = [
  `CREATE TABLE market_purchases (
    id TEXT PRIMARY KEY,
    manifest_cid TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    seller TEXT NOT NULL,
    seller_peer TEXT NOT NULL,
    licence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
      ('quoted', 'opened', 'revealed', 'verified', 'downloading', 'complete', 'refunded', 'failed')),
    sale_id TEXT NOT NULL UNIQUE,
    quote TEXT NOT NULL,
    signature TEXT NOT NULL,
    z TEXT NOT NULL,
    sale TEXT,
    opened_block TEXT,
    k_sale TEXT,
    dek BLOB,
    txs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX market_purchases_manifest ON market_purchases (manifest_cid, status);
  CREATE TABLE market_sales (
    sale_id TEXT PRIMARY KEY,
    manifest_cid TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    buyer TEXT NOT NULL,
    buyer_peer TEXT NOT NULL,
    licence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('quoted', 'opened', 'revealed', 'complete', 'refunded', 'failed')),
    quote TEXT NOT NULL,
    k_sale TEXT NOT NULL,
    sale TEXT,
    txs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX market_sales_status ON market_sales (status);
  CREATE TABLE market_nonces (owner TEXT PRIMARY KEY, next TEXT NOT NULL);`,
  // The buyer verifies the data before confirming (downloading → verified), may dispute it, and keeps
  // its evidence; sellers learn of "disputed". Old "verified"/"downloading" rows were confirmed already:
  // the state machine sees the chain's Completed event and does not confirm twice.
  `CREATE TABLE market_purchases_v2 (
    id TEXT PRIMARY KEY,
    manifest_cid TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    seller TEXT NOT NULL,
    seller_peer TEXT NOT NULL,
    licence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('quoted', 'opened', 'revealed', 'downloading', 'verified',
      'disputed', 'complete', 'refunded', 'failed')),
    sale_id TEXT NOT NULL UNIQUE,
    quote TEXT NOT NULL,
    signature TEXT NOT NULL,
    z TEXT NOT NULL,
    sale TEXT,
    opened_block TEXT,
    k_sale TEXT,
    dek BLOB,
    evidence TEXT,
    txs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT INTO market_purchases_v2 (id, manifest_cid, listing_id, seller, seller_peer, licence, status, sale_id,
    quote, signature, z, sale, opened_block, k_sale, dek, txs, error, created_at, updated_at)
    SELECT id, manifest_cid, listing_id, seller, seller_peer, licence, status, sale_id, quote, signature, z, sale,
      opened_block, k_sale, dek, txs, error, created_at, updated_at FROM market_purchases;
  DROP TABLE market_purchases;
  ALTER TABLE market_purchases_v2 RENAME TO market_purchases;
  CREATE INDEX market_purchases_manifest ON market_purchases (manifest_cid, status);
  CREATE TABLE market_sales_v2 (
    sale_id TEXT PRIMARY KEY,
    manifest_cid TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    buyer TEXT NOT NULL,
    buyer_peer TEXT NOT NULL,
    licence TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('quoted', 'opened', 'revealed', 'disputed', 'complete', 'refunded',
      'failed')),
    quote TEXT NOT NULL,
    k_sale TEXT NOT NULL,
    sale TEXT,
    txs TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT INTO market_sales_v2 SELECT * FROM market_sales;
  DROP TABLE market_sales;
  ALTER TABLE market_sales_v2 RENAME TO market_sales;
  CREATE INDEX market_sales_status ON market_sales (status);`,
];

/** The JSON text a {@link Sale} is stored as (bigints as decimal strings); {@link saleFromJson} reads it. */
export function saleToJson(sale: Sale): string {
  return JSON.stringify(sale, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

/**
 * What a buyer keeps of one escrow sale, in the columns the market's `market_purchases` and the streams'
 * `stream_subscription_sales` share. Holds `z` and `kSale`: never log it.
 */
export interface BoughtSaleColumns<Status extends string, Tx> {
  saleId: Hex;
  sellerPeer: string;
  status: Status;
  quote: Quote;
  signature: Hex;
  z: Hex;
  sale?: Sale;
  kSale?: Hex;
  evidence?: string;
  txs: Tx[];
  error?: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * Reads {@link BoughtSaleColumns} from a row with `sale_id`, `seller_peer`, `status`, `quote`, `signature`,
 * `z`, `sale`, `k_sale`, `evidence`, `txs`, `error`, `created_at` and `updated_at`.
 */
export function readBoughtSale<Status extends string, Tx>(r: Row): BoughtSaleColumns<Status, Tx> {
  const s: BoughtSaleColumns<Status, Tx> = {
    saleId: r.sale_id,
    sellerPeer: r.seller_peer,
    status: r.status,
    quote: quoteFromJson(JSON.parse(r.quote)),
    signature: r.signature,
    z: r.z,
    txs: JSON.parse(r.txs),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.sale) s.sale = saleFromJson(r.sale);
  if (r.k_sale) s.kSale = r.k_sale;
  if (r.evidence) s.evidence = r.evidence;
  if (r.error !== null) s.error = r.error;
  return s;
}

function toPurchase(r: Row): PurchaseRecord {
  const p: PurchaseRecord = {
    id: r.id,
    manifestCid: r.manifest_cid,
    listingId: BigInt(r.listing_id),
    seller: r.seller,
    licence: r.licence,
    ...readBoughtSale<PurchaseStatus, MarketTx>(r),
  };
  if (r.opened_block) p.openedBlock = BigInt(r.opened_block);
  if (r.dek) p.dek = new Uint8Array(r.dek);
  return p;
}

function toSale(r: Row): SaleRecord {
  const s: SaleRecord = {
    saleId: r.sale_id,
    manifestCid: r.manifest_cid,
    listingId: BigInt(r.listing_id),
    buyer: r.buyer,
    buyerPeer: r.buyer_peer,
    licence: r.licence,
    status: r.status,
    quote: quoteFromJson(JSON.parse(r.quote)),
    kSale: r.k_sale,
    txs: JSON.parse(r.txs),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.sale) s.sale = saleFromJson(r.sale);
  if (r.error !== null) s.error = r.error;
  return s;
}

/** Changes applied to a purchase row. */
export interface PurchaseUpdate {
  status?: PurchaseStatus;
  sale?: Sale;
  openedBlock?: bigint;
  kSale?: Hex;
  dek?: Uint8Array;
  evidence?: string;
  tx?: MarketTx;
  error?: string | null;
}

export interface SaleUpdate {
  status?: SaleStatus;
  sale?: Sale;
  tx?: MarketTx;
  error?: string | null;
}

export class MarketStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
    migrate(db, "market", MARKET_MIGRATIONS);
  }

  insertPurchase(p: Omit<PurchaseRecord, "txs" | "createdAt" | "updatedAt">): PurchaseRecord {
    const now = Date.now();
    this.#db.prepare(
      `INSERT INTO market_purchases (id, manifest_cid, listing_id, seller, seller_peer, licence, status, sale_id,
         quote, signature, z, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      p.id,
      p.manifestCid,
      p.listingId.toString(),
      p.seller,
      p.sellerPeer,
      p.licence,
      p.status,
      p.saleId,
      JSON.stringify(quoteToJson(p.quote)),
      p.signature,
      p.z,
      now,
      now,
    );
    return this.getPurchase(p.id)!;
  }

  getPurchase(id: string): PurchaseRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM market_purchases WHERE id = ?").get(id) as Row | undefined;
    return row ? toPurchase(row) : undefined;
  }

  /** The newest purchase of a dataset that is not refunded, if any. */
  findPurchase(manifestCid: string): PurchaseRecord | undefined {
    const row = this.#db.prepare(
      `SELECT * FROM market_purchases WHERE manifest_cid = ? AND status != 'refunded'
       AND NOT (status = 'failed' AND dek IS NULL) ORDER BY created_at DESC LIMIT 1`,
    ).get(manifestCid) as Row | undefined;
    return row ? toPurchase(row) : undefined;
  }

  listPurchases(filter: { unfinished?: boolean } = {}): PurchaseRecord[] {
    const where = filter.unfinished ? "WHERE status NOT IN ('complete', 'refunded', 'failed')" : "";
    return (this.#db.prepare(`SELECT * FROM market_purchases ${where} ORDER BY created_at DESC`)
      .all() as Row[])
      .map(toPurchase);
  }

  updatePurchase(id: string, u: PurchaseUpdate): PurchaseRecord {
    return transaction(this.#db, () => {
      const current = this.getPurchase(id);
      if (!current) throw new RangeError(`Cannot update purchase "${id}": unknown`);
      const txs = u.tx ? [...current.txs, u.tx] : current.txs;
      this.#db.prepare(
        `UPDATE market_purchases SET status = ?, sale = ?, opened_block = ?, k_sale = ?, dek = ?, evidence = ?,
           txs = ?, error = ?, updated_at = ? WHERE id = ?`,
      ).run(
        u.status ?? current.status,
        u.sale ? saleToJson(u.sale) : current.sale ? saleToJson(current.sale) : null,
        (u.openedBlock ?? current.openedBlock)?.toString() ?? null,
        u.kSale ?? current.kSale ?? null,
        u.dek ?? current.dek ?? null,
        u.evidence ?? current.evidence ?? null,
        JSON.stringify(txs),
        u.error === undefined ? current.error ?? null : u.error,
        Date.now(),
        id,
      );
      return this.getPurchase(id)!;
    });
  }

  /** Writes an opened sale (with its `kSale` and the escrow's {@link Sale}) in one statement. */
  insertSale(s: Omit<SaleRecord, "txs" | "createdAt" | "updatedAt">): SaleRecord {
    const now = Date.now();
    this.#db.prepare(
      `INSERT INTO market_sales (sale_id, manifest_cid, listing_id, buyer, buyer_peer, licence, status, quote, k_sale,
         sale, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.saleId,
      s.manifestCid,
      s.listingId.toString(),
      s.buyer,
      s.buyerPeer,
      s.licence,
      s.status,
      JSON.stringify(quoteToJson(s.quote)),
      s.kSale,
      s.sale ? saleToJson(s.sale) : null,
      now,
      now,
    );
    return this.getSale(s.saleId)!;
  }

  getSale(saleId: string): SaleRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM market_sales WHERE sale_id = ?").get(saleId) as
      | Row
      | undefined;
    return row ? toSale(row) : undefined;
  }

  /** Sales past the quote stage (or every one with `all`), newest first. */
  listSales(filter: { unfinished?: boolean; all?: boolean } = {}): SaleRecord[] {
    const where = filter.unfinished
      ? "WHERE status IN ('quoted', 'opened', 'revealed', 'disputed')"
      : filter.all
      ? ""
      : "WHERE status NOT IN ('quoted', 'failed')";
    return (this.#db.prepare(`SELECT * FROM market_sales ${where} ORDER BY created_at DESC`).all() as Row[])
      .map(toSale);
  }

  updateSale(saleId: string, u: SaleUpdate): SaleRecord {
    return transaction(this.#db, () => {
      const current = this.getSale(saleId);
      if (!current) throw new RangeError(`Cannot update sale "${saleId}": unknown`);
      const txs = u.tx ? [...current.txs, u.tx] : current.txs;
      this.#db.prepare(
        "UPDATE market_sales SET status = ?, sale = ?, txs = ?, error = ?, updated_at = ? WHERE sale_id = ?",
      ).run(
        u.status ?? current.status,
        u.sale ? saleToJson(u.sale) : current.sale ? saleToJson(current.sale) : null,
        JSON.stringify(txs),
        u.error === undefined ? current.error ?? null : u.error,
        Date.now(),
        saleId,
      );
      return this.getSale(saleId)!;
    });
  }

  /**
   * Reserves `count` sequential quote nonces of `signer` and returns the
   * first; the block starts on a multiple of `count` (256 nonces share one
   * storage word on chain). One write per block: nonces a restart leaves
   * unused are never used (quotes nobody opened leave theirs unused too).
   */
  reserveNonces(signer: Address, count = 256): bigint {
    return transaction(this.#db, () => {
      const row = this.#db.prepare("SELECT next FROM market_nonces WHERE owner = ?").get(signer) as
        | { next: string }
        | undefined;
      const size = BigInt(count);
      const next = BigInt(row?.next ?? "0");
      const start = (next + size - 1n) / size * size;
      this.#db.prepare(
        "INSERT INTO market_nonces (owner, next) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET next = excluded.next",
      ).run(signer, (start + size).toString());
      return start;
    });
  }
}
