import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { day, hour } from "../../constants.ts";
import { SALT_RETENTION, VisitorSalts } from "./visitor.ts";

const client = {
  site: "example.com",
  ip: "203.0.113.7",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
};

Deno.test("getVisitorId() is stable within a day and differs across sites, IPs and user agents", async () => {
  let now = 10 * day + 3 * hour;
  const salts = new VisitorSalts(openDatabase(":memory:"), { now: () => now });
  const id = await salts.getVisitorId(client);
  assert.match(id, /^[0-9a-f]{32}$/);
  now += 5 * hour;
  assert.equal(await salts.getVisitorId(client), id);
  assert.notEqual(await salts.getVisitorId({ ...client, site: "other.org" }), id);
  assert.notEqual(await salts.getVisitorId({ ...client, ip: "203.0.113.8" }), id);
  assert.notEqual(await salts.getVisitorId({ ...client, userAgent: "Mozilla/5.0 Chrome/130" }), id);
});

Deno.test("getVisitorId() rotates at midnight UTC; a salt is deleted 48 hours after it was made", async () => {
  let now = 10 * day + 23 * hour;
  const db = openDatabase(":memory:");
  const salts = new VisitorSalts(db, { now: () => now });
  const before = await salts.getVisitorId(client);
  now = 11 * day + hour;
  const after = await salts.getVisitorId(client);
  assert.notEqual(after, before);
  assert.deepEqual(salts.listSaltDays(), [10, 11]);
  now = 10 * day + 23 * hour + SALT_RETENTION - 1;
  assert.equal(salts.pruneSalts(), 0);
  assert.deepEqual(salts.listSaltDays(), [10, 11]);
  now = 10 * day + 23 * hour + SALT_RETENTION;
  assert.equal(salts.pruneSalts(), 1);
  assert.deepEqual(salts.listSaltDays(), [11]);
  // A restart within the day reuses the stored salt.
  now = 11 * day + 2 * hour;
  const restarted = new VisitorSalts(db, { now: () => now });
  assert.equal(await restarted.getVisitorId(client), after);
  const raw = JSON.stringify(db.prepare("SELECT * FROM ingest_salts").all());
  assert.doesNotMatch(raw, /203\.0\.113\.7/);
});

Deno.test("getVisitorId() is the first half of HMAC-SHA256(salt, site \\n IP \\n user agent)", async () => {
  const db = openDatabase(":memory:");
  const salts = new VisitorSalts(db, { now: () => 10 * day });
  const id = await salts.getVisitorId(client);
  const { salt } = db.prepare("SELECT salt FROM ingest_salts WHERE day = 10").get() as { salt: Uint8Array };
  const key = await crypto.subtle.importKey(
    "raw",
    salt as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const data = new TextEncoder().encode(`${client.site}\n${client.ip}\n${client.userAgent}`);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  assert.equal(id, Array.from(mac.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(""));
  // Non-ASCII user agents are hashed as UTF-8.
  const accented = { ...client, userAgent: "Mozilla/5.0 (Linux; é) Firefox/131.0" };
  const mac2 = new Uint8Array(
    await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`${accented.site}\n${accented.ip}\n${accented.userAgent}`),
    ),
  );
  assert.equal(
    await salts.getVisitorId(accented),
    Array.from(mac2.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(""),
  );
});
