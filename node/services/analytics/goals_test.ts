import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { createGoalStore, matchesGoal, pagePatternSource } from "./goals.ts";

const SITE = "example.com";

Deno.test("goals: pageview and event goals, default names, revenue, props; refusals change nothing", () => {
  const goals = createGoalStore(openDatabase(":memory:"), { now: () => 1000 });
  const blog = goals.addGoal(SITE, { kind: "pageview", match: "/blog/**" });
  const signup = goals.addGoal(SITE, { kind: "event", match: "Signup", customProps: { plan: "pro" } });
  const buy = goals.addGoal(SITE, { kind: "event", match: "Purchase", name: "Buy", currency: "eur" });
  assert.deepEqual(goals.listGoals(SITE), [
    { id: blog.id, kind: "pageview", match: "/blog/**", name: "Visit /blog/**" },
    { id: signup.id, kind: "event", match: "Signup", name: "Signup", customProps: { plan: "pro" } },
    { id: buy.id, kind: "event", match: "Purchase", name: "Buy", currency: "EUR" },
  ]);
  assert.deepEqual(goals.listGoals("other.com"), []);
  const bad: [unknown, RegExp][] = [
    [{ kind: "pageview", match: "blog" }, /starting with "\/"/],
    [{ kind: "visit", match: "/x" }, /"kind"/],
    [{ kind: "event", match: "" }, /non-empty/],
    [{ kind: "event", match: "pageview" }, /not a custom event/],
    [{ kind: "event", match: "X", currency: "EURO" }, /ISO 4217/],
    [{ kind: "pageview", match: "/x", currency: "EUR" }, /only custom event goals/],
    [{ kind: "event", match: "Signup" }, /already has a goal named "Signup"/],
    [{ kind: "event", match: "A\u0000" }, /control characters/],
  ];
  for (const [input, message] of bad) {
    assert.throws(() => goals.addGoal(SITE, input as never), message);
  }
  assert.equal(goals.listGoals(SITE).length, 3);
});

Deno.test("goals: funnels need 2-8 distinct goals of the site; a goal in a funnel cannot be deleted", () => {
  const goals = createGoalStore(openDatabase(":memory:"));
  const a = goals.addGoal(SITE, { kind: "pageview", match: "/" });
  const b = goals.addGoal(SITE, { kind: "event", match: "Signup" });
  const other = goals.addGoal("other.com", { kind: "event", match: "Signup" });
  assert.throws(() => goals.addFunnel(SITE, { name: "F", steps: [a.id] }), /2 to 8 goals/);
  assert.throws(() => goals.addFunnel(SITE, { name: "F", steps: [a.id, a.id] }), /twice/);
  assert.throws(
    () => goals.addFunnel(SITE, { name: "F", steps: [a.id, other.id] }),
    /steps\[1\]" is not a goal/,
  );
  const f = goals.addFunnel(SITE, { name: "Signup flow", steps: [a.id, b.id] });
  assert.deepEqual(goals.listFunnels(SITE), [f]);
  assert.throws(() => goals.deleteGoal(SITE, a.id), /step of the funnel "Signup flow"/);
  goals.deleteFunnel(SITE, f.id);
  goals.deleteGoal(SITE, a.id);
  assert.throws(() => goals.deleteGoal(SITE, a.id), { name: "NotFoundError" });
  assert.deepEqual(goals.listGoals(SITE).map((g) => g.id), [b.id]);
});

Deno.test("goals: site API keys are shown once, stored hashed, scoped to one site, revocable", () => {
  const db = openDatabase(":memory:");
  let t = 5;
  const goals = createGoalStore(db, { now: () => t });
  const created = goals.createApiKey(SITE, "script");
  assert.match(created.key, /^kss_[\w-]{43}$/);
  assert.equal(created.hint, created.key.slice(-4));
  const stored = JSON.stringify(db.prepare("SELECT * FROM analytics_api_keys").all());
  assert.ok(!stored.includes(created.key.slice(4)), "the key itself is never stored");
  t = 9;
  assert.equal(goals.siteOfApiKey(created.key), SITE);
  assert.deepEqual(goals.listApiKeys(SITE), [
    { id: created.id, name: "script", hint: created.hint, createdAt: 5, lastUsedAt: 9 },
  ]);
  assert.deepEqual(goals.listApiKeys("other.com"), []);
  assert.equal(goals.siteOfApiKey(created.key.slice(0, -1) + "x"), null);
  assert.equal(goals.siteOfApiKey("not-a-key"), null);
  assert.throws(() => goals.revokeApiKey("other.com", created.id), { name: "NotFoundError" });
  goals.revokeApiKey(SITE, created.id);
  assert.equal(goals.siteOfApiKey(created.key), null);
});

Deno.test("goals: page patterns and matching as Plausible's", () => {
  assert.equal(pagePatternSource("/blog/*"), "^\\/blog\\/[^/]*$");
  const page = { id: "p", kind: "pageview", match: "/blog/**", name: "Visit /blog/**" } as const;
  assert.ok(matchesGoal(page, { name: "pageview", pathname: "/blog/a/b" }));
  assert.ok(!matchesGoal(page, { name: "pageview", pathname: "/blogs" }));
  assert.ok(!matchesGoal(page, { name: "Signup", pathname: "/blog/a" }));
  const one = { id: "q", kind: "pageview", match: "/docs/*.html", name: "d" } as const;
  assert.ok(matchesGoal(one, { name: "pageview", pathname: "/docs/a.html" }));
  assert.ok(!matchesGoal(one, { name: "pageview", pathname: "/docs/a/b.html" }));
  assert.ok(!matchesGoal(one, { name: "pageview", pathname: "/docs/aXhtml" }));
  const ev = {
    id: "e",
    kind: "event",
    match: "Signup",
    name: "Signup",
    customProps: { plan: "pro" },
  } as const;
  assert.ok(matchesGoal(ev, { name: "Signup", pathname: "/", props: { plan: "pro", x: "1" } }));
  assert.ok(!matchesGoal(ev, { name: "Signup", pathname: "/", props: { plan: "free" } }));
  assert.ok(!matchesGoal(ev, { name: "Signup", pathname: "/" }));
});
