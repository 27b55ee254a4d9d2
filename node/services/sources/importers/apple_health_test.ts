import assert from "node:assert/strict";
import { SOURCE_KIND_INFO, type SourceRow } from "../../../../protocol/sources.ts";
import { healthExportStream, newHealthExportStats } from "../../../../scripts/fixtures/apple_health.ts";
import { appleHealth, MAX_ELEMENT_CHARS } from "./apple_health.ts";
import { ImportError, MAX_BATCH } from "./types.ts";

const DIR = new URL("../../../../tests/fixtures/sources/apple-health/", import.meta.url);
const FIELDS = SOURCE_KIND_INFO["apple-health"].fields.map((f) => f.name).sort();

async function fixture(name: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(name, DIR));
}

/** A stream of `bytes` in pieces of `size` bytes. */
function streamOf(bytes: Uint8Array, size = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function parseAll(input: ReadableStream<Uint8Array>, filename = "export.xml"): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of appleHealth.parse(input, { filename })) {
    assert.ok(batch.length > 0 && batch.length <= MAX_BATCH, `batch of ${batch.length} rows`);
    rows.push(...batch);
  }
  return rows;
}

/** The ImportError a file gets, checked to name the file. */
async function importError(bytes: Uint8Array, filename: string): Promise<ImportError> {
  try {
    await parseAll(streamOf(bytes), filename);
  } catch (err) {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${err}`);
    assert.equal(err.name, "ImportError");
    assert.equal(err.filename, filename);
    assert.ok(err.message.startsWith(`${filename} line `), err.message);
    return err;
  }
  assert.fail(`${filename} was accepted`);
}

/** 1-based line of the first occurrence of `needle` in `bytes`. */
function lineOf(bytes: Uint8Array, needle: string): number {
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} is in the file`);
  return text.slice(0, at).split("\n").length;
}

function countElements(bytes: Uint8Array): number {
  const text = new TextDecoder().decode(bytes);
  return text.match(/^ <(Record|Workout) /gm)?.length ?? 0;
}

const ms = (iso: string) => Date.parse(iso);

Deno.test("appleHealth.parse() reads every top-level record and workout of export.xml with exact values", async () => {
  const bytes = await fixture("export.xml");
  const rows = await parseAll(streamOf(bytes));
  assert.equal(rows.length, countElements(bytes));
  assert.ok(rows.length >= 300);
  for (const row of rows) assert.deepEqual(Object.keys(row).sort(), FIELDS);
  const find = (type: string, startAt: number) => rows.find((r) => r.type === type && r.startAt === startAt);
  assert.deepEqual(rows[0], {
    startAt: ms("2019-03-04T00:00:00+01:00"),
    type: "HeartRate",
    value: 61,
    unit: "count/min",
    durationS: 0,
    device: "Anna’s Apple Watch",
  });
  assert.deepEqual(find("StepCount", ms("2019-03-04T07:00:18+01:00")), {
    startAt: ms("2019-03-04T07:00:18+01:00"),
    type: "StepCount",
    value: 824,
    unit: "count",
    durationS: 240,
    device: "Anna’s iPhone",
  });
  assert.deepEqual(find("SleepAnalysis", ms("2019-03-04T23:12:00+01:00")), {
    startAt: ms("2019-03-04T23:12:00+01:00"),
    type: "SleepAnalysis",
    value: 0, // HKCategoryValueSleepAnalysisInBed
    unit: null,
    durationS: 7 * 3600 + 48 * 60,
    device: "Sleep Cycle",
  });
  assert.deepEqual(find("Workout:Running", ms("2019-03-04T18:05:12+01:00")), {
    startAt: ms("2019-03-04T18:05:12+01:00"),
    type: "Workout:Running",
    value: 5.35365,
    unit: "km",
    durationS: 29 * 60,
    device: "Anna’s Apple Watch",
  });
  const yoga = rows.find((r) => r.type === "Workout:Yoga");
  assert.deepEqual({ value: yoga?.value, unit: yoga?.unit }, { value: null, unit: null });
  const types = new Set(rows.map((r) => r.type));
  for (
    const t of [
      "HeartRate",
      "StepCount",
      "DistanceWalkingRunning",
      "AppleStandHour",
      "BodyMass",
      "BloodPressureSystolic",
    ]
  ) {
    assert.ok(types.has(t), `${t} is among the rows`);
  }
  const sleepCodes = new Set(rows.filter((r) => r.type === "SleepAnalysis").map((r) => r.value));
  assert.ok([...sleepCodes].every((v) => typeof v === "number" && v >= 0 && v <= 5), [...sleepCodes].join());
  const perHour = new Map<number, number>();
  for (const r of rows) {
    const hour = Math.floor(Number(r.startAt) / 3_600_000);
    perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
  }
  assert.ok([...perHour.values()].every((n) => n >= 5), "every hour holds at least k = 5 rows");
});

Deno.test("appleHealth.parse() gives export_metadata.xml (children, correlations, iOS 16 workout statistics) the same rows as export.xml", async () => {
  const plain = await parseAll(streamOf(await fixture("export.xml")));
  const bytes = await fixture("export_metadata.xml");
  const text = new TextDecoder().decode(bytes);
  assert.match(text, /<MetadataEntry key=/);
  assert.match(text, /<Correlation type="HKCorrelationTypeIdentifierBloodPressure"/);
  assert.match(text, /<HeartRateVariabilityMetadataList>/);
  assert.match(text, /<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning"/);
  const rows = await parseAll(streamOf(bytes), "export_metadata.xml");
  assert.deepEqual(rows, plain);
  const walk = rows.find((r) => r.type === "Workout:Walking");
  assert.equal(walk?.unit, "km");
  assert.equal(typeof walk?.value, "number");
});

Deno.test("appleHealth.parse() reads an older de_DE export across the switch to summer time", async () => {
  const bytes = await fixture("export_de.xml");
  assert.match(new TextDecoder().decode(bytes), /<HealthData locale="de_DE">/);
  const rows = await parseAll(streamOf(bytes, 7), "export_de.xml"); // 7-byte pieces split every "ü"
  assert.equal(rows.length, countElements(bytes));
  assert.deepEqual(rows, await parseAll(streamOf(bytes), "export_de.xml"));
  const inBed = rows.find((r) => r.type === "SleepAnalysis" && r.startAt === ms("2019-03-30T23:12:00+01:00"));
  assert.equal(inBed?.durationS, (7 * 60 + 48) * 60, "23:12 +0100 to 08:00 +0200 is 7 h 48 min, not 8 h 48");
  assert.equal(inBed?.device, "Schlaf++");
  assert.ok(rows.some((r) => r.device === "iPhone von Jürgen"));
});

Deno.test("appleHealth.parse() reads the date forms of exports and refuses dates that do not exist", async () => {
  const doc = (start: string) =>
    new TextEncoder().encode(
      `<HealthData locale="en_US">\n <Record type="HKQuantityTypeIdentifierStepCount" sourceName="p" unit="count" ` +
        `value="5" startDate="${start}" endDate="2021-01-01 00:00:00 +0000"/>\n</HealthData>\n`,
    );
  const good: [string, string][] = [
    ["2019-03-05 08:12:44 +0100", "2019-03-05T07:12:44Z"],
    ["2019-03-05 08:12:44 -0530", "2019-03-05T13:42:44Z"],
    ["2020-02-29 23:59:59 +0000", "2020-02-29T23:59:59Z"],
    ["2019-03-05T08:12:44+01:00", "2019-03-05T07:12:44Z"],
    ["2019-03-05 08:12:44.250 +0100", "2019-03-05T07:12:44Z"],
    ["2019-03-05 08:12:44Z", "2019-03-05T08:12:44Z"],
  ];
  for (const [start, iso] of good) {
    const [row] = await parseAll(streamOf(doc(start)));
    assert.equal(row.startAt, Date.parse(iso), start);
  }
  for (
    const bad of [
      "2019-02-29 08:12:44 +0100",
      "2019-04-31 08:00:00 +0100",
      "2019-03-05 24:00:00 +0100",
      "2019-03-05 08:60:00 +0100",
      "2019-03-05 08:12:44 +1500",
      "2019-03-05 08:12:44 *0100",
      "2019-3-5 08:12:44 +0100",
      "05.03.2019 08:12",
      "2019-03-05 08:12:44",
    ]
  ) {
    const err = await importError(doc(bad), "export.xml");
    assert.equal(err.location, "line 2", bad);
    assert.match(err.message, /startDate .* is not a date/, bad);
  }
});

Deno.test("appleHealth.parse() names the file and the last line of a truncated export", async () => {
  const bytes = await fixture("export_truncated.xml");
  const err = await importError(bytes, "export_truncated.xml");
  const lines = new TextDecoder().decode(bytes).split("\n").length;
  assert.equal(err.location, `line ${lines}`);
  assert.match(err.message, /truncated/);
});

Deno.test("appleHealth.parse() names the line of a bad date and of a non-numeric quantity", async () => {
  const badDate = await fixture("export_bad_date.xml");
  const dateErr = await importError(badDate, "export_bad_date.xml");
  assert.equal(dateErr.location, `line ${lineOf(badDate, "2019-02-30 08:12:44")}`);
  assert.match(dateErr.message, /startDate "2019-02-30 08:12:44 \+0100" is not a date/);
  const badValue = await fixture("export_bad_value.xml");
  const valueErr = await importError(badValue, "export_bad_value.xml");
  assert.equal(valueErr.location, `line ${lineOf(badValue, 'value="72 bpm"')}`);
  assert.match(valueErr.message, /"72 bpm" is not a number/);
});

Deno.test("appleHealth.parse() refuses export_cda.xml and other files that are not export.xml", async () => {
  const cda = await importError(await fixture("export_cda.xml"), "export_cda.xml");
  assert.match(cda.message, /not an Apple Health export\.xml.*export_cda\.xml/);
  const enc = (s: string) => new TextEncoder().encode(s);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "other.xml",
      enc('<?xml version="1.0"?>\n<plist version="1.0"><dict/></plist>'),
      /root element is <plist>/,
    ],
    ["history.json", enc('[{"ts": "2019-03-05"}]'), /not an Apple Health export\.xml/],
    ["empty.xml", new Uint8Array(0), /not an Apple Health export\.xml/],
    ["export.zip", new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]), /zip archive/],
    [
      "latin1.xml",
      new Uint8Array([...enc('<HealthData locale="de_DE"><Record sourceName="J'), 0xfc, 0x22]),
      /not UTF-8/,
    ],
    [
      "orphan.xml",
      enc('<Record type="HKQuantityTypeIdentifierHeartRate" startDate="2019-03-05 08:12:44 +0100"/>'),
      /outside <HealthData>/,
    ],
    [
      "swapped.xml",
      enc(
        '<HealthData><Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" unit="count" value="3" startDate="2019-03-05 08:12:44 +0100" endDate="2019-03-05 08:00:00 +0100"/></HealthData>',
      ),
      /endDate is before startDate/,
    ],
    [
      "nodate.xml",
      enc(
        '<HealthData>\n<Record type="HKQuantityTypeIdentifierStepCount" unit="count" value="3"/></HealthData>',
      ),
      /no startDate/,
    ],
    ["broken.xml", enc('<HealthData>\n <Record type="a" <Record/>\n</HealthData>'), /malformed XML/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const err = await importError(bytes, name);
    assert.match(err.message, pattern, name);
  }
});

Deno.test("appleHealth.parse() refuses a tag that never ends instead of holding it in memory", async () => {
  const head = new TextEncoder().encode('<HealthData locale="en_US">\n <Record sourceName="');
  const filler = new Uint8Array(64 * 1024).fill(0x78);
  let sent = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(sent++ === 0 ? head : filler);
      if (sent > 1024) controller.close(); // 64 MiB of one attribute value
    },
  });
  await assert.rejects(parseAll(input), (err: Error) => {
    assert.ok(err instanceof ImportError);
    assert.ok(err.message.startsWith("export.xml line 2: "), err.message);
    assert.ok(err.message.includes(`more than ${MAX_ELEMENT_CHARS} characters in one tag`), err.message);
    return true;
  });
  assert.ok(sent < 100, `stopped reading after ${sent} chunks`);
});

Deno.test("appleHealth.parse() splits one huge input chunk into batches of at most 1000 rows", async () => {
  const stats = newHealthExportStats();
  const whole = new Uint8Array(await new Response(healthExportStream({ hours: 400 }, stats)).arrayBuffer());
  assert.ok(stats.rows > 3 * MAX_BATCH);
  const sizes: number[] = [];
  for await (
    const batch of appleHealth.parse(streamOf(whole, whole.byteLength), { filename: "export.xml" })
  ) {
    sizes.push(batch.length);
  }
  assert.ok(sizes.every((n) => n <= MAX_BATCH));
  assert.equal(sizes.reduce((a, b) => a + b, 0), stats.rows);
});

Deno.test("appleHealth.parse() stops reading and cancels its input when aborted or left early", async () => {
  for (const how of ["abort", "break"] as const) {
    let cancelled = false;
    const source = healthExportStream({ hours: 5000 });
    const reader = source.getReader();
    const input = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel() {
        cancelled = true;
      },
    });
    const controller = new AbortController();
    let batches = 0;
    const run = async () => {
      for await (const _ of appleHealth.parse(input, { filename: "export.xml", signal: controller.signal })) {
        batches++;
        if (how === "abort") controller.abort();
        else break;
      }
    };
    if (how === "abort") await assert.rejects(run, { name: "AbortError" });
    else await run();
    assert.equal(batches, 1, how);
    assert.ok(cancelled, `the input is cancelled after ${how}`);
  }
});

Deno.test("appleHealth.parse() streams a generated export of more than 50 MB and yields every row", async () => {
  const stats = newHealthExportStats();
  let rows = 0;
  let largest = 0;
  for await (
    const batch of appleHealth.parse(healthExportStream({ bytes: 52 << 20 }, stats), {
      filename: "export.xml",
    })
  ) {
    rows += batch.length;
    largest = Math.max(largest, batch.length);
  }
  assert.ok(stats.bytes >= 52 << 20, `${stats.bytes} bytes`);
  assert.equal(rows, stats.rows);
  assert.ok(stats.workouts > 100 && stats.records > 100_000, JSON.stringify(stats));
  assert.equal(largest, MAX_BATCH);
});
