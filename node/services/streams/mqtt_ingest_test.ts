import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { StreamColumn } from "../../../protocol/streams.ts";
import { startGatewayNode } from "../../../tests/gateway.ts";
import { waitFor } from "../../../tests/helpers.ts";
import { startMosquitto } from "../../../tests/servers.ts";
import { MQTT_CLIENT_ID } from "./clients.ts";
import { parseMqttPayload } from "./mqtt_ingest.ts";
import { checkMqttTopic, parseMqttUrl, redactMqttUrl } from "./mqtt_url.ts";

const STREAM = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const schema: StreamColumn[] = [{ name: "temp", type: "number" }];

Deno.test("parseMqttUrl(), redactMqttUrl() and checkMqttTopic() accept broker URLs and filters, and never echo a password", () => {
  assert.deepEqual(parseMqttUrl("mqtt://gw:s%40cret@127.0.0.1:1883"), {
    url: "mqtt://127.0.0.1:1883",
    username: "gw",
    password: "s@cret",
  });
  assert.equal(redactMqttUrl("mqtt://gw:secret@broker:1883"), "mqtt://gw:***@broker:1883");
  for (const bad of ["", "http://broker", "not a url", "mqtt://"]) {
    assert.throws(
      () => parseMqttUrl(bad),
      (err: Error) => err instanceof TypeError && !/secret/.test(err.message),
    );
  }
  assert.throws(() => parseMqttUrl("ftp://u:secret@h"), (err: Error) => !err.message.includes("secret"));
  assert.equal(checkMqttTopic("kosmos/readings/#"), "kosmos/readings/#");
  assert.equal(checkMqttTopic("site/+/temp"), "site/+/temp");
  for (const bad of ["", "a/#/b", "a/b#", "a+/b", "x".repeat(257)]) {
    assert.throws(() => checkMqttTopic(bad), TypeError);
  }
});

Deno.test("parseMqttPayload() reads one reading or { readings } and refuses anything else", () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  assert.deepEqual(parseMqttPayload(enc({ sensorId: "a", ts: 1, values: {} })), [{
    sensorId: "a",
    ts: 1,
    values: {},
  }]);
  assert.deepEqual(parseMqttPayload(enc({ readings: [1, 2] })), [1, 2]);
  assert.throws(() => parseMqttPayload(new Uint8Array([0xff, 0xfe])), /not UTF-8 JSON/);
  assert.throws(() => parseMqttPayload(enc({ readings: 1 })), /batch/);
  assert.throws(() => parseMqttPayload(enc({ readings: [], more: 1 })), /batch/);
  assert.throws(() => parseMqttPayload(enc({ readings: new Array(5001).fill(0) })), /at most 5000/);
  assert.throws(() => parseMqttPayload(new Uint8Array(1024 * 1024 + 1)), /over/);
});

Deno.test("MQTT ingest: readings published with QoS 1 on a real Mosquitto are committed and counted under mqtt; those published while the gateway is down arrive after its restart", async () => {
  const broker = await startMosquitto();
  try {
    await using g = await startGatewayNode("kosmos-gateway-mqtt-", { mqttUrl: broker.url });
    const proxy = await g.gateway.createOwner("o");
    await g.gateway.registerSensor({ sensorId: "m1", owner: proxy.address });
    g.defineStream("m1", { streamId: STREAM, schema, epochSeconds: 60 });
    await waitFor("the gateway's MQTT session", () => g.gateway.mqttStats?.connected);

    const publisher = await mqtt.connectAsync(broker.url, { clientId: "sensor-hub", protocolVersion: 5 });
    try {
      const t0 = Date.now();
      const publish = (value: unknown) =>
        publisher.publishAsync("kosmos/readings/m1", JSON.stringify(value), { qos: 1 });
      for (let i = 0; i < 50; i++) await publish({ sensorId: "m1", ts: t0 + i, values: { temp: i } });
      await publish({
        readings: [50, 51, 52].map((i) => ({ sensorId: "m1", ts: t0 + i, values: { temp: i } })),
      });
      await publisher.publishAsync("kosmos/readings/m1", "{not json", { qos: 1 });
      await publish({ sensorId: "m1", ts: t0 + 10, values: { temp: 0 } }); // out of order
      await waitFor("53 readings committed", () => g.gateway.sensors.get("m1")!.lastTs === t0 + 52);
      const count = () =>
        (g.node.components.db.prepare("SELECT COUNT(*) AS n FROM gateway_readings WHERE sensor_id = 'm1'")
          .get() as {
            n: number;
          }).n;
      assert.equal(count(), 53);
      await waitFor("every message handled", () => g.gateway.mqttStats!.received === 53);
      const stats = g.gateway.stats();
      const byMqtt = stats.byClient.find((c) => c.clientId === MQTT_CLIENT_ID)!;
      assert.equal(byMqtt.accepted, 53);
      assert.deepEqual(byMqtt.rejected, { malformed: 1, "out-of-order": 1 });
      assert.equal(stats.mqtt.connected, true);
      assert.equal(stats.mqtt.url, broker.url);

      // The gateway goes away; its persistent session keeps what is published meanwhile.
      await g.gateway.stop();
      for (let i = 53; i < 73; i++) await publish({ sensorId: "m1", ts: t0 + i, values: { temp: i } });
      const again = await g.restart();
      await waitFor("the readings sent while it was down", () => again.sensors.get("m1")!.lastTs === t0 + 72);
      assert.equal(count(), 73);
      assert.deepEqual(
        again.readingsOf(STREAM, Math.floor((t0 + 72) / 60_000)).filter((r) => r.ts >= t0 + 53).map((r) =>
          r.values.temp
        ),
        Array.from({ length: 20 }, (_, i) => 53 + i).filter((i) =>
          Math.floor((t0 + i) / 60_000) === Math.floor((t0 + 72) / 60_000)
        ),
      );
    } finally {
      await publisher.endAsync();
    }
  } finally {
    await broker.stop();
  }
});
