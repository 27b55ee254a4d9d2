/**
 * The HTTP API contract of a gateway (the views are in `streams.ts`):
 *
 * - `POST /api/v1/gateway/owners { label }` → 201 `OwnerView` (an identity proxy this node holds);
 *   `GET /api/v1/gateway/owners` → `{ owners }`
 * - `POST /api/v1/gateway/owners/:address/takeover { owner }` → 200 `OwnerView`
 * - `POST /api/v1/gateway/sensors { sensorId, owner, sensorKey?, label? }` → 201 `SensorView`;
 *   `GET /api/v1/gateway/sensors` → `{ sensors }`
 * - `POST /api/v1/gateway/sensors/:sensorId/consent` (grant again as the proxy owner) and
 *   `DELETE …/consent` (revoke as the proxy owner) → 200 `SensorView`
 * - `POST /api/v1/gateway/clients { label }` → 201 `{ client, key }` (the key is shown once);
 *   `GET /api/v1/gateway/clients` → `{ clients }`
 * - `GET /api/v1/gateway/stats` → `GatewayStatsView`
 * - `POST /api/v1/ingest/readings` with `Authorization: Bearer <ingest key>` `{ readings }` → 202
 *   `IngestResultView` (413 over 5,000 readings or 1 MiB)
 */
import * as v from "valibot";
import type {
  GatewayStatsView,
  IngestClientView,
  IngestResultView,
  OwnerView,
  SensorView,
} from "./streams.ts";
import { strictBody } from "./schema.ts";

/** Most readings in one ingest batch (more: 413). */
export const MAX_INGEST_READINGS = 5000;
/** Most bytes of one ingest batch (more: 413). */
export const MAX_INGEST_BYTES = 1024 * 1024;

type Options = { signal?: AbortSignal };

export interface GatewayApi {
  createGatewayOwner(body: { label: string }, options?: Options): Promise<OwnerView>;
  listGatewayOwners(options?: Options): Promise<{ owners: OwnerView[] }>;
  takeOverGatewayOwner(address: string, body: { owner: string }, options?: Options): Promise<OwnerView>;
  registerSensor(
    body: { sensorId: string; owner: string; sensorKey?: string; label?: string },
    options?: Options,
  ): Promise<SensorView>;
  listSensors(options?: Options): Promise<{ sensors: SensorView[] }>;
  grantSensorConsent(sensorId: string, options?: Options): Promise<SensorView>;
  revokeSensorConsent(sensorId: string, options?: Options): Promise<SensorView>;
  createIngestClient(
    body: { label: string },
    options?: Options,
  ): Promise<{ client: IngestClientView; key: string }>;
  listIngestClients(options?: Options): Promise<{ clients: IngestClientView[] }>;
  getGatewayStats(options?: Options): Promise<GatewayStatsView>;
  /** Rejects with `IngestKeyError` unless `key` is an ingest key of this gateway. */
  verifyIngestKey(key: string, options?: Options): Promise<void>;
  /** `key` is the bearer the request sent; every reading is checked on its own. */
  ingestReadings(key: string, readings: unknown[], options?: Options): Promise<IngestResultView>;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const label = (name: string) =>
  v.pipe(
    v.string(`"${name}" must be a string`),
    v.check(
      (t) => !CONTROL.test(t) && t.length <= 120,
      `"${name}" must be one line of at most 120 characters`,
    ),
  );
const address = (name: string) =>
  v.pipe(
    v.string(`"${name}" must be an address (0x and 40 hex digits)`),
    v.regex(/^0x[0-9a-fA-F]{40}$/, `"${name}" must be an address (0x and 40 hex digits)`),
  );
const SENSOR_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** `POST /api/v1/gateway/owners` and `POST /api/v1/gateway/clients`. */
export const LabelBody = strictBody({ label: label("label") }, { example: '{ "label": "Greenhouse 3" }' });

/** `POST /api/v1/gateway/owners/:address/takeover`. */
export const TakeoverBody = strictBody({ owner: address("owner") }, { example: '{ "owner": "0x…" }' });

/** `POST /api/v1/gateway/sensors`. */
export const RegisterSensorBody = strictBody({
  sensorId: v.pipe(
    v.string(`"sensorId" must be a sensor id`),
    v.regex(
      SENSOR_ID,
      `"sensorId" must be 1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)`,
    ),
  ),
  owner: address("owner"),
  sensorKey: v.optional(
    v.pipe(
      v.string(`"sensorKey" must be an Ed25519 public key (0x and 64 hex digits)`),
      v.regex(/^0x[0-9a-fA-F]{64}$/, `"sensorKey" must be an Ed25519 public key (0x and 64 hex digits)`),
    ),
  ),
  label: v.optional(label("label")),
}, { example: '{ "sensorId": "greenhouse-3.temp", "owner": "0x…", "label": "Temperature" }' });

/** `POST /api/v1/ingest/readings`: each reading is checked by the gateway, one by one. */
export const IngestBody = strictBody({
  readings: v.array(v.unknown(), `"readings" must be a list of readings`),
}, { example: '{ "readings": [{ "sensorId": "s1", "ts": 1700000000000, "values": { "temp": 21.5 } }] }' });

/** A sensor id in a path. */
export const SensorIdParam = v.pipe(v.string(), v.regex(SENSOR_ID, "No such sensor"));

/** An owner's address in a path. */
export const OwnerAddressParam = v.pipe(v.string(), v.regex(/^0x[0-9a-fA-F]{40}$/, "No such owner"));
