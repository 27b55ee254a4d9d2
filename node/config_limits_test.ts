import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";

Deno.test("loadConfig() takes --target-peers and --max-connections from flags and env, unset by default, and rejects bad values", async () => {
  const defaults = await loadConfig({ args: ["--data-dir", "/nonexistent-kosmos"] });
  assert.equal(defaults.targetPeers, undefined, "unset: the p2p service picks by role");
  assert.equal(defaults.maxConnections, undefined);
  const flags = await loadConfig({ args: ["--target-peers", "8", "--max-connections=40"] });
  assert.deepEqual([flags.targetPeers, flags.maxConnections], [8, 40]);
  const env = await loadConfig({ env: { KOSMOS_TARGET_PEERS: "12", KOSMOS_MAX_CONNECTIONS: "300" } });
  assert.deepEqual([env.targetPeers, env.maxConnections], [12, 300]);
  await assert.rejects(loadConfig({ args: ["--max-connections", "1"] }), /maxConnections must be .* from 2/);
  await assert.rejects(loadConfig({ args: ["--max-connections", "2.5"] }), /maxConnections/);
  await assert.rejects(
    loadConfig({ args: ["--max-connections", "10", "--target-peers", "11"] }),
    /targetPeers must be a whole number from 1 to maxConnections \(10\)/,
  );
  await assert.rejects(loadConfig({ args: ["--target-peers", "0"] }), /targetPeers/);
});
