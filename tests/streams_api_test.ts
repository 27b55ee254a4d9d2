/**
 * The streams and subscriptions routes on one node, through `app.request()`: every answer a route gives
 * without another node (lists, 404 for what is unknown, 422 for bad bodies, 405, 401 without the token).
 * The answers that need a gateway (201, 200 of the readings stream and of an epoch, 409, 503) are in
 * `streams_test.ts`.
 */
import assert from "node:assert/strict";
import { startAppNode } from "./node_app.ts";
import { createApp } from "../web/app.ts";

const UNKNOWN_STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const UNKNOWN_SUB = "00000000-0000-4000-8000-000000000000";

async function expectError(res: Response, status: number, pattern?: RegExp) {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(typeof body.error?.code, "string");
  if (pattern) assert.match(body.error.message, pattern);
}

Deno.test("the streams routes answer lists, 404 for unknown streams and subscriptions, 422 for bad bodies, 405 and 401", async () => {
  await using started = await startAppNode("kosmos-streams-api-");
  const { app, node } = started;
  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });

  let res = await app.request("/api/v1/streams");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { streams: [] });
  res = await app.request("/api/v1/subscriptions");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { subscriptions: [] });

  await expectError(await app.request(`/api/v1/streams/${UNKNOWN_STREAM}`), 404);
  await expectError(await app.request("/api/v1/streams/not-a-cid"), 404);
  await expectError(await app.request(`/api/v1/subscriptions/${UNKNOWN_SUB}`), 404);
  await expectError(await app.request("/api/v1/subscriptions/nope"), 404);
  await expectError(await app.request(`/api/v1/subscriptions/${UNKNOWN_SUB}/readings`), 404);
  await expectError(await app.request(`/api/v1/subscriptions/${UNKNOWN_SUB}/epochs/3`), 404);
  await expectError(await app.request(`/api/v1/subscriptions/${UNKNOWN_SUB}/epochs/x`), 404);
  await expectError(await post(`/api/v1/subscriptions/${UNKNOWN_SUB}/renew`, { seconds: 60 }), 404);

  const stream = {
    title: "Plant",
    sensors: ["plant.s1"],
    schema: [{ name: "temp", type: "number" }],
    pricePerHour: "1",
    epochSeconds: 60,
    licence: "CC-BY-4.0",
  };
  await expectError(await post("/api/v1/streams", stream), 404, /No sensor "plant\.s1"/);
  await expectError(await post("/api/v1/streams?preview=1", stream), 404);
  await expectError(await post("/api/v1/streams", { ...stream, epochSeconds: 0 }), 422, /epochSeconds/);
  await expectError(await post("/api/v1/streams", { ...stream, schema: [] }), 422, /schema/);
  await expectError(await post("/api/v1/streams", { ...stream, extra: 1 }), 422, /Unknown field "extra"/);
  await expectError(await post("/api/v1/subscriptions", { streamId: UNKNOWN_STREAM, seconds: 60 }), 404);
  await expectError(
    await post("/api/v1/subscriptions?preview=1", { streamId: UNKNOWN_STREAM, seconds: 60 }),
    404,
  );
  await expectError(await post("/api/v1/subscriptions", { streamId: UNKNOWN_STREAM, seconds: 0 }), 422);
  await expectError(
    await post("/api/v1/subscriptions", { streamId: UNKNOWN_STREAM, seconds: 60, targets: ["ftp://x/y"] }),
    422,
  );
  await expectError(await app.request("/api/v1/streams", { method: "PUT" }), 405);
  await expectError(
    await app.request(`/api/v1/subscriptions/${UNKNOWN_SUB}/readings`, { method: "POST" }),
    405,
  );

  // Without the owner's token: 401, whatever the route.
  const anonymous = createApp(node.facade, { log: { error: () => {}, debug: () => {} }, auth: node.auth });
  await expectError(await anonymous.request("/api/v1/streams"), 401);
  await expectError(await anonymous.request("/api/v1/subscriptions", { method: "POST", body: "{}" }), 401);
  await expectError(await anonymous.request(`/api/v1/subscriptions/${UNKNOWN_SUB}/readings`), 401);
});
