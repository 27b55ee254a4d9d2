/**
 * The gateway's MQTT ingest: this node subscribes as a client (MQTT 5, QoS 1, a persistent session
 * named after the node's wallet) to the operator's broker (`--mqtt-url`) on `--mqtt-topic`. Each
 * message is one `ReadingInput` or `{ readings: [...] }`; it goes through the same checks as HTTP
 * ingest, counted under the client `mqtt`. A message is acknowledged (PUBACK) only after its accepted
 * readings are committed, so a kill loses nothing the broker considers delivered: it sends the rest
 * again to the same session. The broker's password is never logged.
 */
import mqtt, { type IPublishPacket, type MqttClient } from "mqtt";
import { MAX_INGEST_BATCH_BYTES, MAX_READINGS_PER_BATCH } from "../../../protocol/streams.ts";
import type { Logger } from "../../log.ts";
import { MQTT_CLIENT_ID } from "./clients.ts";
import type { IngestResult, ReadingIngest } from "./ingest.ts";
import { parseMqttUrl, redactMqttUrl } from "./mqtt_url.ts";

export interface MqttIngestInit {
  /** `mqtt://user:pass@host:port`. */
  url: string;
  /** @default "kosmos/readings/#" */
  topic: string;
  /** The MQTT client id (stable across restarts, so the broker keeps the session). */
  clientId: string;
}

export interface MqttIngestStats {
  url: string;
  connected: boolean;
  received: number;
}

/** Parses one message's payload into the readings it carries; throws a `TypeError` saying why not. */
export function parseMqttPayload(payload: Uint8Array): unknown[] {
  if (payload.byteLength > MAX_INGEST_BATCH_BYTES) {
    throw new TypeError(`the message is over ${MAX_INGEST_BATCH_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw new TypeError("the message is not UTF-8 JSON");
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value) && "readings" in value) {
    const readings = (value as { readings: unknown }).readings;
    if (!Array.isArray(readings) || Object.keys(value).length !== 1) {
      throw new TypeError('a batch must be { "readings": [ … ] }');
    }
    if (readings.length > MAX_READINGS_PER_BATCH) {
      throw new TypeError(`a batch holds at most ${MAX_READINGS_PER_BATCH} readings`);
    }
    return readings;
  }
  return [value];
}

export class MqttIngest {
  readonly #ingest: ReadingIngest;
  readonly #log: Logger;
  readonly #init: MqttIngestInit;
  #client?: MqttClient;
  #received = 0;
  #connected = false;

  constructor(c: { ingest: ReadingIngest; log: Logger }, init: MqttIngestInit) {
    this.#ingest = c.ingest;
    this.#log = c.log;
    this.#init = init;
  }

  get stats(): MqttIngestStats {
    return { url: redactMqttUrl(this.#init.url), connected: this.#connected, received: this.#received };
  }

  /**
   * Connects and subscribes; resolves once subscribed, after the first failure, or after 5 s (it keeps
   * trying in the background: a node does not wait for its broker to start).
   */
  start(): Promise<void> {
    const target = parseMqttUrl(this.#init.url);
    const shown = redactMqttUrl(this.#init.url);
    const client = mqtt.connect(target.url, {
      username: target.username,
      password: target.password,
      clientId: this.#init.clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 7 * 24 * 3600 },
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: true,
    });
    this.#client = client;
    // The acknowledgement of a QoS 1 message waits for this callback: readings are committed first.
    client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
      const failed = (err: unknown) => {
        this.#log.error("could not store readings received over MQTT; the broker will send them again", {
          error: (err as Error).message,
        });
        callback(err as Error);
      };
      try {
        const handled = this.#handle(packet);
        if (handled instanceof Promise) handled.then(() => callback(), failed);
        else callback();
      } catch (err) {
        failed(err);
      }
    };
    const { promise, resolve } = Promise.withResolvers<void>();
    const waited = setTimeout(() => {
      this.#log.warn("the MQTT broker has not answered yet; still trying", { url: shown });
      resolve();
    }, 5000);
    client.on("connect", (connack) => {
      this.#connected = true;
      this.#log.info("connected to the MQTT broker", { url: shown, sessionPresent: connack.sessionPresent });
      // Subscribing again to a kept session changes nothing; it covers a changed topic or a broker restart.
      client.subscribe(this.#init.topic, { qos: 1 }, (err) => {
        if (err) this.#log.warn("could not subscribe on the MQTT broker", { url: shown, error: err.message });
        else this.#log.info("subscribed on the MQTT broker", { url: shown, topic: this.#init.topic });
        resolve();
      });
    });
    client.on("close", () => {
      if (this.#connected) this.#log.warn("lost the MQTT broker; reconnecting", { url: shown });
      this.#connected = false;
    });
    client.on("error", (err) => {
      this.#log.warn("MQTT client error", { url: shown, error: err.message });
      resolve();
    });
    return promise.finally(() => clearTimeout(waited));
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    await client.endAsync(false).catch(() => {});
    this.#connected = false;
  }

  #handle(packet: IPublishPacket): IngestResult | Promise<IngestResult> | undefined {
    this.#received++;
    const payload = typeof packet.payload === "string"
      ? new TextEncoder().encode(packet.payload)
      : packet.payload;
    let readings: unknown[];
    try {
      readings = parseMqttPayload(payload);
    } catch (err) {
      // Counted as one malformed reading of the client: nothing of it can be read.
      this.#ingest.ingestChecked(MQTT_CLIENT_ID, [null], new Set());
      this.#log.debug("refused an MQTT message", { topic: packet.topic, reason: (err as Error).message });
      return undefined;
    }
    return this.#ingest.ingestNow(MQTT_CLIENT_ID, readings);
  }
}
