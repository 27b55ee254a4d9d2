/**
 * `deno task bench scale [--steps 10x250,10x1000,…] [--smallest] [--rest-seconds 60] [--load-seconds 10]
 * [--load-rate 5] [--churn-events 2] [--churn-grace-seconds 60] [--messages 10] [--lookups 20]`: what a node
 * costs as the network
 * grows, in steps of `NODESxLISTINGS`, each a fresh network of real nodes on loopback.
 *
 * All nodes of a step run in this one process (one event loop; block and SQLite
 * workers on their own threads), with the default config except a TCP-only
 * loopback listener. One process lets more nodes run on 2 cores than one
 * process per node: the first step also starts one node alone in a child
 * process (`lib/scale_one_node.ts`) and reports its RSS next to the per-node
 * RSS here (`reference.oneNodeProcess` vs `memory.perNodeMiB`): a process
 * carries the runtime and every module, which the nodes of one process share.
 * The price is one event loop: `eventLoopLagP95Ms` says when it saturates,
 * and then latencies include the wait for the loop.
 *
 * One step:
 *
 * 1. `NODES` nodes start one after the other, each joining through the first
 *    (the seed). Before it starts, each indexes the step's `LISTINGS` signed
 *    announcements (16 sellers, every category; signed once per run) through
 *    the same check and index step as gossip and sync (`ingestAnnouncement`:
 *    schema, EIP-712 signature recovery, store), and once started watches
 *    their datasets, as its catalog does for what it indexes (`fillMs`: all
 *    of it). The catalog sync protocol is left to the late joiner and to the
 *    nodes that join during churn, which start empty.
 * 2. `datasets` small real datasets (32 KiB, one chunk) are published from
 *    distinct nodes (`datasets.publishDataset`: blocks, announcement, DHT
 *    provider record); the repair loops bring each to 3 holders.
 * 3. Announcement propagation: `--messages` new announcements from random
 *    nodes, one at a time, each timed until every node's catalog indexed it.
 * 4. DHT lookups: `--lookups` provider lookups of the datasets from nodes that
 *    do not hold them, timed to the first provider record.
 * 5. At rest (`--rest-seconds`, at least one repair round): process CPU (all
 *    threads) per node and minute, bytes written to the nodes' TCP sockets per
 *    node and minute (transport counters: libp2p's framing, noise and yamux
 *    included), event-loop lag. Memory: process RSS, its growth per node, and
 *    the data dir per node.
 * 6. Under load (`--load-seconds`): the same while `--load-rate` new
 *    announcements per second are published from random nodes (signed before
 *    the window).
 * 7. A late joiner: a fresh node joins; timed until its catalog holds as many
 *    listings as the seed's, by the syncs it starts itself (null when it did
 *    not get there in time; `listings` says how far it got).
 * 8. Churn: `--churn-events` times, a minute apart, a tenth of the nodes
 *    leave for good (holders first, never the seed) and as many fresh nodes
 *    join; per dataset that lost a holder, the time until it has 3 live
 *    holders again, watched until every one is back or `--churn-grace-seconds`
 *    after the last event (`notRestored` counts the rest).
 *
 * Reference, same step: libp2p ping round trip between two nodes; and, once
 * per run, one node alone in its own process.
 *
 * `--smallest` is the CI form: one step of 4 nodes and 100 listings, windows
 * of a few seconds and a 2 s repair interval (the default is 1 minute), so the
 * churn phase fits; `config.repairIntervalMs` in every line says which ran.
 *
 * Prints one JSON line per step, also for a failed step (with `error`; exit code 1):
 * `{"bench":"scale","step":1,"nodes":10,"listings":1000,"datasets":5,"fillMs":…,"propagation":{"messages":…,"p50Ms":…,"p95Ms":…},"dht":{…},"atRest":{"cpuMsPerNodePerMin":…,"bytesPerNodePerMin":…,…},"underLoad":{…},"memory":{…},"lateJoin":{"syncMs":…},"churn":{"restoreP50Ms":…,"restoreP95Ms":…,…},"reference":{"pingRttP50Ms":…,"oneNodeProcess":{…}},"machine":{…}}`
 * `scripts/bench/lib/scale_chart.ts` draws docs/scale.svg from saved lines.
 */
import { memoryUsage } from "node:process";
import { machine, numberArg, progress, round2 } from "./lib/fair.ts";
import { generateListings, startScaleNetwork } from "./lib/scale_net.ts";
import {
  announcementLoad,
  measureLateJoin,
  measureLookups,
  measureMemory,
  measurePing,
  measurePropagation,
  measureWindow,
  MiB,
  publishDatasets,
} from "./lib/scale_phases.ts";
import { runChurn } from "./lib/scale_churn.ts";
import { minute, second } from "../../node/constants.ts";

const SMALLEST = Deno.args.includes("--smallest");
const DEFAULT_STEPS = "10x250,10x1000,40x1000,10x5000";
const REST_S = numberArg("rest-seconds", SMALLEST ? 4 : 60);
const LOAD_S = numberArg("load-seconds", SMALLEST ? 3 : 10);
const LOAD_RATE = numberArg("load-rate", 5);
const CHURN_EVENTS = numberArg("churn-events", SMALLEST ? 1 : 2);
const CHURN_GRACE_S = numberArg("churn-grace-seconds", SMALLEST ? 15 : 60);
const MESSAGES = numberArg("messages", SMALLEST ? 3 : 10);
const LOOKUPS = numberArg("lookups", SMALLEST ? 4 : 20);
const TARGET = 3;
const CHURN_SHARE = 0.1;
const REPLICATION = SMALLEST
  ? { repairInterval: 2 * second, probeTimeout: second, findTimeout: 2 * second }
  : {};
const REPAIR_MS = REPLICATION.repairInterval ?? minute;

/** `--steps 10x1000,25x1000` as [nodes, listings] pairs. */
function parseSteps(): [number, number][] {
  const i = Deno.args.indexOf("--steps");
  const raw = i >= 0 ? Deno.args[i + 1] : SMALLEST ? "4x100" : DEFAULT_STEPS;
  const steps = (raw ?? "").split(",").map((s) => s.trim().split("x").map(Number) as [number, number]);
  for (const [nodes, listings] of steps) {
    if (!Number.isInteger(nodes) || nodes < 4 || !Number.isInteger(listings) || listings < 0) {
      console.error(`--steps must be NODESxLISTINGS pairs with at least 4 nodes, e.g. 10x1000; got ${raw}`);
      Deno.exit(2);
    }
  }
  return steps;
}

/** One node alone in a child process: its RSS and idle CPU. */
async function measureOneNodeProcess(rpcUrl: string): Promise<Record<string, number> | null> {
  const { success, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./lib/scale_one_node.ts", import.meta.url).pathname,
      "--rpc",
      rpcUrl,
      "--seconds",
      String(SMALLEST ? 2 : 20),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!success) return null;
  return JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
}

async function runStep(
  step: number,
  nodes: number,
  listings: Uint8Array[],
  oneNodeProcess: { value: Record<string, number> | null | undefined },
): Promise<Record<string, unknown>> {
  const rssBeforeMiB = memoryUsage().rss / MiB;
  const started = performance.now();
  progress(`step ${step}: ${nodes} nodes, ${listings.length} listings`);
  await using net = await startScaleNetwork(nodes, {
    listings,
    services: { replication: REPLICATION },
  });
  const fillMs = round2(performance.now() - started);
  if (oneNodeProcess.value === undefined) {
    oneNodeProcess.value = await measureOneNodeProcess(net.anvil.rpcUrl);
  }

  const datasetCount = Math.max(TARGET, Math.min(20, Math.floor(nodes / 2)));
  progress(`step ${step}: catalogs full after ${fillMs} ms; publishing ${datasetCount} datasets`);
  const datasets = await publishDatasets(net, datasetCount, TARGET, SMALLEST ? 30_000 : 2 * REPAIR_MS);
  await Promise.all(
    net.nodes.map((n) =>
      n.components.replication.whenIdle({ signal: AbortSignal.timeout(30_000) }).catch(() => {})
    ),
  );

  progress(`step ${step}: propagation, lookups and ping`);
  const pingRttP50Ms = await measurePing(net.nodes[1], net.nodes[2], 10);
  const propagation = await measurePropagation(net, MESSAGES);
  const dht = await measureLookups(net, datasets.cids, LOOKUPS);

  progress(`step ${step}: ${REST_S} s at rest`);
  const atRest = await measureWindow(net, REST_S);
  const memory = await measureMemory(net, rssBeforeMiB);
  progress(`step ${step}: ${LOAD_S} s under load (${LOAD_RATE} announcements/s)`);
  const load = await announcementLoad(net, LOAD_RATE, LOAD_S);
  const underLoad = { announcementsPerSecond: LOAD_RATE, ...(await measureWindow(net, LOAD_S, load)) };

  progress(`step ${step}: late joiner`);
  const lateJoin = await measureLateJoin(net, {
    timeoutMs: SMALLEST ? 30_000 : Math.max(60_000, listings.length * 10),
    stallMs: 20_000,
  });

  progress(`step ${step}: churn, ${CHURN_EVENTS} times a minute apart`);
  const churn = await runChurn(net, datasets.cids, {
    events: CHURN_EVENTS,
    periodMs: minute,
    graceMs: CHURN_GRACE_S * second,
    share: CHURN_SHARE,
    target: TARGET,
  });
  return {
    bench: "scale",
    step,
    nodes,
    listings: listings.length,
    datasets: datasetCount,
    datasetsReplicated: datasets.replicated,
    fillMs,
    propagation,
    dht,
    atRest,
    underLoad,
    memory,
    lateJoin,
    churn,
    reference: { pingRttP50Ms, oneNodeProcess: oneNodeProcess.value },
    process: "one process for all nodes",
    config: { repairIntervalMs: REPAIR_MS, replicationTarget: TARGET, churnSharePerMinute: CHURN_SHARE },
    stepMs: round2(performance.now() - started),
    machine: machine(),
  };
}

const steps = parseSteps();
const maxListings = Math.max(...steps.map(([, l]) => l));
progress(`signing ${maxListings} listings`);
const pool = await generateListings(maxListings, crypto.randomUUID().slice(0, 8));
const oneNodeProcess: { value: Record<string, number> | null | undefined } = { value: undefined };
let exitCode = 0;
for (const [i, [nodes, listings]] of steps.entries()) {
  try {
    console.log(JSON.stringify(await runStep(i + 1, nodes, pool.slice(0, listings), oneNodeProcess)));
  } catch (err) {
    console.error(err);
    console.log(JSON.stringify({
      bench: "scale",
      step: i + 1,
      nodes,
      listings,
      error: String((err as Error)?.message ?? err),
      machine: machine(),
    }));
    exitCode = 1;
  }
}
Deno.exit(exitCode);
