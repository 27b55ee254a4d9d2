/**
 * `kosmos goals`, `kosmos funnels` and `kosmos site-keys` as a person runs
 * them, against a real node holding the Stats API fixture
 * (`stats_fixture_test.ts`): goals added and answering `event:goal` queries
 * (revenue as Plausible's money), a funnel's visitors per step, a site API
 * key printed once, working with `/api/v2/query` over HTTP, and failing
 * once revoked; bad usage exits 2, a refusal by the node 1.
 */
import assert from "node:assert/strict";
import type { ApiKeyView, FunnelResultView, FunnelView, GoalView } from "../protocol/api/stats.ts";
import { EVENTS, SITE } from "../node/services/analytics/stats_fixture_test.ts";
import { kosmos, kosmosJson } from "./cli.ts";
import { startAppNode } from "./node_app.ts";

Deno.test("kosmos goals, funnels and site-keys set up a site's Stats API", async (t) => {
  await using started = await startAppNode("kosmos-cli-goals-");
  const { node } = started;
  await node.components.sites.registerSite(SITE);
  node.components.analytics.recordEvents(SITE, EVENTS, { batchId: "fixture" });
  let signup: GoalView;
  let blog: GoalView;
  let funnel: FunnelView;

  await t.step("goals adds page and event goals and lists them", async () => {
    assert.deepEqual(await kosmosJson(node, ["goals", SITE]), { goals: [] });
    signup = await kosmosJson<GoalView>(node, ["goals", SITE, "add", "event", "Signup", "--currency", "EUR"]);
    assert.deepEqual(signup, {
      id: signup.id,
      kind: "event",
      match: "Signup",
      name: "Signup",
      currency: "EUR",
    });
    blog = await kosmosJson<GoalView>(node, ["goals", SITE, "add", "page", "/blog/**"]);
    assert.equal(blog.name, "Visit /blog/**");
    const listed = await kosmos(node, ["goals", SITE]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n"), [
      `${signup.id}  Signup  (event Signup, revenue in EUR)`,
      `${blog.id}  Visit /blog/**  (pageview /blog/**)`,
    ]);
  });

  await t.step("the goals answer event:goal queries, revenue as money", async () => {
    const file = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          site_id: SITE,
          date_range: "all",
          metrics: ["visitors", "total_revenue"],
          filters: [["is", "event:goal", ["Signup"]]],
        }),
      );
      // Signup by p (20.00 EUR) and r (5 EUR).
      const answer = await kosmosJson<{ results: unknown[] }>(node, ["query", file]);
      assert.deepEqual(answer.results, [{
        dimensions: [],
        metrics: [2, { short: "€25.0", long: "€25.00", value: 25, currency: "EUR" }],
      }]);
      const text = await kosmos(node, ["query", file]);
      assert.equal(text.stdout.trim(), "2\t€25.00");
    } finally {
      await Deno.remove(file);
    }
  });

  await t.step("funnels adds a funnel and counts its steps", async () => {
    funnel = await kosmosJson<FunnelView>(node, [
      "funnels",
      SITE,
      "add",
      "Blog to signup",
      blog.id,
      signup.id,
    ]);
    assert.deepEqual(funnel.steps, [blog.id, signup.id]);
    assert.deepEqual(await kosmosJson(node, ["funnels", SITE]), { funnels: [funnel] });
    // 03-14: q and r read the blog; r then signed up (p signed up without reading it).
    const result = await kosmosJson<FunnelResultView>(node, [
      "funnels",
      SITE,
      "show",
      funnel.id,
      "--from",
      "2026-03-14",
      "--to",
      "2026-03-14",
    ]);
    assert.deepEqual(result.steps.map((s) => [s.goal, s.visitors]), [["Visit /blog/**", 2], ["Signup", 1]]);
    // A goal in a funnel stays until the funnel goes: the node refuses (exit 1).
    const refused = await kosmos(node, ["goals", SITE, "remove", blog.id]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^kosmos: goals: cannot remove goal/);
    assert.deepEqual(await kosmosJson(node, ["funnels", SITE, "remove", funnel.id]), {
      id: funnel.id,
      deleted: true,
    });
    assert.deepEqual(await kosmosJson(node, ["goals", SITE, "remove", blog.id]), {
      id: blog.id,
      deleted: true,
    });
  });

  await t.step("site-keys prints a key once; it answers for its site until revoked", async () => {
    const created = await kosmos(node, ["site-keys", SITE, "create", "dashboards"]);
    assert.equal(created.code, 0, created.stderr);
    const [key, note] = created.stdout.trim().split("\n");
    assert.match(key, /^kss_/);
    assert.match(note, /shown this once/);
    const query = () =>
      fetch(new URL("/api/v2/query", node.url), {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ site_id: SITE, date_range: "all", metrics: ["visitors"] }),
      });
    const ok = await query();
    assert.equal(ok.status, 200);
    assert.deepEqual((await ok.json()).results, [{ dimensions: [], metrics: [6] }]);
    const { keys } = await kosmosJson<{ keys: ApiKeyView[] }>(node, ["site-keys", SITE]);
    assert.equal(keys.length, 1);
    assert.equal(keys[0].hint, key.slice(-4));
    assert.ok(!JSON.stringify(keys).includes(key), "the list never holds the key");
    assert.deepEqual(await kosmosJson(node, ["site-keys", SITE, "revoke", keys[0].id]), {
      id: keys[0].id,
      revoked: true,
    });
    const revoked = await query();
    assert.equal(revoked.status, 401);
    await revoked.body?.cancel();
  });

  await t.step("mistakes: bad usage exits 2, a refusal by the node 1", async () => {
    for (
      const args of [
        ["goals"],
        ["goals", SITE, "add", "visit", "/x"],
        ["goals", SITE, "add", "page", "/x", "--currency", "EUR"],
        ["goals", SITE, "frobnicate"],
        ["funnels", SITE, "show", "f1"],
        ["site-keys", SITE, "create"],
      ]
    ) {
      const run = await kosmos(node, args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    }
    const unknown = await kosmos(node, ["goals", "unknown.example"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^kosmos: goals: cannot list the goals of unknown\.example: .*\(404\)/);
    const badCurrency = await kosmos(node, ["goals", SITE, "add", "event", "Buy", "--currency", "EURO"]);
    assert.equal(badCurrency.code, 1, badCurrency.stderr);
  });
});
