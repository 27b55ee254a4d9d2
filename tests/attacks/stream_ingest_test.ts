/**
 * Attacks on a gateway's ingest (`POST /api/v1/ingest/readings`), from the attacker's side: what they
 * send, and that nothing they should not get in is stored or counted as accepted.
 *
 * - Without a key, with a made-up key or with the owner's API token: 401 and the body is not read.
 * - With a real ingest key, on any owner route: 401 (the key opens the ingest route only).
 * - Readings of a sensor not registered here, signed by a key that is not the sensor's, a signed reading
 *   moved to another sensor or time, replays, out-of-order and future timestamps, fields smuggled in
 *   (`epoch`, `streamId`): each refused with its reason, nothing stored.
 * - Over 5,000 readings or over 1 MiB: 413, nothing stored.
 */
import assert from "node:assert/strict";
import { sensorPublicKeyHex, signReading, type StreamColumn } from "../../protocol/streams.ts";
import { startGatewayNode } from "../gateway.ts";

const STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const schema: StreamColumn[] = [{ name: "temp", type: "number" }];

Deno.test("attack: ingest readings without a valid ingest key, or use an ingest key elsewhere: 401, nothing stored", async () => {
  await using g = await startGatewayNode("kosmos-attack-ingest-auth-");
  const proxy = await g.gateway.createOwner("o");
  await g.gateway.registerSensor({ sensorId: "s1", owner: proxy.address });
  g.defineStream("s1", { streamId: STREAM, schema, epochSeconds: 60 });
  const created = await g.app.request("/api/v1/gateway/clients", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ label: "hub" }),
  });
  assert.equal(created.status, 201);
  const { key } = await created.json() as { key: string };
  const body = JSON.stringify({ readings: [{ sensorId: "s1", ts: Date.now(), values: { temp: 1 } }] });
  const stored = () =>
    (g.node.components.db.prepare("SELECT COUNT(*) AS n FROM gateway_readings").get() as { n: number }).n;
  const ingest = (authorization?: string) =>
    g.open.request("/api/v1/ingest/readings", {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
      body,
    });

  for (const authorization of [undefined, "Bearer", `Bearer kgi_${"A".repeat(43)}`, `Basic ${key}`]) {
    const r = await ingest(authorization);
    assert.equal(r.status, 401, String(authorization));
    assert.deepEqual(Object.keys(await r.json()), ["error"]);
  }
  const withOwnerToken = await ingest(`Bearer ${g.node.components.apiToken}`);
  assert.equal(withOwnerToken.status, 401, "the owner's token is not an ingest key");
  assert.match((await withOwnerToken.json()).error.message, /not an ingest key/);
  assert.equal(stored(), 0);

  // The ingest key opens nothing else.
  for (
    const [method, path, payload] of [
      ["GET", "/api/v1/gateway/sensors"],
      ["GET", "/api/v1/gateway/stats"],
      ["POST", "/api/v1/gateway/clients", { label: "mine" }],
      ["POST", "/api/v1/gateway/owners", { label: "mine" }],
      ["POST", "/api/v1/gateway/sensors", { sensorId: "evil", owner: proxy.address }],
      ["GET", "/api/v1/node"],
      ["GET", "/api/v1/consents"],
    ] as const
  ) {
    const r = await g.open.request(path, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: payload ? JSON.stringify(payload) : undefined,
    });
    assert.equal(r.status, 401, `${method} ${path}`);
  }
  assert.equal(g.gateway.listClients().length, 2, "the mqtt client and the hub only");
  assert.equal(g.gateway.listOwners().length, 1);
  assert.equal(g.gateway.sensors.get("evil"), undefined);

  const ok = await ingest(`Bearer ${key}`);
  assert.equal(ok.status, 202);
  assert.deepEqual(await ok.json(), { accepted: 1, rejected: [] });
  assert.equal(stored(), 1);
});

Deno.test("attack: forged sensors and signatures, replays, reordering, future and smuggled fields, oversize batches: refused, nothing stored", async () => {
  await using g = await startGatewayNode("kosmos-attack-ingest-readings-");
  const proxy = await g.gateway.createOwner("o");
  const sensorKeys = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  const attackerKeys = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  await g.gateway.registerSensor({
    sensorId: "signed",
    owner: proxy.address,
    sensorKey: await sensorPublicKeyHex(sensorKeys.publicKey),
  });
  await g.gateway.registerSensor({ sensorId: "other", owner: proxy.address });
  g.defineStream("signed", { streamId: STREAM, schema, epochSeconds: 60 });
  g.defineStream("other", { streamId: STREAM, schema, epochSeconds: 60 });
  const { key } = g.gateway.createClient("attacker's stolen hub");
  const post = async (body: string) => {
    const r = await g.open.request("/api/v1/ingest/readings", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body,
    });
    return { status: r.status, body: await r.json() };
  };
  const rows = () =>
    g.node.components.db.prepare("SELECT sensor_id, ts FROM gateway_readings ORDER BY ts").all()
      .map((r) => ({ sensor_id: r.sensor_id as string, ts: r.ts as number }));

  const now = Date.now();
  const genuine = { sensorId: "signed", ts: now, values: { temp: 20 } };
  const sig = await signReading(sensorKeys.privateKey, genuine);
  const first = await post(JSON.stringify({ readings: [{ ...genuine, sig }] }));
  assert.deepEqual(first, { status: 202, body: { accepted: 1, rejected: [] } });

  const forged = { sensorId: "signed", ts: now + 1, values: { temp: 99 } };
  const attempts = [
    { ...forged, sig: await signReading(attackerKeys.privateKey, forged) }, // 0 another key
    { ...forged, sig }, // 1 the genuine signature, other values and time
    { ...genuine, ts: now + 2, sig }, // 2 the genuine signature moved in time
    { ...genuine, sig }, // 3 a replay
    forged, // 4 unsigned
    { sensorId: "ghost", ts: now + 3, values: { temp: 1 } }, // 5 never registered here
    { sensorId: "other", ts: now + 60_000, values: { temp: 1 } }, // 6 a minute ahead
    { sensorId: "other", ts: now + 4, values: { temp: 1 }, epoch: 0 }, // 7 smuggled field
    { sensorId: "other", ts: now + 5, values: { temp: 1 }, streamId: STREAM }, // 8 smuggled field
    { sensorId: "other", ts: now + 6, values: { temp: 1 } }, // 9 the one genuine reading
    { sensorId: "other", ts: now + 6, values: { temp: 2 } }, // 10 same time again
    { sensorId: "other", ts: -1, values: { temp: 1 } }, // 11 negative time
    { sensorId: "../../etc/passwd", ts: now, values: { temp: 1 } }, // 12 not a sensor id
  ];
  const answer = await post(JSON.stringify({ readings: attempts }));
  assert.equal(answer.status, 202);
  assert.equal(answer.body.accepted, 1);
  assert.deepEqual(answer.body.rejected.map((r: { index: number; reason: string }) => [r.index, r.reason]), [
    [0, "bad-signature"],
    [1, "bad-signature"],
    [2, "bad-signature"],
    [3, "out-of-order"],
    [4, "bad-signature"],
    [5, "unknown-sensor"],
    [6, "future"],
    [7, "malformed"],
    [8, "malformed"],
    [10, "out-of-order"],
    [11, "malformed"],
    [12, "malformed"],
  ]);
  assert.deepEqual(rows(), [{ sensor_id: "signed", ts: now }, { sensor_id: "other", ts: now + 6 }]);

  // Oversize: 5,001 readings, or more than 1 MiB: 413, nothing stored.
  const many = Array.from(
    { length: 5001 },
    (_, i) => ({ sensorId: "other", ts: now + 10 + i, values: { temp: i } }),
  );
  const tooMany = await post(JSON.stringify({ readings: many }));
  assert.equal(tooMany.status, 413);
  assert.match(tooMany.body.error.message, /at most 5000/);
  const big = [{ sensorId: "other", ts: now + 10, values: { temp: 1, pad: "x".repeat(1024 * 1024) } }];
  assert.equal((await post(JSON.stringify({ readings: big }))).status, 413);
  assert.equal((await post("{ not json")).status, 400);
  assert.equal((await post(JSON.stringify({ readings: "all" }))).status, 422);
  assert.equal(rows().length, 2);
  const stats = g.gateway.stats();
  assert.equal(stats.accepted, 2);
  assert.equal(stats.rejected["bad-signature"], 4);
});
