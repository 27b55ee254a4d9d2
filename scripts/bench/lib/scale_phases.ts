/**
 * The measurements of one step of `deno task bench scale` (scripts/bench/scale.ts
 * says what a step is and how the figures are to be read). Each function runs
 * one phase against a running {@link ScaleNetwork} and returns plain numbers.
 */
import { CID } from "multiformats/cid";
import { cpuUsage, memoryUsage } from "node:process";
import { peerIdFromString } from "@libp2p/peer-id";
import type { KosmosNode } from "../../../node/node.ts";
import type { ListingIndexedDetail } from "../../../node/services/catalog/mod.ts";
import { makeBody } from "../../../node/services/catalog/fixtures_test.ts";
import { type Announcement, signAnnouncement } from "../../../protocol/announcement.ts";
import { makeCsv, percentile, round2, waitUntil } from "../net.ts";
import { cpuMsSince, progress } from "./fair.ts";
import { catalogSize, type ScaleNetwork } from "./scale_net.ts";

export const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];

/** p50 and p95 (nearest rank) of some millisecond samples, rounded, or null when there are none. */
export function spread(ms: number[]): { p50Ms: number | null; p95Ms: number | null } {
  return ms.length === 0
    ? { p50Ms: null, p95Ms: null }
    : { p50Ms: round2(percentile(ms, 50)), p95Ms: round2(percentile(ms, 95)) };
}

/** Live nodes that hold `cid` in full and provide it. */
export function holders(net: ScaleNetwork, cid: string): KosmosNode[] {
  return net.nodes.filter((n) => n.components.replication.getReplication(cid)?.local);
}

/** Publishes `count` small real datasets from distinct nodes and waits (bounded) until each has `target` holders. */
export async function publishDatasets(
  net: ScaleNetwork,
  count: number,
  target: number,
  timeoutMs: number,
): Promise<{ cids: string[]; replicated: number; ms: number }> {
  const started = performance.now();
  const publishers = net.nodes.slice(1);
  const cids = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const node = publishers[i % publishers.length];
    const csv = makeCsv(32 * 1024 + i);
    const { manifestCid } = await node.components.datasets.publishDataset(ReadableStream.from([csv]), {
      title: `Scale bench dataset ${i}`,
      category: "environment",
      price: "1000000000000000000",
      licence: "kosmos-research-1",
      filename: `scale-${i}.csv`,
    });
    return manifestCid as string;
  }));
  const replicated = () => cids.filter((c) => holders(net, c).length >= target).length;
  await waitUntil("every dataset at its target", () => replicated() === count, {
    timeout: timeoutMs,
    interval: 250,
  }).catch(() => progress(`${replicated()}/${count} datasets reached ${target} holders in time`));
  return { cids, replicated: replicated(), ms: round2(performance.now() - started) };
}

/** A fresh signed announcement by `node`. */
async function newAnnouncement(node: KosmosNode, title: string): Promise<Announcement> {
  const account = node.components.identity.account;
  return signAnnouncement(account, await makeBody(account.address, { title, providers: [node.peerId] }));
}

/**
 * Publishes `count` announcements one at a time from random nodes; each is
 * timed from the publish call until every other running node's catalog has
 * indexed it (its `"listing"` event), with `gapMs` between them.
 */
export async function measurePropagation(
  net: ScaleNetwork,
  count: number,
  options: { gapMs?: number; timeoutMs?: number } = {},
): Promise<{ messages: number; lost: number; p50Ms: number | null; p95Ms: number | null }> {
  const arrivals = new Map<string, Set<string>>();
  const nodes = [...net.nodes];
  const listeners = nodes.map((node) => {
    const listener = (e: Event) => {
      const id = (e as CustomEvent<ListingIndexedDetail>).detail.manifestCid;
      let seen = arrivals.get(id);
      if (!seen) arrivals.set(id, seen = new Set());
      seen.add(node.peerId);
    };
    node.components.catalog.addEventListener("listing", listener);
    return () => node.components.catalog.removeEventListener("listing", listener);
  });
  const latencies: number[] = [];
  let lost = 0;
  try {
    for (let i = 0; i < count; i++) {
      const publisher = pick(nodes.slice(1));
      const announcement = await newAnnouncement(publisher, `Propagation ${i}`);
      const id = announcement.manifestCid;
      const start = performance.now();
      await publisher.components.catalog.publishAnnouncement(announcement);
      try {
        await waitUntil(
          `announcement ${i} on ${nodes.length} nodes`,
          () => arrivals.get(id)?.size === nodes.length,
          {
            timeout: options.timeoutMs ?? 10_000,
            interval: 2,
          },
        );
        latencies.push(performance.now() - start);
      } catch {
        lost++;
      }
      await sleep(options.gapMs ?? 200);
    }
  } finally {
    for (const remove of listeners) remove();
  }
  return { messages: latencies.length, lost, ...spread(latencies) };
}

/** Times DHT provider lookups (to the first provider record) of `cids` from random nodes that do not hold them. */
export async function measureLookups(
  net: ScaleNetwork,
  cids: string[],
  count: number,
  timeoutMs = 10_000,
): Promise<{ lookups: number; failures: number; p50Ms: number | null; p95Ms: number | null }> {
  const times: number[] = [];
  let failures = 0;
  for (let i = 0; i < count && cids.length > 0; i++) {
    const cid = cids[i % cids.length];
    const askers = net.nodes.filter((n) => !n.components.replication.getReplication(cid)?.local);
    if (askers.length === 0) continue;
    const asker = pick(askers);
    const signal = AbortSignal.timeout(timeoutMs);
    const start = performance.now();
    let found = false;
    try {
      for await (
        const provider of asker.components.p2p.libp2p.contentRouting.findProviders(CID.parse(cid), { signal })
      ) {
        if (!provider.id.equals(asker.components.p2p.libp2p.peerId)) {
          found = true;
          break;
        }
      }
    } catch { /* timed out or failed: counted below */ }
    if (found) times.push(performance.now() - start);
    else failures++;
  }
  return { lookups: times.length, failures, ...spread(times) };
}

/** Process CPU, bytes sent and event-loop lag over a window, per node and minute. */
export interface WindowCost {
  seconds: number;
  cpuMsPerNodePerMin: number;
  /** Share of one core the whole process used. */
  processCoreShare: number;
  bytesPerNodePerMin: number;
  /** Replication checks (a provider count) per node and minute. */
  repairChecksPerNodePerMin: number;
  /** Of those, the ones made by a DHT lookup (the rest confirmed a dataset's known providers). */
  dhtLookupsPerNodePerMin: number;
  /** Distinct datasets each node checked in the window, on average: the ones it looks after. */
  datasetsCheckedPerNode: number;
  /** Process CPU per replication check (null without checks): valid even when the process is saturated. */
  cpuMsPerCheck: number | null;
  /**
   * The process used at least 0.9 of a core: its event loop was the limit, so the work per node was
   * capped (fewer checks than due) and the CPU per node is the core divided among the nodes.
   */
  saturated: boolean;
  eventLoopLagP95Ms: number;
}

/**
 * Measures the process's CPU (every thread) and the bytes the nodes wrote to
 * their TCP connections over `seconds`, while `work` runs (at rest: nothing).
 */
export async function measureWindow(
  net: ScaleNetwork,
  seconds: number,
  work?: (signal: AbortSignal) => Promise<void>,
): Promise<WindowCost> {
  const nodes = [...net.nodes];
  const bytesBefore = nodes.map((n) => net.bytesSent(n));
  let checks = 0;
  const lookupsBefore = nodes.map((n) => n.components.replication.repairTotals.lookups);
  const checked = new Map<KosmosNode, Set<string>>(nodes.map((n) => [n, new Set()]));
  const listeners = nodes.map((n) => {
    const listener = (e: Event) => {
      checks++;
      checked.get(n)!.add((e as CustomEvent<{ manifestCid: string }>).detail.manifestCid);
    };
    n.components.replication.addEventListener("checked", listener);
    return () => n.components.replication.removeEventListener("checked", listener);
  });
  const lags: number[] = [];
  let expected = performance.now() + 100;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - expected));
    expected = now + 100;
  }, 100);
  const cpu = cpuUsage();
  const start = performance.now();
  const controller = new AbortController();
  const running = work?.(controller.signal).catch((err) => progress(`load failed: ${err.message}`));
  await sleep(seconds * 1000);
  controller.abort();
  const cpuMs = cpuMsSince(cpu);
  const elapsedMin = (performance.now() - start) / 60_000;
  clearInterval(lagTimer);
  for (const remove of listeners) remove();
  await running;
  const bytes = nodes.reduce((sum, n, i) => sum + net.bytesSent(n) - bytesBefore[i], 0);
  const lookups = nodes.reduce(
    (sum, n, i) => sum + n.components.replication.repairTotals.lookups - lookupsBefore[i],
    0,
  );
  return {
    seconds,
    cpuMsPerNodePerMin: round2(cpuMs / nodes.length / elapsedMin),
    processCoreShare: round2(cpuMs / (elapsedMin * 60_000)),
    bytesPerNodePerMin: Math.round(bytes / nodes.length / elapsedMin),
    repairChecksPerNodePerMin: round2(checks / nodes.length / elapsedMin),
    dhtLookupsPerNodePerMin: round2(lookups / nodes.length / elapsedMin),
    cpuMsPerCheck: checks > 0 ? round2(cpuMs / checks) : null,
    saturated: cpuMs / (elapsedMin * 60_000) >= 0.9,
    datasetsCheckedPerNode: round2([...checked.values()].reduce((sum, s) => sum + s.size, 0) / nodes.length),
    eventLoopLagP95Ms: round2(percentile(lags, 95)),
  };
}

/** Load for {@link measureWindow}: `perSecond` new announcements from random nodes, signed beforehand. */
export async function announcementLoad(
  net: ScaleNetwork,
  perSecond: number,
  seconds: number,
): Promise<(signal: AbortSignal) => Promise<void>> {
  const total = Math.ceil(perSecond * seconds);
  const planned: { node: KosmosNode; announcement: Announcement }[] = [];
  for (let i = 0; i < total; i++) {
    const node = pick(net.nodes.slice(1));
    planned.push({ node, announcement: await newAnnouncement(node, `Load ${i}`) });
  }
  return async (signal) => {
    const start = performance.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < planned.length && !signal.aborted; i++) {
      const due = start + (i * 1000) / perSecond - performance.now();
      if (due > 0) await sleep(due);
      const { node, announcement } = planned[i];
      pending.push(node.components.catalog.publishAnnouncement(announcement).catch(() => {}));
    }
    await Promise.all(pending);
  };
}

/** Memory of the process and the nodes' data dirs. */
export async function measureMemory(
  net: ScaleNetwork,
  rssBeforeMiB: number,
): Promise<{ rssMiB: number; heapUsedMiB: number; perNodeMiB: number; diskMiBPerNode: number }> {
  const { rss, heapUsed } = memoryUsage();
  const disk = await Promise.all(net.nodes.map((n) => net.diskBytes(n)));
  return {
    rssMiB: round2(rss / MiB),
    heapUsedMiB: round2(heapUsed / MiB),
    perNodeMiB: round2((rss / MiB - rssBeforeMiB) / net.nodes.length),
    diskMiBPerNode: round2(disk.reduce((a, b) => a + b, 0) / disk.length / MiB),
  };
}

/**
 * A fresh node joins; timed from its start until its catalog holds as many
 * listings as the seed's, by the syncs it starts itself when it meets peers
 * (nothing is driven here). Gives up after `timeoutMs`, or when its catalog
 * has not grown for `stallMs`.
 */
export async function measureLateJoin(
  net: ScaleNetwork,
  options: { timeoutMs: number; stallMs: number },
): Promise<
  { syncMs: number | null; listings: number; of: number; perSecond: number | null; error?: string }
> {
  const want = catalogSize(net.nodes[0]);
  const start = performance.now();
  let joiner: KosmosNode;
  try {
    joiner = await net.addNode();
  } catch (err) {
    // The step's other figures stand: a joiner that could not connect is a finding, not a failed step.
    return { syncMs: null, listings: 0, of: want, perSecond: null, error: (err as Error).message };
  }
  let last = -1, grewAt = performance.now();
  // Listings indexed per second until the catalog last grew (each one's signature verified).
  const rate = (size: number) => size > 0 ? round2(size / ((grewAt - start) / 1000)) : null;
  while (performance.now() - start < options.timeoutMs) {
    const size = catalogSize(joiner);
    if (size > last) [last, grewAt] = [size, performance.now()];
    if (size >= want) {
      return { syncMs: round2(performance.now() - start), listings: size, of: want, perSecond: rate(size) };
    }
    if (performance.now() - grewAt > options.stallMs) break;
    await sleep(100);
  }
  const size = catalogSize(joiner);
  return { syncMs: null, listings: size, of: want, perSecond: rate(size) };
}

/** Pings between two nodes (the reference measured in every step). */
export async function measurePing(a: KosmosNode, b: KosmosNode, count: number): Promise<number | null> {
  const ping = a.components.p2p.libp2p.services.ping;
  const rtts: number[] = [];
  for (let i = 0; i <= count && i < count * 3; i++) {
    const t = performance.now();
    try {
      await ping.ping(peerIdFromString(b.peerId), { signal: AbortSignal.timeout(1000) });
      if (i > 0) rtts.push(performance.now() - t);
    } catch { /* the connection monitor's ping may hold the slot: try again */ }
  }
  return rtts.length > 0 ? round2(percentile(rtts, 50)) : null;
}
