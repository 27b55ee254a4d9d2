/**
 * A subscribed buyer's node killed with SIGKILL while its span is running (no shutdown code runs) loses
 * nothing it acknowledged: restarted on the same data dir, it resumes the subscription, and its directory
 * target ends up holding every reading of the span exactly once, those delivered before the kill included,
 * the ones published while it was down filled in from the sealed epochs. The gateway is an in-process node
 * fed over MQTT by a real Mosquitto; the buyer is a real `kosmos` process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { epochOf } from "../protocol/streams.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/contracts.ts";
import { startMosquitto } from "./servers.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { startKosmosProcess, stopKosmosProcess } from "./process.ts";
import { publishTestStream, startSensors, startStreamCluster } from "./streams.ts";

const EPOCH_SECONDS = 4;

async function getJson<T>(node: { url: string; token: string }, path: string): Promise<T> {
  const res = await ownerFetch(node, path);
  const body = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

/** Every reading line in the directory target's epoch files, as `sensorId:ts`. */
async function readTarget(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".ndjson")) continue;
      const text = await Deno.readTextFile(join(dir, entry.name));
      for (const line of text.split("\n").filter(Boolean)) {
        const r = JSON.parse(line);
        out.push(`${r.sensorId}:${r.ts}`);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

Deno.test("a buyer's node killed with SIGKILL mid-span resumes its subscription and its target holds every reading of the span once", async () => {
  const broker = await startMosquitto();
  let buyer: Awaited<ReturnType<typeof startKosmosProcess>> | undefined;
  const buyerDir = await Deno.makeTempDir({ prefix: "kosmos-streams-kill-" });
  const targetDir = await Deno.makeTempDir({ prefix: "kosmos-streams-target-" });
  try {
    await using cluster = await startStreamCluster();
    const gateway = await cluster.start({ config: { mqttUrl: broker.url } });
    await writeContractsFile(getContractsPath(buyerDir), {
      chainId: 31337,
      contracts: cluster.dev.contracts,
    });
    const flags = [
      "--data-dir",
      buyerDir,
      "--rpc-url",
      cluster.anvil.rpcUrl,
      "--bootstrap",
      gateway.components.p2p.listenAddresses()[0],
      "--port",
      "0",
      "--log-level",
      "error",
      "--delivery-directory-allow",
      targetDir,
    ];
    buyer = await startKosmosProcess(flags);
    await cluster.dev.fund(buyer.address);
    const stream = await publishTestStream(gateway, { epochSeconds: EPOCH_SECONDS });
    const { streamId } = stream;
    const node = buyer;
    await waitFor(
      "the buyer to know the stream",
      () => getJson(node, `/api/v1/streams/${streamId}`).then(() => true),
      {
        timeout: 20_000,
      },
    );
    await using sensors = await startSensors(broker.url, stream.sensors, { hz: 10 });

    const res = await ownerFetch(buyer, "/api/v1/subscriptions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ streamId, seconds: 3 * EPOCH_SECONDS, targets: [targetDir] }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const sub = await res.json() as { id: string; from: number; to: number };
    const first = epochOf(sub.from, EPOCH_SECONDS);
    const last = epochOf(sub.to - 1, EPOCH_SECONDS);

    // Readings arrive and reach the target; then the node dies without warning.
    await waitFor("some readings at the target", async () => (await readTarget(targetDir)).length > 10, {
      timeout: 30_000,
    });
    const before = new Set(await readTarget(targetDir));
    buyer.child.kill("SIGKILL");
    await buyer.child.status;
    buyer = undefined;
    await new Promise((r) => setTimeout(r, EPOCH_SECONDS * 1000)); // an epoch passes while it is down
    buyer = await startKosmosProcess(flags);

    // Past the span: every reading of it sealed at the gateway is at the target, once.
    await waitFor(
      "the span to end and be sealed",
      () => gateway.components.streams.catalog.getEpoch(streamId, last) !== undefined,
      { timeout: 40_000 },
    );
    await sensors.stop();
    const expected = new Set<string>();
    for (let e = first; e <= last; e++) {
      for (const r of await gateway.components.streams.epochs.sealedReadings(streamId, e)) {
        expected.add(`${r.sensorId}:${r.ts}`);
      }
    }
    const after = await waitFor("the target to hold the whole span", async () => {
      const lines = await readTarget(targetDir);
      return lines.length >= expected.size ? lines : undefined;
    }, { timeout: 40_000, interval: 250 });
    assert.equal(after.length, expected.size, "the target holds a reading twice or one of another epoch");
    assert.deepEqual(new Set(after), expected);
    for (const line of before) {
      assert.ok(expected.has(line), `${line} was delivered before the kill but is gone`);
    }
    const view = await getJson<{ status: string; received: number }>(
      buyer,
      `/api/v1/subscriptions/${sub.id}`,
    );
    assert.equal(view.received, expected.size);
  } finally {
    await stopKosmosProcess(buyer);
    await broker.stop();
    await Deno.remove(buyerDir, { recursive: true }).catch(() => {});
    await Deno.remove(targetDir, { recursive: true }).catch(() => {});
  }
});
