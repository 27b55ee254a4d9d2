/**
 * `deno task bench ingest [--seconds 5] [--rounds 3] [--concurrency 64]`: how many analytics
 * events per second one node accepts and stores, with the load coming from a separate process
 * over loopback HTTP/1.1 keep-alive connections.
 *
 * Subject: `POST /api/event` for a site the node owns, so every event goes the whole way on this
 * node: validation, bot filter, token buckets (raised so the load is not rate-limited), UA and
 * referrer parsing, the visitor HMAC, batching and the analytics store. Counted: only events that
 * got a `202` without `X-Kosmos-Dropped` and whose rows are in the analytics table afterwards
 * (rows counted in SQLite), divided by the real elapsed time: from the load generator's first
 * request to its last response, plus the final flush that stores the last batch. Dropped events
 * (by reason), error statuses and failed requests are reported separately, not counted.
 * Reference: `OPTIONS /api/event` under the same load, a route that does nothing but answer
 * (2xx answers per real elapsed second).
 *
 * Same conditions: one node, one load generator, rounds alternating which side goes first
 * (`--rounds`, after a warm-up round of both sides of at most 2 s, not counted); figures are
 * medians with their min and max. The node's CPU time (all its threads, user + system) per
 * request is measured too: on a busy machine throughput moves with the neighbours, the node's
 * cost per event against its cost per reference request much less.
 *
 * Prints one JSON line:
 * `{"bench":"ingest","eventsPerSec":…,"eventsPerSecMin":…,"eventsPerSecMax":…,"p50Ms":…,"p99Ms":…,"cpuUsPerEvent":…,"stored":…,"accepted":…,"dropped":{…},"errors":{…},"failed":…,"target":{"eventsPerSec":10000},"met":…,"reference":{"requestsPerSec":…,…},"machine":{…}}`
 */
import { cpuUsage } from "node:process";
import { createNode } from "../../node/node.ts";
import { createLogger } from "../../node/log.ts";
import { DROP_HEADER } from "../../protocol/analytics.ts";
import {
  cpuMsSince,
  interleave,
  machine,
  median,
  numberArg,
  progress,
  round2,
  summarize,
} from "./lib/fair.ts";

const SECONDS = numberArg("seconds", 5);
const ROUNDS = numberArg("rounds", 3);
const CONCURRENCY = numberArg("concurrency", 64);
const WARM_UP_SECONDS = Math.min(2, SECONDS);
const SITE = "bench.example";
const UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

/** What the load generator reports for one run. */
interface LoadResult {
  /** Requests answered 2xx (for POST: without a drop header). */
  ok: number;
  /** 202 answers with a drop header, by reason. */
  dropped: Record<string, number>;
  /** Answers with a 3xx–5xx status, by status. */
  errors: Record<string, number>;
  /** Requests that got no answer (connection errors). */
  failed: number;
  /** From the first request to the last answer. */
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
}

if (Deno.args.includes("--load")) await runLoad();
else await runBench();

/** The load generator (child process): prints one {@link LoadResult} as a JSON line. */
async function runLoad(): Promise<void> {
  const url = Deno.args[Deno.args.indexOf("--load") + 1];
  const method = Deno.args.includes("--reference") ? "OPTIONS" : "POST";
  const latencies: number[] = [];
  const result: LoadResult = { ok: 0, dropped: {}, errors: {}, failed: 0, elapsedMs: 0, p50Ms: 0, p99Ms: 0 };
  let i = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
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
      const t = performance.now();
      try {
        const res = await fetch(url, {
          method,
          body,
          headers: { "Content-Type": "text/plain", "User-Agent": UA },
        });
        await res.body?.cancel();
        latencies.push(performance.now() - t);
        const drop = res.headers.get(DROP_HEADER);
        if (res.status >= 300) result.errors[res.status] = (result.errors[res.status] ?? 0) + 1;
        else if (drop) result.dropped[drop] = (result.dropped[drop] ?? 0) + 1;
        else result.ok++;
      } catch {
        result.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  result.elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil(p / 100 * latencies.length) - 1)];
  result.p50Ms = round2(at(50) ?? NaN);
  result.p99Ms = round2(at(99) ?? NaN);
  console.log(JSON.stringify(result));
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
    const countRows = node.components.db.prepare("SELECT COUNT(*) AS n FROM analytics_events WHERE site = ?");
    const rows = () => Number((countRows.get(SITE) as { n: number | bigint }).n);

    /** One run of the load generator against `method`, with the node's CPU and the rows it stored. */
    const load = async (reference: boolean, seconds: number) => {
      const before = rows();
      const cpu = cpuUsage();
      const args = ["run", "-A", new URL(import.meta.url).pathname, "--load", `${node.url}/api/event`];
      args.push("--seconds", String(seconds), "--concurrency", String(CONCURRENCY));
      if (reference) args.push("--reference");
      const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
        .output();
      if (!out.success) throw new Error("the load generator failed");
      const flushStarted = performance.now();
      if (!reference) await node.components.ingest.flush();
      const flushMs = performance.now() - flushStarted;
      const cpuMs = cpuMsSince(cpu);
      const result: LoadResult = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      const stored = rows() - before;
      const elapsedS = (result.elapsedMs + flushMs) / 1000;
      return {
        ...result,
        stored,
        flushMs,
        perSec: (reference ? result.ok : stored) / elapsedS,
        cpuUs: (cpuMs * 1000) / Math.max(1, reference ? result.ok : stored),
      };
    };
    const rounds = await interleave(ROUNDS, {
      events: (round) => load(false, round < 0 ? WARM_UP_SECONDS : SECONDS),
      reference: (round) => load(true, round < 0 ? WARM_UP_SECONDS : SECONDS),
    }, { onRound: (r) => progress(`ingest: ${r < 0 ? "warm-up" : `round ${r + 1}/${ROUNDS}`}`) });

    const events = summarize(rounds.events.map((r) => r.perSec));
    const reference = summarize(rounds.reference.map((r) => r.perSec));
    const sum = (f: (r: typeof rounds.events[number]) => number) =>
      rounds.events.reduce((a, r) => a + f(r), 0);
    const add = (into: Record<string, number>, from: Record<string, number>) => {
      for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
      return into;
    };
    const accepted = sum((r) => r.ok);
    const stored = sum((r) => r.stored);
    console.log(JSON.stringify({
      bench: "ingest",
      seconds: SECONDS,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      eventsPerSec: Math.round(events.median),
      eventsPerSecMin: Math.round(events.min),
      eventsPerSecMax: Math.round(events.max),
      p50Ms: round2(median(rounds.events.map((r) => r.p50Ms))),
      p99Ms: round2(median(rounds.events.map((r) => r.p99Ms))),
      cpuUsPerEvent: round2(median(rounds.events.map((r) => r.cpuUs))),
      stored,
      accepted,
      notStored: accepted - stored,
      dropped: rounds.events.reduce((a, r) => add(a, r.dropped), {}),
      errors: rounds.events.reduce((a, r) => add(a, r.errors), {}),
      failed: sum((r) => r.failed),
      flushMs: round2(median(rounds.events.map((r) => r.flushMs))),
      target: { eventsPerSec: 10_000 },
      met: events.median >= 10_000,
      reference: {
        requestsPerSec: Math.round(reference.median),
        requestsPerSecMin: Math.round(reference.min),
        requestsPerSecMax: Math.round(reference.max),
        p50Ms: round2(median(rounds.reference.map((r) => r.p50Ms))),
        p99Ms: round2(median(rounds.reference.map((r) => r.p99Ms))),
        cpuUsPerRequest: round2(median(rounds.reference.map((r) => r.cpuUs))),
        errors: rounds.reference.reduce((a, r) => add(a, r.errors), {}),
        failed: rounds.reference.reduce((a, r) => a + r.failed, 0),
      },
      ratio: round2(events.median / reference.median),
      machine: machine(),
    }));
  } finally {
    await node.stop();
    await site.shutdown();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}
