/**
 * One Kosmos node alone in its own process, for `deno task bench scale`'s
 * choice between one process for every node and one process per node: starts
 * a node on loopback against the anvil at `--rpc URL`, stays idle for
 * `--seconds`, and prints one JSON line with the process's memory and CPU:
 * `{"rssMiB":…,"heapUsedMiB":…,"idleCpuMsPerMin":…}`.
 */
import { cpuUsage, memoryUsage } from "node:process";
import { createNode } from "../../../node/node.ts";
import { createLogger } from "../../../node/log.ts";
import { cpuMsSince, numberArg, round2 } from "./fair.ts";

const i = Deno.args.indexOf("--rpc");
const rpcUrl = i >= 0 ? Deno.args[i + 1] : undefined;
if (!rpcUrl) {
  console.error("usage: scale_one_node.ts --rpc URL [--seconds 20]");
  Deno.exit(2);
}
const seconds = numberArg("seconds", 20);
const dataDir = await Deno.makeTempDir({ prefix: "kosmos-scale-one-" });
const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [], rpcUrl }, {
  logger: createLogger({ level: "error" }),
});
try {
  await node.start();
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpuMs = cpuMsSince(cpu);
  const { rss, heapUsed } = memoryUsage();
  console.log(JSON.stringify({
    rssMiB: round2(rss / 1024 / 1024),
    heapUsedMiB: round2(heapUsed / 1024 / 1024),
    idleCpuMsPerMin: round2(cpuMs / ((performance.now() - start) / 60_000)),
  }));
} finally {
  await node.stop().catch(() => {});
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}
