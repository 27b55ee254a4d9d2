/**
 * `deno task bench table [--only a,b] [--from FILE]`: runs every benchmark with its default
 * settings (purchase also with 2 s blocks), one after the other, and prints the README's
 * performance table in markdown: each figure with the reference measured in the same run, their
 * ratio, the target, and the machine (CPU model, cores, Deno version, load average at the end).
 * Progress goes to stderr; the JSON line of every bench is appended to `--save FILE` when given.
 * `--from FILE` renders the table from JSON lines saved before instead of running the benches.
 *
 *     flock /tmp/kz/cpu.lock deno task bench table --save bench.jsonl > table.md
 *     deno task bench table --from bench.jsonl
 */
import { machine } from "./lib/fair.ts";

type Json = Record<string, unknown>;

/** Bench name and its arguments, in the order they run. */
const BENCHES: [string, string[]][] = [
  ["chunks", []],
  ["transfer", []],
  ["fetch", []],
  ["gossip", []],
  ["purchase", ["--block-time", "2"]],
  ["ingest", []],
  ["query", []],
  ["import", []],
  ["stream", []],
  ["gas", []],
];

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/** `obj.a.b` or undefined. */
function get(obj: Json | undefined, path: string): unknown {
  let v: unknown = obj;
  for (const key of path.split(".")) v = (v as Json | undefined)?.[key];
  return v;
}

function num(v: unknown, digits = 0): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function range(obj: Json | undefined, min: string, max: string, digits = 0): string {
  const lo = get(obj, min);
  const hi = get(obj, max);
  return typeof lo === "number" && typeof hi === "number" ? ` (${num(lo, digits)}–${num(hi, digits)})` : "";
}

function yes(v: unknown): string {
  return v === true ? "yes" : v === false ? "no" : "—";
}

/** A table row: bench, figure, reference, ratio, target, met. */
type Row = [string, string, string, string, string, string];

/** The rows of one bench's JSON line. */
function rowsOf(name: string, r: Json): Row[] {
  if (typeof r.error === "string") return [[name, `failed: ${r.error}`, "—", "—", "—", "no"]];
  switch (name) {
    case "chunks":
      return [[
        "chunks (encrypt + chunk + CID)",
        `${num(r.mbPerSec, 1)} MB/s${range(r, "mbPerSecMin", "mbPerSecMax", 1)}`,
        `raw AES-GCM ${num(get(r, "reference.rawAesGcmMbPerSec"), 1)} MB/s`,
        num(r.ratio, 2),
        "≥ 0.8",
        yes(r.met),
      ]];
    case "transfer":
      return [[
        "transfer (verified fetch, 2 nodes)",
        `${num(r.mbPerSec, 1)} MB/s${range(r, "spread.verified.min", "spread.verified.max", 1)}`,
        `raw libp2p stream ${num(get(r, "reference.rawStreamMbPerSec"), 1)} MB/s`,
        num(r.ratio, 2),
        "—",
        "—",
      ]];
    case "fetch":
      return [
        [
          `fetch (${num(r.mib)} MiB, ${num(r.providers)} providers)`,
          `${num(r.mbPerSec, 1)} MB/s${range(r, "spread.fetch.min", "spread.fetch.max", 1)}`,
          `raw libp2p stream ${num(get(r, "reference.rawStreamMbPerSec"), 1)} MB/s`,
          num(r.ratioRaw, 2),
          `≥ ${num(get(r, "targets.vsRaw"), 1)}`,
          yes(get(r, "met.vsRaw")),
        ],
        [
          "fetch vs bitswap",
          `${num(r.mbPerSec, 1)} MB/s`,
          `Helia bitswap ${num(get(r, "reference.bitswapMbPerSec"), 1)} MB/s`,
          num(r.ratioBitswap, 2),
          `≥ ${num(get(r, "targets.vsBitswap"), 1)}`,
          yes(get(r, "met.vsBitswap")),
        ],
      ];
    case "gossip":
      return [[
        `gossip (${num(r.nodes)} nodes, p95)`,
        `${num(r.p95Ms, 1)} ms (p50 ${num(r.p50Ms, 1)})`,
        `ping RTT p50 ${num(get(r, "reference.pingRttP50Ms"), 2)} ms`,
        num((r.p95Ms as number) / (get(r, "reference.pingRttP50Ms") as number), 0),
        `p95 ≤ ${num(get(r, "target.p95Ms"))} ms`,
        yes(r.met),
      ]];
    case "purchase": {
      const rows: Row[] = [[
        `purchase (${num((r.bytes as number) / 1048576)} MiB, instant blocks)`,
        `${num(r.ms)} ms${range(r, "msMin", "msMax")}, ${
          num(Number(get(r, "txs.buyer")) + Number(get(r, "txs.seller")))
        } txs`,
        `plain fetch ${num(get(r, "reference.fetchMs"))} ms`,
        num(r.ratio, 2),
        `< ${num(get(r, "target.ms"))} ms, ≤ ${num(get(r, "target.txs"))} txs`,
        yes(r.met),
      ]];
      const slow = r.blockTime as Json | null;
      if (slow) {
        rows.push([
          `purchase (${num(slow.seconds)} s blocks)`,
          `${num(slow.ms)} ms${range(slow, "msMin", "msMax")}`,
          `plain fetch ${num(get(slow, "reference.fetchMs"))} ms`,
          num(slow.ratio, 2),
          "—",
          "—",
        ]);
      }
      return rows;
    }
    case "ingest":
      return [[
        "ingest (stored events/s)",
        `${num(r.eventsPerSec)}/s${range(r, "eventsPerSecMin", "eventsPerSecMax")}, p99 ${
          num(r.p99Ms, 1)
        } ms`,
        `OPTIONS ${num(get(r, "reference.requestsPerSec"))}/s`,
        num(r.ratio, 2),
        `≥ ${num(get(r, "target.eventsPerSec"))}/s`,
        yes(r.met),
      ]];
    case "query":
      return [[
        `query (dashboard, ${num((r.events as number) / 1e6, 0)} M events, slowest p95)`,
        `${num(r.slowestP95Ms, 1)} ms`,
        `COUNT(*) p95 ${num(get(r, "reference.countP95Ms"), 1)} ms`,
        num((r.slowestP95Ms as number) / (get(r, "reference.countP95Ms") as number), 2),
        `≤ ${num(get(r, "target.p95Ms"))} ms`,
        yes(r.met),
      ]];
    case "import":
      return [[
        `import (Apple Health, ${num((r.bytes as number) / 1e9, 2)} GB, ${num(r.rows)} rows)`,
        `${num(r.rowsPerSec)} rows/s${range(r, "rowsPerSecMin", "rowsPerSecMax")}, ${
          num(r.mbPerSec, 1)
        } MB/s, peak RSS ${num(r.peakRssMb)} MB`,
        `saxes alone ${num(get(r, "reference.saxesMbPerSec"), 1)} MB/s`,
        num(r.ratioSaxes, 2),
        `peak RSS < ${num(get(r, "target.peakRssMb"))} MB`,
        yes(r.met),
      ]];
    case "stream": {
      const broker = get(r, "reference.brokerLatencyMs.p95") as number;
      return [
        [
          `stream (readings/s one gateway commits, ${num(r.sensors)} sensors over MQTT)`,
          `${num(r.readingsPerSec)}/s of ${num(r.offeredPerSec)}/s offered, ${num(r.committed)} of ${
            num(r.published)
          } committed; saturated ${num(get(r, "maxRun.readingsPerSec"))}/s`,
          "—",
          "—",
          `≥ ${num(get(r, "target.readingsPerSec"))}/s, none lost`,
          yes(r.met),
        ],
        [
          "stream: MQTT publish → decrypted at a buyer (p50 / p95)",
          `${num(get(r, "latencyMs.p50"), 1)} / ${num(get(r, "latencyMs.p95"), 1)} ms`,
          `broker alone ${num(get(r, "reference.brokerLatencyMs.p50"), 1)} / ${num(broker, 1)} ms`,
          num((get(r, "latencyMs.p95") as number) / broker, 1),
          "—",
          "—",
        ],
      ];
    }
    case "gas": {
      const ref = get(r, "reference.erc20Transfer") as number;
      return [
        [
          "gas: a later sale (open with permit + reveal + confirm)",
          num(r.honestSale),
          `ERC-20 transfer ${num(ref)}`,
          num((r.honestSale as number) / ref, 1),
          `≤ ${num(get(r, "target.honestSale"))}`,
          yes(get(r, "met.honestSale")),
        ],
        [
          "gas: a first sale (new seller, buyer or gateway)",
          num(r.honestSaleFirst),
          `ERC-20 transfer ${num(ref)}`,
          num((r.honestSaleFirst as number) / ref, 1),
          `≤ ${num(get(r, "target.honestSaleFirst"))}`,
          yes(get(r, "met.honestSaleFirst")),
        ],
      ];
    }
    default:
      return [];
  }
}

async function runBench(name: string, args: string[]): Promise<Json> {
  console.error(`[table] running ${name} ${args.join(" ")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`./${name}.ts`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line);
  } catch {
    return { bench: name, error: `exit code ${out.code}, no JSON line` };
  }
}

const only = arg("only")?.split(",");
const from = arg("from");
const save = arg("save");
const results = new Map<string, Json>();
if (from) {
  for (const line of (await Deno.readTextFile(from)).split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Json;
    results.set(String(r.bench), r);
  }
} else {
  for (const [name, args] of BENCHES) {
    if (only && !only.includes(name)) continue;
    const r = await runBench(name, args);
    results.set(name, r);
    if (save) await Deno.writeTextFile(save, JSON.stringify(r) + "\n", { append: true });
  }
}

const rows: Row[] = [];
for (const [name] of BENCHES) {
  const r = results.get(name);
  if (r) rows.push(...rowsOf(name, r));
}
const header: Row = [
  "benchmark",
  "figure (median, min–max)",
  "reference, same run",
  "ratio",
  "target",
  "met",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const m = (results.values().find((r) => r.machine)?.machine as ReturnType<typeof machine> | undefined) ??
  machine();
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
console.log();
console.log(
  `Measured on ${m.cpu}, ${m.cores} cores, Deno ${m.deno}` +
    (m.loadAverage ? `, load average ${m.loadAverage.join(" / ")}` : "") +
    "; `deno task bench table` regenerates it (docs/benchmarks.md).",
);
