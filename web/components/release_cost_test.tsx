import assert from "node:assert/strict";
import { renderToString } from "preact-render-to-string";
import type { ReleasePolicyView } from "../../protocol/api/mod.ts";
import { estimateRelease } from "../../protocol/release_privacy.ts";
import { getDraftCost, ReleaseCost, type ReleaseDraft, wasRecounted } from "./release_cost.tsx";
import { PrivacyReportFacts } from "./privacy_report.tsx";

const bounds = { maxVisits: 3, maxPageviews: 10, maxCells: 1 };
const policy: ReleasePolicyView = {
  maxEpsilon: 1,
  delta: 1e-6,
  maxDays: 366,
  dimensions: {
    none: { bounds, fixedGrid: true },
    page: { bounds: { ...bounds, maxCells: 3 }, fixedGrid: false },
  },
};
const budget = { total: 3, spent: 1, remaining: 2 };
const draft: ReleaseDraft = { from: "2024-03-01", to: "2024-03-30", epsilon: 0.5, k: 10, dimension: "" };

Deno.test("getDraftCost() charges ε once per person for the whole range and estimates the daily noise from D", () => {
  const cost = getDraftCost(draft, policy, budget);
  assert.ok(cost.ok);
  assert.equal(cost.remainingAfter, 1.5);
  assert.deepEqual(
    cost.estimate,
    estimateRelease({ days: 30, epsilon: 0.5, k: 10, dimension: null, bounds, fixedGrid: true, delta: 1e-6 }),
  );
  const week = getDraftCost({ ...draft, from: "2024-03-24" }, policy, budget);
  assert.ok(week.ok);
  assert.equal(week.estimate.days, 7);
  assert.ok(week.estimate.visitorsMargin < cost.estimate.visitorsMargin, "fewer days, less noise");
  const pages = getDraftCost({ ...draft, dimension: "page" }, policy, budget);
  assert.ok(pages.ok && pages.estimate.threshold > 10 && pages.estimate.delta === 1e-6);
});

Deno.test("getDraftCost() refuses an ε above the cap with the node's message, and what the budget cannot pay", () => {
  assert.deepEqual(getDraftCost({ ...draft, epsilon: 1.5 }, policy, budget), {
    ok: false,
    field: "epsilon",
    message: "Cannot release with ε = 1.5: one release may spend at most ε = 1 per person",
  });
  const low = getDraftCost({ ...draft, epsilon: 0.8 }, policy, { total: 3, spent: 2.5, remaining: 0.5 });
  assert.ok(
    !low.ok && low.field === "epsilon" && /Only ε = 0\.5 of the budget of 3 is left/.test(low.message),
  );
  for (const bad of [{ to: "2024-02-29" }, { from: "2023-01-01", to: "2024-03-01" }, { from: "" }]) {
    const refused = getDraftCost({ ...draft, ...bad }, policy, budget);
    assert.ok(!refused.ok && refused.field === "range", JSON.stringify(bad));
  }
  assert.ok(!getDraftCost({ ...draft, epsilon: Number.NaN }, policy, budget).ok);
  assert.ok(!getDraftCost({ ...draft, k: 1 }, policy, budget).ok);
});

Deno.test("ReleaseCost says the days, the ε per person, the budget after and the noise; the report says it in one sentence", () => {
  const html = renderToString(<ReleaseCost cost={getDraftCost(draft, policy, budget)} total={3} />)
    .replace(/<[^>]+>/g, "");
  assert.match(html, /30 days: a person present on all of them counts as one/);
  assert.match(html, /ε = 0\.5 per person, once for the whole range/);
  assert.match(html, /1\.5 of 3 left/);
  assert.match(html, /a daily visitor count is within ±\d+ of the truth 95 % of the time/);

  const report = renderToString(
    <PrivacyReportFacts report={{ k: 10, epsilon: 1, unit: "person", days: 30, delta: 1e-6 }} />,
  ).replace(/<[^>]+>/g, "");
  assert.match(
    report,
    /ε = 1 per person: anyone present on all 30 days changes the odds of any guess about them by at most e1 \(except with probability δ = 0\.000001\)/,
  );
  // An older report without a unit keeps the old wording.
  const old = renderToString(<PrivacyReportFacts report={{ k: 10, epsilon: 1 }} />).replace(/<[^>]+>/g, "");
  assert.match(old, /ε = 1: counts carry calibrated noise/);
});

Deno.test("wasRecounted() tells a budget counted again per person (more spent than the releases asked) from one that was not", () => {
  const releases = [{ epsilon: 1 }, { epsilon: 0.5 }];
  assert.equal(wasRecounted({ total: 3, spent: 1.5, remaining: 1.5 }, releases), false);
  // A 30-day release at ε = 1 from before the upgrade: charged 30, capped at the total of 3.
  assert.equal(wasRecounted({ total: 3, spent: 3, remaining: 0 }, releases), true);
  assert.equal(wasRecounted({ total: 3, spent: 0, remaining: 3 }, []), false);
});
