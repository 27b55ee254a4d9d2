/**
 * Helpers for stream tests on real nodes: a market cluster whose services run on short stream intervals,
 * a gateway with an identity proxy, two registered sensors and a published stream, sensors publishing
 * readings over MQTT at a fixed rate, a server-sent-events reader of a subscription's readings, and a
 * collector of what an MQTT topic receives.
 *
 * ```ts
 * await using cluster = await startStreamCluster();
 * const gateway = await cluster.start({ config: { mqttUrl: broker.url } });
 * const { streamId } = await publishTestStream(gateway, { epochSeconds: 4 });
 * await using sensors = startSensors(broker.url, ["s1", "s2"], { hz: 10 });
 * ```
 */
import mqtt from "mqtt";
import type { KosmosNode } from "../node/node.ts";
import type { CreateNodeOptions } from "../node/node.ts";
import { startMarketCluster } from "./market_cluster.ts";
import { ownerFetch, waitFor } from "./helpers.ts";

/** Stream intervals short enough for tests: epochs of a few seconds, quick sealing, ticks, anchoring. */
export const STREAM_TEST_SERVICES: CreateNodeOptions["services"] = {
  market: { tickInterval: 500 },
  streams: {
    epochs: { sealGraceMs: 1000, tickInterval: 100 },
    subscriptions: { tickInterval: 500 },
    channelInterval: 250,
    gateway: { consentCheckMs: 2000 },
  },
  replication: { repairInterval: 1000 },
  anchor: { intervalMs: 1000 },
};

export function startStreamCluster(options: { services?: CreateNodeOptions["services"] } = {}) {
  return startMarketCluster({
    prefix: "kosmos-streams-",
    services: { ...STREAM_TEST_SERVICES, ...options.services },
  });
}

/** Calls a node's API as its owner; fails with the answer's text unless the status is `expect`. */
export async function api<T = Record<string, unknown>>(
  node: KosmosNode,
  path: string,
  init: RequestInit & { json?: unknown; expect?: number } = {},
): Promise<T> {
  const { json, expect, ...rest } = init;
  const res = await ownerFetch(node, path, {
    ...rest,
    ...(json !== undefined && {
      method: rest.method ?? "POST",
      body: JSON.stringify(json),
      headers: { "content-type": "application/json" },
    }),
  });
  const text = await res.text();
  if (res.status !== (expect ?? (res.ok ? res.status : 200))) {
    throw new Error(`${rest.method ?? (json ? "POST" : "GET")} ${path}: ${res.status} ${text.slice(0, 500)}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface TestStream {
  streamId: string;
  listingId: string;
  owner: `0x${string}`;
  sensors: string[];
  epochSeconds: number;
}

/**
 * On `gateway`: an identity proxy, `sensors` registered for it, and a stream of them (columns `temp`
 * number and `n` integer) published, listed and announced; waits until every viewer knows the stream.
 */
export async function publishTestStream(
  gateway: KosmosNode,
  options: { epochSeconds: number; sensors?: string[]; pricePerHour?: string; viewers?: KosmosNode[] },
): Promise<TestStream> {
  const sensors = options.sensors ?? ["plant.s1", "plant.s2"];
  const owner = await api<{ address: `0x${string}` }>(gateway, "/api/v1/gateway/owners", {
    json: { label: "Plant owner" },
    expect: 201,
  });
  for (const sensorId of sensors) {
    await api(gateway, "/api/v1/gateway/sensors", {
      json: { sensorId, owner: owner.address, label: sensorId },
      expect: 201,
    });
  }
  const stream = await api<{ id: string; listingId: string }>(gateway, "/api/v1/streams", {
    json: {
      title: "Plant floor",
      description: "Two sensors",
      sensors,
      schema: [{ name: "temp", type: "number" }, { name: "n", type: "integer" }],
      pricePerHour: options.pricePerHour ?? "3.6",
      epochSeconds: options.epochSeconds,
      licence: "CC-BY-4.0",
    },
    expect: 201,
  });
  for (const viewer of options.viewers ?? []) {
    await waitFor(
      "the stream announcement to reach a node",
      () => {
        const known = viewer.components.streams.catalog.knownStream(stream.id);
        return known !== undefined && known.listingId !== null;
      },
      { timeout: 20_000 },
    );
  }
  return {
    streamId: stream.id,
    listingId: stream.listingId,
    owner: owner.address,
    sensors,
    epochSeconds: options.epochSeconds,
  };
}

export interface Sensors extends AsyncDisposable {
  /** Every reading published, by `sensorId:ts`. */
  published: Map<string, { sensorId: string; ts: number; values: { temp: number; n: number } }>;
  stop(): Promise<void>;
}

/** Publishes one reading per sensor every `1000 / hz` ms to `<topic>/<sensorId>` on the broker, QoS 1. */
export async function startSensors(
  brokerUrl: string,
  sensorIds: string[],
  options: { hz: number; topic?: string },
): Promise<Sensors> {
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: `sensors-${crypto.randomUUID()}`,
    reconnectPeriod: 0,
  });
  const published: Sensors["published"] = new Map();
  let n = 0;
  let last = 0;
  const tick = () => {
    // Strictly increasing timestamps per sensor, even when two ticks fall in one ms.
    const ts = Math.max(Date.now(), last + 1);
    last = ts;
    n++;
    for (const sensorId of sensorIds) {
      const reading = { sensorId, ts, values: { temp: 20 + (n % 50) / 10, n } };
      published.set(`${sensorId}:${ts}`, reading);
      client.publish(`${options.topic ?? "kosmos/readings"}/${sensorId}`, JSON.stringify(reading), {
        qos: 1,
      });
    }
  };
  const timer = setInterval(tick, 1000 / options.hz);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    await client.endAsync();
  };
  return { published, stop, [Symbol.asyncDispose]: stop };
}

/** Everything one MQTT topic receives, as parsed JSON. */
export async function collectMqtt(brokerUrl: string, topic: string) {
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: `collector-${crypto.randomUUID()}`,
    reconnectPeriod: 0,
  });
  const messages: Record<string, unknown>[] = [];
  client.on("message", (_topic, payload) => messages.push(JSON.parse(new TextDecoder().decode(payload))));
  await client.subscribeAsync(topic, { qos: 1 });
  const stop = () => client.endAsync();
  return { messages, stop, [Symbol.asyncDispose]: stop };
}

/** One server-sent event of the readings route. */
export interface ReadingsEventView {
  streamId: string;
  epoch: number;
  readings: { sensorId: string; ts: number; values: Record<string, unknown> }[];
  receivedAt: number;
}

/** Reads `GET /api/v1/subscriptions/:id/readings` as it streams; each event also gets the time it was read. */
export async function readSse(node: KosmosNode, subscriptionId: string) {
  const controller = new AbortController();
  const res = await ownerFetch(node, `/api/v1/subscriptions/${subscriptionId}/readings`, {
    signal: controller.signal,
  });
  if (res.status !== 200) throw new Error(`readings stream: ${res.status} ${await res.text()}`);
  const events: (ReadingsEventView & { readAt: number })[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
            .join("\n");
          if (block.includes("event: readings") && data) {
            events.push({ ...JSON.parse(data), readAt: Date.now() });
          }
        }
      }
    } catch { /* aborted */ }
  })();
  const stop = async () => {
    controller.abort();
    await done;
  };
  return { events, stop, [Symbol.asyncDispose]: stop };
}

/** The `p`-th percentile (0–100) of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
