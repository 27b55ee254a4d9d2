import assert from "node:assert/strict";
import { SOURCE_KIND_INFO } from "../../../../protocol/sources.ts";
import { IMPORTERS } from "./mod.ts";
import { importFailure, importFixture } from "./testing.ts";

Deno.test("netflix.parse() reads ViewingActivity.csv: exactly the kind's fields, country codes, trailers", async () => {
  const rows = await importFixture("netflix", "netflix/ViewingActivity.csv");
  assert.equal(rows.length, 324);
  assert.deepEqual(Object.keys(rows[0]), SOURCE_KIND_INFO.netflix.fields.map((f) => f.name));
  assert.deepEqual(rows[0], {
    startedAt: Date.UTC(2023, 4, 3, 19, 50, 36),
    durationS: 1951,
    title: "Our Planet: One Planet (Episode 1)",
    videoType: null,
    country: "FR",
    profile: "Alex",
    device: "Samsung 2019 UHD TV",
  });
  assert.deepEqual(rows[3], {
    startedAt: Date.UTC(2023, 4, 3, 19, 29, 32),
    durationS: 7,
    title: "The Crown: Season 2: Misadventure (Episode 1)",
    videoType: "TRAILER",
    country: "FR",
    profile: "Alex",
    device: "Samsung 2019 UHD TV",
  });
  assert.deepEqual(rows[323], {
    startedAt: Date.UTC(2023, 4, 1, 8, 16, 59),
    durationS: 1314,
    title: "The Crown: Season 2: Misadventure (Episode 1)",
    videoType: null,
    country: "DE",
    profile: "Kids",
    device: "Apple iPhone 12 (CDM)",
  });
});

Deno.test("netflix.parse() reads an older export without Country, and one with a BOM, CRLF and quoted fields", async () => {
  const old = await importFixture("netflix", "netflix/ViewingActivity_old.csv");
  assert.equal(old.length, 36);
  assert.deepEqual(old[0], {
    startedAt: Date.UTC(2023, 4, 3, 19, 28, 31),
    durationS: 280,
    title: "Dark: Season 1: Lies (Episode 2)",
    videoType: null,
    country: null,
    profile: "Alex",
    device: "Apple iPhone 12 (CDM)",
  });
  const crlf = await importFixture("netflix", "netflix/ViewingActivity_bom_crlf.csv");
  assert.equal(crlf.length, 30);
  assert.deepEqual(Object.keys(crlf[0]), SOURCE_KIND_INFO.netflix.fields.map((f) => f.name)); // no BOM in "Profile Name"
  assert.equal(crlf[0].profile, "Alex");
  assert.equal(crlf[4].title, 'Unbreakable Kimmy Schmidt: Season 1: "Kimmy Goes Outside!" (Episode 1)');
  assert.equal(crlf[4].startedAt, Date.UTC(2023, 4, 3, 9, 2, 51));
  // The row whose Attributes hold a line break, and the one after it.
  assert.equal(crlf[7].startedAt, Date.UTC(2023, 4, 2, 18, 39, 49));
  assert.equal(crlf[8].country, "DE");
});

Deno.test("netflix.parse() names the file and line of a bad date or a cut file, and rejects a wrong or empty one", async () => {
  const cases: [string, string][] = [
    ["ViewingActivity_bad_date.csv", 'ViewingActivity_bad_date.csv line 12: Start Time "abc" is not a date'],
    [
      "ViewingActivity_truncated.csv",
      "ViewingActivity_truncated.csv line 6: a quoted field is never closed (is the file cut short?)",
    ],
    [
      "wrong_kind.csv",
      "wrong_kind.csv line 1: not a Netflix ViewingActivity.csv: header lacks Start Time, Duration, Title",
    ],
    ["empty.csv", "empty.csv: the file is empty: expected a Netflix ViewingActivity.csv"],
  ];
  for (const [file, message] of cases) {
    assert.equal((await importFailure("netflix", `netflix/${file}`)).message, message);
  }
});

Deno.test("netflix.parse() streams a 20 MB ViewingActivity.csv: every row, without reading the file ahead", async () => {
  const encoder = new TextEncoder();
  const state = { pulled: 0, rows: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= 20 * 1024 * 1024) return controller.close();
      let text = state.pulled === 0 ? "Profile Name,Start Time,Duration,Attributes,Title,Country\r\n" : "";
      for (let i = 0; i < 200; i++, state.rows++) {
        const start = new Date(Date.UTC(2020, 0, 1) + state.rows * 60_000).toISOString().slice(0, 19).replace(
          "T",
          " ",
        );
        text +=
          `Alex,${start},00:01:00,"Autoplayed: user action: None;\r\nbranched","Show, ""${state.rows}""",DE (Germany)\r\n`;
      }
      const chunk = encoder.encode(text);
      state.pulled += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  let rows = 0;
  let pulledAtFirstBatch = -1;
  let last = "";
  for await (const batch of IMPORTERS.netflix.parse(stream, { filename: "ViewingActivity.csv" })) {
    if (pulledAtFirstBatch < 0) pulledAtFirstBatch = state.pulled;
    rows += batch.length;
    last = batch.at(-1)!.title as string;
  }
  assert.equal(rows, state.rows);
  assert.equal(last, `Show, "${state.rows - 1}"`);
  assert.ok(
    pulledAtFirstBatch < 2 * 1024 * 1024,
    `pulled ${pulledAtFirstBatch} bytes before the first batch`,
  );
});
