/**
 * The gateway's API (`GatewayApi`): owners, sensors, ingest clients, counters, and the ingest of
 * readings with an ingest key. Maps the `Gateway` records (composed by the `streams` service) to the
 * views of `protocol/api/streams.ts`.
 */
import type { GatewayApi } from "../../protocol/api/gateway.ts";
import { NotFoundError } from "../errors.ts";
import type { OwnerView, SensorView } from "../../protocol/api/streams.ts";
import type { Gateway, OwnerRecord, SensorRecord } from "../services/streams/mod.ts";

export interface GatewayApiComponents {
  /** The streams service, which holds the gateway. */
  streams?: { readonly gateway: Gateway };
}

function toOwnerView(o: OwnerRecord): OwnerView {
  return {
    address: o.address,
    label: o.label,
    kind: o.kind,
    takenOverAt: o.takenOverAt,
    takenOverBy: o.takenOverBy,
  };
}

function toSensorView(s: SensorRecord, counts?: { accepted: number; rejected: number }): SensorView {
  return {
    sensorId: s.sensorId,
    owner: s.owner,
    gateway: s.gateway,
    sensorKey: s.sensorKey,
    label: s.label,
    attestation: s.attestation,
    issuedAt: s.issuedAt,
    consentValid: s.consentValid,
    accepted: counts?.accepted ?? 0,
    rejected: counts?.rejected ?? 0,
    lastReadingAt: s.lastTs,
  };
}

export function createGatewayApi(c: GatewayApiComponents): GatewayApi {
  const gateway = () => {
    if (!c.streams) throw new NotFoundError("This node runs no streams service, so no gateway");
    return c.streams.gateway;
  };
  const sensorView = (s: SensorRecord) => {
    const counted = gateway().listSensors().find((x) => x.sensorId === s.sensorId);
    return toSensorView(s, counted);
  };
  return {
    async createGatewayOwner(body, options = {}) {
      options.signal?.throwIfAborted();
      return toOwnerView(await gateway().createOwner(body.label));
    },
    listGatewayOwners(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve({ owners: gateway().listOwners().map(toOwnerView) });
    },
    async takeOverGatewayOwner(address, body, options = {}) {
      return toOwnerView((await gateway().takeover(address, body.owner, options)).owner);
    },
    async registerSensor(body, options = {}) {
      return sensorView(await gateway().registerSensor(body, options));
    },
    listSensors(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve({ sensors: gateway().listSensors().map((s) => toSensorView(s, s)) });
    },
    async grantSensorConsent(sensorId, options = {}) {
      return sensorView(await gateway().grantConsent(sensorId, options));
    },
    async revokeSensorConsent(sensorId, options = {}) {
      return sensorView(await gateway().revokeConsent(sensorId, options));
    },
    createIngestClient(body, options = {}) {
      options.signal?.throwIfAborted();
      const { client, key } = gateway().createClient(body.label);
      return Promise.resolve({ client: { ...client, accepted: 0, rejected: 0 }, key });
    },
    listIngestClients(options = {}) {
      options.signal?.throwIfAborted();
      const counts = new Map(gateway().stats().byClient.map((c) => [c.clientId, c]));
      return Promise.resolve({
        clients: gateway().listClients().map((client) => {
          const c = counts.get(client.id);
          return {
            ...client,
            accepted: c?.accepted ?? 0,
            rejected: Object.values(c?.rejected ?? {}).reduce((a, b) => a + b, 0),
          };
        }),
      });
    },
    getGatewayStats(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve(gateway().stats());
    },
    verifyIngestKey(key, options = {}) {
      options.signal?.throwIfAborted();
      gateway().authenticate(key);
      return Promise.resolve();
    },
    async ingestReadings(key, readings, options = {}) {
      options.signal?.throwIfAborted();
      return await gateway().ingest(key, readings);
    },
  };
}
