/**
 * The gateway's reading pipeline, shared by HTTP and MQTT: each reading is checked
 * (`validateReading` of `protocol/streams.ts`: shape, known sensor, the stream's schema, not in the
 * future, after the sensor's last accepted reading, not in a sealed epoch; then the sensor's Ed25519
 * signature when it has a key, and its owner's consent), the accepted ones are written to SQLite in
 * one transaction, and only then reported accepted and handed to `onAccepted` (live batches,
 * sealing). Accepted and refused readings are counted per client and per sensor; the counters and the
 * sensors' last timestamps are written every second ({@link ReadingIngest.flush}): after a kill the
 * last timestamps are found again from the readings themselves.
 *
 * The checks that depend on order (last timestamp, sealing) and the commit run without yielding,
 * so two batches never interleave between check and write; signatures are verified before.
 */
import { hexToBytes } from "viem";
import type { Hex } from "viem";
import {
  canonicalReadingBytes,
  epochOf,
  MAX_READING_FUTURE_MS,
  type ReadingRejection,
  type StoredReading,
  type StreamColumn,
  validateReading,
} from "../../../protocol/streams.ts";
import type { Logger } from "../../log.ts";
import type { CountIncrement, ReadingRow, Readings } from "./readings.ts";
import type { Sensors } from "./sensors.ts";

/** The stream a sensor's readings belong to, as the epochs part knows it. */
export interface SensorStream {
  streamId: string;
  schema: readonly StreamColumn[];
  epochSeconds: number;
}

/** What the rest of the streams service tells the gateway, and what it is told. */
export interface GatewayHooks {
  /** The stream whose manifest lists `sensorId` (published by this node), if any. */
  streamOfSensor(sensorId: string): SensorStream | undefined;
  /** Accepted readings of one stream, sorted by ts, after they are committed. */
  onAccepted?(streamId: string, readings: StoredReading[]): void;
  /** Readings before this time (ms) of the stream fall in an epoch already sealed, if the sealer says so. */
  sealedBefore?(streamId: string): number | null;
}

export interface IngestRejection {
  index: number;
  sensorId: string | null;
  reason: ReadingRejection;
  message: string;
}

export interface IngestResult {
  accepted: number;
  rejected: IngestRejection[];
}

export interface ReadingIngestInit {
  /** How long after an epoch's end it is sealed, ms (readings of it are refused from then). @default 2000 */
  sealGraceMs?: number;
  /** @default MAX_READING_FUTURE_MS (5 s) */
  maxFutureMs?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** Ed25519 keys imported once per sensor key. */
const KEY_CACHE_MAX = 10_000;

export class ReadingIngest {
  readonly #readings: Readings;
  readonly #sensors: Sensors;
  readonly #log: Logger;
  readonly #hooks: GatewayHooks;
  readonly #now: () => number;
  readonly #grace: number;
  readonly #maxFuture: number;
  readonly #keys = new Map<string, Promise<CryptoKey>>();
  /** Counter increments not yet written. */
  readonly #pending = new Map<string, CountIncrement>();
  /** Last accepted timestamps not yet written to the sensors' table. */
  readonly #lastTs = new Map<string, number>();

  constructor(
    c: { readings: Readings; sensors: Sensors; log: Logger },
    hooks: GatewayHooks,
    init: ReadingIngestInit = {},
  ) {
    this.#readings = c.readings;
    this.#sensors = c.sensors;
    this.#log = c.log;
    this.#hooks = hooks;
    this.#now = init.now ?? Date.now;
    this.#grace = init.sealGraceMs ?? 2000;
    this.#maxFuture = init.maxFutureMs ?? MAX_READING_FUTURE_MS;
  }

  /**
   * Checks and stores `inputs` sent by client `clientId`. When it resolves, every accepted reading
   * is committed.
   */
  async ingest(clientId: string, inputs: readonly unknown[]): Promise<IngestResult> {
    return await this.ingestNow(clientId, inputs);
  }

  /**
   * {@link ingest}, answering at once (without a promise) when no reading needs a signature checked:
   * the MQTT path, one message at a time, saves the hops.
   */
  ingestNow(clientId: string, inputs: readonly unknown[]): IngestResult | Promise<IngestResult> {
    const verified = this.#verifySignatures(inputs);
    return verified instanceof Set
      ? this.ingestChecked(clientId, inputs, verified)
      : verified.then((bad) => this.ingestChecked(clientId, inputs, bad));
  }

  /**
   * The synchronous part of {@link ingest}: `badSignatures` are the indexes whose signature failed
   * (every other signed reading of a keyed sensor passed).
   */
  ingestChecked(
    clientId: string,
    inputs: readonly unknown[],
    badSignatures: ReadonlySet<number>,
  ): IngestResult {
    const now = this.#now();
    const lastTs = new Map<string, number>();
    const rows: ReadingRow[] = [];
    const byStream = new Map<string, StoredReading[]>();
    const rejected: IngestRejection[] = [];
    const counts = this.#pending;
    const count = (scope: "client" | "sensor", id: string, reason: string, n = 1) => {
      const key = `${scope}\0${id}\0${reason}`;
      const c = counts.get(key);
      if (c) c.n += n;
      else counts.set(key, { scope, id, reason, n });
    };
    const sealed = new Map<string, number>();
    inputs.forEach((input, index) => {
      let stream: SensorStream | undefined;
      const check = validateReading(input, {
        now,
        maxFutureMs: this.#maxFuture,
        sensor: (sensorId) => {
          const sensor = this.#sensors.get(sensorId);
          stream = sensor && this.#hooks.streamOfSensor(sensorId);
          if (!sensor || !stream) return undefined;
          let sealedBefore = sealed.get(stream.streamId);
          if (sealedBefore === undefined) {
            sealedBefore = this.#sealedBefore(stream, now);
            sealed.set(stream.streamId, sealedBefore);
          }
          return {
            schema: stream.schema,
            sensorKey: sensor.sensorKey,
            lastTs: lastTs.get(sensorId) ?? sensor.lastTs,
            sealedBefore,
          };
        },
      });
      let reason: ReadingRejection;
      let message: string;
      let sensorId: string | null;
      if (check.ok) {
        const sensor = this.#sensors.get(check.reading.sensorId)!;
        sensorId = sensor.sensorId;
        if (sensor.sensorKey !== null && badSignatures.has(index)) {
          [reason, message] = ["bad-signature", "the signature is not the sensor key's over this reading"];
        } else if (!sensor.consentValid) {
          [reason, message] = [
            "consent-revoked",
            "the sensor owner's consent to sell its readings is not valid",
          ];
        } else {
          const { sensorId: id, ts, values } = check.reading;
          const reading = { sensorId: id, ts, values };
          rows.push({
            streamId: stream!.streamId,
            epoch: epochOf(ts, stream!.epochSeconds),
            sensorId: id,
            ts,
            valuesJson: JSON.stringify(values),
          });
          lastTs.set(id, ts);
          const list = byStream.get(stream!.streamId);
          if (list) list.push(reading);
          else byStream.set(stream!.streamId, [reading]);
          count("sensor", id, "accepted");
          return;
        }
      } else {
        ({ reason, message, sensorId } = check);
        if (reason === "unknown-sensor" && sensorId !== null && this.#sensors.get(sensorId)) {
          message = `sensor ${sensorId} is registered here but no stream published by this gateway lists it`;
        }
      }
      rejected.push({ index, sensorId, reason, message });
      count("client", clientId, reason);
      // Per sensor only for sensors registered here: unknown ids must not grow the table.
      if (sensorId !== null && this.#sensors.get(sensorId)) count("sensor", sensorId, reason);
    });
    if (rows.length > 0) {
      this.#readings.commit(rows);
      count("client", clientId, "accepted", rows.length);
      this.#sensors.noteLastTs(lastTs);
      for (const [id, ts] of lastTs) this.#lastTs.set(id, ts);
      this.#deliver(byStream);
    }
    if (this.#pending.size > 10_000) this.flush();
    return { accepted: rows.length, rejected };
  }

  /** Writes the counters and last timestamps held in memory (every second, and at stop). */
  flush(): void {
    if (this.#pending.size === 0 && this.#lastTs.size === 0) return;
    const lastTs = new Map(this.#lastTs);
    this.#readings.addCounts(this.#pending.values(), () => this.#sensors.setLastTs(lastTs));
    this.#pending.clear();
    this.#lastTs.clear();
  }

  #sealedBefore(stream: SensorStream, now: number): number {
    const epochMs = stream.epochSeconds * 1000;
    // Epoch e is sealed once its end plus the grace has passed: every epoch before the one holding
    // `now - grace` is.
    const byTime = Math.floor((now - this.#grace) / epochMs) * epochMs;
    const bySealer = this.#hooks.sealedBefore?.(stream.streamId) ?? null;
    return bySealer === null ? byTime : Math.max(byTime, bySealer);
  }

  #deliver(byStream: Map<string, StoredReading[]>): void {
    if (!this.#hooks.onAccepted) return;
    for (const [streamId, readings] of byStream) {
      readings.sort((a, b) =>
        a.ts - b.ts || (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0)
      );
      try {
        this.#hooks.onAccepted(streamId, readings);
      } catch (err) {
        this.#log.warn("could not hand accepted readings on", { streamId, error: (err as Error).message });
      }
    }
  }

  /** Indexes of readings of keyed sensors whose signature does not verify. */
  #verifySignatures(inputs: readonly unknown[]): Set<number> | Promise<Set<number>> {
    const bad = new Set<number>();
    const checks: Promise<void>[] = [];
    inputs.forEach((input, index) => {
      if (typeof input !== "object" || input === null) return;
      const r = input as Record<string, unknown>;
      const sensor = typeof r.sensorId === "string" ? this.#sensors.get(r.sensorId) : undefined;
      if (!sensor || sensor.sensorKey === null) return;
      const sig = r.sig;
      if (typeof sig !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(sig)) {
        bad.add(index);
        return;
      }
      const values = r.values;
      if (typeof values !== "object" || values === null || !Number.isSafeInteger(r.ts)) {
        bad.add(index);
        return;
      }
      const key = sensor.sensorKey;
      checks.push((async () => {
        try {
          const bytes = new Uint8Array(canonicalReadingBytes({
            sensorId: sensor.sensorId,
            ts: r.ts as number,
            values: values as StoredReading["values"],
          }));
          const ok = await crypto.subtle.verify(
            "Ed25519",
            await this.#key(key),
            new Uint8Array(hexToBytes(sig as Hex)),
            bytes,
          );
          if (!ok) bad.add(index);
        } catch {
          bad.add(index);
        }
      })());
    });
    return checks.length === 0 ? bad : Promise.all(checks).then(() => bad);
  }

  #key(sensorKey: Hex): Promise<CryptoKey> {
    let key = this.#keys.get(sensorKey);
    if (!key) {
      if (this.#keys.size >= KEY_CACHE_MAX) this.#keys.delete(this.#keys.keys().next().value!);
      key = crypto.subtle.importKey(
        "raw",
        new Uint8Array(hexToBytes(sensorKey)),
        { name: "Ed25519" },
        false,
        ["verify"],
      );
      key.catch(() => this.#keys.delete(sensorKey));
      this.#keys.set(sensorKey, key);
    }
    return key;
  }
}
