/**
 * What every benchmark of `scripts/bench/` shares to compare a subject with its
 * reference under the same conditions (docs/benchmarks.md): rounds that
 * alternate which side goes first, a warm-up round of each side that is not
 * counted, medians with their spread, and a wait for a quiet process (no
 * replication work, next to no CPU) before each measurement.
 *
 * ```ts
 * const rounds = await interleave(5, { subject: () => timeIt(work), reference: () => timeIt(base) });
 * console.log(summarize(rounds.subject)); // { median: …, min: …, max: …, samples: […] }
 * ```
 */
import { cpuUsage } from "node:process";
import type { KosmosNode } from "../../../node/node.ts";

/** Median, min and max of some samples, rounded to 2 decimals, with the samples in the order taken. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError("Cannot take the median of no samples");
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(values: number[]): Summary {
  return {
    median: round2(median(values)),
    min: round2(Math.min(...values)),
    max: round2(Math.max(...values)),
    samples: values.map(round2),
  };
}

/** ms of process CPU (user + system, every thread) since `from`. */
export function cpuMsSince(from: { user: number; system: number }): number {
  const { user, system } = cpuUsage(from);
  return (user + system) / 1000;
}

/** Runs `fn` and returns its wall time in ms and the process CPU it used in ms, with its result. */
export async function measure<T>(
  fn: () => Promise<T> | T,
): Promise<{ ms: number; cpuMs: number; result: T }> {
  const cpu = cpuUsage();
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, cpuMs: cpuMsSince(cpu), result };
}

/**
 * Runs `rounds` rounds of every side in `sides` after one warm-up round of
 * each (not returned). Round `i` runs the sides in their order rotated by `i`,
 * so no side always goes first or always follows the same one. `onRound` runs
 * at the start of every round (-1 is the warm-up), `before` before every
 * measurement (e.g. {@link settle}). Returns each side's values.
 */
export async function interleave<S extends Record<string, (round: number) => Promise<unknown>>>(
  rounds: number,
  sides: S,
  options: { before?: () => Promise<void>; onRound?: (round: number) => Promise<void> | void } = {},
): Promise<{ [K in keyof S]: Awaited<ReturnType<S[K]>>[] }> {
  type Out = { [K in keyof S]: Awaited<ReturnType<S[K]>>[] };
  const names = Object.keys(sides) as (keyof S & string)[];
  const out = Object.fromEntries(names.map((n) => [n, []])) as unknown as Out;
  for (let round = -1; round < rounds; round++) {
    await options.onRound?.(round);
    const shift = ((round % names.length) + names.length) % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      await options.before?.();
      const value = await sides[name](round);
      if (round >= 0) out[name].push(value as Awaited<ReturnType<S[typeof name]>>);
    }
  }
  return out;
}

/** The process counts as quiet under this share of one core of CPU... */
const QUIET_SHARE = 0.1;
/** ...over a window of this many ms. */
const QUIET_WINDOW_MS = 250;
/** ms to wait for a quiet process before measuring anyway (counted in `notQuiet`). */
const QUIET_MAX_MS = 15_000;

/** How the waits of {@link settle} went: reported in the JSON line as `idle`. */
export interface IdleStats {
  waits: number;
  meanMs: number;
  maxMs: number;
  notQuiet: number;
}

/**
 * Waits until no node has replication work running (a finished fetch
 * announces what it holds) and then until this process used under 10 % of a
 * core over 250 ms; gives up on quiet after `maxMs` (@default 15 s; counted in `stats`).
 */
export async function settle(
  nodes: KosmosNode[],
  stats?: IdleStats,
  options: { maxMs?: number } = {},
): Promise<void> {
  const maxMs = options.maxMs ?? QUIET_MAX_MS;
  const start = performance.now();
  while (true) {
    await Promise.all(nodes.map((n) => n.components.replication.whenIdle()));
    const cpu = cpuUsage();
    const t = performance.now();
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const share = cpuMsSince(cpu) / (performance.now() - t);
    const waited = performance.now() - start;
    if (share < QUIET_SHARE || waited > maxMs) {
      if (stats) {
        if (share >= QUIET_SHARE) stats.notQuiet++;
        stats.meanMs = round2((stats.meanMs * stats.waits + waited) / (stats.waits + 1));
        stats.waits++;
        stats.maxMs = round2(Math.max(stats.maxMs, waited));
      }
      return;
    }
  }
}

export function newIdleStats(): IdleStats {
  return { waits: 0, meanMs: 0, maxMs: 0, notQuiet: 0 };
}

/** Whether two byte arrays hold the same bytes (every byte compared). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The machine a run happened on, for every JSON line. */
export function machine(): { cpu: string; cores: number; deno: string; loadAverage: number[] } {
  let cpu = "unknown";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
  } catch { /* not Linux */ }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    loadAverage: Deno.loadavg().map(round2),
  };
}

/**
 * `--name value` or `--name=value` from `Deno.args` as a number of at least `min`, or `fallback`.
 * Prints the problem and exits with code 2 on a bad value.
 */
export function numberArg(name: string, fallback: number, min = 1): number {
  const i = Deno.args.indexOf(`--${name}`);
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const raw = eq !== undefined ? eq.slice(name.length + 3) : i >= 0 ? Deno.args[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min) {
    console.error(`--${name} must be a number of at least ${min}, got ${JSON.stringify(raw)}`);
    Deno.exit(2);
  }
  return value;
}

/** Logs a progress line to stderr (stdout carries only the result line). */
export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}
