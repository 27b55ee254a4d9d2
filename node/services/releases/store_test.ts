/**
 * The releases' tables across the change of privacy unit: budgets spent per
 * visitor-day are counted again per person (Σ D·ε, at most the total; the old
 * default total becomes the new one, a configured one stays), other scopes are
 * untouched, and nothing exact about a release's data is kept or shown.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { writeVisitorDayReleases } from "./fixtures_test.ts";
import { getPersonBudgetMigration, PrivacyBudgets, ReleaseStore, toMicroEpsilon } from "./store.ts";

function oldDatabase() {
  const db = openDatabase(":memory:");
  writeVisitorDayReleases(db);
  return db;
}

Deno.test("ReleaseStore.open() counts budgets spent per visitor-day again per person, Σ D·ε capped at the total", () => {
  const db = oldDatabase();
  const store = new ReleaseStore(db, toMicroEpsilon(3));
  store.open();
  // Old default total → the new default; 30.5 spent per person is more than it: exhausted.
  assert.deepEqual(store.getBudget("busy.example"), { total: 3, spent: 3, remaining: 0 });
  // A configured total stays; 3 × 0.2 + 2 × 0.1 = 0.8.
  assert.deepEqual(store.getBudget("light.example"), { total: 20, spent: 0.8, remaining: 19.2 });
  // Other scopes are not releases: unchanged.
  assert.deepEqual(new PrivacyBudgets(db, toMicroEpsilon(10)).get("source:bank"), {
    total: 10,
    spent: 2,
    remaining: 8,
  });
  // A site with no release yet gets the new default.
  assert.deepEqual(store.getBudget("new.example"), { total: 3, spent: 0, remaining: 3 });

  // Once only: opening again (a restart) does not count anything twice.
  const again = new ReleaseStore(db, toMicroEpsilon(3));
  again.open();
  assert.deepEqual(again.getBudget("light.example"), { total: 20, spent: 0.8, remaining: 19.2 });
});

Deno.test("ReleaseStore.open() keeps nothing exact about withheld rows: no count column, no count in old messages", () => {
  const db = oldDatabase();
  const store = new ReleaseStore(db, toMicroEpsilon(3));
  store.open();
  const columns = (db.prepare("PRAGMA table_info(analytics_releases)").all() as { name: string }[])
    .map((c) => c.name);
  assert.ok(!columns.includes("suppressed"), columns.join(", "));
  const empty = store.get("d");
  assert.equal(empty.status, "empty");
  assert.doesNotMatch(empty.error ?? "", /\d/, "no count of rows in the message");
  assert.match(empty.error ?? "", /nothing was published/);
  for (const release of store.list("light.example")) assert.ok(!("suppressed" in release));
  assert.deepEqual(store.list("busy.example").map((r) => [r.id, r.rows]), [["b", 1], ["a", 30]]);
});

Deno.test("getPersonBudgetMigration() refuses a budget that is not a positive number of millionths", () => {
  assert.throws(() => getPersonBudgetMigration(0), RangeError);
  assert.throws(() => getPersonBudgetMigration(1.5), RangeError);
  assert.match(getPersonBudgetMigration(3_000_000), /THEN 3000000/);
});
