import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { day, hour } from "../../constants.ts";
import { VisitorSalts } from "./visitor.ts";
import { migrateIngest } from "./schema.ts";
import { openDatabase } from "../db/mod.ts";

const client = {
  site: "example.com",
  ip: "203.0.113.7",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
};

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Every file under `dir` (recursively) that contains `needle`. */
function filesContaining(dir: string, needle: Uint8Array): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...filesContaining(path, needle));
    else if (entry.isFile && hex(Deno.readFileSync(path)).includes(hex(needle))) found.push(entry.name);
  }
  return found;
}

function readSalt(path: string, dayNumber: number): Uint8Array | undefined {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT salt FROM salts WHERE day = ?").get(dayNumber) as
      | { salt: Uint8Array }
      | undefined)
      ?.salt;
  } finally {
    db.close();
  }
}

Deno.test("getVisitorId() is stable within a day and differs across sites, IPs and user agents", async () => {
  let now = 10 * day + 3 * hour;
  const salts = new VisitorSalts({ now: () => now });
  const id = await salts.getVisitorId(client);
  assert.match(id, /^[0-9a-f]{32}$/);
  now += 5 * hour;
  assert.equal(await salts.getVisitorId(client), id);
  assert.notEqual(await salts.getVisitorId({ ...client, site: "other.org" }), id);
  assert.notEqual(await salts.getVisitorId({ ...client, ip: "203.0.113.8" }), id);
  assert.notEqual(await salts.getVisitorId({ ...client, userAgent: "Mozilla/5.0 Chrome/130" }), id);
  salts.close();
});

Deno.test("getVisitorId() rotates at midnight UTC and deletes the past day's salt at once; a restart within the day keeps it", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "salts.db");
    let now = 10 * day + 23 * hour;
    const salts = new VisitorSalts({ path, now: () => now });
    const before = await salts.getVisitorId(client);
    assert.deepEqual(salts.listSaltDays(), [10]);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal(Deno.statSync(file).mode! & 0o777, 0o600, `${file} is owner-only`);
    }
    now = 11 * day + hour;
    const after = await salts.getVisitorId(client);
    assert.notEqual(after, before);
    assert.deepEqual(salts.listSaltDays(), [11], "no salt outlives its day");
    salts.close();
    // A restart within the day reuses the stored salt: one person stays one id.
    now = 11 * day + 2 * hour;
    const restarted = new VisitorSalts({ path, now: () => now });
    assert.equal(await restarted.getVisitorId(client), after);
    // The timer at midnight deletes it without waiting for an event.
    now = 12 * day;
    assert.equal(restarted.pruneSalts(), 1);
    assert.deepEqual(restarted.listSaltDays(), []);
    restarted.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pruneSalts() leaves no byte of a deleted salt in salts.db, its -wal or its -shm", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "salts.db");
    let now = 20 * day + 12 * hour;
    const salts = new VisitorSalts({ path, now: () => now });
    await salts.getVisitorId(client);
    const old = readSalt(path, 20)!;
    assert.equal(old.byteLength, 32);
    assert.deepEqual(filesContaining(dir, old).length > 0, true, "the scan finds a salt that is kept");
    now = 21 * day + 1;
    await salts.getVisitorId(client);
    const today = readSalt(path, 21)!;
    assert.deepEqual(filesContaining(dir, old), []);
    assert.notDeepEqual(filesContaining(dir, today), [], "today's salt is kept");
    salts.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the ingest migration drops the salts kosmos.db held, zeroing their bytes in the file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "kosmos.db");
    const db = openDatabase(path);
    // A database of the version that kept salts in kosmos.db.
    migrateIngest(db);
    db.exec("DELETE FROM schema_migrations WHERE component = 'ingest' AND version = 2");
    db.exec(
      "CREATE TABLE ingest_salts (day INTEGER PRIMARY KEY, salt BLOB NOT NULL, created_at INTEGER NOT NULL)",
    );
    const salt = crypto.getRandomValues(new Uint8Array(32));
    db.prepare("INSERT INTO ingest_salts VALUES (?, ?, ?)").run(5, salt, 5 * day);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    assert.deepEqual(filesContaining(dir, salt), ["kosmos.db"]);
    migrateIngest(db);
    assert.equal(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'ingest_salts'").get(), undefined);
    assert.deepEqual(filesContaining(dir, salt), []);
    db.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("getVisitorId() is the first half of HMAC-SHA256(salt, site \\n IP \\n user agent)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "salts.db");
    const salts = new VisitorSalts({ path, now: () => 10 * day });
    const id = await salts.getVisitorId(client);
    const key = await crypto.subtle.importKey(
      "raw",
      readSalt(path, 10) as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = async (userAgent: string) =>
      hex(
        new Uint8Array(
          await crypto.subtle.sign(
            "HMAC",
            key,
            new TextEncoder().encode(`${client.site}\n${client.ip}\n${userAgent}`),
          ),
        ).subarray(0, 16),
      );
    assert.equal(id, await mac(client.userAgent));
    // Non-ASCII user agents are hashed as UTF-8.
    const accented = "Mozilla/5.0 (Linux; é) Firefox/131.0";
    assert.equal(await salts.getVisitorId({ ...client, userAgent: accented }), await mac(accented));
    salts.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
