import assert from "node:assert/strict";
import { migrate, openDatabase, transaction } from "./mod.ts";

Deno.test("migrate() applies each version once and only new ones after a restart", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/k.db`;
    let db = openDatabase(path);
    migrate(db, "t", ["CREATE TABLE a (x INTEGER)"]);
    db.prepare("INSERT INTO a VALUES (1)").run();
    db.close();
    db = openDatabase(path);
    migrate(db, "t", ["CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"]);
    const rows = db.prepare("SELECT x, y FROM a").all();
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ x: 1, y: null }]);
    const versions = db.prepare(
      "SELECT version FROM schema_migrations WHERE component = 't' ORDER BY version",
    ).all();
    assert.deepEqual(versions.map((r) => r.version), [1, 2]);
    assert.equal((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal(Deno.statSync(file).mode! & 0o777, 0o600, `${file} is owner-only`);
    }
    db.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("migrate() rolls back a failing migration and refuses a newer database", () => {
  const db = openDatabase(":memory:");
  assert.throws(() => migrate(db, "t", ["CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1)"]));
  assert.equal(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'b'").get()!.n, 0);
  migrate(db, "u", ["SELECT 1", "SELECT 2"]);
  assert.throws(() => migrate(db, "u", ["SELECT 1"]), RangeError);
  assert.throws(() =>
    transaction(db, () => {
      throw new Error("boom");
    }), /boom/);
  db.close();
});
