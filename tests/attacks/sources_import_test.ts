/**
 * Attack: a hostile "export" file, imported by the person who trusts it.
 *
 * The attacker hands the person a file that looks like a service's export (a fake Takeout, a
 * "your data" mail, a shared folder) and the person imports it through
 * `POST /api/v1/sources/:kind/imports`. What the attacker sends, each case below:
 * - a JSON bomb: arrays nested a million deep, objects nested a hundred thousand deep;
 * - one JSON string of 10 MB where an artist name belongs, and one of 100 KB (under the record limit);
 * - an Apple Health `export.xml` with an entity expanding to billions of characters
 *   ("billion laughs"), and one with an external entity naming a local file;
 * - a CSV whose header has 100,000 columns, the same after an Uber header (junk columns beside the
 *   real ones), and a CSV with a 5 MB line;
 * - a valid export under a file name that climbs out of any directory (`../../…`): kept as a label
 *   without its directory part, nothing written anywhere;
 * - a valid export of one service posted as another, and a kind the node does not know.
 * What they must not obtain: a node that stops answering, runs out of memory or time, expands
 * an entity or reads a local file into a source, writes a file where the name points, or keeps
 * any row of the file. Each is answered with a clear error naming the file and where it went
 * wrong (the junk columns beside a real header are ignored: only the kind's fields are read),
 * within seconds and with a bounded memory rise, and the node keeps no source.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { KosmosNode } from "../../node/node.ts";
import { startAppNode } from "../node_app.ts";
import { ownerFetch } from "../helpers.ts";

const MB = 1024 * 1024;
/** Wall time one hostile import may take on a busy CI machine. */
const MAX_MS = 20_000;
/** How much the process may grow while it answers one. */
const MAX_RSS_RISE = 200 * MB;

interface Hostile {
  what: string;
  kind: string;
  filename: string;
  body: () => Uint8Array;
  /** The status and error code it must get. @default 422 import_error */
  status?: number;
  code?: string;
  /** Imported after all (`201`) with this many rows, the junk ignored; removed again. */
  rows?: number;
}

const text = (s: string) => new TextEncoder().encode(s);

function nestedArrays(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth * 2);
  bytes.fill(0x5b, 0, depth); // [
  bytes.fill(0x5d, depth); // ]
  return bytes;
}

const SPOTIFY_RECORD = { endTime: "2024-03-01 10:04", artistName: "A", trackName: "B", msPlayed: 1000 };
const UBER_HEADER = "City,Product Type,Trip or Order Status,Request Time,Begin Trip Time,Begin Trip Lat," +
  "Begin Trip Lng,Begin Trip Address,Dropoff Time,Dropoff Lat,Dropoff Lng,Dropoff Address,Distance (miles)," +
  "Fare Amount,Fare Currency";
const UBER_TRIP = "Munich,UberX,COMPLETED,2023-05-04 11:37:19 +0000 UTC,2023-05-04 11:46:19 +0000 UTC," +
  '48.121778,11.525543,"Sendlinger Straße 2, Munich",2023-05-04 11:59:19 +0000 UTC,48.124292,11.521535,' +
  '"Leopoldstraße 4, Munich",1.13,14.36,EUR';
const junkColumns = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(",");

const HOSTILE: Hostile[] = [
  {
    what: "arrays nested a million deep",
    kind: "spotify",
    filename: "StreamingHistory0.json",
    body: () => nestedArrays(1_000_000),
  },
  {
    what: "objects nested 100,000 deep in a Chrome history",
    kind: "chrome",
    filename: "BrowserHistory.json",
    body: () => text(`{"Browser History":[${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}]}`),
  },
  {
    what: "a 10 MB string as an artist name",
    kind: "spotify",
    filename: "StreamingHistory0.json",
    body: () =>
      text(JSON.stringify([SPOTIFY_RECORD, { ...SPOTIFY_RECORD, artistName: "x".repeat(10 * MB) }])),
  },
  {
    what: "a 100 KB artist name (under the record limit, over a field's)",
    kind: "spotify",
    filename: "StreamingHistory0.json",
    body: () =>
      text(JSON.stringify([SPOTIFY_RECORD, { ...SPOTIFY_RECORD, artistName: "x".repeat(100_000) }])),
  },
  {
    what: "an entity expanding to 3·10⁹ characters (billion laughs)",
    kind: "apple-health",
    filename: "export.xml",
    body: () => {
      const entities = ['<!ENTITY lol0 "lol">'];
      for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
      return text(
        `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n${entities.join("\n")}\n]>\n` +
          `<HealthData locale="en_US">\n<Record type="HKQuantityTypeIdentifierStepCount" sourceName="&lol9;" ` +
          `unit="count" startDate="2024-03-01 10:00:00 +0100" endDate="2024-03-01 10:05:00 +0100" value="12"/>\n` +
          `</HealthData>\n`,
      );
    },
  },
  {
    what: "an external entity naming a local file",
    kind: "apple-health",
    filename: "export.xml",
    body: () =>
      text(
        `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n` +
          `<HealthData locale="en_US">\n<Record type="HKQuantityTypeIdentifierStepCount" sourceName="&xxe;" ` +
          `unit="count" startDate="2024-03-01 10:00:00 +0100" endDate="2024-03-01 10:05:00 +0100" value="12"/>\n` +
          `</HealthData>\n`,
      ),
  },
  {
    what: "a CSV header of 100,000 columns",
    kind: "uber",
    filename: "trips_data.csv",
    body: () => text(junkColumns(100_000) + "\n1\n"),
  },
  {
    what: "100,000 junk columns beside a real Uber header and trip",
    kind: "uber",
    filename: "trips_data.csv",
    body: () => text(`${UBER_HEADER},${junkColumns(100_000)}\n${UBER_TRIP}${",x".repeat(100_000)}\n`),
    status: 201,
    rows: 1,
  },
  {
    what: "a CSV line of 5 MB",
    kind: "netflix",
    filename: "ViewingActivity.csv",
    body: () =>
      text(
        "Profile Name,Start Time,Duration,Attributes,Title,Supplemental Video Type,Device Type,Bookmark,Latest Bookmark,Country\n" +
          `Ana,2024-03-01 20:00:00,00:42:00,,"${"y".repeat(5 * MB)}",,TV,00:42:00,00:42:00,DE (Germany)\n`,
      ),
  },
  {
    what: "a Spotify export posted as Netflix",
    kind: "netflix",
    filename: "ViewingActivity.csv",
    body: () => text(JSON.stringify([SPOTIFY_RECORD, SPOTIFY_RECORD])),
  },
  {
    what: "a kind the node does not know",
    kind: "myspace",
    filename: "friends.csv",
    body: () => text("name\nTom\n"),
    status: 404,
    code: "not_found",
  },
];

async function importFile(node: KosmosNode, kind: string, filename: string, bytes: Uint8Array) {
  const form = new FormData();
  form.append("file", new File([bytes as Uint8Array<ArrayBuffer>], filename));
  return await ownerFetch(node, `/api/v1/sources/${kind}/imports`, { method: "POST", body: form });
}

/** Runs `fn`, sampling the process's RSS every 20 ms; resolves with its result, the time and the peak rise. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; rssRise: number }> {
  const base = Deno.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 20);
  const start = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - start, rssRise: Math.max(peak, Deno.memoryUsage().rss) - base };
  } finally {
    clearInterval(timer);
  }
}

/** Files under `dir` (recursively) whose name looks like a parked upload. */
async function parkedUploads(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await parkedUploads(path));
    else if (/^upload-.*\.part$/.test(entry.name)) out.push(path);
  }
  return out;
}

Deno.test("hostile export files are refused with a clear error, in bounded time and memory, and nothing is kept", async (t) => {
  await using started = await startAppNode("kosmos-import-attack-");
  const { node } = started;
  for (const hostile of HOSTILE) {
    await t.step(hostile.what, async () => {
      const bytes = hostile.body();
      const { value: response, ms, rssRise } = await measured(() =>
        importFile(node, hostile.kind, hostile.filename, bytes)
      );
      const body = await response.json();
      assert.equal(response.status, hostile.status ?? 422, JSON.stringify(body).slice(0, 400));
      if (hostile.rows !== undefined) {
        assert.equal(body.rows, hostile.rows);
        const removed = await ownerFetch(node, `/api/v1/sources/${body.id}`, { method: "DELETE" });
        assert.ok(removed.ok, await removed.text());
      } else assert.equal(body.error.code, hostile.code ?? "import_error");
      if (!hostile.status) {
        assert.ok(
          body.error.message.includes(hostile.filename),
          `the error names the file: ${body.error.message}`,
        );
        assert.ok(body.error.message.length < 500, "the error is one short message, not the file");
        assert.ok(!body.error.message.includes("root:"), "no local file's contents in the error");
      }
      assert.ok(ms < MAX_MS, `answered in ${Math.round(ms)} ms`);
      assert.ok(rssRise < MAX_RSS_RISE, `memory rose by ${Math.round(rssRise / MB)} MB`);
    });
  }

  await t.step(
    "a file name climbing out of the data dir is kept as a label without its directory",
    async () => {
      const target = `kosmos-import-escape-${crypto.randomUUID()}.json`;
      const filename = `../../../../../../../../tmp/${target}`;
      const response = await importFile(node, "spotify", filename, text(JSON.stringify([SPOTIFY_RECORD])));
      const body = await response.json();
      assert.equal(response.status, 201, JSON.stringify(body));
      const { sources } = await (await ownerFetch(node, "/api/v1/sources")).json();
      assert.deepEqual(sources.map((s: { filename: string }) => s.filename), [target]);
      await assert.rejects(
        Deno.stat(`/tmp/${target}`),
        Deno.errors.NotFound,
        "nothing written where the name points",
      );
      assert.equal((await ownerFetch(node, `/api/v1/sources/${body.id}`, { method: "DELETE" })).status, 204);
    },
  );

  await t.step("the node keeps no source and no parked upload, and still imports a real export", async () => {
    const { sources } = await (await ownerFetch(node, "/api/v1/sources")).json();
    assert.deepEqual(sources, []);
    assert.deepEqual(await parkedUploads(node.config.dataDir), []);
    const ok = await importFile(
      node,
      "spotify",
      "StreamingHistory0.json",
      text(JSON.stringify([SPOTIFY_RECORD])),
    );
    const body = await ok.json();
    assert.equal(ok.status, 201, JSON.stringify(body));
    assert.equal(body.rows, 1);
  });
});
