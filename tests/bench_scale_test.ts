/**
 * The scale benchmark in its CI form: `deno task bench scale --smallest` (one
 * step of 4 real nodes and 100 listings, short windows, in a child process of
 * its own; the signed listings in a file of this test's temp dir) runs to the
 * end and prints well-formed JSON lines. Only that: the figures depend on the
 * machine.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "./helpers.ts";

const SCALE = new URL("../scripts/bench/scale.ts", import.meta.url).pathname;

/** Paths that must hold a number in every step line; `null` is allowed where a phase may find nothing. */
const NUMBERS = [
  "nodes",
  "listings",
  "listingsHeld",
  "datasets",
  "fillMs",
  "stepMs",
  "atRest.cpuMsPerNodePerMin",
  "atRest.bytesPerNodePerMin",
  "atRest.eventLoopLagP95Ms",
  "atRest.datasetsCheckedPerNode",
  "underLoad.cpuMsPerNodePerMin",
  "underLoad.bytesPerNodePerMin",
  "memory.rssMiB",
  "memory.perNodeMiB",
  "memory.diskMiBPerNode",
  "lateJoin.listings",
  "churn.events",
  "churn.notRestored",
  "churn.losses",
  "config.repairIntervalMs",
];
const NUMBERS_OR_NULL = [
  "propagation.p50Ms",
  "propagation.p95Ms",
  "dht.p50Ms",
  "dht.p95Ms",
  "lateJoin.syncMs",
  "lateJoin.perSecond",
  "churn.restoreP50Ms",
  "churn.restoreP95Ms",
  "reference.pingRttP50Ms",
  "atRest.cpuMsPerCheck",
];

function get(obj: unknown, path: string): unknown {
  let v = obj;
  for (const key of path.split(".")) v = (v as Record<string, unknown> | undefined)?.[key];
  return v;
}

Deno.test("bench scale --smallest completes and prints one well-formed JSON line per step", async () => {
  await using dir = await tempDir("kosmos-bench-scale-");
  const listingsFile = join(dir.path, "listings.bin");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCALE, "--smallest", "--listings-file", listingsFile],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(5 * 60_000),
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `bench scale failed:\n${err.slice(-3000)}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  assert.ok((await Deno.stat(listingsFile)).size > 0, "the signed listings were kept in the file given");
  assert.equal(lines.length, 1, "one step in the smallest form");
  for (const [i, text] of lines.entries()) {
    const line = JSON.parse(text);
    assert.equal(line.bench, "scale");
    assert.equal(line.step, i + 1);
    assert.equal(line.error, undefined);
    for (const path of NUMBERS) {
      const v = get(line, path);
      assert.ok(typeof v === "number" && Number.isFinite(v), `${path} is a number, got ${JSON.stringify(v)}`);
    }
    for (const path of NUMBERS_OR_NULL) {
      const v = get(line, path);
      assert.ok(v === null || (typeof v === "number" && Number.isFinite(v)), `${path}: ${JSON.stringify(v)}`);
    }
    assert.equal(typeof line.atRest.saturated, "boolean");
    assert.equal(line.process, "one process per step, all of its nodes in it");
    assert.ok(line.listingsHeld >= line.listings, "every node started with the step's listings");
    assert.equal(typeof line.machine?.cpu, "string");
    assert.equal(typeof line.machine?.cores, "number");
  }
});
