/**
 * `Sources.importFile()` on a real node: the bytes it reports as it reads, a bad file cancelled
 * at its bad line rather than read to the end, a path cut to the file's name, and a bank statement
 * in windows-1252 detected and read alike.
 */
import assert from "node:assert/strict";
import { startAppNode } from "./node_app.ts";
import { viewingActivity } from "./sources.ts";

Deno.test("importFile() reports the bytes read, and a failed import cancels the rest of the file", async () => {
  await using started = await startAppNode("kosmos-sources-import-");
  const { sources } = started.node.components;
  const file = viewingActivity(20_000);
  const chunks = Array.from(
    { length: Math.ceil(file.length / 65_536) },
    (_, i) => file.subarray(i * 65_536, (i + 1) * 65_536),
  );
  const progress: number[] = [];
  const source = await sources.importFile("netflix", ReadableStream.from(chunks), {
    filename: "/home/ana/Downloads/ViewingActivity.csv",
    onProgress: (bytes) => progress.push(bytes),
  });
  assert.equal(source.rows, 20_000);
  assert.equal(source.filename, "ViewingActivity.csv", "a path is cut to the file's name");
  assert.equal(progress.length, chunks.length);
  assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]));
  assert.equal(progress.at(-1), file.length);

  // A bad line early in a long file: the import stops there and the rest is never read.
  const bad = viewingActivity(200_000, { line: 10, start: "soon" });
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled * 65_536 >= bad.length) return controller.close();
      controller.enqueue(bad.slice(pulled * 65_536, ++pulled * 65_536));
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(sources.importFile("netflix", stream, { filename: "V.csv" }), /V\.csv line 10/);
  assert.ok(pulled * 65_536 < bad.length / 4, `${pulled} chunks of ${Math.ceil(bad.length / 65_536)} read`);
  assert.ok(cancelled, "the file was cancelled");
  assert.deepEqual(sources.list().map((s) => s.id), [source.id]);
});

Deno.test("a windows-1252 bank statement is detected and read alike, its mapping kept with the source", async () => {
  await using started = await startAppNode("kosmos-sources-latin1-");
  const { sources } = started.node.components;
  const text = [
    "Buchungstag;Empfänger;Betrag in €",
    ...Array.from(
      { length: 40 },
      (_, i) => `${String(1 + (i % 28)).padStart(2, "0")}.03.2024;Bäckerei ${i % 3};-${i + 1},25`,
    ),
  ].join("\r\n");
  // windows-1252: ä is 0xe4, € is 0x80; every other character here is ASCII.
  const bytes = Uint8Array.from([...text].map((c) => c === "ä" ? 0xe4 : c === "€" ? 0x80 : c.charCodeAt(0)));
  const source = await sources.importFile("bank", ReadableStream.from([bytes]), { filename: "umsaetze.csv" });
  assert.equal(source.rows, 40);
  assert.equal(source.mapping?.amount, "Betrag in €");
  assert.equal(source.mapping?.date, "Buchungstag");
  assert.deepEqual(sources.get(source.id).mapping, source.mapping);
  const [first] = sources.rows(source.id);
  assert.equal(first.amount, -1.25);
  assert.equal(first.direction !== null, true);
});
