/**
 * The consent table: every consent record this node granted or relayed, or found granted by its
 * wallet on chain, keyed by chain, contract and token id. It keeps what the chain does not: the
 * purpose text (the chain has its hash), whether the grant was relayed, and the transaction hashes.
 * The state (valid, revoked, expired) is always read again from the chain. One more table keeps the
 * last block whose `Granted` logs were scanned, per chain, contract and contributor.
 *
 * ```ts
 * const store = new ConsentStore(db);
 * store.open();
 * store.put({ chainId: 31337, contract, tokenId: 1n, kind: "spotify", purpose: "music research", … });
 * store.list(31337, contract); // oldest first
 * ```
 */
import type { Address, Hex } from "viem";
import { type Database, migrate } from "../db/mod.ts";
import type { SourceKind } from "../../../protocol/sources.ts";

const MIGRATIONS = [
  `CREATE TABLE consents (
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    token_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    purpose TEXT NOT NULL,
    contributor TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    gasless INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    revoke_tx_hash TEXT,
    PRIMARY KEY (chain_id, contract, token_id)
  ) STRICT;
  CREATE INDEX consents_contributor ON consents (chain_id, contract, contributor);
  CREATE TABLE consent_scans (
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    contributor TEXT NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (chain_id, contract, contributor)
  ) STRICT;`,
];

/** A consent as the table keeps it. Times in ms since the epoch. */
export interface StoredConsent {
  chainId: number;
  contract: Address;
  tokenId: bigint;
  kind: SourceKind;
  /** The purpose text; its hash when the grant was found on chain and the text is unknown here. */
  purpose: string;
  contributor: Address;
  grantedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  gasless: boolean;
  txHash: Hex;
  revokeTxHash: Hex | null;
}

interface ConsentRow {
  chain_id: number;
  contract: string;
  token_id: string;
  kind: string;
  purpose: string;
  contributor: string;
  granted_at: number;
  expires_at: number;
  revoked_at: number | null;
  gasless: number;
  tx_hash: string;
  revoke_tx_hash: string | null;
}

export class ConsentStore {
  readonly #db: Database;
  #opened = false;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Runs the migrations (once). */
  open(): void {
    if (this.#opened) return;
    migrate(this.#db, "consent", MIGRATIONS);
    this.#opened = true;
  }

  /** Inserts a consent, or replaces the row of the same token. */
  put(c: StoredConsent): void {
    this.open();
    this.#db.prepare(
      `INSERT OR REPLACE INTO consents (chain_id, contract, token_id, kind, purpose, contributor, granted_at,
        expires_at, revoked_at, gasless, tx_hash, revoke_tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      c.chainId,
      c.contract,
      c.tokenId.toString(),
      c.kind,
      c.purpose,
      c.contributor,
      c.grantedAt,
      c.expiresAt,
      c.revokedAt,
      c.gasless ? 1 : 0,
      c.txHash,
      c.revokeTxHash,
    );
  }

  /** Records a revocation of a stored consent. */
  setRevoked(
    chainId: number,
    contract: Address,
    tokenId: bigint,
    revokedAt: number,
    txHash: Hex | null,
  ): void {
    this.open();
    this.#db.prepare(
      `UPDATE consents SET revoked_at = ?, revoke_tx_hash = COALESCE(?, revoke_tx_hash)
        WHERE chain_id = ? AND contract = ? AND token_id = ?`,
    ).run(revokedAt, txHash, chainId, contract, tokenId.toString());
  }

  get(chainId: number, contract: Address, tokenId: bigint): StoredConsent | undefined {
    this.open();
    const row = this.#db.prepare(
      "SELECT * FROM consents WHERE chain_id = ? AND contract = ? AND token_id = ?",
    ).get(chainId, contract, tokenId.toString()) as ConsentRow | undefined;
    return row && toStored(row);
  }

  /** Every consent of the contract, oldest grant first. */
  list(chainId: number, contract: Address): StoredConsent[] {
    this.open();
    const rows = this.#db.prepare(
      "SELECT * FROM consents WHERE chain_id = ? AND contract = ? ORDER BY granted_at, CAST(token_id AS INTEGER)",
    ).all(chainId, contract) as unknown as ConsentRow[];
    return rows.map(toStored);
  }

  /** The last block whose `Granted` logs of `contributor` were scanned; -1 when none was. */
  getScannedBlock(chainId: number, contract: Address, contributor: Address): bigint {
    this.open();
    const row = this.#db.prepare(
      "SELECT block FROM consent_scans WHERE chain_id = ? AND contract = ? AND contributor = ?",
    ).get(chainId, contract, contributor) as { block: number } | undefined;
    return row ? BigInt(row.block) : -1n;
  }

  setScannedBlock(chainId: number, contract: Address, contributor: Address, block: bigint): void {
    this.open();
    this.#db.prepare(
      "INSERT OR REPLACE INTO consent_scans (chain_id, contract, contributor, block) VALUES (?, ?, ?, ?)",
    ).run(chainId, contract, contributor, Number(block));
  }
}

function toStored(row: ConsentRow): StoredConsent {
  return {
    chainId: row.chain_id,
    contract: row.contract as Address,
    tokenId: BigInt(row.token_id),
    kind: row.kind as SourceKind,
    purpose: row.purpose,
    contributor: row.contributor as Address,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    gasless: row.gasless === 1,
    txHash: row.tx_hash as Hex,
    revokeTxHash: row.revoke_tx_hash as Hex | null,
  };
}
