/**
 * The streams service: sensor data sold by time span (DESIGN.md, "Datasets and streams").
 *
 * As a **gateway** (`gateway.ts`) the node registers sensors for their owners (operator-signed EIP-712
 * attestations; identity proxies for owners without keys, which the owner can take over), ingests
 * readings over HTTP (ingest-only keys) and MQTT (`--mqtt-url`), and publishes streams (`publish.ts`: the
 * manifest signed by the owner, a registry listing `Kind.Stream` with no key commitment, this node the
 * listing's escrow delegate). Each epoch of a stream has its own key `DEK_e = HMAC(streamSecret, e)`
 * (`catalog.ts`); accepted readings go out live, encrypted under the current epoch's key, on the stream's
 * gossip topic, and each ended epoch is sealed into a small encrypted dataset, provided, replicated and
 * anchored (`epochs.ts`, `live.ts`); once sealed, the epoch's raw readings leave `gateway_readings`.
 * Quotes for spans of epochs are answered over `/kosmos/stream-sale/1.0.0` (`stream_sale.ts`) and sold
 * through the market's escrow machinery (`market.offerKeys`).
 *
 * As a **buyer** (`subscriptions.ts`) it buys a span as one key sale of exactly those epochs (renewals buy
 * the next ones), checks every key against the gateway's signed `EpochOpened`/`EpochSealed` commitments
 * before confirming, follows the live topic while it holds the current epoch's key, and hands decrypted
 * readings to its connector targets and server-sent-event listeners (`subscription_feed.ts`).
 *
 * Tables: `gateway_owners`, `gateway_sensors`, `gateway_clients`, `gateway_readings`, `gateway_counts`
 * (gateway); `streams`, `stream_sensors`, `stream_secrets`, `stream_epochs`, `stream_opened` (catalog);
 * `stream_subscriptions`, `stream_subscription_sales`, `stream_keys`, `stream_received` (buyer). Files:
 * `<dataDir>/proxies/<address>.key` (0600). Topics: `/kosmos/streams/1`, `/kosmos/stream/1/<streamId>`.
 * Protocols: `/kosmos/stream-sale/1.0.0`, `/kosmos/streams/1.0.0` (sealed epochs of a range, and the stored
 * stream announcements, asked of every peer met so a new node lists streams announced before it joined:
 * `stream_list_sync.ts`). No events.
 *
 * ```ts
 * const { streams } = node.components;
 * const owner = await streams.gateway.createOwner("Greenhouse");
 * await streams.gateway.registerSensor({ sensorId: "gh.temp", owner: owner.address });
 * const { row } = await streams.publishStream({ title: "Greenhouse", sensors: ["gh.temp"],
 *   schema: [{ name: "temp", type: "number" }], pricePerHour: "1000", epochSeconds: 3600, licence: "CC-BY-4.0" });
 * // on a buyer's node:
 * const sub = await buyer.components.streams.subscribe({ streamId: row.streamId, seconds: 7200 });
 * for await (const e of buyer.components.streams.watchReadings(sub.record.id, signal)) console.log(e.readings);
 * ```
 */
import { defineService } from "../../service.ts";
import type { Logger } from "../../log.ts";
import { Streams, type StreamsComponents, type StreamsInit } from "./streams.ts";

export {
  type EpochInfo,
  type StreamInfo,
  Streams,
  type StreamsComponents,
  type StreamsInit,
} from "./streams.ts";
export {
  type KnownStream,
  StreamQuoteError,
  type SubscriptionState,
  SubscriptionStateError,
  type SubscriptionStatus,
} from "./subscriptions.ts";
export type { ReadingsEvent } from "./subscription_feed.ts";
export type { SubscriptionSaleRecord } from "./subscription_store.ts";
export type { PublishStreamFields } from "./publish.ts";
export { Gateway, type GatewayStats, IngestBatchTooLargeError, type SensorStats } from "./gateway.ts";
export { type OwnerRecord, OwnerStateError } from "./owners.ts";
export { SensorExistsError, type SensorRecord } from "./sensors.ts";

/** What the `streams` factory reads besides the services. */
type StreamsFactoryComponents = Omit<StreamsComponents, "dataDir" | "log"> & {
  config: { dataDir: string; mqttUrl?: string; mqttTopic: string };
  log: Logger;
};

/** The `streams` component: gateway, catalog, epochs, stream sales and subscriptions. */
export function streams(init: StreamsInit = {}) {
  return defineService(
    "streams",
    [
      "db",
      "identity",
      "p2p",
      "chain",
      "blocks",
      "fetches",
      "replication",
      "market",
      "connectors",
      "anchor",
      "config",
    ],
    ({ config, ...c }: StreamsFactoryComponents) =>
      new Streams({ ...c, dataDir: config.dataDir }, {
        ...init,
        gateway: { mqttUrl: config.mqttUrl, mqttTopic: config.mqttTopic, ...init.gateway },
      }),
  );
}
