import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import type { SourceKind, SourceRow } from "../../../protocol/sources.ts";
import { createReleases } from "../releases/mod.ts";
import {
  budgetScope,
  COUNT_COLUMN,
  countThreshold,
  createPrivacy,
  DEFAULT_SOURCE_BUDGET,
  type PrivacyInit,
} from "./mod.ts";
import { bankPopulation, ID_MARKER, T0 } from "./fixtures_test.ts";

const log = createLogger({ level: "silent" }).forComponent("kosmos:privacy");
const DAY = 86_400_000;

function setUp(init: PrivacyInit = {}, path = ":memory:") {
  const db = openDatabase(path);
  return { db, privacy: createPrivacy({ db, log }, init) };
}

/** `perDay` bank rows on each of `days` days, all of amount -20. */
function bookings(days: number, perDay: number): SourceRow[] {
  return Array.from({ length: days * perDay }, (_, i) => ({
    date: T0 + Math.floor(i / perDay) * DAY,
    amount: -20,
    direction: "out",
    currency: "EUR",
    description: `${ID_MARKER} Bakery`,
    balance: 100,
  }));
}

Deno.test("Privacy.aggregate() charges its ε to the kind's budget and refuses what is left over, naming it", () => {
  const { db, privacy } = setUp({ budget: 2 });
  const rows = bookings(3, 100);
  assert.deepEqual(privacy.getBudget("bank"), { total: 2, spent: 0, remaining: 2 });
  const table = privacy.aggregate("bank", () => rows, { epsilon: 1.5 });
  assert.equal(table.report.epsilon, 1.5);
  assert.deepEqual(privacy.getBudget("bank"), { total: 2, spent: 1.5, remaining: 0.5 });
  assert.deepEqual(privacy.getBudget("uber"), { total: 2, spent: 0, remaining: 2 }, "one budget per kind");
  assert.throws(
    () => privacy.aggregate("bank", () => rows, { epsilon: 0.6 }),
    (err: Error) =>
      err.name === "PrivacyBudgetError" && /ε = 0\.6/.test(err.message) &&
      /only 0\.5 of its privacy budget of 2/.test(err.message),
  );
  assert.deepEqual(privacy.getBudget("bank").spent, 1.5, "a refusal charges nothing");
  privacy.aggregate("bank", () => rows, { epsilon: 0.5 });
  assert.deepEqual(privacy.getBudget("bank"), { total: 2, spent: 2, remaining: 0 });
  assert.throws(
    () => privacy.aggregate("bank", () => rows, { epsilon: 0.01 }),
    /only 0 of its privacy budget/,
  );
  db.close();
});

Deno.test("Privacy.aggregate() charges nothing when the rows are bad, and the budget survives a reopen of the db", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-privacy-" });
  try {
    const path = join(dir, "kosmos.db");
    const first = setUp({}, path);
    first.privacy.aggregate("bank", () => bookings(2, 50), { epsilon: 4 });
    assert.throws(
      () => first.privacy.aggregate("bank", () => [{ date: "yesterday" }], { epsilon: 1 }),
      TypeError,
    );
    first.db.close();

    const second = setUp({ budget: 50 }, path);
    assert.deepEqual(second.privacy.getBudget("bank"), {
      total: DEFAULT_SOURCE_BUDGET,
      spent: 4,
      remaining: 6,
    }, "the total was fixed by the first charge");
    assert.throws(
      () => second.privacy.aggregate("bank", () => bookings(2, 50), { epsilon: 6.5 }),
      /only 6 of/,
    );
    second.privacy.aggregate("bank", () => bookings(2, 50), { epsilon: 6 });
    second.db.close();

    const third = setUp({}, path);
    assert.deepEqual(third.privacy.getBudget("bank"), { total: 10, spent: 10, remaining: 0 });
    third.db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the sources' budgets share the releases' table without touching a site's budget", () => {
  const { db, privacy } = setUp();
  const releases = createReleases({
    db,
    log,
    sites: { ownsDomain: () => true },
    datasets: { publishDataset: () => Promise.reject(new Error("not used")) },
  });
  privacy.aggregate("uber", () => [], { epsilon: 3 });
  assert.equal(releases.getBudget("example.com").spent, 0);
  const row = db.prepare("SELECT spent_micro FROM analytics_privacy_budgets WHERE site = ?").get(
    budgetScope("uber"),
  );
  assert.deepEqual({ ...row }, { spent_micro: 3_000_000 });
  db.close();
});

Deno.test("Privacy.aggregate() counts the classes of anonymize's generalisation, noised, and withholds small noisy counts", () => {
  const { db, privacy } = setUp({ budget: 100 });
  // 20 days × 40 rows, and one day of 2 rows.
  const rows = [...bookings(20, 40), ...bookings(1, 2).map((r) => ({ ...r, date: T0 + 300 * DAY }))];
  const k = 5;
  const anonymized = privacy.anonymize("bank", () => rows, { k });
  const table = privacy.aggregate("bank", () => rows, { epsilon: 2, k });
  assert.equal(table.kind, "bank");
  assert.deepEqual(table.columns, ["date", "amount", COUNT_COLUMN]);
  assert.deepEqual(table.report.generalised, anonymized.report.generalised);
  assert.deepEqual(table.report.dropped, ["description", "balance"]);
  const released = [...table.rows()];
  const threshold = countThreshold(k, 2e6);
  assert.ok(
    released.every((r) => (r[2] as number) >= threshold),
    "every released count reaches the threshold",
  );
  assert.ok(!released.some((r) => r[0] === "2024-12-26"), "the day of 2 rows is withheld");
  assert.equal(released.length + table.report.suppressed, 21);
  assert.ok(released.length >= 19, "days of 40 rows are released");
  assert.ok(released.some((r) => r[2] !== 40), "the counts are noised");
  assert.ok(!JSON.stringify(released).includes(ID_MARKER));
  db.close();
});

Deno.test("Privacy.aggregate() on a large table draws fresh noise each time", () => {
  const { db, privacy } = setUp({ budget: 100 });
  const rows = bankPopulation(2000);
  const first = [...privacy.aggregate("bank", () => rows, { epsilon: 1 }).rows()];
  const second = [...privacy.aggregate("bank", () => rows, { epsilon: 1 }).rows()];
  assert.notDeepEqual(first, second);
  db.close();
});

Deno.test("Privacy rejects bad arguments with a message to act on and charges nothing", () => {
  const { db, privacy } = setUp();
  const rows = () => bookings(1, 10);
  for (const epsilon of [0, -1, 0.001, 1001, NaN, "1" as unknown as number, 0.1234567]) {
    assert.throws(() => privacy.aggregate("bank", rows, { epsilon }), /Invalid "epsilon"/);
  }
  assert.throws(() => privacy.aggregate("bank", rows, { epsilon: 1, k: 1 }), /Invalid "k"/);
  assert.throws(() => privacy.aggregate("bank", rows, undefined as never), /Invalid options/);
  assert.throws(
    () => privacy.aggregate("mail" as SourceKind, rows, { epsilon: 1 }),
    /Unknown source kind "mail"/,
  );
  assert.throws(() => privacy.getBudget("mail" as SourceKind), /Unknown source kind/);
  assert.equal(privacy.getBudget("bank").spent, 0);
  assert.throws(() => setUp({ budget: 0 }), /Invalid privacy budget 0/);
  assert.throws(() => setUp({ delta: 1 }), /Invalid delta 1/);
  db.close();
});
