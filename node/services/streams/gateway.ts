/**
 * A gateway operator's side of sensor streams: the owners it acts for (identity proxies and own
 * wallets), the sensors it vouches for, the ingest clients allowed to send readings, and the reading
 * pipeline over HTTP and MQTT into the durable readings table. The `Streams` class composes it and
 * wires its hooks (`streamOfSensor`, `onAccepted`, `sealedBefore`).
 *
 * Tables: `gateway_owners`, `gateway_sensors`, `gateway_clients`, `gateway_readings`,
 * `gateway_counts`; files `<dataDir>/proxies/<address>.key` (0600).
 *
 * ```ts
 * const gateway = new Gateway({ db, chain, identity, dataDir, log }, hooks, { mqttUrl });
 * await gateway.start();
 * const owner = await gateway.createOwner("Greenhouse owner");
 * await gateway.registerSensor({ sensorId: "gh3.temp", owner: owner.address });
 * const { key } = gateway.createClient("hub 1");
 * await gateway.ingest(key, [{ sensorId: "gh3.temp", ts: Date.now(), values: { temp: 21.5 } }]);
 * ```
 */
import {
  MAX_READINGS_PER_BATCH,
  type ReadingRejection,
  type StoredReading,
} from "../../../protocol/streams.ts";
import { KosmosError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { ChainService } from "../chain/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Identity } from "../identity/mod.ts";
import { type IngestClientRecord, IngestClients, MQTT_CLIENT_ID } from "./clients.ts";
import { type GatewayHooks, type IngestResult, ReadingIngest } from "./ingest.ts";
import { MqttIngest, type MqttIngestStats } from "./mqtt_ingest.ts";
import { DEFAULT_MQTT_TOPIC } from "./mqtt_url.ts";
import { checkAddress, type OwnerRecord, Owners, OwnerStateError, type TakeoverAssets } from "./owners.ts";
import { Readings } from "./readings.ts";
import { type SensorRecord, Sensors } from "./sensors.ts";

export interface GatewayComponents {
  db: Database;
  chain: ChainService;
  identity: Identity;
  dataDir: string;
  log: Logger;
}

export interface GatewayInit {
  /** The operator's broker; without it no MQTT ingest. @default undefined */
  mqttUrl?: string;
  /** @default "kosmos/readings/#" */
  mqttTopic?: string;
  /** How often consents are read from the chain, ms. @default 10,000 */
  consentCheckMs?: number;
  /** How long after an epoch's end it is sealed, ms. @default 2000 */
  sealGraceMs?: number;
  /** Gas money a proxy is topped up to, wei. @default 0.05 ether */
  proxyGasWei?: bigint;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** A batch of more than 5,000 readings. */
export class IngestBatchTooLargeError extends KosmosError {
  override name = "IngestBatchTooLargeError";
}

export const REJECTION_REASONS: readonly ReadingRejection[] = [
  "unknown-sensor",
  "bad-signature",
  "malformed",
  "out-of-order",
  "future",
  "consent-revoked",
  "epoch-sealed",
];

export interface SensorStats extends SensorRecord {
  accepted: number;
  rejected: number;
}

export interface GatewayStats {
  accepted: number;
  rejected: Record<ReadingRejection, number>;
  bySensor: { sensorId: string; accepted: number; rejected: Record<string, number> }[];
  byClient: { clientId: string; label: string; accepted: number; rejected: Record<string, number> }[];
  mqtt: { url: string | null; connected: boolean; received: number };
}

export interface TakeoverResult extends TakeoverAssets {
  owner: OwnerRecord;
  sensors: SensorRecord[];
}

type Options = { signal?: AbortSignal };

export class Gateway {
  readonly owners: Owners;
  readonly sensors: Sensors;
  readonly clients: IngestClients;
  readonly readings: Readings;
  readonly #ingest: ReadingIngest;
  readonly #c: GatewayComponents;
  readonly #init: GatewayInit;
  #mqtt?: MqttIngest;
  #timer?: ReturnType<typeof setInterval>;
  #flushTimer?: ReturnType<typeof setInterval>;
  #refreshing?: Promise<void>;

  constructor(components: GatewayComponents, hooks: GatewayHooks, init: GatewayInit = {}) {
    this.#c = components;
    this.#init = init;
    const { db, chain, identity, dataDir, log } = components;
    this.owners = new Owners({ db, chain, identity, dataDir, log }, {
      proxyGasWei: init.proxyGasWei,
      now: init.now,
    });
    this.sensors = new Sensors({ db, chain, identity, owners: this.owners, log }, { now: init.now });
    this.clients = new IngestClients(db, init.now);
    this.readings = new Readings(db);
    this.#ingest = new ReadingIngest({ readings: this.readings, sensors: this.sensors, log }, hooks, {
      sealGraceMs: init.sealGraceMs,
      now: init.now,
    });
  }

  /** Migrations, a first consent check, the periodic one, and the MQTT client. */
  async start(): Promise<void> {
    this.owners.open();
    this.readings.open();
    this.sensors.open();
    this.clients.open();
    // After a kill the sensors' table may lag the readings by up to a second: the readings say where each is.
    this.sensors.noteLastTs(this.readings.lastTsBySensor());
    await this.refreshConsents().catch(() => {});
    const every = this.#init.consentCheckMs ?? 10_000;
    this.#timer = setInterval(() => this.refreshConsents().catch(() => {}), every);
    this.#flushTimer = setInterval(() => this.#flush(), 1000);
    if (this.#init.mqttUrl) {
      this.#mqtt = new MqttIngest({ ingest: this.#ingest, log: this.#c.log }, {
        url: this.#init.mqttUrl,
        topic: this.#init.mqttTopic ?? DEFAULT_MQTT_TOPIC,
        clientId: `kosmos-gateway-${this.#c.identity.account.address.slice(2, 18).toLowerCase()}`,
      });
      await this.#mqtt.start();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#flushTimer);
    this.#timer = this.#flushTimer = undefined;
    await this.#mqtt?.stop();
    this.#mqtt = undefined;
    await this.#refreshing?.catch(() => {});
    this.#flush();
  }

  #flush(): void {
    try {
      this.#ingest.flush();
    } catch (err) {
      this.#c.log.warn("could not write the gateway's counters", { error: (err as Error).message });
    }
  }

  // Owners

  createOwner(label: unknown): Promise<OwnerRecord> {
    return this.owners.createProxy(label);
  }

  listOwners(): OwnerRecord[] {
    return this.owners.list();
  }

  /**
   * Hands identity proxy `address` over to the wallet `to`: its listing tokens, escrow balance and
   * tokens move there, its sensors' consents are revoked and their attestations signed again for
   * `to`, and the proxy key is erased. Safe to repeat after a failure.
   */
  async takeover(address: string, to: unknown, options: Options = {}): Promise<TakeoverResult> {
    const proxy = checkAddress(address, "address");
    const owner = checkAddress(to, "owner");
    const record = this.owners.get(proxy);
    if (record?.takenOverAt) {
      throw new OwnerStateError(`Proxy ${proxy} was handed over to ${record.takenOverBy} already`);
    }
    if (record?.kind !== "proxy") {
      throw new OwnerStateError(`${proxy} is not an identity proxy of this gateway`);
    }
    if (owner === proxy || this.owners.isProxy(owner)) {
      throw new TypeError("owner must be the owner's own wallet, not an identity proxy of this gateway");
    }
    const assets = await this.owners.transferAssets(proxy, owner, options);
    const sensors = await this.sensors.handOver(proxy, owner, options);
    const taken = await this.owners.finishTakeover(proxy, owner);
    this.#c.log.info("completed a takeover", {
      proxy,
      owner,
      listings: assets.listings.length,
      sensors: sensors.length,
    });
    return { ...assets, owner: taken, sensors };
  }

  // Sensors

  registerSensor(
    fields: { sensorId: unknown; owner: unknown; sensorKey?: unknown; label?: unknown },
    options: Options = {},
  ): Promise<SensorRecord> {
    return this.sensors.register(fields, options);
  }

  /** Every sensor with its counters. */
  listSensors(): SensorStats[] {
    const counts = this.#countsBy("sensor");
    return this.sensors.list().map((s) => {
      const c = counts.get(s.sensorId);
      return { ...s, accepted: c?.accepted ?? 0, rejected: sum(c?.rejected ?? {}) };
    });
  }

  grantConsent(sensorId: string, options: Options = {}): Promise<SensorRecord> {
    return this.sensors.grantConsent(sensorId, options);
  }

  revokeConsent(sensorId: string, options: Options = {}): Promise<SensorRecord> {
    return this.sensors.revokeConsent(sensorId, options);
  }

  /** Reads every sensor's consent from the chain (at most one run at a time). */
  refreshConsents(options: Options = {}): Promise<void> {
    this.#refreshing ??= this.sensors.refreshConsents(options).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  // Ingest

  createClient(label: unknown): { client: IngestClientRecord; key: string } {
    const created = this.clients.create(label);
    this.#c.log.info("created an ingest client", { id: created.client.id });
    return created;
  }

  listClients(): IngestClientRecord[] {
    return this.clients.list();
  }

  /** The client of an ingest key; `IngestKeyError` for anything else. */
  authenticate(key: string): IngestClientRecord {
    return this.clients.authenticate(key);
  }

  /** Checks and stores readings sent with ingest key `key`; resolves once the accepted ones are committed. */
  async ingest(key: string, readings: readonly unknown[]): Promise<IngestResult> {
    const client = this.clients.authenticate(key);
    if (readings.length > MAX_READINGS_PER_BATCH) {
      throw new IngestBatchTooLargeError(
        `A batch holds at most ${MAX_READINGS_PER_BATCH} readings (this one has ${readings.length}): split it`,
      );
    }
    return await this.#ingest.ingest(client.id, readings);
  }

  /** The readings of one epoch of a stream, in epoch-file order. */
  readingsOf(streamId: string, epoch: number): StoredReading[] {
    return this.readings.listEpoch(streamId, epoch);
  }

  get mqttStats(): MqttIngestStats | undefined {
    return this.#mqtt?.stats;
  }

  stats(): GatewayStats {
    this.#flush();
    const rejected = Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<
      ReadingRejection,
      number
    >;
    let accepted = 0;
    const byClient = this.#countsBy("client");
    for (const c of byClient.values()) {
      accepted += c.accepted;
      for (const [reason, n] of Object.entries(c.rejected)) rejected[reason as ReadingRejection] += n;
    }
    const mqtt = this.#mqtt?.stats;
    return {
      accepted,
      rejected,
      bySensor: [...this.#countsBy("sensor")].map(([sensorId, c]) => ({ sensorId, ...c })),
      byClient: this.clients.list().map((client) => {
        const c = byClient.get(client.id);
        return {
          clientId: client.id,
          label: client.label,
          accepted: c?.accepted ?? 0,
          rejected: c?.rejected ?? {},
        };
      }),
      mqtt: { url: mqtt?.url ?? null, connected: mqtt?.connected ?? false, received: mqtt?.received ?? 0 },
    };
  }

  #countsBy(scope: "client" | "sensor"): Map<string, { accepted: number; rejected: Record<string, number> }> {
    const out = new Map<string, { accepted: number; rejected: Record<string, number> }>();
    for (const row of this.readings.counts()) {
      if (row.scope !== scope) continue;
      let entry = out.get(row.id);
      if (!entry) out.set(row.id, entry = { accepted: 0, rejected: {} });
      if (row.reason === "accepted") entry.accepted += row.n;
      else entry.rejected[row.reason] = (entry.rejected[row.reason] ?? 0) + row.n;
    }
    return out;
  }
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

export { MQTT_CLIENT_ID };
