import assert from "node:assert/strict";
import { join } from "node:path";
import { type Database, openDatabase } from "../db/mod.ts";
import type { SourceRow } from "../../../protocol/sources.ts";
import { rowChecker, SourceStore } from "./store.ts";
import { ImportError } from "./importers/types.ts";

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 2, 1);

function netflixRow(i: number, at: number | null = T0 + i * HOUR): SourceRow {
  return {
    startedAt: at,
    durationS: 600 + i,
    title: `Show ${i % 7}`,
    videoType: null,
    country: "DE",
    profile: "me",
    device: "TV",
  };
}

async function* batchesOf(rows: SourceRow[], size: number): AsyncIterable<SourceRow[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

async function withStore(
  fn: (store: SourceStore, db: Database, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-sources-" });
  const path = join(dir, "kosmos.db");
  const db = openDatabase(path);
  try {
    const store = new SourceStore(db);
    store.open();
    await fn(store, db, path);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function countRows(db: Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

Deno.test("writeImport() commits every batch and lists the source with its rows and time range", async () => {
  await withStore(async (store, db) => {
    const rows = Array.from({ length: 2500 }, (_, i) => netflixRow(i));
    const source = await store.writeImport("netflix", batchesOf(rows, 1000), {
      filename: "ViewingActivity.csv",
    });
    assert.equal(source.rows, 2500);
    assert.equal(source.from, T0);
    assert.equal(source.to, T0 + 2499 * HOUR);
    assert.deepEqual(store.list().map((s) => [s.id, s.kind, s.filename, s.rows]), [
      [source.id, "netflix", "ViewingActivity.csv", 2500],
    ]);
    assert.deepEqual(store.get(source.id), source);
    assert.equal(countRows(db, "source_rows"), 2500);
    assert.equal(store.hasRows("netflix"), true);
    assert.equal(store.hasRows("spotify"), false);
  });
});

Deno.test("rows() reads an import in time order, undated rows first, whatever order it came in", async () => {
  await withStore(async (store) => {
    const times = [5, 1, 4, null, 2, 3, 1].map((h) => h === null ? null : T0 + h * HOUR);
    const rows = times.map((at, i) => netflixRow(i, at));
    const source = await store.writeImport("netflix", batchesOf(rows, 3), { filename: "v.csv" });
    const read = [...store.rows(source.id)];
    assert.deepEqual(read.map((r) => r.startedAt), [
      null,
      T0 + HOUR,
      T0 + HOUR,
      ...[2, 3, 4, 5].map((h) => T0 + h * HOUR),
    ]);
    // Equal times keep the order of the file.
    assert.deepEqual(read.slice(1, 3).map((r) => r.durationS), [601, 606]);
    assert.deepEqual(read[0], rows[3]);
    // Iterable again, and lazily: stopping early reads no further.
    assert.equal([...store.rows(source.id)].length, 7);
    for (const _ of store.rows(source.id)) break;
  });
});

Deno.test("rowsOfKind() chains every complete import of the kind and nothing else", async () => {
  await withStore(async (store) => {
    await store.writeImport("netflix", batchesOf([netflixRow(1), netflixRow(2)], 5), { filename: "a.csv" });
    await store.writeImport("netflix", batchesOf([netflixRow(3)], 5), { filename: "b.csv" });
    assert.equal([...store.rowsOfKind("netflix")].length, 3);
    assert.equal([...store.rowsOfKind("spotify")].length, 0);
  });
});

Deno.test("writeImport() keeps nothing of an import whose file fails midway", async () => {
  await withStore(async (store, db) => {
    async function* failing(): AsyncIterable<SourceRow[]> {
      yield Array.from({ length: 1000 }, (_, i) => netflixRow(i));
      yield Array.from({ length: 1000 }, (_, i) => netflixRow(1000 + i));
      throw new ImportError("ViewingActivity.csv", "line 2003", "Start Time is not a date");
    }
    await assert.rejects(
      store.writeImport("netflix", failing(), { filename: "ViewingActivity.csv" }),
      (err: Error) => err.name === "ImportError" && /ViewingActivity\.csv line 2003/.test(err.message),
    );
    assert.deepEqual(store.list(), []);
    assert.equal(countRows(db, "sources"), 0);
    assert.equal(countRows(db, "source_rows"), 0);
  });
});

Deno.test("writeImport() aborted midway keeps nothing, and other rows are never seen while it runs", async () => {
  await withStore(async (store, db) => {
    const done = await store.writeImport("netflix", batchesOf([netflixRow(0)], 1), { filename: "old.csv" });
    const controller = new AbortController();
    let sawPending = false;
    async function* slow(): AsyncIterable<SourceRow[]> {
      for (let b = 0; b < 10; b++) {
        yield Array.from({ length: 500 }, (_, i) => netflixRow(b * 500 + i));
        if (b === 3) {
          // Rows are on disk, but the import is not listed nor readable.
          assert.ok(countRows(db, "source_rows") > 1000);
          assert.deepEqual(store.list().map((s) => s.id), [done.id]);
          assert.equal([...store.rowsOfKind("netflix")].length, 1);
          sawPending = true;
          controller.abort(new Error("client went away"));
        }
      }
    }
    await assert.rejects(
      store.writeImport("netflix", slow(), { filename: "new.csv", signal: controller.signal }),
      /client went away/,
    );
    assert.ok(sawPending);
    assert.deepEqual(store.list().map((s) => s.id), [done.id]);
    assert.equal(countRows(db, "source_rows"), 1);
  });
});

Deno.test("open() removes an import a killed process left pending, and rows without a source", async () => {
  await withStore(async (store, db, path) => {
    const kept = await store.writeImport("netflix", batchesOf([netflixRow(0), netflixRow(1)], 2), {
      filename: "kept.csv",
    });
    // What a process killed midway leaves: a pending source with rows, and rows of a deletion cut short.
    db.prepare(
      "INSERT INTO sources (id, kind, filename, imported_at, complete) VALUES ('p', 'netflix', 'x', 1, 0)",
    )
      .run();
    const insert = db.prepare("INSERT INTO source_rows (source_id, seq, at, data) VALUES (?, ?, ?, ?)");
    for (let i = 0; i < 50_000; i++) insert.run("p", i, i, "{}");
    insert.run("gone", 0, 0, "{}");
    const reopened = openDatabase(path);
    try {
      new SourceStore(reopened).open();
    } finally {
      reopened.close();
    }
    assert.deepEqual(store.list().map((s) => s.id), [kept.id]);
    assert.equal(countRows(db, "sources"), 1);
    assert.equal(countRows(db, "source_rows"), 2);
  });
});

Deno.test("delete() removes the source and every row; an unknown id is a NotFoundError", async () => {
  await withStore(async (store, db) => {
    const rows = Array.from({ length: 45_000 }, (_, i) => netflixRow(i));
    const a = await store.writeImport("netflix", batchesOf(rows, 1000), { filename: "a.csv" });
    const b = await store.writeImport("netflix", batchesOf([netflixRow(1)], 1), { filename: "b.csv" });
    store.delete(a.id);
    assert.deepEqual(store.list().map((s) => s.id), [b.id]);
    assert.equal(countRows(db, "source_rows"), 1);
    assert.throws(() => store.get(a.id), { name: "NotFoundError" });
    assert.throws(() => store.delete(a.id), { name: "NotFoundError" });
    assert.throws(() => store.rows("nope"), { name: "NotFoundError" });
  });
});

Deno.test("writeImport() refuses a row that is not of its kind, naming the file, row and field", async () => {
  const cases: [Partial<Record<string, unknown>>, RegExp][] = [
    [{ extra: 1 }, /row 3: unknown field "extra"/],
    [{ title: undefined }, /row 3: missing field "title"/],
    [{ startedAt: "2024-03-01" }, /row 3: startedAt is not a time in ms/],
    [{ durationS: "10" }, /row 3: durationS is not a finite number/],
    [{ durationS: Number.NaN }, /row 3: durationS is not a finite number/],
    [{ title: 5 }, /row 3: title is not text/],
    [{ title: "x".repeat(9000) }, /row 3: title is longer than 8192 characters/],
  ];
  for (const [change, message] of cases) {
    await withStore(async (store, db) => {
      const bad = { ...netflixRow(2), ...change } as SourceRow;
      if ("title" in change && change.title === undefined) delete bad.title;
      await assert.rejects(
        store.writeImport("netflix", batchesOf([netflixRow(0), netflixRow(1), bad], 2), {
          filename: "v.csv",
        }),
        (err: Error) =>
          err instanceof ImportError && /^v\.csv /.test(err.message) && message.test(err.message),
        JSON.stringify(change).slice(0, 60),
      );
      assert.equal(countRows(db, "source_rows"), 0);
      assert.equal(countRows(db, "sources"), 0);
    });
  }
});

Deno.test("rowChecker() checks places as lat,lng within range", () => {
  const check = rowChecker("uber", "trips.csv");
  const trip: SourceRow = {
    requestedAt: T0,
    city: "Berlin",
    pickup: "52.52,13.405",
    dropoff: "-33.9,151.2",
    product: "UberX",
    status: "completed",
    distanceKm: 4.2,
    fare: 12.5,
    currency: "EUR",
    pickupAddress: null,
    dropoffAddress: null,
  };
  check(trip, 0);
  for (const pickup of ["52.52", "91,13", "52,181", "a,b", "52.5, 13.4"]) {
    assert.throws(() => check({ ...trip, pickup }, 0), /pickup is not a "lat,lng" place/, pickup);
  }
  assert.throws(() => rowChecker("myspace" as never, "x"), TypeError);
});

Deno.test("appendRows() adds rows to an import all at once, and a bad row leaves it as it was", async () => {
  await withStore(async (store, db) => {
    const source = await store.writeImport("netflix", batchesOf([netflixRow(0), netflixRow(1)], 10), {
      filename: "ViewingActivity.csv",
    });
    const appended = store.appendRows(source.id, [netflixRow(5), netflixRow(6)]);
    assert.deepEqual([appended.rows, appended.from, appended.to], [4, T0, T0 + 6 * HOUR]);
    assert.deepEqual(store.get(source.id), appended);
    assert.deepEqual([...store.rows(source.id)].map((r) => r.durationS), [600, 601, 605, 606]);

    const bad = { ...netflixRow(7), extra: "x" } as SourceRow;
    assert.throws(() => store.appendRows(source.id, [netflixRow(8), bad]), ImportError);
    assert.deepEqual(store.get(source.id), appended);
    assert.equal(countRows(db, "source_rows"), 4);
    assert.throws(() => store.appendRows("no-such-id", [netflixRow(9)]), { name: "NotFoundError" });
  });
});
