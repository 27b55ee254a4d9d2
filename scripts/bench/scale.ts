/**
 * `deno task bench scale [--steps 10x1000,25x100,…] [--smallest] [--rest-seconds 60] [--load-seconds 10]
 * [--load-rate 5] [--churn-events 2] [--churn-grace-seconds 60] [--messages 10] [--lookups 20]
 * [--late-join-seconds 180] [--step-minutes 20] [--listings-file PATH] [--max-connections N]
 * [--target-peers N]`: what a node costs as the network grows, in steps of `NODESxLISTINGS`, each a fresh
 * network of real nodes on loopback (`--max-connections` and `--target-peers` set the nodes' connection
 * limits; by default the p2p service's own).
 *
 * Each step runs in a child process of its own (this script again, with
 * `--step`), all of the step's nodes in it (one event loop; block and SQLite
 * workers on their own threads), with the default config except a TCP-only
 * loopback listener. So every step starts from a fresh runtime and its memory
 * per node is its own (`memory.perNodeMiB`: the child's RSS growth per node).
 * One process for all nodes of a step lets more nodes run on 2 cores than
 * one process per node: the first step also starts one node alone in a child
 * process (`lib/scale_one_node.ts`) and reports its RSS next to the per-node
 * RSS (`reference.oneNodeProcess` vs `memory.perNodeMiB`): a process carries
 * the runtime and every module, which the nodes of one process share. The
 * price is one event loop: `eventLoopLagP95Ms` says when it saturates, and
 * then latencies include the wait for the loop.
 *
 * The listings are signed once and kept in a file (`lib/scale_listings.ts`,
 * `--listings-file`); the nodes of a step get them in their catalogs before
 * they start, without the signature recovery gossip would do (the bench's own
 * signatures, spot-checked when loaded). Everything nodes send each other is
 * verified in full, the late joiner's sync included.
 *
 * One step:
 *
 * 1. `NODES` nodes start one after the other, each joining through the first
 *    (the seed). Before it starts, each gets the step's `LISTINGS` signed
 *    announcements (16 sellers, every category) in its catalog, and once
 *    started watches their datasets, as its catalog does for what it indexes
 *    (`fillMs`: all of it). The catalog sync protocol is left to the late
 *    joiner and to the nodes that join during churn, which start empty.
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
 *    not get there within `--late-join-seconds`, or its catalog stopped
 *    growing for 20 s; `listings` says how far it got, `perSecond` how fast).
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
 * A step that fails, or does not end within `--step-minutes` (default 20), is
 * stopped and printed with `error`.
 *
 * Prints one JSON line per step, also for a failed step (with `error`; exit code 1):
 * `{"bench":"scale","step":1,"nodes":10,"listings":1000,"datasets":5,"fillMs":…,"propagation":{"messages":…,"p50Ms":…,"p95Ms":…},"dht":{…},"atRest":{"cpuMsPerNodePerMin":…,"bytesPerNodePerMin":…,…},"underLoad":{…},"memory":{…},"lateJoin":{"syncMs":…},"churn":{"restoreP50Ms":…,"restoreP95Ms":…,…},"reference":{"pingRttP50Ms":…,"oneNodeProcess":{…}},"machine":{…}}`
 * `scripts/bench/lib/scale_chart.ts` draws docs/scale.svg from saved lines.
 */
import { memoryUsage } from "node:process";
import { machine, numberArg, progress, round2 } from "./lib/fair.ts";
import { catalogSize, startScaleNetwork } from "./lib/scale_net.ts";
import { defaultListingsPath, loadListings } from "./lib/scale_listings.ts";
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
const DEFAULT_STEPS = "10x100,10x1000,10x10000,10x100000,25x100,50x100";
const REST_S = numberArg("rest-seconds", SMALLEST ? 4 : 60);
const LOAD_S = numberArg("load-seconds", SMALLEST ? 3 : 10);
const LOAD_RATE = numberArg("load-rate", 5);
const CHURN_EVENTS = numberArg("churn-events", SMALLEST ? 1 : 2);
const CHURN_GRACE_S = numberArg("churn-grace-seconds", SMALLEST ? 15 : 60);
const MESSAGES = numberArg("messages", SMALLEST ? 3 : 10);
const LOOKUPS = numberArg("lookups", SMALLEST ? 4 : 20);
const LATE_JOIN_S = numberArg("late-join-seconds", SMALLEST ? 30 : 180);
const STEP_MINUTES = numberArg("step-minutes", 20);
const MAX_CONNECTIONS = Deno.args.includes("--max-connections")
  ? numberArg("max-connections", 64, 2)
  : undefined;
const TARGET_PEERS = Deno.args.includes("--target-peers") ? numberArg("target-peers", 16) : undefined;
const TARGET = 3;
const CHURN_SHARE = 0.1;
const REPLICATION = SMALLEST
  ? { repairInterval: 2 * second, probeTimeout: second, findTimeout: 2 * second }
  : {};
const REPAIR_MS = REPLICATION.repairInterval ?? minute;

function stringArg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/** `10x1000,25x1000` as [nodes, listings] pairs; exits with code 2 when malformed. */
function parseSteps(raw: string): [number, number][] {
  const steps = raw.split(",").map((s) => s.trim().split("x").map(Number) as [number, number]);
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

/** Stops the running step's network (anvil and nodes) when the parent ends the step early. */
let stopNetwork: (() => Promise<void>) | undefined;

/** One step, in this process (the child's side of `--step`). */
async function runStep(
  step: number,
  nodes: number,
  listings: Uint8Array[],
  reference: boolean,
): Promise<Record<string, unknown>> {
  const rssBeforeMiB = memoryUsage().rss / MiB;
  const started = performance.now();
  progress(`step ${step}: ${nodes} nodes, ${listings.length} listings`);
  await using net = await startScaleNetwork(nodes, {
    listings,
    services: { replication: REPLICATION },
    maxConnections: MAX_CONNECTIONS,
    targetPeers: TARGET_PEERS,
    onStop: (stop) => stopNetwork = stop,
  });
  const fillMs = round2(performance.now() - started);
  const oneNodeProcess = reference ? await measureOneNodeProcess(net.anvil.rpcUrl) : undefined;

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
  const listingsHeld = catalogSize(net.nodes[0]);
  const atRest = await measureWindow(net, REST_S);
  const memory = await measureMemory(net, rssBeforeMiB);
  progress(`step ${step}: ${LOAD_S} s under load (${LOAD_RATE} announcements/s)`);
  const load = await announcementLoad(net, LOAD_RATE, LOAD_S);
  const underLoad = { announcementsPerSecond: LOAD_RATE, ...(await measureWindow(net, LOAD_S, load)) };

  progress(`step ${step}: late joiner`);
  const lateJoin = await measureLateJoin(net, { timeoutMs: LATE_JOIN_S * second, stallMs: 20_000 });

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
    listingsHeld,
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
    reference: { pingRttP50Ms, ...(oneNodeProcess !== undefined ? { oneNodeProcess } : {}) },
    process: "one process per step, all of its nodes in it",
    config: {
      repairIntervalMs: REPAIR_MS,
      replicationTarget: TARGET,
      churnSharePerMinute: CHURN_SHARE,
      ...(MAX_CONNECTIONS !== undefined ? { maxConnections: MAX_CONNECTIONS } : {}),
      ...(TARGET_PEERS !== undefined ? { targetPeers: TARGET_PEERS } : {}),
    },
    stepMs: round2(performance.now() - started),
    machine: machine(),
  };
}

/** Runs step `index` (1-based) as a child process; resolves to its JSON line or an error line. */
async function runChild(index: number, nodes: number, listings: number, path: string): Promise<string> {
  const failed = (error: string) =>
    JSON.stringify({ bench: "scale", step: index, nodes, listings, error, machine: machine() });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), STEP_MINUTES * minute);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        ...Deno.args,
        "--step",
        `${index}:${nodes}x${listings}`,
        "--listings-file",
        path,
        ...(index === 1 ? ["--reference"] : []),
      ],
      stdout: "piped",
      stderr: "inherit",
      signal: controller.signal,
    }).spawn();
    const { success, stdout } = await child.output();
    const line = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
    if (controller.signal.aborted) return failed(`did not end within ${STEP_MINUTES} minutes`);
    try {
      if (JSON.parse(line).bench === "scale") return line;
    } catch { /* not a line of ours: reported below */ }
    return failed(success ? "the step printed no result" : "the step's process failed");
  } finally {
    clearTimeout(timer);
  }
}

const child = stringArg("step");
if (child !== undefined) {
  // A child: one step, in this process.
  Deno.addSignalListener("SIGTERM", () => {
    progress("step stopped before its end");
    void (stopNetwork?.() ?? Promise.resolve()).finally(() => Deno.exit(1));
  });
  const [index, spec] = child.split(":");
  const [[nodes, count]] = parseSteps(spec ?? "");
  const path = stringArg("listings-file") ?? defaultListingsPath();
  const listings = count > 0 ? (await loadListings(count, path)).slice(0, count) : [];
  try {
    console.log(
      JSON.stringify(await runStep(Number(index), nodes, listings, Deno.args.includes("--reference"))),
    );
  } catch (err) {
    console.error(err);
    console.log(JSON.stringify({
      bench: "scale",
      step: Number(index),
      nodes,
      listings: count,
      error: String((err as Error)?.message ?? err),
      machine: machine(),
    }));
  }
  Deno.exit(0);
}

const steps = parseSteps(stringArg("steps") ?? (SMALLEST ? "4x100" : DEFAULT_STEPS));
const path = stringArg("listings-file") ?? defaultListingsPath();
const maxListings = Math.max(...steps.map(([, l]) => l));
if (maxListings > 0) await loadListings(maxListings, path);
let exitCode = 0;
for (const [i, [nodes, listings]] of steps.entries()) {
  const line = await runChild(i + 1, nodes, listings, path);
  console.log(line);
  if (JSON.parse(line).error !== undefined) exitCode = 1;
}
Deno.exit(exitCode);
