/**
 * Streams and subscriptions (owner token):
 *
 * - `GET /api/v1/streams` the streams this node knows; `GET /api/v1/streams/:id` one (404 when unknown).
 * - `POST /api/v1/streams { title, description?, sensors, schema, pricePerHour, epochSeconds?, licence, stake? }`
 *   publishes a stream of sensors registered at this gateway (201 `StreamView`; `?preview=1` → fee).
 * - `POST /api/v1/subscriptions { streamId, seconds, targets? }` buys the span as one key sale (201
 *   `SubscriptionView`; `?preview=1` → span, price and fee; 503 when the gateway does not quote).
 * - `POST /api/v1/subscriptions/:id/renew { seconds }` buys the epochs after the last one bought (200
 *   `SubscriptionView`; `?preview=1` → that span, its price and the fee, nothing bought; 409 when the
 *   subscription failed or its last purchase is still being paid).
 * - `GET /api/v1/subscriptions`, `GET /api/v1/subscriptions/:id`.
 * - `GET /api/v1/subscriptions/:id/readings` server-sent events (`event: readings`, data `ReadingsEvent`),
 *   a comment every 15 s to keep the connection open.
 * - `GET /api/v1/subscriptions/:id/epochs/:epoch` the decrypted epoch file (NDJSON), when its key is held.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { KosmosApi } from "../../../protocol/api/mod.ts";
import {
  EpochParam,
  PublishStreamBody,
  RenewSubscriptionBody,
  StreamIdParam,
  SubscribeBody,
  SubscriptionIdParam,
} from "../../../protocol/api/streams.ts";
import type { ErrorPolicy } from "../../http_error.ts";
import { defineRoute } from "../../router.ts";
import { readBody, validate } from "../../validate.ts";
import { wantsPreview } from "./preview.ts";

const maxBytes = 64 * 1024;
const errors: ErrorPolicy = { badInput: 422, reverts: "conflict" };
/** ms between keep-alive comments of the readings stream. */
const KEEP_ALIVE_MS = 15_000;

export function createStreamRoutes(facade: KosmosApi): Hono {
  const api = new Hono();
  const streamId = (id: string | undefined) => validate(StreamIdParam, id, { status: 404 });
  const subscriptionId = (id: string | undefined) => validate(SubscriptionIdParam, id, { status: 404 });
  defineRoute(api, "/streams", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listStreams({ signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const fields = await readBody(c, PublishStreamBody, { maxBytes });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewPublishStream(fields, { signal }));
      return c.json(await facade.publishStream(fields, { signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/streams/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.getStream(streamId(c.req.param("id")), { signal: c.req.raw.signal }));
    },
  }, { errors });
  defineRoute(api, "/subscriptions", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await facade.listSubscriptions({ signal: c.req.raw.signal }));
    },
    POST: async (c) => {
      const preview = wantsPreview(c);
      const fields = await readBody(c, SubscribeBody, { maxBytes: 8 * 1024 });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewSubscribe(fields, { signal }));
      return c.json(await facade.subscribe(fields, { signal }), 201);
    },
  }, { errors });
  defineRoute(api, "/subscriptions/:id", {
    GET: async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(
        await facade.getSubscription(subscriptionId(c.req.param("id")), { signal: c.req.raw.signal }),
      );
    },
  }, { errors });
  defineRoute(api, "/subscriptions/:id/renew", {
    POST: async (c) => {
      const preview = wantsPreview(c);
      const id = subscriptionId(c.req.param("id"));
      const body = await readBody(c, RenewSubscriptionBody, { maxBytes: 1024 });
      const signal = c.req.raw.signal;
      if (preview) return c.json(await facade.previewRenewSubscription(id, body, { signal }));
      return c.json(await facade.renewSubscription(id, body, { signal }));
    },
  }, { errors });
  defineRoute(api, "/subscriptions/:id/readings", {
    GET: async (c) => {
      const id = subscriptionId(c.req.param("id"));
      const controller = new AbortController();
      const signal = AbortSignal.any([c.req.raw.signal, controller.signal]);
      // Unknown subscriptions fail here, before the stream starts (404).
      const events = await facade.watchReadings(id, { signal });
      c.header("Cache-Control", "no-store");
      return streamSSE(c, async (sse) => {
        sse.onAbort(() => controller.abort());
        const keepAlive = setInterval(
          () => void sse.write(": keep-alive\n\n").catch(() => {}),
          KEEP_ALIVE_MS,
        );
        try {
          for await (const event of events) {
            await sse.writeSSE({ event: "readings", data: JSON.stringify(event) });
          }
        } finally {
          clearInterval(keepAlive);
          controller.abort();
        }
      });
    },
  }, { errors });
  defineRoute(api, "/subscriptions/:id/epochs/:epoch", {
    GET: async (c) => {
      const id = subscriptionId(c.req.param("id"));
      const epoch = validate(EpochParam, c.req.param("epoch"), { status: 404 });
      const bytes = await facade.readEpoch(id, epoch, { signal: c.req.raw.signal });
      return c.body(bytes.slice().buffer, 200, {
        "Content-Type": "application/x-ndjson",
        "Content-Disposition": `attachment; filename="epoch-${epoch}.ndjson"`,
        "Cache-Control": "no-store",
      });
    },
  }, { errors });
  return api;
}
