/**
 * `deno task bench stream [--seconds 10] [--rate 6000] [--sensors 50] [--max-rate 12000]`: how many sensor
 * readings per second one gateway takes in over MQTT, and how long a reading takes from its MQTT publish to a
 * subscribed buyer node that decrypted it, against the broker's own publish-to-subscribe latency measured on
 * the same messages in the same run.
 *
 * Setup: a real Mosquitto on loopback; a gateway node G (`--mqtt-url`) and a buyer node B on one anvil,
 * connected over loopback libp2p. G registers `--sensors` sensors for an identity proxy, publishes a stream
 * of them (listed on the registry) and B subscribes for the whole run (a real key sale), then follows the
 * stream's live topic. A separate process publishes readings (one MQTT message each, QoS 1, spread over the
 * sensors) at `--rate` per second for `--seconds`, each carrying its publish time (`sentAt`, ms with
 * fractions); the same process runs a plain MQTT subscriber on the same topic: the reference.
 *
 * Counted: readings G committed (rows of `gateway_readings`, plus those of sealed epochs), per real second
 * from the first publish to the last commit (`readingsPerSec`); B's latency per reading, from `sentAt` to
 * when its readings event reached the bench (decrypted, stored), p50/p95/p99; the reference's p50/p95/p99 of
 * the same messages. A second run, half as long, offers more than G can take (`--max-rate`, at most 1,000
 * unacknowledged messages) to show what it sustains when saturated (`maxRun.readingsPerSec`; its latencies
 * include the backlog). Target: ≥ 5,000 readings/s at the offered rate, every published reading committed and
 * delivered (`met`); the latencies are reported beside the broker's.
 *
 * Prints one JSON line:
 * `{"bench":"stream","readingsPerSec":…,"published":…,"committed":…,"delivered":…,"latencyMs":{p50,p95,p99},
 *   "reference":{"brokerLatencyMs":{…}},"maxRun":{…},"target":{…},"met":…,"machine":{…}}`
 */
import mqtt from "mqtt";
import { machine, numberArg, progress, round2 } from "./lib/fair.ts";
import { startMosquitto } from "../../tests/servers.ts";
import { startMarketCluster } from "../../tests/market_cluster.ts";
import { waitFor } from "../../tests/helpers.ts";
import { createNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { loadIdentity } from "../../node/services/identity/mod.ts";
import { getContractsPath, writeContractsFile } from "../../node/services/chain/contracts.ts";

const SECONDS = numberArg("seconds", 10);
const RATE = numberArg("rate", 6000);
const SENSORS = numberArg("sensors", 50);
const MAX_RATE = numberArg("max-rate", 12_000);
const TOPIC = "kosmos/readings/bench";
const BUYER_TAG = "@bench-buyer ";

interface LoadResult {
  published: number;
  firstAt: number;
  lastAt: number;
  /** Broker publish → subscribe latencies (ms) the reference subscriber saw. */
  reference: { p50: number; p95: number; p99: number; received: number };
}

const nowMs = () => performance.timeOrigin + performance.now();

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
  return { p50: round2(at(50) ?? NaN), p95: round2(at(95) ?? NaN), p99: round2(at(99) ?? NaN) };
}

if (Deno.args.includes("--load")) await runLoad();
else if (Deno.args.includes("--buyer")) await runBuyer();
else await runBench();

/** The publisher and the reference subscriber (child process): prints one {@link LoadResult}. */
async function runLoad(): Promise<void> {
  const url = Deno.args[Deno.args.indexOf("--load") + 1];
  const rate = numberArg("at", RATE);
  const seconds = numberArg("for", SECONDS);
  const latencies: number[] = [];
  const reference = await mqtt.connectAsync(url, {
    clientId: `bench-ref-${crypto.randomUUID()}`,
    protocolVersion: 5,
  });
  await reference.subscribeAsync(TOPIC, { qos: 1 });
  reference.on("message", (_topic, payload) => {
    const at = nowMs();
    const reading = JSON.parse(new TextDecoder().decode(payload));
    latencies.push(at - reading.values.sentAt);
  });
  const publisher = await mqtt.connectAsync(url, {
    clientId: `bench-pub-${crypto.randomUUID()}`,
    protocolVersion: 5,
  });
  const lastTs = new Array<number>(SENSORS).fill(0);
  let published = 0;
  let inFlight = 0;
  const firstAt = nowMs();
  const end = firstAt + seconds * 1000;
  const { promise: drained, resolve } = Promise.withResolvers<void>();
  const send = () => {
    const i = published % SENSORS;
    const sentAt = nowMs();
    lastTs[i] = Math.max(Math.floor(sentAt), lastTs[i] + 1);
    const reading = { sensorId: `bench.${i}`, ts: lastTs[i], values: { v: published, sentAt } };
    published++;
    inFlight++;
    publisher.publish(TOPIC, JSON.stringify(reading), { qos: 1 }, () => {
      inFlight--;
      if (inFlight === 0 && nowMs() >= end) resolve();
    });
  };
  // Paced in 5 ms ticks: each tick sends what the rate owes since the start, at most 1,000 unacknowledged.
  while (nowMs() < end) {
    const owed = Math.floor((nowMs() - firstAt) / 1000 * rate);
    while (published < owed && inFlight < 1000) send();
    await new Promise((r) => setTimeout(r, 5));
  }
  const lastAt = nowMs();
  if (inFlight > 0) await drained;
  await new Promise((r) => setTimeout(r, 500));
  await publisher.endAsync();
  await reference.endAsync();
  const result: LoadResult = {
    published,
    firstAt,
    lastAt,
    reference: { ...percentiles(latencies), received: latencies.length },
  };
  console.log(JSON.stringify(result));
}

/** The buyer node (child process): subscribes, then answers `mark` / `report` / `stop` lines on stdin. */
async function runBuyer(): Promise<void> {
  const arg = (name: string) => Deno.args[Deno.args.indexOf(`--${name}`) + 1];
  const node = await createNode({
    dataDir: arg("buyer"),
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: [arg("bootstrap")],
    rpcUrl: arg("rpc"),
    logLevel: "error",
  }, { logger: createLogger({ level: "error" }), services: { market: { tickInterval: 1000 } } });
  await node.start();
  // Tagged, so that anything else a node prints on stdout is not taken for an answer.
  const say = (value: unknown) => console.log(`${BUYER_TAG}${JSON.stringify(value)}`);
  const abort = new AbortController();
  let watching: Promise<void> | undefined;
  try {
    say({ started: true, peers: node.components.p2p.peers().length });
    let latencies: number[] = [];
    for await (const line of lines(Deno.stdin.readable)) {
      if (line.startsWith("subscribe ")) {
        const streamId = line.slice("subscribe ".length);
        await waitFor(
          "the buyer to know the stream",
          () => node.facade.getStream(streamId).catch(() => undefined),
          {
            timeout: 30_000,
          },
        );
        const subscription = await node.facade.subscribe({ streamId, seconds: 7200 });
        await waitFor(
          "the subscription to hold the current epoch's key",
          async () => (await node.facade.getSubscription(subscription.id)).status === "active",
          { timeout: 60_000 },
        );
        watching = (async () => {
          for await (
            const event of await node.facade.watchReadings(subscription.id, { signal: abort.signal })
          ) {
            const at = nowMs();
            for (const r of event.readings) latencies.push(at - (r.values.sentAt as number));
          }
        })().catch(() => {});
        say({ ready: true });
      } else if (line === "mark") latencies = [];
      else if (line === "report") say({ count: latencies.length, ...percentiles(latencies) });
      else if (line === "stop") break;
    }
  } finally {
    abort.abort();
    await watching;
    await node.stop();
  }
}

async function* lines(stream: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let at: number;
    while ((at = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, at).trim();
      buffered = buffered.slice(at + 1);
    }
  }
}

async function runBench(): Promise<void> {
  const broker = await startMosquitto();
  const cluster = await startMarketCluster({ prefix: "kosmos-bench-stream-" });
  const buyerDir = await Deno.makeTempDir({ prefix: "kosmos-bench-stream-buyer-" });
  let buyer: Deno.ChildProcess | undefined;
  try {
    progress("stream: starting the gateway");
    const gateway = await cluster.start({ config: { mqttUrl: broker.url, logLevel: "error" } });
    const g = gateway.components.streams.gateway;
    const owner = await g.createOwner("bench owner");
    const sensors = Array.from({ length: SENSORS }, (_, i) => `bench.${i}`);
    for (const sensorId of sensors) await g.registerSensor({ sensorId, owner: owner.address });
    // The buyer runs in its own process, as on its own machine: its wallet funded, the contracts known.
    const { account } = await loadIdentity(buyerDir);
    await cluster.dev.fund(account.address);
    await writeContractsFile(getContractsPath(buyerDir), {
      chainId: 31337,
      contracts: cluster.dev.contracts,
    });
    progress("stream: starting the buyer (subscribes for two hours of epochs)");
    buyer = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--buyer",
        buyerDir,
        "--rpc",
        cluster.anvil.rpcUrl,
        "--bootstrap",
        gateway.components.p2p.listenAddresses()[0].toString(),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = buyer.stdin.getWriter();
    const replies = (async function* (all: AsyncGenerator<string>) {
      for await (const line of all) if (line.startsWith(BUYER_TAG)) yield line.slice(BUYER_TAG.length);
    })(lines(buyer.stdout));
    const ask = async (command: string) => {
      await writer.write(new TextEncoder().encode(`${command}\n`));
      if (command === "mark") return undefined;
      const { value, done } = await replies.next();
      if (done) throw new Error("the buyer process ended");
      return JSON.parse(value) as { count: number; p50: number; p95: number; p99: number };
    };
    const started = await replies.next();
    if (started.done || !JSON.parse(started.value).started) throw new Error("the buyer did not start");
    await waitFor("the buyer to connect", () => gateway.components.p2p.peers().length > 0, {
      timeout: 30_000,
    });
    // Gossipsub meshes form on its heartbeat (1 s): the announcement must find the buyer in the mesh.
    await new Promise((r) => setTimeout(r, 2500));
    progress(`stream: registered ${SENSORS} sensors; publishing the stream`);
    const stream = await gateway.facade.publishStream({
      title: "Bench stream",
      sensors,
      schema: [{ name: "v", type: "integer" }, { name: "sentAt", type: "number" }],
      pricePerHour: "1",
      epochSeconds: 3600,
      licence: "CC-BY-4.0",
    });
    await writer.write(new TextEncoder().encode(`subscribe ${stream.id}\n`));
    const ready = await replies.next();
    if (ready.done || !JSON.parse(ready.value).ready) throw new Error("the buyer did not subscribe");
    // Sealed epochs' readings leave `gateway_readings` (pruned after the seal): count them from the seals.
    const countRows = gateway.components.db.prepare(
      `SELECT (SELECT COALESCE(SUM(rows), 0) FROM stream_epochs WHERE stream_id = ?1) +
        (SELECT COUNT(*) FROM gateway_readings WHERE stream_id = ?1 AND epoch >
          (SELECT COALESCE(MAX(epoch), -1) FROM stream_epochs WHERE stream_id = ?1)) AS n`,
    );
    const rows = () => (countRows.get(stream.id) as { n: number }).n;

    /** One publishing run; waits until G has committed what it will and B has what it will. */
    const run = async (rate: number, seconds: number) => {
      const before = rows();
      await ask("mark");
      // When the gateway handled its last message: MQTT messages are committed in the same task that counts
      // them, so sampling the count (every 5 ms, cheaply, in memory) dates the last commit.
      const handled = () => g.mqttStats?.received ?? 0;
      let seen = handled();
      let lastHandledAt = nowMs();
      const sampler = setInterval(() => {
        if (handled() !== seen) [seen, lastHandledAt] = [handled(), nowMs()];
      }, 5);
      const args = ["run", "-A", new URL(import.meta.url).pathname, "--load", broker.url];
      args.push("--at", String(rate), "--for", String(seconds), "--sensors", String(SENSORS));
      let load: LoadResult;
      try {
        const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
          .output();
        if (!out.success) throw new Error("the publisher failed");
        load = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
        // Until the gateway has every message, or nothing moved for 3 s.
        while (rows() - before < load.published && nowMs() - lastHandledAt < 3000) {
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        clearInterval(sampler);
      }
      const committed = rows() - before;
      let report = await ask("report");
      const deadline = nowMs() + 5000;
      while (report!.count < committed && nowMs() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        report = await ask("report");
      }
      return {
        load,
        committed,
        perSec: committed / ((lastHandledAt - load.firstAt) / 1000),
        delivered: report!,
      };
    };
    progress("stream: warm-up (2 s)");
    await run(Math.min(RATE, 1000), 2);
    progress(`stream: ${RATE} readings/s for ${SECONDS} s`);
    const target = await run(RATE, SECONDS);
    progress(`stream: as fast as the publisher goes (up to ${MAX_RATE}/s) for ${SECONDS} s`);
    // Half as long: a backlog beyond the broker's queue for the session (100,000 messages in the test broker)
    // would be dropped by the broker, not by the gateway.
    const max = await run(MAX_RATE, Math.max(2, Math.round(SECONDS / 2)));
    await writer.write(new TextEncoder().encode("stop\n"));
    await writer.close();
    await buyer.status;
    buyer = undefined;
    const { count, ...latency } = target.delivered;
    const met = target.perSec >= 5000 && target.committed === target.load.published &&
      count === target.committed;
    console.log(JSON.stringify({
      bench: "stream",
      seconds: SECONDS,
      sensors: SENSORS,
      offeredPerSec: RATE,
      readingsPerSec: Math.round(target.perSec),
      published: target.load.published,
      committed: target.committed,
      delivered: count,
      latencyMs: latency,
      reference: { brokerLatencyMs: target.load.reference },
      maxRun: {
        offeredPerSec: MAX_RATE,
        published: max.load.published,
        committed: max.committed,
        delivered: max.delivered.count,
        readingsPerSec: Math.round(max.perSec),
        latencyMs: { p50: max.delivered.p50, p95: max.delivered.p95, p99: max.delivered.p99 },
        brokerLatencyMs: max.load.reference,
      },
      target: { readingsPerSec: 5000, lost: 0 },
      met,
      machine: machine(),
    }));
  } finally {
    if (buyer) {
      try {
        buyer.kill("SIGTERM");
      } catch { /* gone */ }
      await buyer.status;
    }
    await cluster[Symbol.asyncDispose]();
    await broker.stop();
    await Deno.remove(buyerDir, { recursive: true }).catch(() => {});
  }
}
