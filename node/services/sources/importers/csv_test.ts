import assert from "node:assert/strict";
import { type CsvRecord, decodeText, openCsvTable, readCsv } from "./csv.ts";
import { streamOf } from "./testing.ts";
import { ImportError, MAX_BATCH } from "./types.ts";
import { IMPORTERS } from "./mod.ts";

async function decode(chunks: Uint8Array[]): Promise<string> {
  let text = "";
  for await (const piece of ReadableStream.from(chunks).pipeThrough(decodeText())) text += piece;
  return text;
}

async function records(text: string | Uint8Array, size = 64 * 1024, delimiter?: ";"): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const r of readCsv(streamOf(text, size), { filename: "x.csv", delimiter })) out.push(r);
  return out;
}

const bytes = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

Deno.test("decodeText() drops a BOM and turns CRLF into LF, also when a chunk ends between them", async () => {
  assert.equal(await decode([bytes([0xef, 0xbb, 0xbf], "a,b\r"), bytes("\n1,2\r\n")]), "a,b\n1,2\n");
  assert.equal(await decode([bytes([0xef]), bytes([0xbb, 0xbf], "x\r")]), "x\r");
});

Deno.test("decodeText() reads UTF-8 split at every byte boundary", async () => {
  const text = "Bäckerei Müller – Café € 😀\n";
  const all = new TextEncoder().encode(text);
  for (let cut = 1; cut < all.length; cut++) {
    assert.equal(await decode([all.slice(0, cut), all.slice(cut)]), text, `cut at ${cut}`);
  }
});

Deno.test("decodeText() reads a file that is not UTF-8 as windows-1252, from the first bad byte on", async () => {
  // "Müller;12,50 €" in windows-1252: ü = 0xfc, € = 0x80
  assert.equal(await decode([bytes("M", [0xfc], "ller;12,50 ", [0x80], "\n")]), "Müller;12,50 €\n");
  // ASCII first, the windows-1252 byte in a later chunk
  assert.equal(await decode([bytes("date;text\n"), bytes("1;Caf", [0xe9], "\n")]), "date;text\n1;Café\n");
  // a lone lead byte at the very end
  assert.equal(await decode([bytes("x", [0xc3])]), "xÃ");
});

Deno.test("readCsv() gives each record the line it starts on, across quoted newlines and CRLF", async () => {
  const text = 'a,b\r\n1,"two\r\nlines"\r\n\r\n3,"x ""q"" y"\r\n4,"three\nmore\nlines"\n5,last';
  for (const size of [1, 3, 1024]) {
    const got = await records(text, size);
    assert.deepEqual(got, [
      { line: 1, cells: ["a", "b"] },
      { line: 2, cells: ["1", "two\nlines"] },
      { line: 5, cells: ["3", 'x "q" y'] },
      { line: 6, cells: ["4", "three\nmore\nlines"] },
      { line: 9, cells: ["5", "last"] },
    ], `chunks of ${size}`);
  }
});

Deno.test("readCsv() reads another delimiter and windows-1252 text", async () => {
  const got = await records(
    bytes("Datum;Betrag\n01.05.2023;-12,50\n02.05.2023;B", [0xe4], "ckerei\n"),
    7,
    ";",
  );
  assert.deepEqual(got.map((r) => r.cells), [["Datum", "Betrag"], ["01.05.2023", "-12,50"], [
    "02.05.2023",
    "Bäckerei",
  ]]);
});

Deno.test("readCsv() names the line of a quoted field that is never closed", async () => {
  await assert.rejects(
    records('a,b\n1,2\n3,"open\nstill open'),
    (err: Error) =>
      err instanceof ImportError &&
      err.message === "x.csv line 3: a quoted field is never closed (is the file cut short?)",
  );
});

Deno.test("openCsvTable() finds columns by name and rejects an empty file or a header that lacks one", async () => {
  const table = await openCsvTable(streamOf("Start Time,Title\n2023,Roma\n"), {
    filename: "v.csv",
    what: "a Netflix ViewingActivity.csv",
    required: ["Title"],
  });
  assert.deepEqual(table.header, ["Start Time", "Title"]);
  assert.equal(table.column("start time"), 0);
  assert.equal(table.column("Country"), -1);
  assert.deepEqual((await table.rows.next()).value, { line: 2, cells: ["2023", "Roma"] });
  await assert.rejects(
    openCsvTable(streamOf(""), { filename: "e.csv", what: "a Netflix ViewingActivity.csv" }),
    { name: "ImportError", message: "e.csv: the file is empty: expected a Netflix ViewingActivity.csv" },
  );
  await assert.rejects(
    openCsvTable(streamOf("Date,Amount\n1,2\n"), {
      filename: "w.csv",
      what: "a Netflix ViewingActivity.csv",
      required: ["Start Time", ["Title", "Name"]],
    }),
    {
      name: "ImportError",
      message: "w.csv line 1: not a Netflix ViewingActivity.csv: header lacks Start Time, Title",
    },
  );
});

Deno.test("an import stopped after its first batch cancels the file's stream (CSV and JSON)", async () => {
  const endless = (head: string, line: (i: number) => string) => {
    const state = { cancelled: false, i: 0 };
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        let text = state.i === 0 ? head : "";
        for (let n = 0; n < 100; n++) text += line(state.i++);
        controller.enqueue(encoder.encode(text));
      },
      cancel() {
        state.cancelled = true;
      },
    }, { highWaterMark: 0 });
    return { stream, state };
  };
  const csv = endless(
    "Start Time,Duration,Title\n",
    (i) => `2023-05-01 10:00:00,00:00:${String(i % 60).padStart(2, "0")},T${i}\n`,
  );
  for await (const batch of IMPORTERS.netflix.parse(csv.stream, { filename: "v.csv" })) {
    assert.equal(batch.length, MAX_BATCH);
    break;
  }
  assert.ok(csv.state.cancelled);
  const json = endless("[", (i) => `${i ? "," : ""}{"endTime":"2023-05-01 10:00","msPlayed":${i}}`);
  for await (const batch of IMPORTERS.spotify.parse(json.stream, { filename: "s.json" })) {
    assert.equal(batch.length, MAX_BATCH);
    break;
  }
  assert.ok(json.state.cancelled);
});
