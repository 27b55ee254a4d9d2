import assert from "node:assert/strict";
import fc from "fast-check";
import { manifestArb } from "../../../protocol/arbitraries_test.ts";
import { validateManifest } from "../../../protocol/manifest.ts";
import { SOURCE_KINDS } from "../../../protocol/sources.ts";
import { anonymize, type AnonymizedTable, combineTables, encodeTableCsv, type Released } from "./mod.ts";
import { bankPopulation, uberPopulation } from "./fixtures_test.ts";

/** An RFC 4180 reader: quoted fields with doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"', i += 2);
      else if (ch === '"') (quoted = false, i++);
      else (field += ch, i++);
    } else if (ch === '"' && field === "") (quoted = true, i++);
    else if (ch === ",") (record.push(field), field = "", i++);
    else if (ch === "\r" && text[i + 1] === "\n") {
      (record.push(field), records.push(record), record = [], field = "", i += 2);
    } else if (ch === '"' || ch === "\n" || ch === "\r") {
      throw new Error(`bare ${JSON.stringify(ch)} at ${i}`);
    } else (field += ch, i++);
  }
  assert.equal(field, "", "the last record ends with CRLF");
  assert.equal(record.length, 0);
  return records;
}

function table(columns: string[], rows: Released[][], kind: AnonymizedTable["kind"] = null): AnonymizedTable {
  return {
    kind,
    columns,
    released: rows.length,
    report: { k: 5, suppressed: 0, dropped: [], generalised: {} },
    rows: () => rows,
  };
}

Deno.test("encodeTableCsv() writes RFC 4180: a header, quotes around quotes, commas and newlines, CRLF", async () => {
  const t = table(["a", "b,c", "d"], [
    ['say "hi"', "1,5", null],
    ["two\nlines", "cr\rhere", 3.5],
    [" padded", "", -0.25],
    ["Straße 🚲", "–", 0],
  ]);
  const text = await new Response(encodeTableCsv(t)).text();
  assert.equal(
    text,
    'a,"b,c",d\r\n"say ""hi""","1,5",\r\n"two\nlines","cr\rhere",3.5\r\n" padded",,-0.25\r\nStraße 🚲,–,0\r\n',
  );
  assert.deepEqual(parseCsv(text), [
    ["a", "b,c", "d"],
    ['say "hi"', "1,5", ""],
    ["two\nlines", "cr\rhere", "3.5"],
    [" padded", "", "-0.25"],
    ["Straße 🚲", "–", "0"],
  ]);
});

Deno.test("encodeTableCsv() round-trips arbitrary strings through an RFC 4180 reader", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.oneof(fc.string(), fc.constantFrom('"', ",", "\r\n", "\n", "\r", '""x')), {
        minLength: 3,
        maxLength: 3,
      })),
      async (rows) => {
        const text = await new Response(encodeTableCsv(table(["x", "y", "z"], rows))).text();
        assert.deepEqual(parseCsv(text), [["x", "y", "z"], ...rows]);
      },
    ),
  );
});

Deno.test("encodeTableCsv() streams a large table in chunks and stops reading when cancelled", async () => {
  let read = 0;
  const big: AnonymizedTable = {
    ...table(["i", "text"], []),
    *rows() {
      for (let i = 0; i < 200_000; i++) {
        read++;
        yield [i, "some text, quoted"];
      }
    },
  };
  const reader = encodeTableCsv(big).getReader();
  const header = await reader.read();
  assert.equal(new TextDecoder().decode(header.value), "i,text\r\n");
  const first = await reader.read();
  assert.ok(first.value!.length >= 64 * 1024 && first.value!.length < 70 * 1024);
  assert.ok(read < 10_000, `${read} rows read for one chunk`);
  await reader.cancel();
  const after = read;
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(read, after, "no rows are read after the cancel");
  let chunks = 0;
  let bytes = 0;
  for await (const chunk of encodeTableCsv(big)) (chunks++, bytes += chunk.length);
  assert.ok(chunks > 50, `${chunks} chunks`);
  assert.ok(bytes > 200_000 * 20);
});

Deno.test("combineTables() unions kinds under a leading source column and merges their reports", async () => {
  const uber = anonymize("uber", () => uberPopulation(500), { k: 5 });
  const bank = anonymize("bank", () => bankPopulation(300), { k: 3 });
  const both = combineTables([uber, bank]);
  assert.equal(both.kind, null);
  assert.deepEqual(both.columns, ["source", ...uber.columns, "date", "amount", "direction"]);
  assert.equal(both.released, uber.released + bank.released);
  assert.deepEqual(both.report, {
    k: 3,
    suppressed: uber.report.suppressed + bank.report.suppressed,
    dropped: ["pickupAddress", "dropoffAddress", "description", "balance"],
    generalised: { ...uber.report.generalised, ...bank.report.generalised },
  });
  const rows = [...both.rows()];
  assert.equal(rows.length, both.released);
  const uberRows = [...uber.rows()];
  const bankRows = [...bank.rows()];
  assert.deepEqual(rows[0], ["uber", ...uberRows[0], null, null, null]);
  const currency = both.columns.indexOf("currency");
  const last = rows[rows.length - 1];
  assert.deepEqual(
    [last[0], last[both.columns.indexOf("date")], last[both.columns.indexOf("amount")], last[currency]],
    ["bank", bankRows[bankRows.length - 1][0], bankRows[bankRows.length - 1][1], "EUR"],
    "a shared column (currency) is one column",
  );
  const csv = parseCsv(await new Response(encodeTableCsv(both)).text());
  assert.equal(csv.length, both.released + 1);
});

Deno.test("combineTables() names a field two kinds report as kind.field, and sums ε", () => {
  const spotify = anonymize("spotify", () => [], { k: 5 });
  const netflix = anonymize("netflix", () => [], { k: 7 });
  const a = { ...spotify, report: { ...spotify.report, epsilon: 0.5 } };
  const b = { ...netflix, report: { ...netflix.report, epsilon: 0.25 } };
  const both = combineTables([a, b]);
  assert.deepEqual(both.report, {
    k: 5,
    suppressed: 0,
    dropped: ["platform", "username", "ipAddress", "profile", "device"],
    generalised: {
      playedAt: "hour",
      "spotify.country": "none",
      startedAt: "hour",
      "netflix.country": "none",
    },
    epsilon: 0.75,
  });
  const nested = combineTables([both, anonymize("chrome", () => [])]);
  assert.equal(nested.columns[0], "source");
  assert.throws(() => combineTables([]), /none given/);
});

Deno.test("combineTables() keeps the source of a combined table's rows", () => {
  const inner = combineTables([table(["x"], [[1]], "bank"), table(["y"], [[2]], "uber")]);
  const outer = combineTables([inner, table(["x"], [[3]], "amazon")]);
  assert.deepEqual(outer.columns, ["source", "x", "y"]);
  assert.deepEqual([...outer.rows()], [["bank", 1, null], ["uber", null, 2], ["amazon", 3, null]]);
});

Deno.test("the report of a table combining every kind is a valid manifest privacy report", () => {
  const all = combineTables([
    anonymize("uber", () => uberPopulation(300)),
    anonymize("bank", () => bankPopulation(300)),
    ...SOURCE_KINDS.filter((k) => k !== "uber" && k !== "bank").map((kind) => anonymize(kind, () => [])),
  ]);
  const manifest = {
    ...fc.sample(manifestArb, { numRuns: 1, seed: 7 })[0],
    privacy: { ...all.report, epsilon: 1 },
  };
  assert.deepEqual(validateManifest(manifest).privacy, manifest.privacy);
});
