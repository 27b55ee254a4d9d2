/**
 * `deno task bench import [--bytes 1100000000] [--rounds 1] [--warm-up-bytes 33554432]`: an Apple
 * Health export.xml of more than a gigabyte imported through the node's whole import path, and
 * the memory it takes.
 *
 * The file is generated first (`scripts/fixtures/apple_health.ts`, progress on stderr) into a
 * temporary folder, which is removed at the end. Each measurement runs in its own CHILD PROCESS so
 * its peak memory is its own: the parent reads `VmHWM` (the peak resident set) of
 * `/proc/<pid>/status` every 50 ms while the child runs, and the child reports its own at the end;
 * the larger counts.
 *
 * - **Subject**: `Sources.importFile("apple-health", file.readable, …)` into a SQLite database on
 *   disk opened as the node opens it (WAL): the byte counting and progress of `importFile`, the
 *   streaming saxes importer building rows, the row checks, and one transaction per batch of
 *   1000 rows with the reused insert statement of the store. The components `importFile` does not
 *   use (datasets, privacy, consent, chain: publishing) are absent, and any use of them fails the
 *   bench.
 * - **References**, on the same file in the same run: `decode` reads the file and decodes its
 *   UTF-8 (the floor of any importer), `saxes` runs the same parser with a handler that only counts
 *   elements (the XML parsing an importer cannot avoid, without our rows and SQLite).
 * - **Fair because** every side reads the same file from the page cache (it was just written),
 *   each in a fresh process; rounds alternate which side goes first (`lib/fair.ts` `interleave`);
 *   a warm-up round of every side on a small file of the same generator is not counted. Rows
 *   imported must equal the rows the generator wrote, or the bench fails.
 *
 * Prints one JSON line:
 * `{"bench":"import","bytes":…,"rows":…,"rowsPerSec":…,"mbPerSec":…,"peakRssMb":…,"target":{"peakRssMb":300,"minBytes":1000000000},"met":…,"reference":{"decodeMbPerSec":…,"saxesMbPerSec":…,…},"ratioSaxes":…,"cpuMsPerMiB":{…},"generate":{…},"machine":{…}}`
 */
import { join } from "node:path";
import { cpuUsage } from "node:process";
import { SaxesParser } from "saxes";
import { openDatabase } from "../../node/services/db/mod.ts";
import { Sources, type SourcesComponents } from "../../node/services/sources/mod.ts";
import { createLogger } from "../../node/log.ts";
import { writeHealthExport } from "../fixtures/apple_health.ts";
import { cpuMsSince, interleave, machine, median, numberArg, progress, round2 } from "./lib/fair.ts";

const MiB = 1024 * 1024;
/** Figures are in MB of 10^6 bytes (peak RSS too: `VmHWM` is in KiB, 1024 bytes). */
const MB = 1e6;
const TARGET_PEAK_RSS_MB = 300;
const MIN_BYTES = 1_000_000_000;
type Side = "import" | "saxes" | "decode";

/** What a child reports. */
interface ChildResult {
  side: Side;
  bytes: number;
  /** Rows imported (import) or elements seen (saxes) or characters decoded (decode). */
  count: number;
  ms: number;
  cpuMs: number;
  /** The child's own peak resident set at the end, in KiB. */
  vmHwmKb: number;
}

const childAt = Deno.args.indexOf("--child");
if (childAt >= 0) {
  await runChild(Deno.args[childAt + 1] as Side, Deno.args[childAt + 2], Deno.args[childAt + 3]);
} else await runBench();

function vmHwmKb(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? 0);
}

/** A component `importFile` must not touch: any use throws, so the bench cannot measure less than it claims. */
function absent(name: string): never {
  return new Proxy({}, {
    get(_, key) {
      throw new Error(`the import bench composes no ${name}; importFile used ${name}.${String(key)}`);
    },
  }) as never;
}

async function runChild(side: Side, path: string, dbPath: string): Promise<void> {
  const { size } = await Deno.stat(path);
  const file = await Deno.open(path);
  const cpu = cpuUsage();
  const started = performance.now();
  let count = 0;
  if (side === "import") {
    const db = openDatabase(dbPath);
    const log = createLogger({ level: "warn" }).forComponent("kosmos:sources");
    const components: SourcesComponents = {
      db,
      log,
      datasets: absent("datasets"),
      privacy: absent("privacy"),
      consent: absent("consent"),
      chain: absent("chain"),
    };
    const sources = new Sources(components);
    await sources.start();
    let shown = 0;
    const source = await sources.importFile("apple-health", file.readable, {
      filename: "export.xml",
      onProgress: (bytes) => {
        if (size >= 100 * MiB && bytes - shown >= size / 10) {
          shown = bytes;
          progress(`  import ${Math.round((bytes / size) * 100)} % (${Math.round(bytes / MiB)} MiB)`);
        }
      },
    });
    count = source.rows;
    db.close();
  } else if (side === "saxes") {
    const parser = new SaxesParser({ xmlns: false, position: true });
    parser.on("opentag", () => count++);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for await (const chunk of file.readable) parser.write(decoder.decode(chunk, { stream: true }));
    parser.write(decoder.decode());
    parser.close();
  } else {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for await (const chunk of file.readable) count += decoder.decode(chunk, { stream: true }).length;
    count += decoder.decode().length;
  }
  const result: ChildResult = {
    side,
    bytes: size,
    count,
    ms: performance.now() - started,
    cpuMs: cpuMsSince(cpu),
    vmHwmKb: vmHwmKb("self"),
  };
  console.log(JSON.stringify(result));
}

/** Runs one side in a child process; returns its result with the peak RSS sampled from outside. */
async function measureChild(
  side: Side,
  path: string,
  dbPath: string,
): Promise<ChildResult & { peakKb: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", side, path, dbPath],
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let peakKb = 0;
  const sample = () => {
    try {
      peakKb = Math.max(peakKb, vmHwmKb(child.pid));
    } catch { /* the child has exited */ }
  };
  const timer = setInterval(sample, 50);
  try {
    const { success, stdout } = await child.output();
    if (!success) throw new Error(`the ${side} child failed`);
    const result = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").pop()!) as ChildResult;
    return { ...result, peakKb: Math.max(peakKb, result.vmHwmKb) };
  } finally {
    clearInterval(timer);
    await Deno.remove(dbPath).catch(() => {});
    for (const suffix of ["-wal", "-shm"]) await Deno.remove(dbPath + suffix).catch(() => {});
  }
}

async function runBench(): Promise<void> {
  const bytes = numberArg("bytes", 1_100_000_000);
  const rounds = numberArg("rounds", 1);
  const warmUpBytes = numberArg("warm-up-bytes", 32 * MiB);
  const dir = await Deno.makeTempDir({ prefix: "kosmos-bench-import-" });
  try {
    const path = join(dir, "export.xml");
    const warmPath = join(dir, "warm-up.xml");
    progress(`generating a ${(bytes / 1e9).toFixed(2)} GB export.xml in ${dir}`);
    let shownPercent = -5;
    const generateStarted = performance.now();
    const stats = await writeHealthExport(path, { bytes, children: true }, {
      onProgress: (written) => {
        const percent = Math.floor((written / bytes) * 100);
        if (percent >= shownPercent + 5) {
          shownPercent = percent - (percent % 5);
          progress(`  generated ${Math.min(percent, 100)} % (${Math.round(written / MiB)} MiB)`);
        }
      },
    });
    const generateMs = performance.now() - generateStarted;
    const warmStats = await writeHealthExport(warmPath, { bytes: warmUpBytes, children: true, seed: 2 });
    progress(
      `generated ${stats.bytes} bytes, ${stats.rows} rows (${stats.records} records, ${stats.workouts} workouts)`,
    );

    let run = 0;
    const side = (name: Side) => async (round: number) => {
      const warm = round < 0;
      progress(`${warm ? "warm-up" : `round ${round + 1}/${rounds}`}: ${name}`);
      const result = await measureChild(name, warm ? warmPath : path, join(dir, `kosmos-${run++}.db`));
      if (name === "import" && result.count !== (warm ? warmStats.rows : stats.rows)) {
        throw new Error(
          `imported ${result.count} rows, the generator wrote ${warm ? warmStats.rows : stats.rows}`,
        );
      }
      progress(
        `  ${name}: ${round2(result.ms / 1000)} s, peak RSS ${round2((result.peakKb * 1024) / MB)} MB`,
      );
      return result;
    };
    const out = await interleave(rounds, {
      import: side("import"),
      saxes: side("saxes"),
      decode: side("decode"),
    });

    const mbPerSec = (r: ChildResult) => r.bytes / MB / (r.ms / 1000);
    const cpuPerMiB = (r: ChildResult) => r.cpuMs / (r.bytes / MiB);
    const spread = (values: number[]) => ({
      median: round2(median(values)),
      min: round2(Math.min(...values)),
      max: round2(Math.max(...values)),
    });
    const imp = out.import;
    const peakMb = (results: { peakKb: number }[]) =>
      round2((Math.max(...results.map((r) => r.peakKb)) * 1024) / MB);
    const peakRssMb = peakMb(imp);
    const rowsPerSec = imp.map((r) => r.count / (r.ms / 1000));
    const ratios = imp.map((r, i) => mbPerSec(r) / mbPerSec(out.saxes[i]));
    console.log(JSON.stringify({
      bench: "import",
      path: "Sources.importFile",
      bytes: stats.bytes,
      rows: stats.rows,
      rounds,
      rowsPerSec: Math.round(median(rowsPerSec)),
      rowsPerSecMin: Math.round(Math.min(...rowsPerSec)),
      rowsPerSecMax: Math.round(Math.max(...rowsPerSec)),
      mbPerSec: spread(imp.map(mbPerSec)).median,
      mbPerSecMin: spread(imp.map(mbPerSec)).min,
      mbPerSecMax: spread(imp.map(mbPerSec)).max,
      seconds: spread(imp.map((r) => r.ms / 1000)),
      peakRssMb,
      target: { peakRssMb: TARGET_PEAK_RSS_MB, minBytes: MIN_BYTES },
      met: peakRssMb < TARGET_PEAK_RSS_MB && stats.bytes >= MIN_BYTES,
      reference: {
        decodeMbPerSec: spread(out.decode.map(mbPerSec)).median,
        decodePeakRssMb: peakMb(out.decode),
        saxesMbPerSec: spread(out.saxes.map(mbPerSec)).median,
        saxesMbPerSecMin: spread(out.saxes.map(mbPerSec)).min,
        saxesMbPerSecMax: spread(out.saxes.map(mbPerSec)).max,
        saxesPeakRssMb: peakMb(out.saxes),
        saxesElements: out.saxes[0].count,
      },
      ratioSaxes: round2(median(ratios)),
      cpuMsPerMiB: {
        import: spread(imp.map(cpuPerMiB)),
        saxes: spread(out.saxes.map(cpuPerMiB)),
        decode: spread(out.decode.map(cpuPerMiB)),
      },
      generate: {
        seconds: round2(generateMs / 1000),
        mbPerSec: round2(stats.bytes / MB / (generateMs / 1000)),
      },
      machine: machine(),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
    progress(`removed ${dir}`);
  }
}
