/**
 * The linkage attack, from the attacker's side: they hold the released table and its privacy report,
 * and a side table of the exact quasi-identifiers of people they know took a trip or made a payment
 * (when, where from, where to, how much). They generalise each side row the way the report says and
 * look it up in the released table. A single match would single a person's row out; the released
 * table must answer every side row with no match or with at least k.
 */
import assert from "node:assert/strict";
import { SOURCE_KIND_INFO, type SourceKind, type SourceRow } from "../../../protocol/sources.ts";
import { anonymize, type AnonymizedTable, generaliseQuasi, type Released } from "./mod.ts";
import { bankPopulation, uberPopulation } from "./fixtures_test.ts";

/** What the attacker knows of a row: its quasi-identifiers, exactly. */
function sideTable(kind: SourceKind, rows: SourceRow[]): SourceRow[] {
  const quasi = SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === "quasi").map((f) => f.name);
  return rows.map((r) => Object.fromEntries(quasi.map((name) => [name, r[name]])));
}

/** For each side row, how many released rows it matches on the released quasi-identifier columns. */
function link(kind: SourceKind, table: AnonymizedTable, side: SourceRow[]): number[] {
  const fields = SOURCE_KIND_INFO[kind].fields;
  const quasi = fields.filter((f) => f.role === "quasi").map((f) => f.name);
  const at = quasi.map((name) => table.columns.indexOf(name));
  const index = new Map<string, number>();
  for (const row of table.rows()) {
    const key = JSON.stringify(at.map((i) => row[i]));
    index.set(key, (index.get(key) ?? 0) + 1);
  }
  return side.map((s) => {
    const known: Record<string, Released> = generaliseQuasi(fields, table.report.generalised, s);
    return index.get(JSON.stringify(quasi.map((name) => known[name]))) ?? 0;
  });
}

/** The same attack on the rows with only the identifiers dropped: exact values, the finest levels. */
function linkRaw(kind: SourceKind, rows: SourceRow[], side: SourceRow[]): number[] {
  const quasi = SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === "quasi").map((f) => f.name);
  const key = (r: SourceRow) => JSON.stringify(quasi.map((name) => r[name] ?? null));
  const index = new Map<string, number>();
  for (const r of rows) index.set(key(r), (index.get(key(r)) ?? 0) + 1);
  return side.map((s) => index.get(key(s)) ?? 0);
}

for (
  const [kind, population] of [
    ["uber", uberPopulation(3000)],
    ["bank", bankPopulation(2000)],
  ] as const
) {
  for (const k of [2, 5, 10]) {
    Deno.test(`a side table of exact quasi-identifiers links no ${kind} row uniquely in its released table (k = ${k})`, () => {
      const side = sideTable(kind, population);
      // Without anonymization the attack works: exact values single nearly every row out.
      const raw = linkRaw(kind, population, side);
      assert.ok(raw.filter((n) => n === 1).length > population.length * 0.9, "the raw table links uniquely");

      const table = anonymize(kind, () => population, { k });
      const matches = link(kind, table, side);
      const unique = matches.filter((n) => n > 0 && n < k).length;
      assert.equal(unique, 0, `${unique} side rows match fewer than ${k} released rows`);
      // The test is not vacuous: most side rows find their class, and every match is a class of ≥ k.
      const found = matches.filter((n) => n >= k).length;
      assert.ok(found >= population.length * 0.95, `only ${found} of ${population.length} side rows matched`);
      assert.equal(found, table.released, "a side row matches exactly when its own row was released");
    });
  }
}

Deno.test("a side row of a suppressed class matches nothing released", () => {
  const population = uberPopulation(400, 7);
  const outlier = {
    ...population[0],
    city: "Flensburg",
    pickup: "54.78,9.43",
    dropoff: "54.79,9.44",
    fare: 812.5,
  };
  const rows = [...population, outlier];
  const table = anonymize("uber", () => rows, { k: 5 });
  const [match] = link("uber", table, sideTable("uber", [outlier]));
  assert.equal(match, 0);
  assert.ok(table.report.suppressed >= 1);
});
