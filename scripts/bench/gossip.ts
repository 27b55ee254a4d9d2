/**
 * `deno task bench gossip [--nodes 20] [--messages 30] [--rounds 3] [--gap 100] [--no-replication]`: announcement
 * propagation over gossipsub between real nodes on loopback, all in this
 * process (one event loop, so every node's validation shares the CPU).
 *
 * One node publishes signed announcements through `catalog.publishAnnouncement`,
 * one at a time: each is timed from the call until the last other node's
 * `p2p.subscribe` handler on the announcement topic receives it. Gossipsub
 * delivers to handlers only after the topic validator accepted the message, and
 * the catalog's validator indexes it, so that moment is when the listing is in
 * the node's catalog (checked with `getListing` in the handler). The next
 * message goes `--gap` ms after every node has the previous one (gossipsub has
 * no backpressure).
 *
 * Every node runs as configured by default, replication included: each
 * indexed listing makes the few nodes closest to it (the ones that could add
 * a replica) count its providers with a DHT lookup, which here shares the
 * one event loop with gossip. `--no-replication` stops replication on every
 * node first, to see gossip alone.
 *
 * Reference, same run: libp2p ping round trip between the publisher and one of
 * the receivers.
 *
 * Same conditions: the messages and the pings are measured in `--rounds`
 * rounds (each a share of the messages and of the 30 pings), alternating which
 * side goes first, after a warm-up round of one message and a few pings (not
 * counted); before each side's turn the bench waits until no node's
 * replication work runs and the process is quiet (at most 5 s: twenty nodes'
 * heartbeats rarely leave it quiet; `idle` says how that went). Figures are
 * percentiles over all measured messages and pings, with the per-round medians
 * as their spread.
 *
 * The
 * ping protocol allows one outbound stream per connection and libp2p's
 * connection monitor pings every connection every 10 s on the same protocol,
 * so a ping can fail (`TooManyOutboundProtocolStreamsError`) or never settle
 * (the monitor, failing the other way round, aborts the connection, and
 * `ping()` does not reject when its stream closes without a pong). Each ping
 * therefore has its own timeout and failed pings are retried and counted.
 *
 * Prints one JSON line, also when it fails (with `error` and exit code 1):
 * `{"bench":"gossip","nodes":20,"messages":30,"p50Ms":…,"p95Ms":…,"roundP50Ms":{"min":…,"max":…},"target":{"p95Ms":200},"met":…,"reference":{"pingRttP50Ms":…,"roundP50Ms":{…}},"idle":{…},"machine":{…}}`
 */
import * as dagCbor from "@ipld/dag-cbor";
import { peerIdFromString } from "@libp2p/peer-id";
import { PING_PROTOCOL } from "@libp2p/ping";
import { byteStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { type Announcement, signAnnouncement } from "../../protocol/announcement.ts";
import { announcementTopic } from "../../protocol/topics.ts";
import { makeBody } from "../../node/services/catalog/fixtures_test.ts";
import type { KosmosNode } from "../../node/node.ts";
import { numberFlag, percentile, progress, round2, startBenchNetwork, waitUntil } from "./net.ts";
import { interleave, machine, newIdleStats, settle, summarize } from "./lib/fair.ts";

const NODES = numberFlag("nodes", 20);
const MESSAGES = numberFlag("messages", 30);
const GAP_MS = numberFlag("gap", 100);
const ROUNDS = numberFlag("rounds", 3);
const PINGS = 30;
/** Ping attempts (successful or not) before the reference gives up. */
const MAX_PING_ATTEMPTS = 60;
const PING_TIMEOUT_MS = 1_000;
const REPLICATION = !Deno.args.includes("--no-replication");
const MESSAGE_TIMEOUT_MS = 10_000;
const CATEGORY = "environment";
const topic = announcementTopic(CATEGORY);

function hasListing(node: KosmosNode, id: string): boolean {
  try {
    node.components.catalog.getListing(id);
    return true;
  } catch (err) {
    if ((err as Error).name === "NotFoundError") return false;
    throw err;
  }
}

/** Peers in the node's gossipsub mesh for `topic` (the method exists at runtime but not on the exported type). */
function meshSize(node: KosmosNode): number {
  const pubsub = node.components.p2p.libp2p.services.pubsub as unknown as {
    getMeshPeers(t: string): unknown[];
  };
  return pubsub.getMeshPeers(topic).length;
}

/**
 * Round trips of libp2p ping from `from` to `to`, timed here (ping() reports
 * whole milliseconds). Failed attempts are counted and retried after a short
 * pause; see the module doc for why they happen. When the ping slot of the
 * connection stays taken, the rest is measured on a connection of its own.
 */
async function measurePing(
  from: KosmosNode,
  to: KosmosNode,
  count: number,
): Promise<{ rtts: number[]; failures: number }> {
  const ping = from.components.p2p.libp2p.services.ping;
  const target = peerIdFromString(to.peerId);
  const rtts: number[] = [];
  let failures = 0;
  let failedInARow = 0;
  // One extra ping first: it may open the stream on a fresh connection.
  for (let attempt = 0; rtts.length <= count && attempt < MAX_PING_ATTEMPTS; attempt++) {
    const t = performance.now();
    try {
      await ping.ping(target, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
      rtts.push(performance.now() - t);
      failedInARow = 0;
    } catch (err) {
      failures++;
      if (failures === 1) progress(`ping failed (${(err as Error).name}); retrying`);
      if (++failedInARow === 10) {
        progress("pinging over a connection of its own");
        try {
          rtts.push(...await pingOnOwnConnection(from, to, count + 1 - rtts.length));
        } catch (err) {
          failures++;
          progress(`failed to ping over a connection of its own: ${(err as Error).message}`);
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { rtts: rtts.slice(1), failures };
}

/** `count` ping round trips (ping protocol, one stream) on a new connection from `from` to `to`. */
async function pingOnOwnConnection(from: KosmosNode, to: KosmosNode, count: number): Promise<number[]> {
  // Dialling and negotiating wait behind every node's work on the shared event loop.
  const signal = AbortSignal.timeout(10_000 + PING_TIMEOUT_MS * count);
  const connection = await from.components.p2p.libp2p.dial(
    multiaddr(to.components.p2p.listenAddresses()[0]),
    { force: true, signal },
  );
  const rtts: number[] = [];
  try {
    const stream = await connection.newStream(PING_PROTOCOL, { signal });
    const bytes = byteStream(stream);
    for (let i = 0; i < count; i++) {
      const data = crypto.getRandomValues(new Uint8Array(32));
      const t = performance.now();
      const [, pong] = await Promise.all([bytes.write(data, { signal }), bytes.read({ bytes: 32, signal })]);
      rtts.push(performance.now() - t);
      if (!pong.subarray().every((b, j) => b === data[j])) throw new Error("Received a wrong ping reply");
    }
    await stream.close({ signal });
  } finally {
    await connection.close().catch(() => {});
  }
  return rtts;
}

const net = await startBenchNetwork(NODES, { logLevel: "error" });
let exitCode = 0;
try {
  const [publisher, ...others] = net.nodes;
  progress(`started ${NODES} nodes; waiting for connections and the ${topic} mesh`);

  // Every node connected to several peers, subscribed peers known, and a
  // gossipsub mesh on the topic (formed on heartbeats, once a second).
  const want = Math.min(4, NODES - 1);
  const stats = () =>
    net.nodes.map((n) =>
      `${n.components.p2p.peers().length}/${n.components.p2p.topicPeers(topic).length}/${meshSize(n)}`
    ).join(" ");
  const ticker = setInterval(() => progress(`peers/topic peers/mesh: ${stats()}`), 5000);
  await waitUntil("the gossipsub mesh", () =>
    net.nodes.every((n) => {
      return n.components.p2p.topicPeers(topic).length >= want && meshSize(n) >= want;
    }), { timeout: 60_000, interval: 200 }).finally(() => clearInterval(ticker));
  progress(
    `mesh ready: peers/node min ${Math.min(...net.nodes.map((n) => n.components.p2p.peers().length))}, ` +
      `mesh/node min ${Math.min(...net.nodes.map((n) => meshSize(n)))}`,
  );

  // Arrival times per announcement id, per receiving node.
  const arrivals = new Map<string, Map<string, number>>();
  let notIndexed = 0;
  const unsubscribe = others.map((node) =>
    node.components.p2p.subscribe(topic, ({ data }) => {
      const at = performance.now();
      const id = String((dagCbor.decode(data) as { manifestCid: unknown }).manifestCid);
      if (!hasListing(node, id)) notIndexed++;
      let seen = arrivals.get(id);
      if (!seen) arrivals.set(id, seen = new Map());
      if (!seen.has(node.peerId)) seen.set(node.peerId, at);
    })
  );

  const account = publisher.components.identity.account;
  const announcements: Announcement[] = [];
  for (let i = 0; i <= MESSAGES; i++) {
    announcements.push(
      await signAnnouncement(
        account,
        await makeBody(account.address, { title: `Bench reading ${i}`, providers: [publisher.peerId] }),
      ),
    );
  }

  if (!REPLICATION) await Promise.all(net.nodes.map((n) => n.components.replication.stop()));

  /** Publishes `count` announcements one at a time; returns each one's time to the last receiver. */
  let next = 0;
  const publishSome = async (count: number): Promise<number[]> => {
    const latencies: number[] = [];
    for (let k = 0; k < count && next < announcements.length; k++) {
      const i = next++;
      const announcement = announcements[i];
      const id = announcement.manifestCid;
      const start = performance.now();
      await publisher.components.catalog.publishAnnouncement(announcement);
      await waitUntil(
        `announcement ${i} to reach ${others.length} nodes`,
        () => (arrivals.get(id)?.size ?? 0) === others.length,
        { timeout: MESSAGE_TIMEOUT_MS, interval: 1 },
      );
      latencies.push(Math.max(...arrivals.get(id)!.values()) - start);
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    return latencies;
  };
  let pingFailures = 0;
  const idle = newIdleStats();
  const perRound = (total: number, round: number) =>
    round < 0 ? 1 : Math.floor(total / ROUNDS) + (round < total % ROUNDS ? 1 : 0);
  const rounds = await interleave(ROUNDS, {
    gossip: (round) => publishSome(perRound(MESSAGES, round)),
    ping: async (round) => {
      const { rtts, failures } = await measurePing(
        publisher,
        others[0],
        round < 0 ? 3 : perRound(PINGS, round),
      );
      pingFailures += failures;
      return rtts;
    },
  }, {
    before: () => settle(net.nodes, idle, { maxMs: 5_000 }),
    onRound: (r) => progress(`gossip: ${r < 0 ? "warm-up" : `round ${r + 1}/${ROUNDS}`}`),
  });
  for (const u of unsubscribe) u();
  if (notIndexed > 0) {
    throw new Error(`${notIndexed} deliveries reached a handler before the catalog had them`);
  }
  const latencies = rounds.gossip.flat();
  const rtts = rounds.ping.flat();
  const failures = pingFailures;
  progress(`measured ${latencies.length} announcements and ${rtts.length} pings`);
  if (rtts.length === 0) progress(`no ping succeeded (${failures} failures)`);
  const roundP50 = (values: number[][]) => {
    const { min, max } = summarize(values.filter((v) => v.length > 0).map((v) => percentile(v, 50)));
    return { min, max };
  };
  const p95Ms = round2(percentile(latencies, 95));

  console.log(JSON.stringify({
    bench: "gossip",
    nodes: NODES,
    messages: latencies.length,
    p50Ms: round2(percentile(latencies, 50)),
    p95Ms,
    maxMs: round2(Math.max(...latencies)),
    roundP50Ms: roundP50(rounds.gossip),
    rounds: ROUNDS,
    target: { p95Ms: 200 },
    met: p95Ms <= 200,
    reference: {
      pingRttP50Ms: rtts.length > 0 ? round2(percentile(rtts, 50)) : null,
      roundP50Ms: rtts.length > 0 ? roundP50(rounds.ping) : null,
      pings: rtts.length,
      pingFailures: failures,
    },
    idle,
    machine: machine(),
    replication: REPLICATION ? "running" : "stopped",
    measuredAt: "last receiver's p2p handler (after its catalog indexed the announcement)",
  }));
} catch (err) {
  console.error(err);
  console.log(
    JSON.stringify({ bench: "gossip", nodes: NODES, error: String((err as Error)?.message ?? err) }),
  );
  exitCode = 1;
} finally {
  await net.stop();
}
Deno.exit(exitCode);
