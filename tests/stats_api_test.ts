/**
 * Plausible's Stats API on a real node, through `app.request()`: who may ask
 * (the owner's token or session, a site API key for its own site only) and
 * Plausible's error shape and messages; `/api/v2/query` and the v1 routes on
 * the fixed fixture; goals, funnels and keys over the API, the settings
 * page's forms, and a key shown once and revoked.
 */
import assert from "node:assert/strict";
import { createApp } from "../web/app.ts";
import { createNode, type KosmosNode } from "../node/node.ts";
import { EVENTS, SITE } from "../node/services/analytics/stats_fixture_test.ts";
import { INVALID_KEY, KEY_REQUESTS_PER_HOUR, MISSING_KEY, RATE_LIMITED } from "../web/stats_auth.ts";
import { ownerApp, type RequestableApp, testLogger } from "./helpers.ts";
import { startProofServer } from "./site_proofs.ts";

const quietLog = { error: () => {}, debug: () => {} };
const OTHER = "other.example";

async function withNode(
  fn: (node: KosmosNode, owner: RequestableApp, anyone: RequestableApp) => Promise<void>,
) {
  await using proofs = await startProofServer();
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-stats-api-" });
  const node = await createNode(
    { dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], siteProofOrigins: proofs.origins },
    { logger: testLogger() },
  );
  try {
    await node.start();
    await node.components.sites.registerSite(SITE);
    await node.components.sites.registerSite(OTHER);
    node.components.analytics.recordEvents(SITE, EVENTS, { batchId: "fixture" });
    const app = createApp(node.facade, { log: quietLog, auth: node.auth });
    await fn(node, ownerApp(app, node), app);
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const form = (fields: [string, string][]): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" },
  body: new URLSearchParams(fields).toString(),
});
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function plausibleError(response: Response, status: number, message: string | RegExp) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  if (typeof message === "string") assert.equal(body.error, message);
  else assert.match(body.error, message);
}

Deno.test("Stats API: site keys are scoped to their site; errors are Plausible's", async () => {
  await withNode(async (_node, owner, anyone) => {
    const created = await owner.request(`/api/v1/sites/${SITE}/api-keys`, json({ name: "report" }));
    assert.equal(created.status, 201);
    const { key, hint } = await created.json();
    assert.equal(hint, key.slice(-4));
    const listed = await (await owner.request(`/api/v1/sites/${SITE}/api-keys`)).json();
    assert.ok(!JSON.stringify(listed).includes(key), "a listed key never shows the key");

    const query = { site_id: SITE, date_range: "all", metrics: ["visitors", "pageviews"] };
    // The key answers for its site, as the owner does: every visit of the fixture (6 visitors, 8 pageviews).
    for (const app of [anyone]) {
      const response = await app.request("/api/v2/query", json(query, bearer(key)));
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.deepEqual(body.results, [{ dimensions: [], metrics: [6, 8] }]);
      assert.equal(body.query.site_id, SITE);
    }
    assert.equal((await owner.request("/api/v2/query", json(query))).status, 200);

    await plausibleError(await anyone.request("/api/v2/query", json(query)), 401, MISSING_KEY);
    await plausibleError(
      await anyone.request("/api/v2/query", json(query, bearer("kss_nope"))),
      401,
      INVALID_KEY,
    );
    await plausibleError(
      await anyone.request("/api/v2/query", json({ ...query, site_id: OTHER }, bearer(key))),
      401,
      INVALID_KEY,
    );
    await plausibleError(
      await anyone.request(`/api/v1/stats/aggregate?site_id=${OTHER}`, { headers: bearer(key) }),
      401,
      INVALID_KEY,
    );
    await plausibleError(
      await anyone.request("/api/v2/query", json({ ...query, metrics: ["visitors", "nope"] }, bearer(key))),
      400,
      '#/metrics/1: Invalid metric "nope"',
    );
    await plausibleError(
      await anyone.request("/api/v2/query", json({ date_range: "7d", metrics: ["visitors"] }, bearer(key))),
      400,
      "Missing site ID. Please provide the required site_id parameter with your request.",
    );
    await plausibleError(
      await owner.request("/api/v2/query", json({ ...query, site_id: "nowhere.example" })),
      404,
      /nowhere\.example/,
    );
    await plausibleError(
      await owner.request("/api/v2/query", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "{}",
      }),
      415,
      /Content-Type: application\/json/,
    );

    // v1 with the key: realtime, aggregate, and a v1 error.
    const realtime = await anyone.request(`/api/v1/stats/realtime/visitors?site_id=${SITE}`, {
      headers: bearer(key),
    });
    assert.equal(realtime.status, 200);
    assert.equal(typeof await realtime.json(), "number");
    const aggregate = await anyone.request(
      `/api/v1/stats/aggregate?site_id=${SITE}&period=custom&date=2026-03-14,2026-03-14&metrics=visitors,visit_duration`,
      { headers: bearer(key) },
    );
    // 03-14: P (180 s), Q (0 s), R (360 s) → 3 visitors, 180 s.
    assert.deepEqual(await aggregate.json(), {
      results: { visitors: { value: 3 }, visit_duration: { value: 180 } },
    });
    await plausibleError(
      await anyone.request(`/api/v1/stats/aggregate?site_id=${SITE}&period=fortnight`, {
        headers: bearer(key),
      }),
      400,
      /^Error parsing `period` parameter: invalid period `fortnight`/,
    );
    await plausibleError(await anyone.request(`/api/v1/stats/breakdown?site_id=${SITE}`), 401, MISSING_KEY);

    // Revoked, the key is refused at once.
    const id = listed.keys[0].id;
    assert.equal(
      (await owner.request(`/api/v1/sites/${SITE}/api-keys/${id}`, { method: "DELETE" })).status,
      200,
    );
    await plausibleError(await anyone.request("/api/v2/query", json(query, bearer(key))), 401, INVALID_KEY);
    // Keys are the owner's to manage: a site key cannot list them.
    assert.equal(
      (await anyone.request(`/api/v1/sites/${SITE}/api-keys`, { headers: bearer(key) })).status,
      401,
    );
  });
}); // deno-fmt-ignore

Deno.test("Stats API: goals and funnels over JSON, refusals change nothing", async () => {
  await withNode(async (_node, owner) => {
    const base = `/api/v1/sites/${SITE}`;
    const signup = await (await owner.request(`${base}/goals`, json({ kind: "event", match: "Signup", currency: "EUR" })))
      .json();
    const blog = await (await owner.request(`${base}/goals`, json({ kind: "pageview", match: "/blog/**" }))).json();
    assert.deepEqual(blog, { id: blog.id, kind: "pageview", match: "/blog/**", name: "Visit /blog/**" });
    for (const bad of [{ kind: "event" }, { kind: "pageview", match: "blog" }, { kind: "event", match: "X", currency: "XYZW" }, { kind: "event", match: "Signup" }, { kind: "event", match: "Y", extra: 1 }]) {
      const response = await owner.request(`${base}/goals`, json(bad));
      assert.equal(response.status, 422, JSON.stringify(bad));
      assert.equal(typeof (await response.json()).error.message, "string");
    }
    assert.equal((await owner.request(`/api/v1/sites/unknown.example/goals`, json({ kind: "event", match: "A" }))).status, 404);
    assert.equal((await (await owner.request(`${base}/goals`)).json()).goals.length, 2);

    // The goal answers event:goal queries.
    const goalQuery = await (await owner.request("/api/v2/query", json({
      site_id: SITE, date_range: "all", metrics: ["visitors", "total_revenue"], filters: [["is", "event:goal", ["Signup"]]],
    }))).json();
    assert.deepEqual(goalQuery.results, [{ dimensions: [], metrics: [2, { short: "€25.0", long: "€25.00", value: 25, currency: "EUR" }] }]);

    const funnel = await (await owner.request(`${base}/funnels`, json({ name: "Blog to signup", steps: [blog.id, signup.id] })))
      .json();
    const result = await (await owner.request(`${base}/funnels/${funnel.id}?from=2026-03-14&to=2026-03-14`)).json();
    assert.deepEqual(result.steps.map((s: { visitors: number }) => s.visitors), [2, 1]);
    assert.equal((await owner.request(`${base}/funnels/${funnel.id}?from=2026-03-14&to=yesterday`)).status, 422);
    assert.equal((await owner.request(`${base}/funnels`, json({ name: "Short", steps: [blog.id] }))).status, 422);
    // A goal in a funnel stays until the funnel goes.
    assert.equal((await owner.request(`${base}/goals/${blog.id}`, { method: "DELETE" })).status, 422);
    assert.equal((await owner.request(`${base}/funnels/${funnel.id}`, { method: "DELETE" })).status, 200);
    assert.equal((await owner.request(`${base}/goals/${blog.id}`, { method: "DELETE" })).status, 200);
    assert.equal((await owner.request(`${base}/goals/${blog.id}`, { method: "DELETE" })).status, 404);
  });
}); // deno-fmt-ignore

Deno.test("Stats API: the settings page and its forms (goal, funnel, key shown once)", async () => {
  await withNode(async (_node, owner) => {
    const base = `/api/v1/sites/${SITE}`;
    let response = await owner.request(`${base}/goals`, form([["kind", "event"], ["match", "Signup"], ["customProps", "plan=pro"]]));
    assert.equal(response.status, 303);
    assert.match(response.headers.get("location")!, /^\/sites\/shop\.example\/settings\?saved=/);
    response = await owner.request(`${base}/goals`, form([["kind", "pageview"], ["match", "no-slash"]]));
    assert.equal(response.status, 303);
    assert.match(
      new URL(response.headers.get("location")!, "http://x").searchParams.get("error") ?? "",
      /^Field "match" must be a page path/,
    );
    await owner.request(`${base}/goals`, form([["kind", "pageview"], ["match", "/pricing"]]));
    const goals = (await (await owner.request(`${base}/goals`)).json()).goals;
    assert.deepEqual(goals.map((g: { name: string }) => g.name), ["Signup", "Visit /pricing"]);
    assert.deepEqual(goals[0].customProps, { plan: "pro" });
    response = await owner.request(`${base}/funnels`, form([["name", "Pricing"], ["steps", goals[1].id], ["steps", goals[0].id], ["steps", ""]]));
    assert.equal(response.status, 303);

    response = await owner.request(`${base}/api-keys`, form([["name", "dashboard"]]));
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("cache-control"), "no-store");
    const page = await response.text();
    const key = /data-testid="new-api-key">(kss_[\w-]+)</.exec(page)?.[1];
    assert.ok(key, page);

    const settings = await owner.request(`/sites/${SITE}/settings`);
    assert.equal(settings.status, 200);
    const html = await settings.text();
    assert.match(html, /data-goal="Visit \/pricing"/);
    assert.match(html, /data-funnel="Pricing"/);
    assert.match(html, /data-key="dashboard"/);
    assert.ok(!html.includes(key), "the settings page never shows a key");
    assert.equal((await owner.request(`/sites/unknown.example/settings`)).status, 404);
  });
});

Deno.test("Stats API: a site key gets 600 requests an hour, as Plausible's; the owner and other keys are not held back", async () => {
  await withNode(async (_node, owner, anyone) => {
    const keyOf = async (name: string) =>
      (await (await owner.request(`/api/v1/sites/${SITE}/api-keys`, json({ name }))).json()).key as string;
    const busy = await keyOf("busy");
    const calm = await keyOf("calm");
    const ask = (headers: Record<string, string> = {}) =>
      anyone.request(`/api/v1/stats/realtime/visitors?site_id=${SITE}`, { headers });
    for (let i = 0; i < KEY_REQUESTS_PER_HOUR; i++) {
      const response = await ask(bearer(busy));
      assert.equal(response.status, 200, `request ${i + 1}`);
      await response.body?.cancel();
    }
    const refused = await ask(bearer(busy));
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter > 0 && retryAfter <= 3600, String(retryAfter));
    await plausibleError(refused, 429, RATE_LIMITED);
    assert.equal((await ask(bearer(calm))).status, 200);
    assert.equal((await owner.request(`/api/v1/stats/realtime/visitors?site_id=${SITE}`)).status, 200);
  });
});
