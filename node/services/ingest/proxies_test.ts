import assert from "node:assert/strict";
import { openDatabase } from "../db/mod.ts";
import { ProxyLedger } from "./proxies.ts";

const day = 86_400_000;

Deno.test("ProxyLedger holds each proxy of each site to its daily quota, counts refusals and blocks", () => {
  const db = openDatabase(":memory:");
  let now = 10 * day + 1000;
  const ledger = new ProxyLedger(db, { quota: 10, now: () => now });
  assert.equal(ledger.admit("a.example", "p1", 10), undefined);
  ledger.record("a.example", "p1", 8);
  assert.deepEqual(ledger.admit("a.example", "p1", 3), {
    reason: "proxy p1 is over its quota of 10 events a day for a.example",
    retry: true,
  });
  assert.equal(ledger.admit("a.example", "p1", 2), undefined, "up to the quota is fine");
  assert.equal(ledger.admit("a.example", "p2", 10), undefined, "other proxies have their own quota");
  assert.equal(ledger.admit("b.example", "p1", 10), undefined, "and other sites");
  ledger.recordRefused("a.example", "p1");
  now += day; // a new UTC day
  assert.equal(ledger.admit("a.example", "p1", 10), undefined);
  ledger.record("a.example", "p1", 1);
  ledger.record("a.example", "p2", 2);

  ledger.block("a.example", "p2");
  ledger.block("a.example", "p3");
  assert.deepEqual(ledger.admit("a.example", "p2", 1), {
    reason: "proxy p2 is blocked for a.example",
    retry: false,
  });
  assert.equal(ledger.admit("b.example", "p2", 1), undefined, "a block is per site");
  assert.deepEqual(
    ledger.list("a.example").map((p) => [p.proxy, p.events, p.today, p.batches, p.refused, p.blocked]),
    [["p1", 9, 1, 2, 1, false], ["p2", 2, 2, 1, 0, true], ["p3", 0, 0, 0, 0, true]],
  );
  ledger.unblock("a.example", "p2");
  assert.equal(ledger.isBlocked("a.example", "p2"), false);
  assert.throws(() => new ProxyLedger(db, { quota: 0 }), RangeError);
  db.close();
});
