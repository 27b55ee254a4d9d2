/**
 * `kosmos pool` as a person runs it, against a real node on its embedded chain: `create` without
 * `--yes` and without a terminal signs nothing (exit 2), with `--yes` creates the pool on chain with
 * the hash of its terms; `list` shows it; bad usage exits 2; what the node refuses (publishing a pool
 * without members, joining one's own pool, leaving a pool one is not in) exits 1.
 */
import assert from "node:assert/strict";
import type { CreatedPool, PoolView } from "../protocol/api/mod.ts";
import { getPool } from "../node/services/chain/mod.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { startAppNode } from "./node_app.ts";

Deno.test("kosmos pool create, list, join, leave and publish act on the node and the pools contract", async (t) => {
  await using started = await startAppNode("kosmos-cli-pools-");
  const { node } = started;
  const chain = node.components.chain;
  const create = [
    "pool",
    "create",
    "spotify",
    "--purpose",
    "music research",
    "--title",
    "Listening, pooled",
    "--price",
    "2.5",
    "--licence",
    "CC-BY-4.0",
    "--fee",
    "1000",
    "--k",
    "5",
  ];

  await t.step("create without --yes and without a terminal signs nothing and exits 2", async () => {
    const block = await chain.publicClient.getBlockNumber({ cacheTime: 0 });
    const run = await kosmos(node, create);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Network fee: at most/);
    assert.equal(await chain.publicClient.getBlockNumber({ cacheTime: 0 }), block);
  });

  await t.step("bad usage exits 2 with a message", async () => {
    for (
      const [args, message] of [
        [["pool"], /expected 1 to 2 arguments/],
        [["pool", "dissolve", "1"], /unknown subcommand "dissolve"/],
        [["pool", "create", "myspace", "--purpose", "x y z"], /unknown kind "myspace"/],
        [["pool", "create", "spotify", "--purpose", "x y z"], /--title, --price, --licence, --fee/],
        [["pool", "join", "1"], /--consent/],
        [["pool", "leave", "abc"], /not a pool id/],
        [["pool", "list", "--stake", "1"], /takes no --stake/],
      ] as const
    ) {
      const run = await kosmos(node, [...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  let pool: CreatedPool;
  await t.step("create --yes creates the pool on chain with the hash of its terms", async () => {
    pool = await kosmosJson<CreatedPool>(node, [...create, "--yes"]);
    assert.equal(pool.kind, "spotify");
    assert.equal(pool.price, (25n * 10n ** 17n).toString());
    const onChain = await getPool(chain.client, BigInt(pool.id));
    assert.ok(onChain);
    assert.equal(onChain.operator, node.address);
    assert.equal(onChain.termsHash, pool.termsHash);
    assert.equal(onChain.feeBps, 1000);
  });

  await t.step("list shows it, as a table or --json", async () => {
    const { pools } = await kosmosJson<{ pools: PoolView[] }>(node, ["pool", "list"]);
    assert.deepEqual(pools.map((p) => [p.id, p.role]), [[pool.id, "operator"]]);
    const run = await kosmos(node, ["pool", "list"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`^${pool.id}\\s+spotify\\s+music research\\s+1000\\s+5\\s+operator\\s+0$`, "m"),
    );
  });

  await t.step("what the node refuses exits 1 with its message", async () => {
    const publish = await kosmos(node, ["pool", "publish", pool.id, "--yes"]);
    assert.equal(publish.code, 1, publish.stderr);
    assert.match(publish.stderr, /no members yet/);
    const join = await kosmos(node, ["pool", "join", pool.id, "--consent", "1"]);
    assert.equal(join.code, 1, join.stderr);
    assert.match(join.stderr, /this node operates it/);
    const leave = await kosmos(node, ["pool", "leave", pool.id]);
    assert.equal(leave.code, 1, leave.stderr);
    assert.match(leave.stderr, /not a member/);
  });
});
