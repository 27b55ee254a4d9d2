/**
 * Ingest clients: each gateway client (a sensor hub, a script) gets its own ingest-only key
 * (`kgi_` + 32 random bytes, base64url), shown once and stored as its SHA-256 digest in
 * `gateway_clients`. The key can send readings and nothing else: the owner's routes do not know it.
 * The MQTT ingest counts under the reserved client `mqtt`.
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { KosmosError } from "../../errors.ts";
import { type Database, migrate } from "../db/mod.ts";
import { checkLabel } from "./owners.ts";

const MIGRATIONS = [
  `CREATE TABLE gateway_clients (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    key_hash TEXT UNIQUE,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;`,
];

/** The client the MQTT ingest counts under (it has no key). */
export const MQTT_CLIENT_ID = "mqtt";

const KEY_PREFIX = "kgi_";

/** A bearer that is not an ingest key of this gateway. */
export class IngestKeyError extends KosmosError {
  override name = "IngestKeyError";
}

export interface IngestClientRecord {
  id: string;
  label: string;
  createdAt: number;
}

function digest(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export class IngestClients {
  readonly #db: Database;
  readonly #now: () => number;
  /** digest → client, the hot path's view. */
  readonly #byHash = new Map<string, IngestClientRecord>();

  constructor(db: Database, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Runs the migrations and loads the clients. */
  open(): void {
    migrate(this.#db, "gateway_clients", MIGRATIONS);
    this.#db.prepare(
      "INSERT INTO gateway_clients (id, label, key_hash, created_at) VALUES (?, 'MQTT', NULL, ?) ON CONFLICT DO NOTHING",
    ).run(MQTT_CLIENT_ID, this.#now());
    this.#byHash.clear();
    const rows = this.#db.prepare(
      "SELECT id, label, key_hash, created_at FROM gateway_clients WHERE key_hash IS NOT NULL",
    )
      .all() as { id: string; label: string; key_hash: string; created_at: number }[];
    for (const r of rows) this.#byHash.set(r.key_hash, { id: r.id, label: r.label, createdAt: r.created_at });
  }

  /** A new client and its key (returned once; only its digest is kept). */
  create(label: unknown): { client: IngestClientRecord; key: string } {
    const checked = checkLabel(label);
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex");
    const key = KEY_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    const createdAt = this.#now();
    const hash = digest(key);
    this.#db.prepare("INSERT INTO gateway_clients (id, label, key_hash, created_at) VALUES (?, ?, ?, ?)")
      .run(id, checked, hash, createdAt);
    const client = { id, label: checked, createdAt };
    this.#byHash.set(hash, client);
    return { client, key };
  }

  /** The client whose key `key` is; {@link IngestKeyError} for anything else (the owner's token included). */
  authenticate(key: string): IngestClientRecord {
    if (typeof key === "string" && key.startsWith(KEY_PREFIX) && key.length === KEY_PREFIX.length + 43) {
      // Looked up by digest: how long the lookup takes says nothing of any key.
      const client = this.#byHash.get(digest(key));
      if (client) return client;
    }
    throw new IngestKeyError(
      "This is not an ingest key of this gateway: create one with POST /api/v1/gateway/clients (the owner's token is not accepted here)",
    );
  }

  list(): IngestClientRecord[] {
    return (this.#db.prepare("SELECT id, label, created_at FROM gateway_clients ORDER BY created_at, id")
      .all() as {
        id: string;
        label: string;
        created_at: number;
      }[]).map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at }));
  }
}
