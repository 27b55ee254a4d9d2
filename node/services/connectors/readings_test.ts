/**
 * A subscription's readings reach a directory, a webhook, a real Mosquitto topic and a real PostgreSQL table,
 * each reading once, across duplicates, failures and restarts.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import postgres from "postgres";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { createConnectors, epochFilename, parseReadingsTarget, type StreamReading } from "./mod.ts";
import { startMosquitto, startPostgres } from "../../../tests/servers.ts";
import { tempDir } from "../../../tests/helpers.ts";

const STREAM = "bafyreistreamstreamstreamstreamstreamstreamstreamstream";
/** Readings of the last minute (delivered ones are remembered for days by their time, then pruned). */
const T0 = Date.now() - 60_000;
const SCHEMA = [
  { name: "temp", type: "number" as const },
  { name: "count", type: "integer" as const },
  { name: "door open", type: "boolean" as const },
  { name: 'note "q"', type: "string" as const },
];

function readings(sensorId: string, from: number, n: number): StreamReading[] {
  return Array.from({ length: n }, (_, i) => ({
    sensorId,
    ts: from + i * 100,
    values: { temp: 20.5 + i, count: i, "door open": i % 2 === 0, 'note "q"': `line\t${i}\n\\` },
  }));
}

const noMarket = {
  readPurchaseData(): Promise<never> {
    return Promise.reject(new Error("no purchases in this test"));
  },
};

function setup(dbPath: string, allowDir: string) {
  const db = openDatabase(dbPath);
  const connectors = createConnectors({
    db,
    market: noMarket,
    log: createLogger({ level: "error" }).forComponent("kosmos:connectors"),
  }, { backoff: 20, retries: 1, webhookAllow: ["127.0.0.1"], directoryAllow: [allowDir] });
  return {
    connectors,
    async [Symbol.asyncDispose]() {
      await connectors.stop();
      db.close();
    },
  };
}

Deno.test("parseReadingsTarget() reads paths and the four URL kinds, and refuses the rest", () => {
  assert.deepEqual(parseReadingsTarget("/srv/r"), { connector: "directory", dir: "/srv/r" });
  assert.deepEqual(parseReadingsTarget("file:///srv/r%20x"), { connector: "directory", dir: "/srv/r x" });
  assert.equal(parseReadingsTarget("https://h.example/hook").connector, "webhook");
  assert.deepEqual(parseReadingsTarget("mqtt://u:p@h:1883/plant/a"), {
    connector: "mqtt",
    url: "mqtt://u:p@h:1883/plant/a",
    topic: "plant/a",
  });
  assert.equal(
    (parseReadingsTarget("postgres://me:pw@h:5432/db?table=s.readings&sslmode=require") as { table: string })
      .table,
    "s.readings",
  );
  for (
    const bad of [
      "",
      "relative/dir",
      "ftp://h/x",
      "mqtt://h:1883",
      "mqtt://h:1883/a/#",
      "mqtt://h:1883/a/+/b",
      "postgres://h/db",
      "postgres://h/db?table=Bad-Name",
      "postgres://h/db?table=t;drop",
      "postgres://h/db?table=t&password=x",
      "file://host/x",
    ]
  ) {
    assert.throws(() => parseReadingsTarget(bad), TypeError, bad);
  }
  assert.throws(
    () => parseReadingsTarget("postgres://me:secret@h/db"),
    (e: Error) => !e.message.includes("secret"),
  );
});

Deno.test("deliverReadings() puts each reading once into a directory, a webhook, an MQTT topic and a PostgreSQL table", async () => {
  const broker = await startMosquitto();
  const db = await startPostgres();
  await using dir = await tempDir();
  const bodies: { seq: number; rows: (StreamReading & { epoch: number })[] }[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    bodies.push(await req.json());
    return new Response(null, { status: 204 });
  });
  const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const published: { sensorId: string; ts: number; epoch: number; values: Record<string, unknown> }[] = [];
    watcher.on("message", (_t, payload) => published.push(JSON.parse(payload.toString())));
    await watcher.subscribeAsync("plant/out", { qos: 1 });
    const out = `${dir.path}/out`;
    const targets = [
      out,
      `http://127.0.0.1:${hook.addr.port}/hook`,
      `${broker.url}/plant/out`,
      `${db.url}?table=readings`,
    ];
    await using s = setup(`${dir.path}/kosmos.db`, dir.path);
    await s.connectors.checkReadingsTargets(targets);
    const a = [...readings("s1", T0, 5), ...readings("s2", T0 + 50, 5)];
    const b = readings("s1", T0 + 10_000, 3);
    s.connectors.deliverReadings("sub1", targets, { streamId: STREAM, epoch: 1, readings: a }, {
      schema: SCHEMA,
    });
    s.connectors.deliverReadings("sub1", targets, { streamId: STREAM, epoch: 2, readings: b }, {
      schema: SCHEMA,
    });
    // Epoch 1 again, as history after its live batches: nothing new.
    s.connectors.deliverReadings("sub1", targets, { streamId: STREAM, epoch: 1, readings: a }, {
      schema: SCHEMA,
    });
    await s.connectors.waitForReadings("sub1");

    const lines = (name: string) =>
      Deno.readTextFileSync(`${out}/${name}`).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(lines(epochFilename(STREAM, 1)), a);
    assert.deepEqual(lines(epochFilename(STREAM, 2)), b);
    assert.deepEqual(bodies.map((x) => x.seq), [1, 2]);
    assert.deepEqual(bodies.flatMap((x) => x.rows.map((r) => [r.sensorId, r.ts, r.epoch])), [
      ...a.map((r) => [r.sensorId, r.ts, 1]),
      ...b.map((r) => [r.sensorId, r.ts, 2]),
    ]);
    for (let i = 0; i < 50 && published.length < 13; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(published.length, 13);
    assert.deepEqual(published.map((p) => [p.sensorId, p.ts, p.epoch, p.values]), [
      ...a.map((r) => [r.sensorId, r.ts, 1, r.values]),
      ...b.map((r) => [r.sensorId, r.ts, 2, r.values]),
    ]);
    const rows = await sql`SELECT sensor_id, ts, temp, count, "door open", ${sql('note "q"')} AS note, epoch
                           FROM readings ORDER BY ts, sensor_id`;
    const want = [...a.map((r) => ({ ...r, epoch: 1 })), ...b.map((r) => ({ ...r, epoch: 2 }))]
      .sort((x, y) => x.ts - y.ts || x.sensorId.localeCompare(y.sensorId));
    assert.deepEqual(
      rows.map((
        r,
      ) => [
        r.sensor_id,
        (r.ts as Date).getTime(),
        r.temp,
        Number(r.count),
        r["door open"],
        r.note,
        Number(r.epoch),
      ]),
      want.map((
        r,
      ) => [
        r.sensorId,
        r.ts,
        r.values.temp,
        r.values.count,
        r.values["door open"],
        r.values['note "q"'],
        r.epoch,
      ]),
    );
    const columns = await sql`SELECT column_name, data_type FROM information_schema.columns
                              WHERE table_name = 'readings' ORDER BY ordinal_position`;
    assert.deepEqual(columns.map((c) => [c.column_name, c.data_type]), [
      ["sensor_id", "text"],
      ["ts", "timestamp with time zone"],
      ["temp", "double precision"],
      ["count", "bigint"],
      ["door open", "boolean"],
      ['note "q"', "text"],
      ["epoch", "bigint"],
    ]);
    const listed = s.connectors.listReadingTargets("sub1");
    assert.deepEqual(listed.map((t) => [t.connector, t.delivered, t.pending, t.lastError]), [
      ["directory", 13, 0, null],
      ["webhook", 13, 0, null],
      ["mqtt", 13, 0, null],
      ["postgres", 13, 0, null],
    ]);
  } finally {
    await sql.end();
    await watcher.endAsync();
    await hook.shutdown();
    await db.stop();
    await broker.stop();
  }
});

Deno.test("deliverReadings() survives a server that is down and a restart: nothing lost, nothing doubled", async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/kosmos.db`;
  const server = await startPostgres();
  const target = `${server.url}?table=readings`;
  const out = `${dir.path}/out`;
  const a = readings("s1", T0, 4);
  const b = readings("s1", T0 + 1000, 4);
  try {
    // The server stops; the batch stays queued and the error is recorded.
    const port = server.port;
    await server.stop();
    {
      await using s = setup(dbPath, dir.path);
      s.connectors.deliverReadings("sub1", [target, out], { streamId: STREAM, epoch: 1, readings: a }, {
        schema: SCHEMA,
      });
      const byKind = () =>
        Object.fromEntries(s.connectors.listReadingTargets("sub1").map((t) => [t.connector, t]));
      for (let i = 0; i < 200 && !(byKind().postgres.lastError && byKind().directory.delivered === 4); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const { postgres: pg, directory } = byKind();
      assert.equal(directory.delivered, 4);
      assert.equal(pg.delivered, 0);
      assert.equal(pg.pending, 4);
      assert.ok(
        pg.lastError?.startsWith(
          `Cannot append batch 1 to postgres://postgres@127.0.0.1:${port}/postgres?table=readings`,
        ),
      );
    } // stopped while the postgres loop waits to retry
    // A crash after the file was written but before its batch was committed: the file has more than committed.
    const file = `${out}/${epochFilename(STREAM, 1)}`;
    await Deno.writeTextFile(file, '{"sensorId":"s1","ts":1', { append: true });
    // …and a restart with a server back on the same port, after which a later batch comes.
    const again = await startPostgresOn(port);
    try {
      await using s = setup(dbPath, dir.path);
      await s.connectors.start();
      s.connectors.deliverReadings("sub1", [target, out], {
        streamId: STREAM,
        epoch: 1,
        readings: [...a, ...b],
      });
      await s.connectors.waitForReadings("sub1");
      const sql = postgres(again.url, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql`SELECT sensor_id, ts FROM readings ORDER BY ts`;
        assert.deepEqual(rows.map((r) => (r.ts as Date).getTime()), [...a, ...b].map((r) => r.ts));
      } finally {
        await sql.end();
      }
      const lines = Deno.readTextFileSync(file).split("\n").filter(Boolean).map((l) => JSON.parse(l));
      assert.deepEqual(lines, [...a, ...b]);
      assert.deepEqual(s.connectors.listReadingTargets("sub1").map((t) => [t.delivered, t.pending]), [
        [8, 0],
        [8, 0],
      ]);
    } finally {
      await again.stop();
    }
  } finally {
    await server.stop();
  }
});

/** A PostgreSQL server on `port` (the one a target names), trying a few times while the old one lets go of it. */
async function startPostgresOn(port: number) {
  for (let i = 0;; i++) {
    const db = await startPostgres({ port }).catch((e) => {
      if (i >= 20) throw e;
      return undefined;
    });
    if (db) return db;
    await new Promise((r) => setTimeout(r, 250));
  }
}
