/**
 * A gateway's routes (see `protocol/api/gateway.ts`). Every `/api/v1/gateway/*` route needs the
 * owner's token. `POST /api/v1/ingest/readings` needs an ingest key instead (`Authorization:
 * Bearer kgi_…`, created with `POST /api/v1/gateway/clients`): the key is checked before the body is
 * read (401), a body over 1 MiB or 5,000 readings is a 413, and the answer (202) comes once the
 * accepted readings are committed, with each refused reading's index and reason.
 */
import { Hono } from "hono";
import {
  IngestBody,
  LabelBody,
  MAX_INGEST_BYTES,
  MAX_INGEST_READINGS,
  OwnerAddressParam,
  RegisterSensorBody,
  SensorIdParam,
  TakeoverBody,
} from "../../../protocol/api/gateway.ts";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import { type ErrorPolicy, HttpError } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";

const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };

/** The route an ingest key opens (public to the owner check; see `web/auth.ts`). */
export const INGEST_PATH = "/api/v1/ingest/readings";

/** The bearer of the request; 401 without one. */
function ingestBearer(header: string | undefined): string {
  const match = header && /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new HttpError(
      401,
      "unauthorized",
      "This route needs an ingest key as `Authorization: Bearer <key>`: create one with POST /api/v1/gateway/clients",
      { headers: { "WWW-Authenticate": 'Bearer realm="kosmos-ingest"' } },
    );
  }
  return match[1];
}

export function createGatewayRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  const signal = (c: { req: { raw: Request } }) => ({ signal: c.req.raw.signal });
  defineRoute(api, "/gateway/owners", {
    GET: async (c) => c.json(await facade.listGatewayOwners(signal(c))),
    POST: async (c) => {
      const body = await readBody(c, LabelBody, { maxBytes: 4096 });
      return c.json(await facade.createGatewayOwner(body, signal(c)), 201);
    },
  }, { errors });
  defineRoute(api, "/gateway/owners/:address/takeover", {
    POST: async (c) => {
      const address = validate(OwnerAddressParam, c.req.param("address"), { status: 404 });
      const body = await readBody(c, TakeoverBody, { maxBytes: 4096 });
      return c.json(await facade.takeOverGatewayOwner(address, body, signal(c)));
    },
  }, { errors });
  defineRoute(api, "/gateway/sensors", {
    GET: async (c) => c.json(await facade.listSensors(signal(c))),
    POST: async (c) => {
      const body = await readBody(c, RegisterSensorBody, { maxBytes: 4096 });
      return c.json(await facade.registerSensor(body, signal(c)), 201);
    },
  }, { errors });
  defineRoute(api, "/gateway/sensors/:sensorId/consent", {
    POST: async (c) => {
      const sensorId = validate(SensorIdParam, c.req.param("sensorId"), { status: 404 });
      return c.json(await facade.grantSensorConsent(sensorId, signal(c)));
    },
    DELETE: async (c) => {
      const sensorId = validate(SensorIdParam, c.req.param("sensorId"), { status: 404 });
      return c.json(await facade.revokeSensorConsent(sensorId, signal(c)));
    },
  }, { errors });
  defineRoute(api, "/gateway/clients", {
    GET: async (c) => c.json(await facade.listIngestClients(signal(c))),
    POST: async (c) => {
      const body = await readBody(c, LabelBody, { maxBytes: 4096 });
      c.header("Cache-Control", "no-store");
      return c.json(await facade.createIngestClient(body, signal(c)), 201);
    },
  }, { errors });
  defineRoute(api, "/gateway/stats", {
    GET: async (c) => c.json(await facade.getGatewayStats(signal(c))),
  }, { errors });
  defineRoute(api, "/ingest/readings", {
    POST: async (c) => {
      const key = ingestBearer(c.req.header("Authorization"));
      // The key first: a stranger's body is not even read.
      await facade.verifyIngestKey(key, signal(c));
      const { readings } = await readBody(c, IngestBody, { maxBytes: MAX_INGEST_BYTES });
      if (readings.length > MAX_INGEST_READINGS) {
        throw new HttpError(
          413,
          "payload_too_large",
          `A batch holds at most ${MAX_INGEST_READINGS} readings (this one has ${readings.length}): split it`,
        );
      }
      return c.json(await facade.ingestReadings(key, readings, signal(c)), 202);
    },
  }, { errors });
  return api;
}
