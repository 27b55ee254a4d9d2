/**
 * `deno task bench ingest [--seconds 10] [--concurrency 64]`: sustained
 * `POST /api/event` throughput and latency of one node, with the load coming
 * from a separate process over loopback HTTP/1.1 keep-alive connections.
 *
 * The node owns the site, so every accepted event goes the whole way on
 * this node: validation, bot filter, token buckets (raised so the load is not
 * rate-limited), UA/referrer parsing, the visitor HMAC, batching and the
 * analytics store. Reference, same run and same load generator:
 * `OPTIONS /api/event`, a route that does nothing but answer.
 *
 * The node's CPU time (all its threads, user + system) per request is
 * measured too: on a busy machine throughput moves with the neighbours, but
 * the node's cost per event against its cost per reference request does not.
 * Events wait for their batch (up to the flush interval), so the events
 * figure includes storing every accepted event: the run ends with a flush.
 *
 * Prints one JSON line:
 * `{"bench":"ingest","cores":…,"loadAverage":[…],"eventsPerSec":…,"p50Ms":…,"p99Ms":…,"cpuUsPerEvent":…,"accepted":…,"target":{"eventsPerSec":10000},"reference":{"requestsPerSec":…,"p99Ms":…,"cpuUsPerRequest":…}}`
 */
import { cpuUsage } from "node:process";
import { createNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { numberFlag, percentile, progress } from "./net.ts";

const SECONDS = numberFlag("seconds", 10);
const CONCURRENCY = numberFlag("concurrency", 64);
const SITE = "bench.example";
const UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

if (Deno.args.includes("--load")) await runLoad();
else await runBench();

/** The load generator (child process): prints `{ count, latencies summary }` as one JSON line. */
async function runLoad(): Promise<void> {
  const url = Deno.args[Deno.args.indexOf("--load") + 1];
  const method = Deno.args.includes("--reference") ? "OPTIONS" : "POST";
  const deadline = performance.now() + SECONDS * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const n = i++;
      const body = method === "POST"
        ? JSON.stringify({
          n: "pageview",
          u: `https://${SITE}/page-${n % 500}?utm_source=bench`,
          d: SITE,
          r: null,
        })
        : undefined;
      const started = performance.now();
      const res = await fetch(url, {
        method,
        body,
        headers: { "Content-Type": "text/plain", "User-Agent": UA },
      });
      await res.body?.cancel();
      latencies.push(performance.now() - started);
      if (res.status >= 400) errors++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  latencies.sort((a, b) => a - b);
  console.log(JSON.stringify({
    count: latencies.length,
    errors,
    perSec: Math.round(latencies.length / SECONDS),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  }));
}

async function runBench(): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-bench-ingest-" });
  // The site's web server, on loopback: it serves the domain proof the node asks it to publish.
  let proof = "";
  const site = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response(proof));
  const node = await createNode({
    dataDir,
    port: 0,
    logLevel: "error",
    siteProofOrigins: [`${SITE}=http://127.0.0.1:${site.addr.port}`],
  }, {
    logger: createLogger({ level: "error" }),
    services: { ingest: { clientRate: 1e9, clientBurst: 1e9, siteRate: 1e9, siteBurst: 1e9 } },
  });
  try {
    await node.start();
    proof = (await node.facade.registerSite(SITE)).proof;
    if ((await node.facade.checkSite(SITE)).status !== "verified") throw new Error("the site did not verify");
    let accepted = 0;
    node.components.ingest.onEvents((_site, events) => accepted += events.length);
    /** Runs the load generator; `after` runs before the node's CPU time is read. */
    const load = async (reference: boolean, after?: () => Promise<void>) => {
      const cpu = cpuUsage();
      const args = ["run", "-A", new URL(import.meta.url).pathname, "--load", `${node.url}/api/event`];
      args.push("--seconds", String(SECONDS), "--concurrency", String(CONCURRENCY));
      if (reference) args.push("--reference");
      const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
        .output();
      if (!out.success) throw new Error("the load generator failed");
      await after?.();
      const used = cpuUsage(cpu);
      const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      return { ...result, cpuUs: round((used.user + used.system) / Math.max(1, result.count)) };
    };
    progress("ingest: reference route");
    const reference = await load(true);
    progress("ingest: POST /api/event");
    const events = await load(false, () => node.components.ingest.flush());
    console.log(JSON.stringify({
      bench: "ingest",
      cores: navigator.hardwareConcurrency,
      loadAverage: Deno.loadavg().map((v) => Math.round(v * 100) / 100),
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      eventsPerSec: events.perSec,
      p50Ms: events.p50Ms,
      p99Ms: events.p99Ms,
      cpuUsPerEvent: events.cpuUs,
      errors: events.errors,
      accepted,
      target: { eventsPerSec: 10_000 },
      reference: {
        requestsPerSec: reference.perSec,
        p50Ms: reference.p50Ms,
        p99Ms: reference.p99Ms,
        cpuUsPerRequest: reference.cpuUs,
      },
    }));
  } finally {
    await node.stop();
    await site.shutdown();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
