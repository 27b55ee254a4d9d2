import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../db/mod.ts";
import { createLogger } from "../../log.ts";
import { KosmosError } from "../../errors.ts";
import { createConnectors } from "./mod.ts";

const CSV = 'id,name,note\n1,Ada,"likes, commas"\n2,Bob,"two\nlines"\n3,Cy,"""quoted"""\n';
const ROWS = [
  { id: "1", name: "Ada", note: "likes, commas" },
  { id: "2", name: "Bob", note: "two\nlines" },
  { id: "3", name: "Cy", note: '"quoted"' },
];

class PurchaseNotReadyError extends KosmosError {
  override name = "PurchaseNotReadyError";
}

/** A market with one complete purchase, "p1", of {@link CSV}, and one still downloading, "p2". */
const market = {
  // deno-lint-ignore require-await
  async readPurchaseData(id: string) {
    if (id === "p2") throw new PurchaseNotReadyError("Purchase p2 is downloading");
    if (id !== "p1") throw Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" });
    return {
      stream: ReadableStream.from([new TextEncoder().encode(CSV)]),
      manifest: { format: "csv" as const },
    };
  },
};

function setup(init = {}) {
  const db = openDatabase(":memory:");
  const connectors = createConnectors({
    db,
    market,
    log: createLogger({ level: "error" }).forComponent("kosmos:connectors"),
  }, { batchSize: 2, backoff: 5, webhookAllow: ["127.0.0.1"], ...init });
  return {
    db,
    connectors,
    async [Symbol.asyncDispose]() {
      await connectors.stop();
      db.close();
    },
  };
}

function serveHook(statuses: number[]) {
  const bodies: { seq: number; rows: unknown[] }[] = [];
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    const status = statuses[Math.min(calls++, statuses.length - 1)];
    if (status < 300) bodies.push(body);
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    bodies,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("startDelivery() sends a purchase's rows to a webhook in batches, recording the retries", async () => {
  await using hook = serveHook([503, 503, 200]);
  await using s = setup({ retries: 3 });
  const started = await s.connectors.startDelivery("p1", { connector: "webhook", url: hook.url });
  assert.equal(started.status, "pending");
  const done = await s.connectors.waitForDelivery(started.id);
  assert.equal(done.status, "delivered");
  assert.equal(done.batches, 2);
  assert.equal(done.rows, 3);
  assert.equal(done.attempts, 4); // batch 1: 503, 503, 200; batch 2: 200
  assert.match(done.lastError ?? "", /answered 503/);
  assert.deepEqual(hook.bodies.map((b) => b.seq), [1, 2]);
  assert.deepEqual(hook.bodies.flatMap((b) => b.rows), ROWS);
  const attempts = s.connectors.listAttempts(started.id);
  assert.deepEqual(attempts.map((a) => [a.seq, a.attempt, a.status]), [
    [1, 1, 503],
    [1, 2, 503],
    [1, 3, 200],
    [
      2,
      1,
      200,
    ],
  ]);
  assert.deepEqual(s.connectors.listDeliveries().map((d) => d.id), [started.id]);
});

Deno.test("startDelivery() records a webhook that always fails as failed, with its last error", async () => {
  await using hook = serveHook([503]);
  await using s = setup({ retries: 2 });
  const { id } = await s.connectors.startDelivery("p1", { connector: "webhook", url: hook.url });
  const done = await s.connectors.waitForDelivery(id);
  assert.equal(done.status, "failed");
  assert.equal(done.attempts, 3);
  assert.equal(done.batches, 0);
  assert.match(
    done.lastError ?? "",
    /Cannot deliver batch 1 to http:\/\/127\.0\.0\.1:\d+\/hook: .*last status 503/,
  );
  assert.deepEqual(s.connectors.listDeliveries()[0], done);
});

Deno.test("startDelivery() writes batches to a directory as CSV", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using s = setup({ directoryAllow: [dir] });
    const { id } = await s.connectors.startDelivery("p1", { connector: "directory", dir }, { format: "csv" });
    const done = await s.connectors.waitForDelivery(id);
    assert.equal(done.status, "delivered");
    assert.equal(
      await Deno.readTextFile(join(dir, "batch-000001.csv")),
      'id,name,note\r\n1,Ada,"likes, commas"\r\n2,Bob,"two\nlines"\r\n',
    );
    assert.equal(
      await Deno.readTextFile(join(dir, "batch-000002.csv")),
      'id,name,note\r\n3,Cy,"""quoted"""\r\n',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startDelivery() refuses purchases that are missing or not complete, and bad targets", async () => {
  await using s = setup();
  await assert.rejects(s.connectors.startDelivery("p2", { connector: "directory", dir: "/tmp" }), {
    name: "PurchaseNotReadyError",
  });
  await assert.rejects(s.connectors.startDelivery("nope", { connector: "directory", dir: "/tmp" }), {
    name: "NotFoundError",
  });
  await assert.rejects(s.connectors.startDelivery("p1", { connector: "directory", dir: "rel" }), TypeError);
  await assert.rejects(s.connectors.startDelivery("p1", { connector: "webhook", url: "ftp://x" }), TypeError);
  assert.deepEqual(s.connectors.listDeliveries(), []);
});

Deno.test("exportPurchase() streams a purchase as NDJSON", async () => {
  await using s = setup();
  const { stream, filename } = await s.connectors.exportPurchase("p1", { format: "ndjson" });
  assert.equal(filename, "purchase-p1.ndjson");
  const text = await new Response(stream).text();
  assert.deepEqual(text.trimEnd().split("\n").map((l) => JSON.parse(l)), ROWS);
});

Deno.test("start() resumes a pending delivery after the batches already delivered", async () => {
  await using hook = serveHook([200]);
  const dbPath = join(await Deno.makeTempDir(), "kosmos.db");
  const log = createLogger({ level: "error" }).forComponent("kosmos:connectors");
  const db = openDatabase(dbPath);
  try {
    const first = createConnectors({ db, market, log }, { batchSize: 2, webhookAllow: ["127.0.0.1"] });
    const now = Date.now();
    // As a node stopped after delivering batch 1 of 2 leaves it.
    db.prepare(
      `INSERT INTO connector_deliveries (id, purchase_id, connector, target, format, status, batches, rows, created_at, updated_at)
       VALUES ('d1', 'p1', 'webhook', ?, 'ndjson', 'pending', 1, 2, ?, ?)`,
    ).run(hook.url, now, now);
    await first.start();
    const done = await first.waitForDelivery("d1");
    assert.equal(done.status, "delivered");
    assert.equal(done.rows, 3);
    assert.deepEqual(hook.bodies.map((b) => [b.seq, b.rows]), [[2, [ROWS[2]]]]);
    await first.stop();
  } finally {
    db.close();
    await Deno.remove(dbPath.slice(0, -"/kosmos.db".length), { recursive: true });
  }
});
