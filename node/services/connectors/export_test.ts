import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeCsvField, encodeRows, exportRows } from "./export.ts";
import { readRows, type Row } from "./read_rows.ts";

/** A stream of `text` cut into pieces of `size` bytes (cuts fall inside fields and UTF-8 sequences). */
function streamOf(text: string, size = 5): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.slice(i, i + size));
  return ReadableStream.from(pieces);
}

async function collect(stream: ReadableStream<Uint8Array>, sourceFormat?: "csv" | "ndjson" | "json") {
  const rows: Row[] = [];
  for await (const group of readRows(stream, { sourceFormat })) rows.push(...group);
  return rows;
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

const TRICKY: Row[] = [
  { name: "plain", note: "a, b", quote: 'say "hi"', lines: "one\ntwo", crlf: "x\r\ny" },
  { name: " padded ", note: "", quote: '"', lines: "ünïcødé ✓", crlf: "," },
];

Deno.test("encodeCsvField() quotes commas, quotes, newlines and edge spaces, and doubles quotes", () => {
  assert.equal(encodeCsvField("plain"), "plain");
  assert.equal(encodeCsvField("a,b"), '"a,b"');
  assert.equal(encodeCsvField('say "hi"'), '"say ""hi"""');
  assert.equal(encodeCsvField("a\nb"), '"a\nb"');
  assert.equal(encodeCsvField(" x"), '" x"');
  assert.equal(encodeCsvField(null), "");
  assert.equal(encodeCsvField(1.5), "1.5");
  assert.equal(encodeCsvField({ a: [1, "b,c"] }), '"{""a"":[1,""b,c""]}"');
});

Deno.test("exportRows() turns NDJSON into CSV that reads back to the same rows", async () => {
  const ndjson = TRICKY.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const csv = await text(exportRows(streamOf(ndjson), { format: "csv", sourceFormat: "ndjson" }));
  assert.ok(csv.startsWith("name,note,quote,lines,crlf\r\n"));
  assert.deepEqual(await collect(streamOf(csv, 3), "csv"), TRICKY);
});

Deno.test("exportRows() turns CSV into NDJSON and back into the same CSV", async () => {
  const csv = encodeRows(TRICKY, "csv");
  const ndjson = await text(exportRows(streamOf(csv), { format: "ndjson", sourceFormat: "csv" }));
  assert.deepEqual(ndjson.trimEnd().split("\n").map((line) => JSON.parse(line)), TRICKY);
  const again = await text(exportRows(streamOf(ndjson, 7), { format: "csv" }));
  assert.equal(again, csv);
});

Deno.test("exportRows() reads a JSON array and keeps JSON types in NDJSON", async () => {
  const rows = [{ a: 1, b: true, c: null, d: { e: [1, 2] } }, { a: 2.5, b: false, c: "x", d: {} }];
  const ndjson = await text(exportRows(streamOf(JSON.stringify(rows, null, 2)), { format: "ndjson" }));
  assert.deepEqual(ndjson.trimEnd().split("\n").map((line) => JSON.parse(line)), rows);
});

Deno.test("exportRows() names CSV columns from the rows before the header, in order of appearance", async () => {
  const ndjson = '{"a":1}\n{"b":"x","a":2}\n';
  const csv = await text(exportRows(streamOf(ndjson), { format: "csv", headerRows: 10 }));
  assert.equal(csv, "a,b\r\n1,\r\n2,x\r\n");
});

Deno.test("exportRows() fails rather than drop a CSV column first seen after the header", async () => {
  const ndjson = '{"a":1}\n{"a":2,"late":3}\n';
  await assert.rejects(
    text(exportRows(streamOf(ndjson), { format: "csv", headerRows: 1 })),
    (err: Error) => err.name === "ExportError" && err.message.includes('"late"'),
  );
});

Deno.test("exportRows() reports malformed input as DatasetFormatError", async () => {
  await assert.rejects(
    text(exportRows(streamOf('{"a":1}\nnot json\n'), { format: "csv", sourceFormat: "ndjson" })),
    (err: Error) => err.name === "DatasetFormatError" && /line 2/.test(err.message),
  );
});

Deno.test("CSV export round-trips any rows of strings (property)", async () => {
  const key = fc.string({ minLength: 1, maxLength: 8 }).filter((k) =>
    k.trim() === k && !/["\r\n,;\t|]/.test(k)
  );
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(key, { minLength: 1, maxLength: 4 }),
      fc.array(fc.array(fc.string({ maxLength: 12, unit: "binary" }), { minLength: 4, maxLength: 4 }), {
        minLength: 1,
        maxLength: 8,
      }),
      async (columns, cells) => {
        const rows = cells.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
        // A row of only empty cells is a blank CSV line; the reader skips it, as RFC 4180 readers do.
        const kept = rows.filter((row) => Object.values(row).some((v) => v !== "") || columns.length > 1);
        const ndjson = kept.map((r) => JSON.stringify(r)).join("\n");
        const csv = await text(exportRows(streamOf(ndjson, 4), { format: "csv", sourceFormat: "ndjson" }));
        assert.deepEqual(await collect(streamOf(csv, 3), "csv"), kept);
      },
    ),
    { numRuns: 200 },
  );
});
