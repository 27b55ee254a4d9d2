import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../../../node/services/db/mod.ts";
import { CatalogStore } from "../../../node/services/catalog/store.ts";
import { ingestAnnouncement } from "../../../node/services/catalog/mod.ts";
import { decodeAnnouncement, verifyAnnouncement } from "../../../protocol/announcement.ts";
import { tempDir } from "../../../tests/helpers.ts";
import { fillCatalog, loadListings } from "./scale_listings.ts";

Deno.test("loadListings() signs once, reuses the file, adds what a later run needs, and signs anew when it was altered", async () => {
  await using dir = await tempDir("kosmos-scale-listings-");
  const path = join(dir.path, "cache", "listings.bin");
  const first = await loadListings(12, path);
  assert.equal(first.length, 12);
  for (const bytes of first) await verifyAnnouncement(decodeAnnouncement(bytes));
  assert.equal(new Set(first.map((b) => decodeAnnouncement(b).manifestCid)).size, 12, "distinct listings");
  const written = await Deno.readFile(path);

  // Reused as it is, however many of them a step takes.
  const again = await loadListings(5, path);
  assert.deepEqual(again, first);
  assert.deepEqual(await Deno.readFile(path), written, "the file was not rewritten");

  // More than the file holds: the same first ones, then new ones of the same set.
  const more = await loadListings(20, path);
  assert.equal(more.length, 20);
  assert.deepEqual(more.slice(0, 12), first);
  assert.equal(new Set(more.map((b) => decodeAnnouncement(b).manifestCid)).size, 20);

  // One byte changed: the checksum fails and the listings are signed anew (a new set).
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 10] ^= 1;
  await Deno.writeFile(path, bytes);
  const anew = await loadListings(20, path);
  assert.equal(anew.length, 20);
  assert.notDeepEqual(anew[0], first[0]);
  for (const b of anew) await verifyAnnouncement(decodeAnnouncement(b));
});

Deno.test("fillCatalog() stores the listings as the gossip check would, and refuses duplicates", async () => {
  await using dir = await tempDir("kosmos-scale-fill-");
  const listings = await loadListings(8, join(dir.path, "listings.bin"));
  const filled = new CatalogStore(openDatabase(join(dir.path, "filled.db")));
  const checked = new CatalogStore(openDatabase(join(dir.path, "checked.db")));
  assert.equal(fillCatalog(filled, listings), 8);
  for (const bytes of listings) assert.equal((await ingestAnnouncement(checked, bytes)).result, "accept");
  assert.equal(filled.count(), 8);
  for (const bytes of listings) {
    const id = decodeAnnouncement(bytes).manifestCid;
    assert.deepEqual(filled.getVersion(id), checked.getVersion(id));
  }
  // Already held: what gossip would ignore, the fill refuses.
  assert.throws(() => fillCatalog(filled, listings.slice(0, 1)), /did not index a generated listing: stale/);
});
