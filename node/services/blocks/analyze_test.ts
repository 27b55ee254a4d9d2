import assert from "node:assert/strict";
import fc from "fast-check";
import { MASK } from "../../../protocol/manifest.ts";
import { type DatasetAnalysis, DatasetAnalyzer, isIdentifyingColumn, isIdentifyingValue } from "./analyze.ts";
import { DatasetFormatError } from "./errors.ts";

function analyze(text: string, init = {}, pieceSize = 7): DatasetAnalysis {
  const analyzer = new DatasetAnalyzer(init);
  for (let i = 0; i < text.length; i += pieceSize) analyzer.push(text.slice(i, i + pieceSize));
  return analyzer.finish();
}

const CSV = [
  "time,user_id,email,temp,ok,city,count",
  "2026-05-01T10:00:00Z,u1,a@example.org,21.5,true,Berlin,3",
  '2026-05-01T11:00:00Z,u2,b@example.org,19,false,"Paris, ""FR""",4',
  "",
  '2026-05-02 09:30:00,u3,c@example.org,-2.25e1,TRUE,"multi\r\nline",5',
].join("\r\n") + "\n";

Deno.test("DatasetAnalyzer reads CSV: types, rows, time range and a masked preview", () => {
  for (const piece of [1, 3, 7, 1000]) {
    const a = analyze(CSV, {}, piece);
    assert.equal(a.format, "csv");
    assert.equal(a.rowCount, 3);
    assert.deepEqual(a.schema, [
      { name: "time", type: "timestamp" },
      { name: "user_id", type: "string" },
      { name: "email", type: "string" },
      { name: "temp", type: "number" },
      { name: "ok", type: "boolean" },
      { name: "city", type: "string" },
      { name: "count", type: "integer" },
    ]);
    assert.deepEqual(a.timeRange, { from: Date.UTC(2026, 4, 1, 10), to: Date.UTC(2026, 4, 2, 9, 30) });
    assert.deepEqual(a.preview[1], ["2026-05-01T11:00:00Z", MASK, MASK, 19, false, 'Paris, "FR"', 4]);
    assert.deepEqual(a.preview[2].slice(3), [-22.5, true, "multi\r\nline", 5]);
  }
});

Deno.test("DatasetAnalyzer sniffs semicolon and tab delimiters and masks identifying values anywhere", () => {
  const a = analyze("a;b\n1;10.0.0.1\n2;x\n");
  assert.deepEqual(a.schema.map((c) => c.name), ["a", "b"]);
  assert.deepEqual(a.preview, [[1, MASK], [2, "x"]]);
  const t = analyze("k\tv\nx\ty\n", { filename: "d.tsv" });
  assert.deepEqual(t.preview, [["x", "y"]]);
});

Deno.test("DatasetAnalyzer reads NDJSON and a JSON array of objects, uniting their keys", () => {
  const records = [
    { ts: 1_777_000_000, sensorId: "s-1", value: 1, tags: ["a"], note: null },
    { ts: 1_777_000_600, sensorId: "s-2", value: 2.5, extra: true },
  ];
  const ndjson = analyze(records.map((r) => JSON.stringify(r)).join("\n") + "\n\n");
  const json = analyze(JSON.stringify(records, null, 2));
  for (const [a, format] of [[ndjson, "ndjson"], [json, "json"]] as const) {
    assert.equal(a.format, format);
    assert.equal(a.rowCount, 2);
    assert.deepEqual(a.schema, [
      { name: "ts", type: "timestamp" },
      { name: "sensorId", type: "string" },
      { name: "value", type: "number" },
      { name: "tags", type: "string" },
      { name: "note", type: "string" },
      { name: "extra", type: "boolean" },
    ]);
    assert.deepEqual(a.timeRange, { from: 1_777_000_000_000, to: 1_777_000_600_000 });
    assert.deepEqual(a.preview, [
      [1_777_000_000, MASK, 1, '["a"]', null, null],
      [1_777_000_600, MASK, 2.5, null, null, true],
    ]);
  }
  assert.equal(analyze("[]").rowCount, 0);
  assert.equal(analyze('[{"a":"}{]["}]').rowCount, 1, "brackets inside strings do not end an element");
});

Deno.test("DatasetAnalyzer rejects malformed input with a DatasetFormatError", () => {
  const bad = [
    'a,b\n"unclosed,1\n',
    '{"a":1}\nnot json\n',
    '{"a":1}\n[1]\n',
    '[{"a":1},]',
    '[{"a":1}',
    '[{"a":1}] x',
    "[1, 2]",
    "   \n ",
    "",
  ];
  for (const text of bad) assert.throws(() => analyze(text), DatasetFormatError, JSON.stringify(text));
});

Deno.test("DatasetAnalyzer counts CSV rows and keeps quoted fields exactly however the text is split", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.integer(), fc.string({ maxLength: 30 })), { maxLength: 30 }),
    fc.integer({ min: 1, max: 50 }),
    (rows, piece) => {
      const text = "n,s\n" + rows.map(([n, s]) => `${n},"x${s.replaceAll('"', '""')}"`).join("\n");
      const a = analyze(text, { format: "csv" }, piece);
      assert.equal(a.rowCount, rows.length);
      assert.equal(a.preview.length, Math.min(rows.length, 5));
      a.preview.forEach((cells, i) => {
        const value = "x" + rows[i][1];
        assert.deepEqual(cells, [rows[i][0], isIdentifyingValue(value) ? MASK : value]);
      });
      if (rows.length > 0) assert.deepEqual(a.schema.map((c) => c.type), ["integer", "string"]);
    },
  ));
});

Deno.test("isIdentifyingColumn() flags people and device identifiers but not measurements", () => {
  for (
    const name of [
      "email",
      "E-Mail",
      "phone_number",
      "first_name",
      "userId",
      "user_id",
      "userid",
      "ip",
      "IP Address",
    ]
  ) {
    assert.ok(isIdentifyingColumn(name), name);
  }
  for (const name of ["sensor_id", "deviceId", "uuid", "street", "lat", "zip"]) {
    assert.ok(isIdentifyingColumn(name), name);
  }
  for (const name of ["temperature", "paid", "valid", "city", "timestamp", "value", "zipper_count"]) {
    assert.ok(!isIdentifyingColumn(name), name);
  }
});
