import assert from "node:assert/strict";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  type AnnouncementBody,
  encodeAnnouncement,
  signAnnouncement,
} from "../../../protocol/announcement.ts";
import { openDatabase } from "../db/mod.ts";
import { CatalogStore } from "./store.ts";
import { type ListingQuery, parseListingQuery } from "./query.ts";
import { makeBody, resign } from "./fixtures_test.ts";
import { tempDir } from "../../../tests/helpers.ts";

const alice = privateKeyToAccount(generatePrivateKey());
const bob = privateKeyToAccount(generatePrivateKey());
const PEER_A = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
const PEER_B = "12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDhp4G5YMgmpPC9ZJHo";

function openStore(dir: string) {
  const db = openDatabase(join(dir, "kosmos.db"));
  return { db, store: new CatalogStore(db) };
}

async function put(
  store: CatalogStore,
  account = alice,
  patch: Partial<AnnouncementBody> & { seed?: string } = {},
) {
  const signed = await signAnnouncement(account, await makeBody(account.address, patch));
  assert.equal(store.putAnnouncement(signed, encodeAnnouncement(signed)), "added");
  return signed;
}

function list(store: CatalogStore, query: ListingQuery = {}) {
  return store.listListings(parseListingQuery(query));
}

const titles = (store: CatalogStore, query: ListingQuery = {}) =>
  list(store, query).listings.map((l) => l.title);

Deno.test("CatalogStore.listListings() searches title, description, category and column names by word prefix", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  await put(store, alice, { title: "Hourly air quality", description: "Street sensors in Berlin" });
  await put(store, alice, {
    title: "Taxi trips",
    description: "Pick-ups and drop-offs",
    category: "mobility",
    schema: [{ name: "fare_amount", type: "number" }],
    preview: [],
  });
  await put(store, bob, {
    title: "Smart meter readings",
    description: "Éléctricité per household",
    category: "energy",
  });
  assert.deepEqual(titles(store, { q: "air" }), ["Hourly air quality"]);
  assert.deepEqual(titles(store, { q: "berl" }), ["Hourly air quality"]);
  assert.deepEqual(titles(store, { q: "mobility" }), ["Taxi trips"]);
  assert.deepEqual(titles(store, { q: "fare" }), ["Taxi trips"]);
  assert.deepEqual(titles(store, { q: "electricite" }), ["Smart meter readings"]);
  assert.deepEqual(titles(store, { q: "air taxi" }), [], "all words must match");
  assert.deepEqual(
    titles(store, { q: 'air* -"( ^:' }),
    ["Hourly air quality"],
    "FTS syntax is not interpreted",
  );
  assert.deepEqual(titles(store, { q: "!!!" }), []);
  assert.equal(list(store, { q: "" }).total, 3, "empty text does not filter");
  db.close();
});

Deno.test("CatalogStore.listListings() filters by category and seller", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  await put(store, alice, { title: "A", category: "health" });
  await put(store, alice, { title: "B", category: "energy" });
  await put(store, bob, { title: "C", category: "health" });
  assert.deepEqual(titles(store, { category: "health", sort: "price" }).sort(), ["A", "C"]);
  assert.deepEqual(titles(store, { category: "energy" }), ["B"]);
  assert.deepEqual(titles(store, { category: "media" }), []);
  assert.deepEqual(titles(store, { seller: bob.address.toLowerCase() }), ["C"]);
  db.close();
});

Deno.test("CatalogStore.listListings() sorts by newest, price (numerically) and stake, and pages", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  const now = Date.now();
  await put(store, alice, { title: "old cheap", price: "9", createdAt: now - 3000 });
  await put(store, alice, { title: "new dear", price: "100000000000000000000", createdAt: now - 1000 });
  await put(store, alice, { title: "mid free", price: "0", createdAt: now - 2000 });
  assert.deepEqual(titles(store, { sort: "newest" }), ["new dear", "mid free", "old cheap"]);
  assert.deepEqual(titles(store), ["new dear", "mid free", "old cheap"], "newest is the default");
  assert.deepEqual(titles(store, { sort: "price" }), ["mid free", "old cheap", "new dear"]);
  assert.deepEqual(
    titles(store, { sort: "stake" }),
    ["new dear", "mid free", "old cheap"],
    "equal stakes: newest first",
  );
  assert.ok(list(store).listings.every((l) => l.stake === "0"));
  const page = list(store, { sort: "price", limit: 1, offset: 1 });
  assert.deepEqual(page.listings.map((l) => l.title), ["old cheap"]);
  assert.equal(page.total, 3);
  db.close();
});

Deno.test("parseListingQuery() rejects bad input with a clear error", () => {
  assert.throws(() => parseListingQuery({ category: "toys" as never }), RangeError);
  assert.throws(() => parseListingQuery({ category: "toys" as never }), /unknown category "toys"/);
  assert.throws(() => parseListingQuery({ sort: "cheapest" as never }), /unknown sort "cheapest"/);
  assert.throws(() => parseListingQuery({ limit: 0 }), RangeError);
  assert.throws(() => parseListingQuery({ limit: 101 }), /limit is 101, must be between 1 and 100/);
  assert.throws(() => parseListingQuery({ limit: "10" as never }), TypeError);
  assert.throws(() => parseListingQuery({ offset: -1 }), RangeError);
  assert.throws(() => parseListingQuery({ offset: 1.5 }), TypeError);
  assert.throws(() => parseListingQuery({ q: 42 as never }), TypeError);
  assert.throws(() => parseListingQuery({ q: "x".repeat(201) }), /at most 200/);
  assert.throws(() => parseListingQuery({ seller: "0x12" }), TypeError);
  assert.throws(() => parseListingQuery({ color: "red" } as never), /unknown option "color"/);
  assert.deepEqual(parseListingQuery({ q: "Air  Quality" }), {
    q: '"air"* "quality"*',
    empty: false,
    category: undefined,
    seller: undefined,
    sort: "relevance",
    limit: 20,
    offset: 0,
  });
});

Deno.test("CatalogStore.putAnnouncement() keeps the newest announcement of a listing and its first seller", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  const first = await put(store, alice, { title: "first", providers: [PEER_A] });
  const newer = await resign(alice, first, {
    title: "second",
    timestamp: first.timestamp + 1,
    providers: [],
  });
  assert.equal(store.putAnnouncement(first, encodeAnnouncement(first)), "stale");
  assert.equal(store.putAnnouncement(newer, encodeAnnouncement(newer)), "updated");
  assert.equal(store.putAnnouncement(first, encodeAnnouncement(first)), "stale");
  const hijack = await signAnnouncement(bob, {
    ...(await makeBody(bob.address)),
    manifestCid: first.manifestCid,
    timestamp: newer.timestamp + 1,
  });
  assert.equal(store.putAnnouncement(hijack, encodeAnnouncement(hijack)), "conflict");
  assert.deepEqual(list(store, { q: "first" }).listings, [], "the search index follows the replacement");
  const [listing] = list(store, { q: "second" }).listings;
  assert.equal(listing.seller, alice.address);
  assert.deepEqual(listing.providers, [], "hinted providers of the old announcement are dropped");
  db.close();
});

Deno.test("CatalogStore providers: announcement hints first, replicas after, removable, kept across updates", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  const a = await put(store, alice, { providers: [PEER_A] });
  assert.equal(store.addProvider(a.manifestCid, PEER_B), true);
  assert.equal(store.addProvider(a.manifestCid, PEER_A), true);
  assert.deepEqual(store.getListing(a.manifestCid)!.providers, [PEER_A, PEER_B]);
  const newer = await resign(alice, a, { timestamp: a.timestamp + 1, providers: [] });
  store.putAnnouncement(newer, encodeAnnouncement(newer));
  assert.deepEqual(store.getListing(a.manifestCid)!.providers, [PEER_A, PEER_B], "replicas survive updates");
  assert.equal(store.removeProvider(a.manifestCid, PEER_A), true);
  assert.equal(store.removeProvider(a.manifestCid, PEER_A), false);
  assert.deepEqual(store.getListing(a.manifestCid)!.providers, [PEER_B]);
  assert.equal(
    store.addProvider("bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", PEER_A),
    false,
  );
  db.close();
});

Deno.test("CatalogStore.readChanges() pages by change order within byte and count caps, and survives reopening", async () => {
  await using dir = await tempDir();
  let { db, store } = openStore(dir.path);
  const a = await put(store, alice, { title: "a" });
  await put(store, alice, { title: "b" });
  await put(store, alice, { title: "c" });
  const newer = await resign(alice, a, { title: "a2", timestamp: a.timestamp + 1 });
  store.putAnnouncement(newer, encodeAnnouncement(newer));
  const first = store.readChanges(0, { limit: 2, maxBytes: 1 << 20, notBefore: 0 });
  assert.equal(first.announcements.length, 2);
  assert.equal(first.more, true);
  const rest = store.readChanges(first.cursor, { limit: 10, maxBytes: 1 << 20, notBefore: 0 });
  assert.equal(rest.announcements.length, 1, "a's first version is gone, its update comes last");
  assert.equal(rest.more, false);
  const one = first.announcements[0].byteLength;
  assert.equal(store.readChanges(0, { limit: 10, maxBytes: one, notBefore: 0 }).announcements.length, 1);
  assert.equal(
    store.readChanges(0, { limit: 10, maxBytes: 1 << 20, notBefore: Date.now() + 1 }).announcements.length,
    0,
  );
  const epoch = store.epoch;
  db.close();
  ({ db, store } = openStore(dir.path));
  assert.equal(store.epoch, epoch);
  assert.equal(store.count(), 3);
  assert.equal(
    store.readChanges(rest.cursor, { limit: 10, maxBytes: 1 << 20, notBefore: 0 }).announcements.length,
    0,
  );
  db.close();
});

Deno.test("CatalogStore.setStakes() shows stakes on listings, known before or after them, sorted numerically, and replaces them all", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  const small = await put(store, alice, { title: "Small stake", seed: "small" });
  // A stake the registry knows before the announcement arrives.
  const lateBody = await makeBody(bob.address, { title: "Late listing", seed: "late" });
  store.setStakes([
    { manifestCid: small.manifestCid, stake: "900", challenges: 0, listingIds: ["1"] },
    { manifestCid: lateBody.manifestCid, stake: "1000", challenges: 2, listingIds: ["2", "5"] },
  ]);
  const late = await signAnnouncement(bob, lateBody);
  assert.equal(store.putAnnouncement(late, encodeAnnouncement(late)), "added");
  await put(store, alice, { title: "No stake", seed: "none" });
  assert.deepEqual(titles(store, { sort: "stake" }), ["Late listing", "Small stake", "No stake"]);
  const got = store.getListing(late.manifestCid)!;
  assert.deepEqual([got.stake, got.challenges, got.onChain], ["1000", 2, ["2", "5"]]);
  const none = list(store, { q: "no stake" }).listings[0];
  assert.deepEqual([none.stake, none.challenges, none.onChain], ["0", 0, []]);
  // A newer announcement keeps the stake.
  const newer = await resign(bob, late, { timestamp: late.timestamp + 1 });
  assert.equal(store.putAnnouncement(newer, encodeAnnouncement(newer)), "updated");
  assert.equal(store.getListing(late.manifestCid)!.stake, "1000");

  store.setStakes([{ manifestCid: small.manifestCid, stake: "5", challenges: 1, listingIds: ["1"] }], {
    replace: true,
  });
  assert.equal(titles(store, { sort: "stake" })[0], "Small stake");
  assert.equal(store.getListing(late.manifestCid)!.stake, "0");
  assert.throws(
    () => store.setStakes([{ manifestCid: small.manifestCid, stake: "-1", challenges: 0, listingIds: [] }]),
    RangeError,
  );
  db.close();
});

Deno.test("CatalogStore: once staked, only the registry owner sells a manifest CID; another seller's copy is hidden, then replaced", async () => {
  await using dir = await tempDir();
  const { db, store } = openStore(dir.path);
  // bob squats alice's manifest CID first, with a later timestamp.
  const body = await makeBody(alice.address, { title: "Alice's data", seed: "owned" });
  const squat = await signAnnouncement(bob, {
    ...(await makeBody(bob.address, { title: "Squatted" })),
    manifestCid: body.manifestCid,
    timestamp: body.timestamp + 60_000,
  });
  assert.equal(store.putAnnouncement(squat, encodeAnnouncement(squat)), "added");
  assert.equal(
    store.getListing(body.manifestCid)!.seller,
    bob.address,
    "unstaked: the first seller keeps it",
  );
  const before = store.readChanges(0, { limit: 10, maxBytes: 1e6, notBefore: 0 });
  assert.equal(before.announcements.length, 1);

  const stake = { manifestCid: body.manifestCid, stake: "100", challenges: 0, listingIds: ["7"] };
  assert.deepEqual(store.setStakes([{ ...stake, owner: alice.address.toLowerCase() }]), [body.manifestCid]);
  assert.deepEqual(store.setStakes([{ ...stake, owner: alice.address }]), [], "the same owner is no change");
  assert.equal(store.getOwner(body.manifestCid), alice.address);
  assert.equal(store.getListing(body.manifestCid), undefined, "the squatter's copy is hidden");
  assert.deepEqual(titles(store), []);
  assert.equal(list(store, { seller: bob.address }).total, 0);
  assert.equal(store.readChanges(0, { limit: 10, maxBytes: 1e6, notBefore: 0 }).announcements.length, 0);

  const squatAgain = await resign(bob, squat, { timestamp: squat.timestamp + 1 });
  assert.equal(store.putAnnouncement(squatAgain, encodeAnnouncement(squatAgain)), "conflict");
  // The owner's announcement replaces it although it is older.
  const owned = await signAnnouncement(alice, body);
  assert.equal(store.putAnnouncement(owned, encodeAnnouncement(owned)), "updated");
  assert.equal(store.getListing(body.manifestCid)!.seller, alice.address);
  assert.deepEqual(titles(store), ["Alice's data"]);

  // When the registry listing is withdrawn, the CID is unstaked again.
  store.setStakes([{ ...stake, stake: "0", listingIds: [], owner: alice.address }]);
  assert.equal(store.getOwner(body.manifestCid), undefined);
  assert.throws(() => store.setStakes([{ ...stake, owner: "0x12" }]), RangeError);
  db.close();
});

Deno.test("CatalogStore at its cap gives up the oldest unstaked listing, never a staked one or its own, for newer or staked ones", async () => {
  await using dir = await tempDir();
  const db = openDatabase(join(dir.path, "kosmos.db"));
  const store = new CatalogStore(db, { maxListings: 3, own: alice.address });
  const now = Date.now();
  const own = await put(store, alice, { title: "own", timestamp: now - 50_000 });
  const staked = await signAnnouncement(
    bob,
    await makeBody(bob.address, { title: "staked", timestamp: now - 40_000 }),
  );
  store.setStakes([{
    manifestCid: staked.manifestCid,
    stake: "1",
    challenges: 0,
    listingIds: ["1"],
    owner: bob.address,
  }]);
  assert.equal(store.putAnnouncement(staked, encodeAnnouncement(staked)), "added");
  const old = await put(store, bob, { title: "old unstaked", timestamp: now - 30_000 });

  const flood = privateKeyToAccount(generatePrivateKey());
  const older = await signAnnouncement(flood, await makeBody(flood.address, { timestamp: now - 35_000 }));
  assert.equal(
    store.putAnnouncement(older, encodeAnnouncement(older)),
    "full",
    "not newer than what it would push out",
  );
  const fresh = await signAnnouncement(
    flood,
    await makeBody(flood.address, { title: "fresh", timestamp: now }),
  );
  assert.equal(store.putAnnouncement(fresh, encodeAnnouncement(fresh)), "added");
  assert.equal(store.getListing(old.manifestCid), undefined, "the oldest unstaked listing went");
  assert.equal(store.count(), 3);
  // Only staked and own listings are left besides "fresh"; the next fresh key pushes out "fresh" itself.
  const fresher = await signAnnouncement(flood, await makeBody(flood.address, { timestamp: now + 1 }));
  assert.equal(store.putAnnouncement(fresher, encodeAnnouncement(fresher)), "added");
  assert.deepEqual(titles(store).sort(), ["Hourly air quality, Berlin Mitte", "own", "staked"]);
  assert.ok(store.getListing(own.manifestCid) && store.getListing(staked.manifestCid));

  // A staked newcomer pushes out an unstaked listing whatever its age.
  const stakedLate = await signAnnouncement(
    bob,
    await makeBody(bob.address, { timestamp: now - 90_000, createdAt: now - 100_000 }),
  );
  store.setStakes([{
    manifestCid: stakedLate.manifestCid,
    stake: "1",
    challenges: 0,
    listingIds: ["2"],
    owner: bob.address,
  }]);
  assert.equal(store.putAnnouncement(stakedLate, encodeAnnouncement(stakedLate)), "added");
  assert.equal(store.getListing(fresher.manifestCid), undefined);
  // Now every listing is staked or own: nothing new gets in, staked or not.
  const last = await signAnnouncement(flood, await makeBody(flood.address, { timestamp: now + 2 }));
  assert.equal(store.putAnnouncement(last, encodeAnnouncement(last)), "full");
  db.close();
});
