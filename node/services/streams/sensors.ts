/**
 * The sensors a gateway vouches for: each bound to its owner by an attestation this node's wallet
 * signs (EIP-712 `SensorAttestation`, verifiable by anyone), optionally with an Ed25519 key whose
 * signature every reading must carry, and the owner's consent on chain to sell its readings
 * (source `keccak256("sensor:" + sensorId)`, purpose `keccak256("stream-sale")`). For an identity
 * proxy the gateway grants (and revokes) that consent as the proxy; an own owner grants it from their
 * wallet and the gateway finds it in the consent contract's `Granted` logs. Validity is read from the
 * chain at start, every `consentCheckMs` and on {@link Sensors.refreshConsents}; ingest reads the
 * last state (kept in the table, so a restart keeps it) and never waits for the chain.
 *
 * Table `gateway_sensors`.
 */
import { type Address, type Hex, keccak256, toBytes } from "viem";
import { SENSOR_ID, signSensorAttestation } from "../../../protocol/streams.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import {
  type ChainService,
  getGrantedConsents,
  grantConsent,
  isConsentValid,
  revokeConsent,
} from "../chain/mod.ts";
import { type Database, migrate } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import { checkAddress, checkLabel, type Owners, OwnerStateError } from "./owners.ts";

const MIGRATIONS = [
  `CREATE TABLE gateway_sensors (
    sensor_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    sensor_key TEXT,
    label TEXT NOT NULL,
    attestation TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    consent_id TEXT,
    consent_valid INTEGER NOT NULL DEFAULT 0,
    consent_checked_at INTEGER,
    created_at INTEGER NOT NULL,
    last_ts INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX gateway_sensors_owner ON gateway_sensors (owner);`,
];

/** The consent contract's purpose of selling a sensor's readings. */
export const STREAM_SALE_PURPOSE: Hex = keccak256(toBytes("stream-sale"));

/** The consent contract's source of one sensor's readings. */
export function toSensorSource(sensorId: string): Hex {
  return keccak256(toBytes(`sensor:${sensorId}`));
}

/** A sensor id: 1–128 characters of letters, digits and `._:-`, starting with a letter or digit. */
export function checkSensorId(value: unknown): string {
  if (typeof value !== "string" || !SENSOR_ID.test(value)) {
    throw new TypeError(
      "sensorId must be 1 to 128 letters, digits or . _ : - (starting with a letter or digit)",
    );
  }
  return value;
}

/** An Ed25519 public key as 0x + 64 hex digits, or undefined. */
export function checkSensorKey(value: unknown): Hex | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new TypeError("sensorKey must be an Ed25519 public key: 0x and 64 hex digits");
  }
  return value.toLowerCase() as Hex;
}

/** A sensor id registered already. */
export class SensorExistsError extends KosmosError {
  override name = "SensorExistsError";
}

export interface SensorRecord {
  sensorId: string;
  owner: Address;
  gateway: Address;
  sensorKey: Hex | null;
  label: string;
  attestation: Hex;
  issuedAt: number;
  /** The consent held by a proxy owner (granted here), as a decimal string. */
  consentId: string | null;
  consentValid: boolean;
  consentCheckedAt: number | null;
  createdAt: number;
  /** ms: the last accepted reading's timestamp. */
  lastTs: number | null;
}

interface SensorRow {
  sensor_id: string;
  owner: string;
  sensor_key: string | null;
  label: string;
  attestation: string;
  issued_at: number;
  consent_id: string | null;
  consent_valid: number;
  consent_checked_at: number | null;
  created_at: number;
  last_ts: number | null;
}

export interface SensorsComponents {
  db: Database;
  chain: ChainService;
  identity: Identity;
  owners: Owners;
  log: Logger;
}

export interface SensorsInit {
  /** How long a proxy's consent is granted for, ms. @default 10 years */
  consentDurationMs?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

type Options = { signal?: AbortSignal };

export class Sensors {
  readonly #c: SensorsComponents;
  readonly #now: () => number;
  readonly #duration: number;
  /** sensorId → record, the hot path's view (kept equal to the table). */
  readonly #cache = new Map<string, SensorRecord>();
  /** Sensor ids being registered now. */
  readonly #registering = new Set<string>();

  constructor(components: SensorsComponents, init: SensorsInit = {}) {
    this.#c = components;
    this.#now = init.now ?? Date.now;
    this.#duration = init.consentDurationMs ?? 10 * 365 * 24 * 3600_000;
  }

  /** Runs the migrations and loads the sensors. */
  open(): void {
    migrate(this.#c.db, "gateway_sensors", MIGRATIONS);
    this.#cache.clear();
    const rows = this.#c.db.prepare("SELECT * FROM gateway_sensors").all() as unknown as SensorRow[];
    for (const row of rows) this.#cache.set(row.sensor_id, toRecord(row, this.#c.identity.account.address));
  }

  /** A sensor by id (from memory; the table's state). */
  get(sensorId: string): SensorRecord | undefined {
    return this.#cache.get(sensorId);
  }

  list(): SensorRecord[] {
    return [...this.#cache.values()].sort((a, b) => a.createdAt - b.createdAt || cmp(a.sensorId, b.sensorId));
  }

  /**
   * Registers a sensor for `owner` (a proxy of this gateway, or any wallet, which becomes an `own`
   * owner): signs its attestation and, for a proxy, grants the proxy's consent on chain.
   */
  async register(
    fields: { sensorId: unknown; owner: unknown; sensorKey?: unknown; label?: unknown },
    options: Options = {},
  ): Promise<SensorRecord> {
    const sensorId = checkSensorId(fields.sensorId);
    const owner = checkAddress(fields.owner, "owner");
    const sensorKey = checkSensorKey(fields.sensorKey);
    const label = checkLabel(fields.label ?? "");
    if (this.#cache.has(sensorId) || this.#registering.has(sensorId)) {
      throw new SensorExistsError(`Sensor "${sensorId}" is registered already`);
    }
    // Held until the row is written: a second registration of the id meanwhile is refused, not raced.
    this.#registering.add(sensorId);
    try {
      return await this.#register(sensorId, owner, sensorKey, label, options);
    } finally {
      this.#registering.delete(sensorId);
    }
  }

  async #register(
    sensorId: string,
    owner: Address,
    sensorKey: Hex | null,
    label: string,
    options: Options,
  ): Promise<SensorRecord> {
    const known = this.#c.owners.get(owner);
    if (known && known.takenOverAt !== null) {
      throw new OwnerStateError(
        `Proxy ${owner} was handed over: register the sensor for ${known.takenOverBy}`,
      );
    }
    if (!known) this.#c.owners.ensureOwn(owner);
    const issuedAt = this.#now();
    const attestation = await this.#attest(sensorId, owner, sensorKey, issuedAt);
    let consentId: string | null = null;
    if (this.#c.owners.isProxy(owner)) {
      consentId = (await this.#grantAsProxy(owner, sensorId, options)).toString();
    }
    this.#c.db.prepare(
      `INSERT INTO gateway_sensors (sensor_id, owner, sensor_key, label, attestation, issued_at, consent_id,
        consent_valid, consent_checked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      sensorId,
      owner,
      sensorKey,
      label,
      attestation,
      issuedAt,
      consentId,
      consentId ? 1 : 0,
      issuedAt,
      issuedAt,
    );
    this.#reload(sensorId);
    this.#c.log.info("registered a sensor", { sensorId, owner, signed: sensorKey !== null });
    if (!consentId) await this.refreshConsents({ ...options, sensorIds: [sensorId] });
    return this.get(sensorId)!;
  }

  /** Grants the proxy owner's consent for `sensorId` again (after a revocation). */
  async grantConsent(sensorId: string, options: Options = {}): Promise<SensorRecord> {
    const sensor = this.#require(sensorId);
    if (!this.#c.owners.isProxy(sensor.owner)) {
      throw new OwnerStateError(
        `The owner ${sensor.owner} of sensor "${sensorId}" grants consent from their own wallet, not this gateway`,
      );
    }
    const consentId = await this.#grantAsProxy(sensor.owner, sensorId, options);
    this.#c.db.prepare(
      "UPDATE gateway_sensors SET consent_id = ?, consent_valid = 1, consent_checked_at = ? WHERE sensor_id = ?",
    ).run(consentId.toString(), this.#now(), sensorId);
    this.#reload(sensorId);
    return this.get(sensorId)!;
  }

  /** Revokes the proxy owner's consent for `sensorId` on chain; its readings are refused from now. */
  async revokeConsent(sensorId: string, options: Options = {}): Promise<SensorRecord> {
    const sensor = this.#require(sensorId);
    if (!this.#c.owners.isProxy(sensor.owner) || sensor.consentId === null) {
      throw new OwnerStateError(
        `Sensor "${sensorId}" has no consent held by a proxy of this gateway: its owner revokes on chain`,
      );
    }
    await this.#revokeAsProxy(sensor.owner, BigInt(sensor.consentId), options);
    this.#setConsentState(sensorId, false);
    this.#c.log.info("revoked a sensor's consent as its proxy owner", { sensorId });
    return this.get(sensorId)!;
  }

  /**
   * Reads from the chain whether each sensor's consent is valid now (all sensors, or `sensorIds`).
   * Failures to reach the chain keep the last state.
   */
  async refreshConsents(options: Options & { sensorIds?: string[] } = {}): Promise<void> {
    const sensors = options.sensorIds ? options.sensorIds.map((id) => this.#require(id)) : this.list();
    if (sensors.length === 0) return;
    const client = this.#c.chain.client;
    const sourcesByOwner = new Map<Address, Map<bigint, Hex>>();
    // An own owner's consents for selling, by owner: found once per refresh in the `Granted` logs.
    const byOwner = new Map<Address, bigint[]>();
    for (const sensor of sensors) {
      options.signal?.throwIfAborted();
      let valid = false;
      if (sensor.consentId !== null && this.#c.owners.isProxy(sensor.owner)) {
        valid = await isConsentValid(client, { consentId: BigInt(sensor.consentId) });
      } else {
        const source = toSensorSource(sensor.sensorId);
        if (!byOwner.has(sensor.owner)) {
          const logs = await getGrantedConsents(client, { contributor: sensor.owner });
          byOwner.set(
            sensor.owner,
            logs.filter((l) => l.purpose === STREAM_SALE_PURPOSE).map((l) => l.consentId),
          );
          sourcesByOwner.set(sensor.owner, new Map(logs.map((l) => [l.consentId, l.source])));
        }
        const sources = sourcesByOwner.get(sensor.owner)!;
        for (const id of byOwner.get(sensor.owner)!) {
          if (sources.get(id) !== source) continue;
          if (await isConsentValid(client, { consentId: id })) {
            valid = true;
            break;
          }
        }
      }
      if (valid !== sensor.consentValid) {
        this.#c.log.info("read a change of a sensor's consent on chain", {
          sensorId: sensor.sensorId,
          valid,
        });
      }
      this.#setConsentState(sensor.sensorId, valid);
    }
  }

  /**
   * Hands the sensors of proxy `from` to wallet `to`: the proxy's consents are revoked (the owner
   * grants their own), each attestation is signed again with the new owner.
   */
  async handOver(from: Address, to: Address, options: Options = {}): Promise<SensorRecord[]> {
    const sensors = this.list().filter((s) => s.owner === from);
    for (const sensor of sensors) {
      if (sensor.consentId !== null && sensor.consentValid) {
        const client = this.#c.chain.client;
        if (await isConsentValid(client, { consentId: BigInt(sensor.consentId) })) {
          await this.#revokeAsProxy(from, BigInt(sensor.consentId), options);
        }
      }
      const issuedAt = this.#now();
      const attestation = await this.#attest(sensor.sensorId, to, sensor.sensorKey, issuedAt);
      this.#c.db.prepare(
        `UPDATE gateway_sensors SET owner = ?, attestation = ?, issued_at = ?, consent_id = NULL, consent_valid = 0,
          consent_checked_at = ? WHERE sensor_id = ?`,
      ).run(to, attestation, issuedAt, issuedAt, sensor.sensorId);
      this.#reload(sensor.sensorId);
    }
    if (sensors.length) await this.refreshConsents({ ...options, sensorIds: sensors.map((s) => s.sensorId) });
    return sensors.map((s) => this.get(s.sensorId)!);
  }

  /** Notes the last accepted timestamp of each sensor in memory (the checks read it from there). */
  noteLastTs(updates: ReadonlyMap<string, number>): void {
    for (const [sensorId, ts] of updates) {
      const cached = this.#cache.get(sensorId);
      if (cached && (cached.lastTs === null || ts > cached.lastTs)) cached.lastTs = ts;
    }
  }

  /** Writes the last accepted timestamps (inside the caller's transaction) and notes them. */
  setLastTs(updates: ReadonlyMap<string, number>): void {
    const stmt = this.#c.db.prepare(
      "UPDATE gateway_sensors SET last_ts = MAX(COALESCE(last_ts, 0), ?) WHERE sensor_id = ?",
    );
    for (const [sensorId, ts] of updates) stmt.run(ts, sensorId);
    this.noteLastTs(updates);
  }

  #require(sensorId: string): SensorRecord {
    const sensor = this.#cache.get(sensorId);
    if (!sensor) throw new NotFoundError(`No sensor "${String(sensorId).slice(0, 128)}" at this gateway`);
    return sensor;
  }

  #reload(sensorId: string): void {
    const row = this.#c.db.prepare("SELECT * FROM gateway_sensors WHERE sensor_id = ?").get(sensorId) as
      | SensorRow
      | undefined;
    if (row) this.#cache.set(sensorId, toRecord(row, this.#c.identity.account.address));
    else this.#cache.delete(sensorId);
  }

  #setConsentState(sensorId: string, valid: boolean): void {
    const now = this.#now();
    this.#c.db.prepare(
      "UPDATE gateway_sensors SET consent_valid = ?, consent_checked_at = ? WHERE sensor_id = ?",
    )
      .run(valid ? 1 : 0, now, sensorId);
    const cached = this.#cache.get(sensorId);
    if (cached) {
      cached.consentValid = valid;
      cached.consentCheckedAt = now;
    }
  }

  async #attest(sensorId: string, owner: Address, sensorKey: Hex | null, issuedAt: number): Promise<Hex> {
    return await signSensorAttestation(this.#c.identity.account, {
      sensorId,
      owner,
      gateway: this.#c.identity.account.address,
      sensorKey,
      issuedAt,
    }, this.#c.chain.chainId);
  }

  async #grantAsProxy(owner: Address, sensorId: string, options: Options): Promise<bigint> {
    const owners = this.#c.owners;
    const client = await owners.client(owner);
    await owners.fundGas(owner, options);
    const chainNow = Number((await client.publicClient.getBlock()).timestamp);
    const expiry = BigInt(chainNow + Math.floor(this.#duration / 1000));
    const { consentId } = await owners.exclusive(owner, () =>
      grantConsent(client, {
        source: toSensorSource(sensorId),
        purpose: STREAM_SALE_PURPOSE,
        expiry,
        signal: options.signal,
      }));
    this.#c.log.info("granted a sensor's consent as its proxy owner", {
      sensorId,
      consentId: consentId.toString(),
    });
    return consentId;
  }

  async #revokeAsProxy(owner: Address, consentId: bigint, options: Options): Promise<void> {
    const owners = this.#c.owners;
    const client = await owners.client(owner);
    await owners.fundGas(owner, options);
    await owners.exclusive(owner, () => revokeConsent(client, { consentId, signal: options.signal }));
  }
}

function toRecord(row: SensorRow, gateway: Address): SensorRecord {
  return {
    sensorId: row.sensor_id,
    owner: row.owner as Address,
    gateway,
    sensorKey: row.sensor_key as Hex | null,
    label: row.label,
    attestation: row.attestation as Hex,
    issuedAt: row.issued_at,
    consentId: row.consent_id,
    consentValid: row.consent_valid === 1,
    consentCheckedAt: row.consent_checked_at,
    createdAt: row.created_at,
    lastTs: row.last_ts,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
