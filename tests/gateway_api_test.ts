/**
 * The gateway's owner routes against a real node on its embedded chain, through `app.request()`:
 * owners (proxies) and their takeover, sensors with their attestations and consent, ingest clients (the
 * key shown once, never listed), counters, and every status the routes answer: 200, 201, 202, 400, 401,
 * 404, 405, 409, 415, 422.
 */
import assert from "node:assert/strict";
import type { IngestClientView, OwnerView, SensorView } from "../protocol/api/mod.ts";
import { verifySensorAttestation } from "../protocol/streams.ts";
import { startGatewayNode } from "./gateway.ts";

const STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

Deno.test("gateway routes: owners, sensors, consent, clients and stats; bad requests change nothing", async () => {
  await using g = await startGatewayNode("kosmos-gateway-api-");
  const call = async (method: string, path: string, body?: unknown, type = "application/json") => {
    const response = await g.app.request(path, {
      method,
      headers: body !== undefined ? { "content-type": type } : {},
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  };

  // Owners.
  for (
    const [body, status] of [
      ["{", 400],
      [{ label: 1 }, 422],
      [{ label: "x".repeat(121) }, 422],
      [{ label: "a\nb" }, 422],
      [{ label: "ok", extra: 1 }, 422],
      [[], 422],
    ] as const
  ) {
    assert.equal((await call("POST", "/api/v1/gateway/owners", body)).status, status, JSON.stringify(body));
  }
  assert.equal((await call("POST", "/api/v1/gateway/owners", { label: "x" }, "text/plain")).status, 415);
  assert.equal((await call("PUT", "/api/v1/gateway/owners", { label: "x" })).status, 405);
  assert.deepEqual((await call("GET", "/api/v1/gateway/owners")).body, { owners: [] });
  const created = await call("POST", "/api/v1/gateway/owners", { label: "Greenhouse owner" });
  assert.equal(created.status, 201);
  const owner = created.body as OwnerView;
  assert.deepEqual(owner, {
    address: owner.address,
    label: "Greenhouse owner",
    kind: "proxy",
    takenOverAt: null,
    takenOverBy: null,
  });

  // Sensors.
  const sensorBody = { sensorId: "gh.temp", owner: owner.address, label: "Temperature" };
  for (
    const [body, status] of [
      [{ ...sensorBody, sensorId: "-bad" }, 422],
      [{ ...sensorBody, sensorId: "x".repeat(129) }, 422],
      [{ ...sensorBody, owner: "0x12" }, 422],
      [{ ...sensorBody, sensorKey: "0x1234" }, 422],
      [{ ...sensorBody, unknown: true }, 422],
    ] as const
  ) {
    assert.equal((await call("POST", "/api/v1/gateway/sensors", body)).status, status, JSON.stringify(body));
  }
  assert.deepEqual((await call("GET", "/api/v1/gateway/sensors")).body, { sensors: [] });
  const registered = await call("POST", "/api/v1/gateway/sensors", sensorBody);
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const sensor = registered.body as SensorView;
  assert.equal(sensor.owner, owner.address);
  assert.equal(sensor.consentValid, true);
  assert.equal(sensor.sensorKey, null);
  assert.ok(
    await verifySensorAttestation(
      {
        sensorId: "gh.temp",
        owner: owner.address,
        gateway: sensor.gateway,
        sensorKey: null,
        issuedAt: sensor.issuedAt,
      },
      sensor.attestation,
      g.node.components.chain.chainId,
    ),
  );
  assert.equal((await call("POST", "/api/v1/gateway/sensors", sensorBody)).status, 409);

  // Consent: revoke and grant again as the proxy; an unknown sensor is a 404; an own owner's is not ours.
  const revoked = await call("DELETE", "/api/v1/gateway/sensors/gh.temp/consent");
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.consentValid, false);
  assert.equal(
    (await call("DELETE", "/api/v1/gateway/sensors/gh.temp/consent")).status,
    409,
    "revoked already",
  );
  assert.equal((await call("POST", "/api/v1/gateway/sensors/gh.temp/consent")).body.consentValid, true);
  assert.equal((await call("POST", "/api/v1/gateway/sensors/nope/consent")).status, 404);
  assert.equal((await call("POST", "/api/v1/gateway/sensors/..%2F/consent")).status, 404);
  const wallet = g.node.components.identity.account.address;
  assert.equal(
    (await call("POST", "/api/v1/gateway/sensors", { sensorId: "mine", owner: wallet })).status,
    201,
  );
  assert.equal((await call("DELETE", "/api/v1/gateway/sensors/mine/consent")).status, 409);

  // Clients: the key once, never again.
  const client = await call("POST", "/api/v1/gateway/clients", { label: "hub 1" });
  assert.equal(client.status, 201);
  assert.equal(client.headers.get("cache-control"), "no-store");
  assert.match(client.body.key, /^kgi_[\w-]{43}$/);
  const listed = (await call("GET", "/api/v1/gateway/clients")).body.clients as IngestClientView[];
  assert.deepEqual(listed.map((c) => c.label), ["MQTT", "hub 1"]);
  assert.ok(!JSON.stringify(listed).includes(client.body.key));

  // Ingest with the key, then the counters.
  g.defineStream("gh.temp", {
    streamId: STREAM,
    schema: [{ name: "temp", type: "number" }],
    epochSeconds: 60,
  });
  const ingest = await g.open.request("/api/v1/ingest/readings", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${client.body.key}` },
    body: JSON.stringify({
      readings: [
        { sensorId: "gh.temp", ts: Date.now(), values: { temp: 21.5 } },
        { sensorId: "gh.temp", ts: Date.now() + 60_000, values: { temp: 21.5 } },
      ],
    }),
  });
  assert.equal(ingest.status, 202);
  const result = await ingest.json();
  assert.equal(result.accepted, 1);
  assert.deepEqual(result.rejected.map((r: { reason: string }) => r.reason), ["future"]);
  const stats = (await call("GET", "/api/v1/gateway/stats")).body;
  assert.equal(stats.accepted, 1);
  assert.equal(stats.rejected.future, 1);
  assert.deepEqual(stats.mqtt, { url: null, connected: false, received: 0 });
  const sensors = (await call("GET", "/api/v1/gateway/sensors")).body.sensors as SensorView[];
  const temp = sensors.find((s) => s.sensorId === "gh.temp")!;
  assert.equal(temp.accepted, 1);
  assert.equal(temp.rejected, 1);
  assert.ok(temp.lastReadingAt !== null);
  const hub = ((await call("GET", "/api/v1/gateway/clients")).body.clients as IngestClientView[])
    .find((c) => c.label === "hub 1")!;
  assert.equal(hub.accepted, 1);
  assert.equal(hub.rejected, 1);

  // Takeover: bad addresses, not a proxy, and the owner's own wallet.
  const takeover = (address: string, body: unknown) =>
    call("POST", `/api/v1/gateway/owners/${address}/takeover`, body);
  assert.equal((await takeover("0x12", { owner: wallet })).status, 404);
  assert.equal((await takeover(owner.address, { owner: "nobody" })).status, 422);
  assert.equal((await takeover(wallet, { owner: owner.address })).status, 409, "an own owner is not a proxy");
  assert.equal((await takeover(owner.address, { owner: owner.address })).status, 422);
  const done = await takeover(owner.address, { owner: wallet });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.takenOverBy, wallet);
  assert.equal(done.body.kind, "own");
  assert.equal((await takeover(owner.address, { owner: wallet })).status, 409);
  const after = (await call("GET", "/api/v1/gateway/sensors")).body.sensors as SensorView[];
  assert.equal(after.find((s) => s.sensorId === "gh.temp")!.owner, wallet);
  const late = await call("POST", "/api/v1/gateway/sensors", { sensorId: "late", owner: owner.address });
  assert.equal(late.status, 409, "a handed-over proxy gets no new sensors");
  assert.match(late.body.error.message, /handed over/);
});
