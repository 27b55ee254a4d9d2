import assert from "node:assert/strict";
import type { SourceRow } from "../../../../protocol/sources.ts";
import { batchRows, placeOf, rowBuilder, sourceRowProblem, validateSourceRow } from "./rows.ts";
import { MAX_BATCH } from "./types.ts";

Deno.test("rowBuilder() makes rows of exactly the kind's fields, in order, the missing ones null", () => {
  const row = rowBuilder("bank")({ date: 1, amount: -2 });
  assert.deepEqual(Object.entries(row), [
    ["date", 1],
    ["amount", -2],
    ["direction", null],
    ["currency", null],
    ["description", null],
    ["balance", null],
  ]);
  assert.throws(() => rowBuilder("bank")({ date: 1, iban: "DE12" }), {
    name: "TypeError",
    message: 'Cannot build a bank row: no field "iban"',
  });
});

Deno.test("validateSourceRow() rejects extra, missing and mistyped fields", () => {
  const good = rowBuilder("uber")({ requestedAt: 1, pickup: "52.5,13.4", fare: 12.5, city: "Berlin" });
  assert.equal(validateSourceRow("uber", good), good);
  const bad: [unknown, string][] = [
    [{ ...good, extra: 1 }, 'unknown field "extra"'],
    [(({ city: _, ...rest }) => rest)(good), 'missing field "city"'],
    [{ ...good, requestedAt: "2023" }, "requestedAt is not a time in ms"],
    [{ ...good, requestedAt: 1.5 }, "requestedAt is not a time in ms"],
    [{ ...good, fare: Number.NaN }, "fare is not a finite number"],
    [{ ...good, pickup: "north" }, 'pickup is not a "lat,lng" place'],
    [{ ...good, pickup: "95,13" }, 'pickup is not a "lat,lng" place'],
    [{ ...good, city: 7 }, "city is not text"],
    [[], "not an object"],
    [null, "not an object"],
  ];
  for (const [row, problem] of bad) {
    assert.equal(sourceRowProblem("uber", row), problem);
    assert.throws(() => validateSourceRow("uber", row), {
      name: "TypeError",
      message: `Invalid uber row: ${problem}`,
    });
  }
});

Deno.test("batchRows() yields batches of at most MAX_BATCH and stops when the signal aborts", async () => {
  async function* rows(n: number): AsyncGenerator<SourceRow> {
    for (let i = 0; i < n; i++) yield { i };
  }
  const sizes: number[] = [];
  for await (const batch of batchRows(rows(2 * MAX_BATCH + 7))) sizes.push(batch.length);
  assert.deepEqual(sizes, [MAX_BATCH, MAX_BATCH, 7]);
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const batch of batchRows(rows(5 * MAX_BATCH), controller.signal)) {
      seen.push(batch.length);
      controller.abort();
    }
  }, { name: "AbortError" });
  assert.deepEqual(seen, [MAX_BATCH]);
});

Deno.test("placeOf() writes lat,lng and has no place for 0,0 or a missing coordinate", () => {
  assert.equal(placeOf(52.5123456789, 13.4), "52.512346,13.4");
  assert.equal(placeOf(0, 0), null);
  assert.equal(placeOf(null, 13.4), null);
  assert.equal(placeOf(1e-9, 13), "0,13");
});
