import assert from "node:assert/strict";
import fc from "fast-check";
import {
  SOURCE_KIND_INFO,
  SOURCE_KINDS,
  type SourceKind,
  type SourceRow,
} from "../../../protocol/sources.ts";
import { anonymize, DEFAULT_K, encodeTableCsv, type Released, SourceChangedError } from "./mod.ts";
import { searchLattice } from "./anonymize.ts";
import { ID_MARKER, ID_NUMBER, rowsArbitrary, T0 } from "./fixtures_test.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function quasiColumns(kind: SourceKind, columns: string[]): number[] {
  const quasi = new Set(SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === "quasi").map((f) => f.name));
  return columns.flatMap((c, i) => quasi.has(c) ? [i] : []);
}

/** Released rows grouped by their released quasi-identifier values. */
function classSizes(kind: SourceKind, columns: string[], rows: Iterable<Released[]>): Map<string, number> {
  const at = quasiColumns(kind, columns);
  const sizes = new Map<string, number>();
  for (const row of rows) {
    const key = JSON.stringify(at.map((i) => row[i]));
    sizes.set(key, (sizes.get(key) ?? 0) + 1);
  }
  return sizes;
}

const kindAndRows = fc.constantFrom(...SOURCE_KINDS).chain((kind) =>
  fc.tuple(fc.constant(kind), rowsArbitrary(kind), fc.integer({ min: 2, max: 20 }))
);

Deno.test("anonymize() releases only equivalence classes of at least k rows, for rows of every kind and k from 2 to 20", () => {
  fc.assert(
    fc.property(kindAndRows, ([kind, rows, k]) => {
      const table = anonymize(kind, () => rows, { k });
      const released = [...table.rows()];
      assert.equal(released.length, table.released);
      assert.equal(table.released + table.report.suppressed, rows.length);
      assert.equal(table.report.k, k);
      for (const [key, size] of classSizes(kind, table.columns, released)) {
        assert.ok(size >= k, `class ${key} has ${size} < ${k} rows`);
      }
      // Iterating again (the second pass reads the source again) gives the same rows.
      assert.deepEqual([...table.rows()], released);
    }),
    { numRuns: 300 },
  );
});

Deno.test("anonymize() never releases an identifier, in the rows or in the CSV", async () => {
  await fc.assert(
    fc.asyncProperty(kindAndRows, async ([kind, rows, k]) => {
      const identifiers = SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === "identifier").map((f) =>
        f.name
      );
      const table = anonymize(kind, () => rows, { k });
      assert.deepEqual(table.report.dropped, identifiers);
      for (const name of identifiers) assert.ok(!table.columns.includes(name), `column ${name} released`);
      for (const row of table.rows()) {
        for (const cell of row) {
          assert.ok(
            typeof cell !== "string" || !cell.includes(ID_MARKER),
            "an identifier value was released",
          );
          assert.ok(
            typeof cell !== "number" || Math.floor(cell) !== ID_NUMBER,
            "a numeric identifier was released",
          );
        }
      }
      const csv = await new Response(encodeTableCsv(table)).text();
      assert.ok(!csv.includes(ID_MARKER) && !csv.includes(String(ID_NUMBER)));
    }),
    { numRuns: 150 },
  );
});

Deno.test("anonymize() reports a level for every quasi-identifier and keeps plain fields as they are", () => {
  fc.assert(
    fc.property(kindAndRows, ([kind, rows, k]) => {
      const fields = SOURCE_KIND_INFO[kind].fields;
      const table = anonymize(kind, () => rows, { k });
      assert.deepEqual(
        Object.keys(table.report.generalised),
        fields.filter((f) => f.role === "quasi").map((f) => f.name),
      );
      assert.deepEqual(table.columns, fields.filter((f) => f.role !== "identifier").map((f) => f.name));
      const plain = fields.filter((f) => f.role === "plain").map((f) => table.columns.indexOf(f.name));
      const originals = new Set(
        rows.map((r) => JSON.stringify(plain.map((i) => r[table.columns[i]] ?? null))),
      );
      for (const row of table.rows()) assert.ok(originals.has(JSON.stringify(plain.map((i) => row[i]))));
    }),
    { numRuns: 100 },
  );
});

function bankRow(date: number, amount: number | null): SourceRow {
  return { date, amount, direction: "out", currency: "EUR", description: "Rent", balance: 100 };
}

Deno.test("anonymize() keeps the finest levels when every class already has k rows", () => {
  const rows = [0, 1, 2].flatMap((d) =>
    Array.from({ length: 5 }, () => bankRow(T0 + d * DAY + 5 * HOUR, 12.5))
  );
  const table = anonymize("bank", () => rows);
  assert.equal(table.report.k, DEFAULT_K);
  assert.deepEqual(table.report.generalised, { date: "day", amount: "range 0.5" });
  assert.deepEqual([...table.rows()][0], ["2024-03-01", "12.5–13.0", "out", "EUR"]);
  assert.equal(table.report.suppressed, 0);
});

Deno.test("anonymize() coarsens a time to the month when days would suppress more than 5 %", () => {
  // 30 days with 2 rows each: every day is a class of 2, the month a class of 60.
  const rows = Array.from({ length: 60 }, (_, i) => bankRow(T0 + Math.floor(i / 2) * DAY, -20));
  const table = anonymize("bank", () => rows, { k: 5 });
  assert.equal(table.report.generalised.date, "month");
  assert.equal(table.released, 60);
  assert.ok([...table.rows()].every((r) => r[0] === "2024-03"));
});

Deno.test("anonymize() suppresses a small class when that costs at most maxSuppressedShare", () => {
  const rows = [
    ...Array.from({ length: 97 }, () => bankRow(T0, -20)),
    ...Array.from({ length: 3 }, () => bankRow(T0 + 40 * DAY, -20)),
  ];
  const kept = anonymize("bank", () => rows, { k: 5 });
  assert.equal(kept.report.generalised.date, "day");
  assert.equal(kept.report.suppressed, 3);
  assert.equal(kept.released, 97);
  const strict = anonymize("bank", () => rows, { k: 5, maxSuppressedShare: 0.01 });
  assert.equal(strict.report.generalised.date, "month");
  assert.equal(strict.report.suppressed, 3, "April still has only 3 rows");
});

Deno.test("anonymize() takes the coarsest levels and suppresses when no vector is good enough", () => {
  const rows = Array.from({ length: 4 }, (_, i) => bankRow(T0 + i * 40 * DAY, i * 1000));
  const table = anonymize("bank", () => rows, { k: 5 });
  assert.equal(table.report.generalised.date, "month");
  assert.equal(table.report.suppressed, 4);
  assert.deepEqual([...table.rows()], []);
});

Deno.test("anonymize() counts null quasi-identifiers as a class of their own", () => {
  const rows = [
    ...Array.from({ length: 10 }, () => bankRow(T0, -20)),
    ...Array.from({ length: 3 }, () => bankRow(T0, null)),
    ...Array.from({ length: 3 }, () => ({ ...bankRow(T0, -20), date: null })),
  ];
  const table = anonymize("bank", () => rows, { k: 3, maxSuppressedShare: 0 });
  const released = [...table.rows()];
  assert.equal(released.filter((r) => r[1] === null).length, 3);
  assert.equal(released.filter((r) => r[0] === null).length, 3);
  const small = anonymize("bank", () => rows, { k: 4 });
  assert.ok(
    [...small.rows()].every((r) => r[0] !== null && r[1] !== null),
    "classes of 3 nulls are suppressed",
  );
  assert.equal(small.report.suppressed, 6);
});

Deno.test("anonymize() throws SourceChangedError when the rows change between the passes", () => {
  const first = Array.from({ length: 10 }, () => bankRow(T0, -20));
  const versions = [first, first.slice(0, 7), [...first, bankRow(T0 + 100 * DAY, 5)]];
  for (const changed of versions.slice(1)) {
    let calls = 0;
    const table = anonymize("bank", () => calls++ === 0 ? first : changed, { k: 5 });
    assert.throws(() => [...table.rows()], (err: Error) => err instanceof SourceChangedError);
  }
});

Deno.test("anonymize() rejects bad options and bad rows without naming their values", () => {
  const rows = () => [bankRow(T0, 1)];
  assert.throws(() => anonymize("bank", rows, { k: 1 }), /Invalid "k"/);
  assert.throws(() => anonymize("bank", rows, { k: 2.5 }), /Invalid "k"/);
  assert.throws(() => anonymize("bank", rows, { maxSuppressedShare: 2 }), /maxSuppressedShare/);
  assert.throws(() => anonymize("nope" as SourceKind, rows), /Unknown source kind "nope"/);
  const secret = "Secret-Street-1";
  assert.throws(
    () => anonymize("uber", () => [{ requestedAt: T0, pickup: secret }]),
    (err: Error) =>
      err instanceof TypeError && /row 1 of "uber": field "pickup"/.test(err.message) &&
      !err.message.includes(secret),
  );
  assert.throws(() => anonymize("bank", () => [{ ...bankRow(T0, 1), date: "2024-03-01" }]), /field "date"/);
  assert.throws(() => anonymize("bank", () => [{ ...bankRow(T0, 1), currency: {} as never }]), /"currency"/);
});

Deno.test("searchLattice() prefers the fewest total levels, then the fewest suppressed rows", () => {
  const suppressed = new Map([["1,0", 3], ["0,1", 1], ["2,0", 0], ["1,1", 0], ["0,2", 0], ["0,0", 9]]);
  assert.deepEqual(searchLattice([3, 3], (v) => suppressed.get(v.join(",")) ?? 0, 3), [0, 1]);
  assert.deepEqual(
    searchLattice([3, 3], (v) => suppressed.get(v.join(",")) ?? 0, 0),
    [0, 2],
    "a tie: the first",
  );
  assert.deepEqual(searchLattice([3, 3], () => 10, 5), [2, 2], "none passes: the coarsest");
  assert.deepEqual(searchLattice([], () => 0, 0), []);
});
