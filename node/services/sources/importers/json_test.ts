import assert from "node:assert/strict";
import { type JsonRecord, readJsonArray } from "./json.ts";
import { IMPORTERS } from "./mod.ts";
import { streamOf } from "./testing.ts";
import { ImportError } from "./types.ts";

async function read(text: string, size = 64 * 1024, key?: string): Promise<JsonRecord[]> {
  const out: JsonRecord[] = [];
  for await (const r of readJsonArray(streamOf(text, size), { filename: "h.json", what: "a history", key })) {
    out.push(r);
  }
  return out;
}

Deno.test("readJsonArray() yields each element with its 1-based record number, in chunks of any size", async () => {
  const text = '\uFEFF  [{"a":1},{"b":"ü😀"},[2],null,\n{"c":{"d":[1,2]}}]\n';
  for (const size of [1, 2, 5, 1024]) {
    assert.deepEqual(await read(text, size), [
      { value: { a: 1 }, record: 1 },
      { value: { b: "ü😀" }, record: 2 },
      { value: [2], record: 3 },
      { value: null, record: 4 },
      { value: { c: { d: [1, 2] } }, record: 5 },
    ], `chunks of ${size}`);
  }
  assert.deepEqual(await read("[]"), []);
});

Deno.test("readJsonArray() reads the array under a key of a top-level object", async () => {
  const text = '{"Other": [1, 2], "Browser History": [{"x": 1}, {"x": 2}], "Tail": {"y": 3}}';
  for (const size of [1, 7, 1024]) {
    assert.deepEqual((await read(text, size, "Browser History")).map((r) => r.value), [{ x: 1 }, { x: 2 }]);
  }
});

Deno.test("readJsonArray() names the record of a cut or invalid file, and rejects an empty or wrong one", async () => {
  const rejects = (text: string, message: string, key?: string) =>
    assert.rejects(read(text, 3, key), (err: Error) => err instanceof ImportError && err.message === message);
  await rejects(
    '[{"a":1},{"b":',
    "h.json record 2: the file ends in the middle of a record (is it cut short?)",
  );
  await rejects('[{"a":1},{"b" 2}]', "h.json record 2: not valid JSON");
  await rejects("", "h.json: the file is empty: expected a history");
  await rejects("  \n ", "h.json: the file is empty: expected a history");
  await rejects("a,b\n1,2\n", "h.json: not a history: expected a JSON array");
  await rejects('{"a": []}', "h.json: not a history: expected a JSON array");
  await rejects('{"a": []}', 'h.json: not a history: no "B" records', "B");
});

/** A Spotify extended history of `bytes` or more, generated as it is read; counts what was pulled. */
function generatedHistory(bytes: number) {
  const state = { pulled: 0, entries: 0 };
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= bytes) {
        controller.enqueue(encoder.encode("\n]\n"));
        return controller.close();
      }
      const lines: string[] = [];
      for (let i = 0; i < 200; i++) {
        const t = Date.UTC(2023, 0, 1) + state.entries * 1000;
        lines.push(JSON.stringify({
          ts: new Date(t).toISOString(),
          username: "u",
          platform: "android",
          ms_played: state.entries % 300_000,
          conn_country: "DE",
          ip_addr_decrypted: "10.0.0.1",
          master_metadata_track_name: `Track ${state.entries}`,
          master_metadata_album_artist_name: "Artist",
          master_metadata_album_album_name: "Album",
          episode_name: null,
        }));
        state.entries++;
      }
      const chunk = encoder.encode((state.pulled === 0 ? "[\n" : ",\n") + lines.join(",\n"));
      state.pulled += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

Deno.test("spotify.parse() streams a 50 MB history: every row, without reading the file ahead", async () => {
  const { stream, state } = generatedHistory(50 * 1024 * 1024);
  let rows = 0;
  let pulledAtFirstBatch = -1;
  let last = 0;
  for await (
    const batch of IMPORTERS.spotify.parse(stream, { filename: "Streaming_History_Audio_big.json" })
  ) {
    if (pulledAtFirstBatch < 0) pulledAtFirstBatch = state.pulled;
    rows += batch.length;
    last = batch.at(-1)!.msPlayed as number;
  }
  assert.ok(state.pulled >= 50 * 1024 * 1024);
  assert.equal(rows, state.entries);
  assert.equal(last, (state.entries - 1) % 300_000);
  // The first rows came out after a few chunks, not after the whole file.
  assert.ok(pulledAtFirstBatch < 1024 * 1024, `pulled ${pulledAtFirstBatch} bytes before the first batch`);
});
