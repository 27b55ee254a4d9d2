/**
 * The catalog index at its caps: the counts it keeps in memory match the
 * table, a full index keeps staked listings and the most recently announced
 * unstaked ones whatever order they arrived in, and the listings it gives up
 * are reported (the catalog stops watching their datasets).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type Announcement, encodeAnnouncement, signAnnouncement } from "../../../protocol/announcement.ts";
import { type Database, openDatabase } from "../db/mod.ts";
import { CatalogStore } from "./store.ts";
import { makeBody, makeManifestCid } from "./fixtures_test.ts";
import { tempDir } from "../../../tests/helpers.ts";

const seller = privateKeyToAccount(generatePrivateKey());
const own = privateKeyToAccount(generatePrivateKey());
const T0 = Date.now() - 86_400_000;

/** One signed announcement, re-used with other CIDs, times and text: the store does not check signatures. */
const base = await signAnnouncement(
  seller,
  await makeBody(seller.address, { seed: "capacity", createdAt: T0 - 1 }),
);

async function announcement(i: number, patch: Partial<Announcement> = {}): Promise<Announcement> {
  return { ...base, manifestCid: await makeManifestCid(`capacity-${i}`), timestamp: T0 + i * 10, ...patch };
}

function held(db: Database): { ids: Set<string>; count: number; bytes: number } {
  const rows = db.prepare("SELECT id, length(raw) AS size FROM catalog_listings").all() as {
    id: string;
    size: number;
  }[];
  return {
    ids: new Set(rows.map((r) => r.id)),
    count: rows.length,
    bytes: rows.reduce((s, r) => s + r.size, 0),
  };
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    i: fc.integer({ min: 0, max: 60 }),
    at: fc.integer({ min: 0, max: 200 }),
    words: fc.integer({ min: 0, max: 120 }),
    stake: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("prune" as const), before: fc.integer({ min: 0, max: 200 }) }),
);

Deno.test("CatalogStore keeps its counts in memory equal to the table through adds, updates, push-outs and prunes", async () => {
  await using dir = await tempDir();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      const db = openDatabase(join(dir.path, `k${run++}.db`));
      const removed: string[] = [];
      const store = new CatalogStore(db, {
        maxListings: 8,
        maxBytes: 8_000,
        own: own.address,
        onRemoved: (ids) => removed.push(...ids),
      });
      for (const o of ops) {
        const before = held(db);
        removed.length = 0;
        if (o.kind === "put") {
          const a = await announcement(o.i, { timestamp: T0 + o.at, description: "word ".repeat(o.words) });
          if (o.stake) {
            store.setStakes([{
              manifestCid: a.manifestCid,
              stake: "1",
              challenges: 0,
              listingIds: [String(o.i)],
              owner: seller.address,
            }]);
          }
          store.putAnnouncement(a, encodeAnnouncement(a));
        } else {
          store.pruneExpired(T0 + o.before);
        }
        const after = held(db);
        assert.equal(store.count(), after.count);
        assert.equal(store.getCapacity().bytes, after.bytes);
        assert.ok(after.count <= 8, `${after.count} listings over the cap`);
        assert.deepEqual(
          new Set(removed),
          new Set([...before.ids].filter((id) => !after.ids.has(id))),
          "exactly the listings that went are reported",
        );
      }
      // A store opened again counts the same.
      assert.equal(new CatalogStore(db).count(), store.count());
      db.close();
    }),
    { numRuns: 25 },
  );
});

Deno.test("CatalogStore at its cap keeps the same listings whatever order the same announcements arrive in", async () => {
  await using dir = await tempDir();
  const all = await Promise.all(Array.from({ length: 30 }, (_, i) => announcement(i)));
  const staked = new Set(all.filter((_, i) => i % 7 === 3).map((a) => a.manifestCid));
  let run = 0;
  fc.assert(
    fc.property(fc.shuffledSubarray(all, { minLength: 30 }), (order) => {
      const keep = (list: Announcement[]) => {
        const db = openDatabase(join(dir.path, `o${run++}.db`));
        const store = new CatalogStore(db, { maxListings: 12 });
        store.setStakes([...staked].map((id, i) => ({
          manifestCid: id,
          stake: "1",
          challenges: 0,
          listingIds: [String(i)],
          owner: seller.address,
        })));
        for (const a of list) store.putAnnouncement(a, encodeAnnouncement(a));
        const ids = held(db).ids;
        db.close();
        return ids;
      };
      const ids = keep(order);
      assert.deepEqual(ids, keep(all), "arrival order changed what is kept");
      // Every staked listing, and the newest unstaked ones up to the cap.
      const unstaked = all.filter((a) => !staked.has(a.manifestCid)).map((a) => a.manifestCid);
      const expected = new Set([...staked, ...unstaked.slice(unstaked.length - (12 - staked.size))]);
      assert.deepEqual(ids, expected);
    }),
    { numRuns: 20 },
  );
});

Deno.test("CatalogStore at its byte cap lets a large listing push out several older ones, or none when it is older", async () => {
  await using dir = await tempDir();
  const db = openDatabase(join(dir.path, "kosmos.db"));
  const removed: string[] = [];
  const small = await Promise.all(Array.from({ length: 6 }, (_, i) => announcement(i + 10)));
  const size = encodeAnnouncement(small[0]).byteLength;
  const store = new CatalogStore(db, { maxBytes: size * 6 + 10, onRemoved: (ids) => removed.push(...ids) });
  for (const a of small) assert.equal(store.putAnnouncement(a, encodeAnnouncement(a)), "added");
  assert.equal(
    store.getCapacity().keepsSince,
    small[0].timestamp,
    "full: keeps unstaked listings since the oldest",
  );

  // Older than everything it would push out: refused, and nothing is removed.
  const oldBig = await announcement(1, { description: "x".repeat(3 * size) });
  assert.equal(store.putAnnouncement(oldBig, encodeAnnouncement(oldBig)), "full");
  assert.equal(store.count(), 6);
  assert.deepEqual(removed, []);

  const big = await announcement(100, { description: "x".repeat(2 * size) });
  const bigBytes = encodeAnnouncement(big);
  assert.equal(store.putAnnouncement(big, bigBytes), "added");
  let total = small.reduce((sum, a) => sum + encodeAnnouncement(a).byteLength, 0);
  let gone = 0;
  while (total + bigBytes.byteLength > size * 6 + 10) total -= encodeAnnouncement(small[gone++]).byteLength;
  assert.ok(gone >= 2, "the large listing needs room of several");
  assert.deepEqual(removed, small.slice(0, gone).map((a) => a.manifestCid), "the oldest ones went, in order");
  const capacity = store.getCapacity();
  assert.ok(capacity.bytes <= capacity.maxBytes);
  assert.equal(capacity.listings, 6 - gone + 1);
  assert.equal(capacity.bytes, held(db).bytes);
  db.close();
});
