/**
 * `kosmos gateway …`, `kosmos streams`, `kosmos stream` and `kosmos subscribe` as a person runs them against a
 * real node: an owner proxy and a sensor are registered (the attestation the gateway signed comes back), an
 * ingest key is created once and works on the ingest route only, the stats count what it sent, and bad usage
 * exits 2 without asking the node anything.
 */
import assert from "node:assert/strict";
import type { GatewayStatsView, OwnerView, SensorView, StreamView } from "../protocol/api/streams.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { startAppNode } from "./node_app.ts";

Deno.test("kosmos gateway owner/sensor/client/stats and kosmos streams act on the node", async (t) => {
  await using started = await startAppNode("kosmos-cli-streams-");
  const { node } = started;

  let owner: OwnerView;
  await t.step("gateway owner add creates an identity proxy; owner list shows it", async () => {
    owner = await kosmosJson<OwnerView>(node, ["gateway", "owner", "add", "Greenhouse owner"]);
    assert.match(owner.address, /^0x[0-9a-fA-F]{40}$/);
    assert.equal(owner.kind, "proxy");
    const { owners } = await kosmosJson<{ owners: OwnerView[] }>(node, ["gateway", "owner", "list"]);
    assert.deepEqual(owners.map((o) => [o.address, o.label]), [[owner.address, "Greenhouse owner"]]);
    const text = await kosmos(node, ["gateway", "owner", "list"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /identity proxy/);
  });

  await t.step("gateway sensor add registers a sensor with the gateway's attestation", async () => {
    const sensor = await kosmosJson<SensorView>(node, [
      "gateway",
      "sensor",
      "add",
      "greenhouse-3.temp",
      "--owner",
      owner.address,
      "--label",
      "Temperature",
    ]);
    assert.equal(sensor.sensorId, "greenhouse-3.temp");
    assert.equal(sensor.owner.toLowerCase(), owner.address.toLowerCase());
    assert.equal(sensor.gateway.toLowerCase(), node.address.toLowerCase());
    assert.match(sensor.attestation, /^0x[0-9a-f]{130}$/i);
    const { sensors } = await kosmosJson<{ sensors: SensorView[] }>(node, ["gateway", "sensor", "list"]);
    assert.deepEqual(sensors.map((s) => s.sensorId), ["greenhouse-3.temp"]);
  });

  let stream: StreamView;
  await t.step(
    "stream publish asks first (nothing without --yes), then publishes; streams and stream show list it",
    async () => {
      const publish = [
        "stream",
        "publish",
        "--title",
        "Greenhouse 3",
        "--sensors",
        "greenhouse-3.temp",
        "--schema",
        "temp:number",
        "--price",
        "2.5",
        "--licence",
        "CC-BY-4.0",
        "--epoch-seconds",
        "60",
      ];
      const refused = await kosmos(node, publish);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /Network fee: at most/);
      assert.deepEqual((await kosmosJson<{ streams: StreamView[] }>(node, ["streams"])).streams, []);
      stream = await kosmosJson<StreamView>(node, [...publish, "--yes"]);
      assert.equal(stream.title, "Greenhouse 3");
      assert.equal(stream.pricePerHour, (25n * 10n ** 17n).toString());
      assert.equal(stream.epochSeconds, 60);
      assert.deepEqual(stream.schema, [{ name: "temp", type: "number" }]);
      assert.equal(stream.mine, true);
      const { streams } = await kosmosJson<{ streams: StreamView[] }>(node, ["streams"]);
      assert.deepEqual(streams.map((s) => s.id), [stream.id]);
      const shown = await kosmos(node, ["stream", "show", stream.id]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /Greenhouse 3 \(published here\)/);
      assert.match(shown.stdout, /2\.5 KOS per hour, epochs of 60 s/);
    },
  );

  await t.step(
    "gateway client add prints the ingest key once; it ingests and the stats count it",
    async () => {
      const created = await kosmosJson<{ client: { id: string; label: string }; key: string }>(node, [
        "gateway",
        "client",
        "add",
        "line 1",
      ]);
      assert.equal(created.client.label, "line 1");
      const ts = Date.now() - 1000;
      const response = await fetch(`${node.url}/api/v1/ingest/readings`, {
        method: "POST",
        headers: { authorization: `Bearer ${created.key}`, "content-type": "application/json" },
        body: JSON.stringify({ readings: [{ sensorId: "greenhouse-3.temp", ts, values: { temp: 21.5 } }] }),
      });
      const result = await response.json();
      assert.equal(response.status, 202, JSON.stringify(result));
      // The ingest key is no owner token.
      const asOwner = await fetch(`${node.url}/api/v1/gateway/sensors`, {
        headers: { authorization: `Bearer ${created.key}` },
      });
      await asOwner.body?.cancel();
      assert.equal(asOwner.status, 401);
      const stats = await kosmosJson<GatewayStatsView>(node, ["gateway", "stats"]);
      assert.equal(stats.accepted, 1, JSON.stringify(stats));
      const clients = await kosmosJson<{ clients: { label: string }[] }>(node, ["gateway", "client", "list"]);
      assert.ok(clients.clients.some((c) => c.label === "line 1"), JSON.stringify(clients));
    },
  );

  await t.step("bad usage exits 2 with a message", async () => {
    for (
      const [args, message] of [
        [["gateway", "owner"], /unknown subcommand "owner"/],
        [["gateway", "owner", "add"], /expected LABEL/],
        [["gateway", "sensor", "add", "s1"], /--owner ADDRESS/],
        [["gateway", "sensor", "consent", "s1", "maybe"], /grant or revoke/],
        [["gateway", "owner", "takeover", "0x1234"], /--owner WALLET/],
        [["stream", "publish", "--title", "x"], /give --sensors, --schema, --price, --licence/],
        [[
          "stream",
          "publish",
          "--title",
          "x",
          "--sensors",
          "s1",
          "--schema",
          "temp:float",
          "--price",
          "1",
          "--licence",
          "CC0",
        ], /NAME:TYPE/],
        [["stream", "delete", "x"], /unknown subcommand "delete"/],
        [["subscribe", "bafyx"], /--seconds N/],
        [["subscribe", "bafyx", "--seconds", "0"], /--seconds N/],
      ] as const
    ) {
      const run = await kosmos(node, [...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(" "));
    }
  });

  await t.step("subscribe to a stream nobody announced exits 1 and buys nothing", async () => {
    const run = await kosmos(node, [
      "subscribe",
      "bafyreiunknownunknownunknownunknownunknownunknownunknown",
      "--seconds",
      "60",
      "--yes",
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /subscribe: cannot subscribe/);
    const { subscriptions } = await kosmosJson<{ subscriptions: unknown[] }>(node, ["subscriptions"]);
    assert.deepEqual(subscriptions, []);
  });
});
