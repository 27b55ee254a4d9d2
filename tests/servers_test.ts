/**
 * The test servers start on loopback, serve a real client, and stop cleanly (the port is free again and the
 * temp dir is gone).
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import postgres from "postgres";
import { startMosquitto, startPostgres } from "./servers.ts";

async function portIsFree(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch {
    return true;
  }
}

Deno.test("startMosquitto: a QoS 1 message goes round the broker, then it stops", async () => {
  const broker = await startMosquitto();
  let stopped = false;
  try {
    assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const got = new Promise<string>((resolve) =>
        client.on("message", (_t, payload) => resolve(payload.toString()))
      );
      await client.subscribeAsync("kosmos/test", { qos: 1 });
      await client.publishAsync("kosmos/test", "hello", { qos: 1 });
      assert.equal(await got, "hello");
    } finally {
      await client.endAsync();
    }
    await broker.stop();
    stopped = true;
    assert.equal(await portIsFree(broker.port), true);
  } finally {
    if (!stopped) await broker.stop();
  }
});

Deno.test("startPostgres: runs SQL as a non-root server, then it stops", async () => {
  const db = await startPostgres();
  let stopped = false;
  try {
    assert.match(db.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`CREATE TABLE t (n integer)`;
      await sql`INSERT INTO t VALUES (1), (2)`;
      const [{ sum }] = await sql`SELECT sum(n)::int AS sum FROM t`;
      assert.equal(sum, 3);
      const [{ usesuper, user }] =
        await sql`SELECT current_user AS user, usesuper FROM pg_user WHERE usename = current_user`;
      assert.equal(user, "postgres");
      assert.equal(usesuper, true);
    } finally {
      await sql.end();
    }
    await db.stop();
    stopped = true;
    assert.equal(await portIsFree(db.port), true);
  } finally {
    if (!stopped) await db.stop();
  }
});
