/**
 * Shared pieces of the multi-node benchmarks: real Kosmos nodes started in
 * this process on loopback, sharing one anvil, each bootstrapping to the
 * first; a synthetic CSV dataset; sending chunks down a raw stream; flag
 * parsing; percentiles; waiting on a condition.
 *
 * ```ts
 * await using net = await startBenchNetwork(3, { logLevel: "error" });
 * const [a, b] = net.nodes;
 * ```
 */
import { createNode, type CreateNodeOptions, type KosmosNode } from "../../node/node.ts";
import { createLogger, type LogLevel } from "../../node/log.ts";
import { type Anvil, startAnvil } from "../../node/services/chain/anvil.ts";
import type { NodeConfig } from "../../node/config.ts";
import type { Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";

export const MiB = 1024 * 1024;

export interface BenchNetwork extends AsyncDisposable {
  nodes: KosmosNode[];
  anvil: Anvil;
  /** Starts one more node (fresh data dir) that bootstraps to the first. */
  addNode(config?: Partial<NodeConfig>, options?: CreateNodeOptions): Promise<KosmosNode>;
  stop(): Promise<void>;
}

export interface StartBenchNetworkOptions {
  /** @default "error" */
  logLevel?: LogLevel;
  /** Config every node gets. @default {} */
  config?: Partial<NodeConfig>;
  /** Service settings every node gets. @default {} */
  services?: CreateNodeOptions["services"];
}

export async function startBenchNetwork(
  count: number,
  options: StartBenchNetworkOptions = {},
): Promise<BenchNetwork> {
  const anvil = await startAnvil();
  const logger = createLogger({ level: options.logLevel ?? "error" });
  const nodes: KosmosNode[] = [];
  const dirs: string[] = [];
  const addNode = async (extra: Partial<NodeConfig> = {}, nodeOptions: CreateNodeOptions = {}) => {
    const dataDir = await Deno.makeTempDir({ prefix: "kosmos-bench-" });
    dirs.push(dataDir);
    const node = await createNode({
      dataDir,
      port: 0,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: nodes.length > 0 ? [nodes[0].components.p2p.listenAddresses()[0]] : [],
      rpcUrl: anvil.rpcUrl,
      storage: { quotaGB: 0 },
      ...options.config,
      ...extra,
    }, { logger, services: options.services, ...nodeOptions });
    await node.start();
    if (nodes.length > 0) await joinNetwork(node, nodes[0]);
    nodes.push(node);
    return node;
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
    await anvil.stop().catch(() => {});
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  };
  try {
    for (let i = 0; i < count; i++) await addNode();
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, anvil, addNode, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Waits until `node` is connected to at least one peer; dials `seed` itself
 * when bootstrapping has not connected it within a second (loopback nodes
 * started back to back can hit the seed's inbound connection rate limit, and
 * the bootstrap dial is not retried).
 */
async function joinNetwork(node: KosmosNode, seed: KosmosNode): Promise<void> {
  const p2p = node.components.p2p;
  const deadline = performance.now() + 15_000;
  let redials = 0;
  for (let waited = 0; p2p.peers().length === 0; waited += 50) {
    if (performance.now() > deadline) throw new Error(`node ${node.peerId} could not join the network`);
    if (waited >= 1000 && waited % 1000 === 0) {
      redials++;
      await p2p.libp2p.dial(multiaddr(seed.components.p2p.listenAddresses()[0])).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (redials > 0) progress(`node ${node.peerId.slice(-6)} needed ${redials} redial(s) of the seed to join`);
}

/** A sensor-readings CSV of at most `bytes` bytes (whole lines only), the same for every call. */
export function makeCsv(bytes: number): Uint8Array {
  const enc = new TextEncoder();
  const out = new Uint8Array(bytes);
  let off = 0;
  off += enc.encodeInto("id,ts,sensor,value\n", out).written;
  for (let i = 0; off < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},s${i % 97},${(i * 7919 % 100_000) / 100}\n`;
    const { written } = enc.encodeInto(line, out.subarray(off));
    if (written < line.length) break;
    off += written;
  }
  return out.subarray(0, off);
}

/** Writes `chunks` to `stream`, waiting for it to drain when full, then closes it. */
export async function sendAll(stream: Stream, chunks: Uint8Array[]): Promise<void> {
  for (const chunk of chunks) if (!stream.send(chunk)) await stream.onDrain();
  await stream.close();
}

/** `--name value` from `Deno.args` as a number, or `fallback`. Throws a `RangeError` for a non-number. */
export function numberFlag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const raw = eq !== undefined ? eq.slice(name.length + 3) : i >= 0 ? Deno.args[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`--${name} must be a positive number, got ${raw}`);
  }
  return value;
}

/** The `p`-th percentile (0–100, nearest rank) of `values`. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The median of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

/** Resolves once `condition()` holds, polling every `interval` ms; rejects after `timeout` ms. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: { timeout?: number; interval?: number } = {},
): Promise<void> {
  const deadline = performance.now() + (options.timeout ?? 30_000);
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.interval ?? 50));
  }
}

/** Logs a progress line to stderr (stdout carries only the result line). */
export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}
