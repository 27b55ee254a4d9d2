/**
 * The HTTP API contract of sensor streams: a gateway operator's node registers sensors for their owners
 * (operator-signed attestations; an identity proxy for owners without keys), ingests readings over HTTP
 * and MQTT, seals them epoch by epoch (each epoch its own key) and sells time spans; a buyer's node
 * subscribes, receives live readings over gossip, fetches history from replicas, and pushes batches to
 * its connectors.
 *
 * Gateway (owner token):
 * - `POST /api/v1/gateway/owners { label }` → 201 `OwnerView` (an identity proxy this node holds)
 * - `POST /api/v1/gateway/owners/:address/takeover { owner }` → 200 `OwnerView` (listings, balance and
 *   attestations move to the owner's own wallet; the proxy key is erased)
 * - `POST /api/v1/gateway/sensors { sensorId, owner, sensorKey?, label? }` → 201 `SensorView`
 * - `GET /api/v1/gateway/sensors` → `{ sensors: SensorView[] }`
 * - `POST /api/v1/gateway/clients { label }` → 201 `{ client: IngestClientView, key }` (key shown once)
 * - `GET /api/v1/gateway/stats` → `GatewayStatsView`
 * - `POST /api/v1/ingest/readings` (Bearer ingest key, not the owner token) `{ readings: ReadingInput[] }`
 *   → 202 `IngestResultView` (rejected readings listed with their reason; 413 over the batch cap)
 *
 * Streams and subscriptions (owner token):
 * - `POST /api/v1/streams { title, description?, sensors, schema, pricePerHour, epochSeconds?, licence,
 *   stake? }` → 201 `StreamView` (`?preview=1` → fee preview)
 * - `GET /api/v1/streams` → `{ streams: StreamView[] }` (known to this node), `GET /api/v1/streams/:id`
 * - `POST /api/v1/subscriptions { streamId, seconds }` → 201 `SubscriptionView` (`?preview=1` → price + fee)
 * - `POST /api/v1/subscriptions/:id/renew { seconds }` → 200 `SubscriptionView` (`?preview=1` → the span
 *   after the last epoch bought, its price and the fee: `RenewalPreview`)
 * - `GET /api/v1/subscriptions` → `{ subscriptions: SubscriptionView[] }`, `GET /api/v1/subscriptions/:id`
 * - `GET /api/v1/subscriptions/:id/readings` → `text/event-stream` of `ReadingsEvent` (`event: readings`)
 * - `GET /api/v1/subscriptions/:id/epochs/:epoch` → the decrypted epoch file (NDJSON), when its key is held
 *
 * Anchoring (public: proofs are public by nature):
 * - `GET /api/v1/proofs/:cid` → `AnchorProofView` (404 until the batch holding it is anchored)
 */
import * as v from "valibot";
import type { FeePreview, FeeView } from "./fees.ts";
import { manifestCid, priceField, strictBody, tokenAmount } from "./schema.ts";

/** A column of a stream's readings (the same column types as datasets). */
export interface StreamColumnView {
  name: string;
  type: "integer" | "number" | "boolean" | "string";
}

/** An owner this gateway acts for: an identity proxy it holds the key of, or a wallet of their own. */
export interface OwnerView {
  address: `0x${string}`;
  label: string;
  /** `proxy`: this node holds the key; `own`: the owner's wallet (after a takeover or when registered so). */
  kind: "proxy" | "own";
  /** ms since the epoch, when a proxy was taken over. */
  takenOverAt: number | null;
  /** The wallet a proxy was handed over to. */
  takenOverBy: `0x${string}` | null;
}

export interface SensorView {
  sensorId: string;
  owner: `0x${string}`;
  gateway: `0x${string}`;
  /** Ed25519 public key (hex) whose signature every reading must carry, or null (authenticated by the client). */
  sensorKey: `0x${string}` | null;
  label: string;
  /** The operator's EIP-712 signature over the attestation (verifiable by anyone). */
  attestation: `0x${string}`;
  issuedAt: number;
  /** The owner's consent for selling the sensor's readings is valid on chain now. */
  consentValid: boolean;
  accepted: number;
  rejected: number;
  lastReadingAt: number | null;
}

export interface IngestClientView {
  id: string;
  label: string;
  createdAt: number;
  accepted: number;
  rejected: number;
}

/** Why a reading was refused; counted per client and sensor. */
export type ReadingRejection =
  | "unknown-sensor"
  | "bad-signature"
  | "malformed"
  | "out-of-order"
  | "future"
  | "consent-revoked"
  | "epoch-sealed";

export interface IngestResultView {
  accepted: number;
  rejected: { index: number; sensorId: string | null; reason: ReadingRejection; message: string }[];
}

export interface GatewayStatsView {
  accepted: number;
  rejected: Record<ReadingRejection, number>;
  bySensor: { sensorId: string; accepted: number; rejected: Record<string, number> }[];
  byClient: { clientId: string; label: string; accepted: number; rejected: Record<string, number> }[];
  mqtt: { url: string | null; connected: boolean; received: number };
}

/** One reading as sent to `POST /api/v1/ingest/readings` and over MQTT. */
export interface ReadingInput {
  sensorId: string;
  /** ms since the epoch. */
  ts: number;
  values: Record<string, number | string | boolean | null>;
  /** Ed25519 signature (hex) of the canonical reading, for sensors registered with a key. */
  sig?: `0x${string}`;
}

export interface EpochView {
  epoch: number;
  /** ms since the epoch. */
  start: number;
  end: number;
  /** The epoch's dataset manifest, once sealed. */
  manifestCid: string | null;
  /** CID of the plaintext epoch file (what is anchored and what `kosmos verify` checks). */
  contentCid: string | null;
  rows: number;
  /** This node holds the epoch's key. */
  keyHeld: boolean;
  anchored: boolean;
}

export interface StreamView {
  /** The stream manifest's CID. */
  id: string;
  listingId: string | null;
  title: string;
  description: string;
  owner: `0x${string}`;
  gateway: `0x${string}`;
  /** The gateway node's libp2p peer id (publisher of live readings). */
  publisherPeer: string;
  sensors: { sensorId: string; owner: `0x${string}`; label: string }[];
  schema: StreamColumnView[];
  /** Token base units per hour (decimal). */
  pricePerHour: string;
  epochSeconds: number;
  licence: string;
  createdAt: number;
  /** This node publishes the stream (it is the gateway). */
  mine: boolean;
  /** The most recent epochs known here, newest first (at most 48). */
  epochs: EpochView[];
}

export interface PublishedStream extends StreamView {
  fee?: FeeView;
}

export type SubscriptionStatus =
  | "quoting"
  | "paying"
  | "waiting-key"
  | "active"
  | "scheduled"
  | "ended"
  | "failed";

export interface SubscriptionView {
  id: string;
  streamId: string;
  title: string;
  /** ms since the epoch: the span bought (whole epochs). */
  from: number;
  to: number;
  status: SubscriptionStatus;
  /** Epochs whose keys this node holds. */
  epochs: { first: number; last: number };
  /** Token base units paid (decimal), over every sale of the subscription (renewals included). */
  paid: string;
  saleIds: `0x${string}`[];
  received: number;
  /** ms since the epoch of the last live reading. */
  lastReadingAt: number | null;
  error: string | null;
}

export interface ReadingsEvent {
  streamId: string;
  epoch: number;
  readings: { sensorId: string; ts: number; values: Record<string, number | string | boolean | null> }[];
  /** ms since the epoch when this node decrypted the batch. */
  receivedAt: number;
}

export interface AnchorProofView {
  cid: string;
  /** `keccak256(CID bytes)`. */
  leaf: `0x${string}`;
  proof: `0x${string}`[];
  root: `0x${string}`;
  chainId: number;
  anchor: `0x${string}`;
  txHash: `0x${string}`;
  blockNumber: string;
  /** Seconds since the epoch, as the anchor contract stamped it. */
  anchoredAt: number;
}

// ---------------------------------------------------------------- streams and subscriptions: bodies, API

/** `POST /api/v1/streams` once parsed: `pricePerHour` in token base units (sent as a token amount). */
export interface PublishStreamFields {
  title: string;
  description?: string;
  /** Sensor ids registered at this gateway, all with one owner (the listing's owner). */
  sensors: string[];
  schema: StreamColumnView[];
  pricePerHour: string;
  /** @default 3600 */
  epochSeconds?: number;
  licence: string;
  /** Tokens staked on the listing, base units. @default the registry's minimum */
  stake?: bigint;
}

/** `POST /api/v1/subscriptions`. */
export interface SubscribeFields {
  streamId: string;
  /** The span `[now, now + seconds)`, rounded out to whole epochs. */
  seconds: number;
  /** Delivery targets of the readings (the deliveries' syntax, plus `mqtt://` and `postgres://`). */
  targets?: string[];
}

/** `POST /api/v1/subscriptions?preview=1`: the span and price a subscription would buy, and the fee. */
export interface SubscriptionPreview extends FeePreview {
  streamId: string;
  /** The epochs bought, and the span they cover (ms since the epoch). */
  epochs: { first: number; last: number };
  from: number;
  to: number;
  /** Token base units (decimal). */
  price: string;
}

/** `POST /api/v1/subscriptions/:id/renew?preview=1`: the epochs a renewal would buy after the last bought. */
export interface RenewalPreview extends SubscriptionPreview {
  subscriptionId: string;
}

export interface StreamsApi {
  listStreams(options?: { signal?: AbortSignal }): Promise<{ streams: StreamView[] }>;
  getStream(id: string, options?: { signal?: AbortSignal }): Promise<StreamView>;
  publishStream(fields: PublishStreamFields, options?: { signal?: AbortSignal }): Promise<PublishedStream>;
  previewPublishStream(fields: PublishStreamFields, options?: { signal?: AbortSignal }): Promise<FeePreview>;
  subscribe(fields: SubscribeFields, options?: { signal?: AbortSignal }): Promise<SubscriptionView>;
  previewSubscribe(fields: SubscribeFields, options?: { signal?: AbortSignal }): Promise<SubscriptionPreview>;
  renewSubscription(
    id: string,
    body: { seconds: number },
    options?: { signal?: AbortSignal },
  ): Promise<SubscriptionView>;
  previewRenewSubscription(
    id: string,
    body: { seconds: number },
    options?: { signal?: AbortSignal },
  ): Promise<RenewalPreview>;
  listSubscriptions(options?: { signal?: AbortSignal }): Promise<{ subscriptions: SubscriptionView[] }>;
  getSubscription(id: string, options?: { signal?: AbortSignal }): Promise<SubscriptionView>;
  /**
   * The subscription's readings as they are decrypted, until `signal` aborts (`NotFoundError` first
   * for an unknown subscription).
   */
  watchReadings(id: string, options: { signal: AbortSignal }): Promise<AsyncIterable<ReadingsEvent>>;
  /** The decrypted epoch file (NDJSON, exactly the sealed bytes), when its key is held and it is sealed. */
  readEpoch(id: string, epoch: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const text = (name: string) => v.string(`"${name}" must be a string`);
const COLUMN_TYPES = ["integer", "number", "boolean", "string"] as const;

const seconds = v.pipe(
  v.number(`"seconds" must be a whole number of seconds from 1 to 31536000`),
  v.integer(`"seconds" must be a whole number of seconds from 1 to 31536000`),
  v.minValue(1, `"seconds" must be a whole number of seconds from 1 to 31536000`),
  v.maxValue(31_536_000, `"seconds" must be a whole number of seconds from 1 to 31536000`),
);

/** `POST /api/v1/streams` (and `?preview=1`). */
export const PublishStreamBody = strictBody({
  title: v.pipe(
    text("title"),
    v.check(
      (t) => !CONTROL.test(t) && t.trim().length >= 1 && t.length <= 200,
      `"title" must be one line of 1 to 200 characters`,
    ),
  ),
  description: v.optional(
    v.pipe(text("description"), v.maxLength(4000, `"description" must be at most 4000 characters`)),
  ),
  sensors: v.pipe(
    v.array(
      v.pipe(
        v.string(`"sensors" must be a list of sensor ids`),
        v.check((id) => /^[A-Za-z0-9._:-]{1,128}$/.test(id), `"sensors" must be a list of sensor ids`),
      ),
      `"sensors" must be a list of sensor ids`,
    ),
    v.minLength(1, `"sensors" must name at least one sensor`),
    v.maxLength(256, `"sensors" must name at most 256 sensors`),
    v.check((ids) => new Set(ids).size === ids.length, `"sensors" must not name a sensor twice`),
  ),
  schema: v.pipe(
    v.array(
      v.strictObject({
        name: v.pipe(
          v.string(`each column of "schema" needs a "name"`),
          v.check(
            (n) =>
              /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(n) && n !== "sensor_id" && n !== "ts" && n !== "epoch",
            `a column name is a letter or "_" then up to 62 letters, digits or "_" (not sensor_id, ts, epoch)`,
          ),
        ),
        type: v.picklist(COLUMN_TYPES, `a column "type" is one of ${COLUMN_TYPES.join(", ")}`),
      }, `each column of "schema" is { "name", "type" }`),
      `"schema" must be a list of columns`,
    ),
    v.minLength(1, `"schema" must have at least one column`),
    v.maxLength(64, `"schema" must have at most 64 columns`),
    v.check(
      (cols) => new Set(cols.map((c) => c.name)).size === cols.length,
      `"schema" must not name a column twice`,
    ),
  ),
  pricePerHour: priceField("pricePerHour"),
  epochSeconds: v.optional(
    v.pipe(
      v.number(`"epochSeconds" must be a whole number of seconds from 1 to 86400`),
      v.integer(`"epochSeconds" must be a whole number of seconds from 1 to 86400`),
      v.minValue(1, `"epochSeconds" must be a whole number of seconds from 1 to 86400`),
      v.maxValue(86_400, `"epochSeconds" must be a whole number of seconds from 1 to 86400`),
    ),
  ),
  licence: v.pipe(
    text("licence"),
    v.check(
      (l) => /^\S{1,64}$/.test(l),
      `"licence" must be a licence id without spaces, such as "CC-BY-4.0"`,
    ),
  ),
  stake: v.optional(tokenAmount("stake")),
}, {
  example:
    '{ "title": "…", "sensors": ["s1"], "schema": [{ "name": "temp", "type": "number" }], "pricePerHour": "1", "epochSeconds": 3600, "licence": "CC-BY-4.0" }',
});

const targets = v.optional(
  v.pipe(
    v.array(
      v.pipe(
        v.string(`"targets" must be a list of target strings`),
        v.maxLength(2048, "a target is too long"),
      ),
      `"targets" must be a list of target strings`,
    ),
    v.maxLength(8, `"targets" must name at most 8 targets`),
  ),
);

/** `POST /api/v1/subscriptions` (and `?preview=1`). */
export const SubscribeBody = strictBody({
  streamId: manifestCid,
  seconds,
  targets,
}, { example: '{ "streamId": "bafyrei…", "seconds": 3600, "targets": ["mqtt://127.0.0.1:1883/readings"] }' });

/** `POST /api/v1/subscriptions/:id/renew`. */
export const RenewSubscriptionBody = strictBody({ seconds }, { example: '{ "seconds": 3600 }' });

/** A subscription id in a path (a UUID this node made). */
export const SubscriptionIdParam = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "No such subscription"),
);

/** A stream id in a path (the stream manifest's CID). */
export const StreamIdParam = manifestCid;

/** An epoch number in a path. */
export const EpochParam = v.pipe(
  v.string(),
  v.regex(/^(0|[1-9]\d{0,14})$/, "An epoch is a whole number"),
  v.transform(Number),
);
