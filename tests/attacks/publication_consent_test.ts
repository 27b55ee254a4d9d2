/**
 * Attacks on what a publication from a contributor's sources releases, from the buyer's side, with
 * real nodes on loopback and one anvil with our contracts (the contributor A, the buyer B).
 *
 * 1. Rows past their consent. A granted consent for its Uber trips until a time; the chain's clock
 *    passes it (`evm_increaseTime`). A buyer (or anyone urging A to publish again) wants the trips
 *    all the same: A publishes from Spotify and Uber, B buys it. What B must not obtain: any Uber
 *    row, or any Uber-only value. A publication from the expired kind alone is refused and lists
 *    nothing.
 * 2. Linkage. B bought an anonymized table of A's Uber trips and knows the exact times (and, as a
 *    stronger attacker, every quasi-identifier: places, fare, city) of some of A's trips, e.g. from
 *    having ridden along. B generalises each known trip exactly as the manifest's privacy report
 *    says (the code is public) and looks for it in the table. What B must not obtain: a trip singled
 *    out, i.e. a known trip matching fewer than k = 5 released rows but more than none; nor the
 *    exact time or place of any trip anywhere in the bytes.
 */
import assert from "node:assert/strict";
import { SOURCE_KIND_INFO, type SourceRow } from "../../protocol/sources.ts";
import { generaliseQuasi } from "../../node/services/privacy/mod.ts";
import { IMPORTERS } from "../../node/services/sources/importers/mod.ts";
import type { KosmosNode } from "../../node/node.ts";
import { startMarketCluster } from "../market_cluster.ts";
import {
  chainReads,
  type ContributorApi,
  contributorApi,
  fieldsOf,
  fixturePath,
  readTable,
  rowsOfKind,
} from "../contributors.ts";

const K = 5;
const PURPOSE = "Mobility research";
const DAY = 86_400_000;

const api = (node: KosmosNode): ContributorApi => contributorApi({ url: node.url, token: node.apiToken });

/** A's Uber trips as the fixture holds them, normalized: what the attacker may know of them. */
async function uberTrips(): Promise<SourceRow[]> {
  const path = fixturePath("uber");
  const file = await Deno.open(path);
  const rows: SourceRow[] = [];
  for await (const batch of IMPORTERS.uber.parse(file.readable, { filename: "trips_data.csv" })) {
    rows.push(...batch);
  }
  return rows;
}

async function chainNow(a: ContributorApi): Promise<number> {
  const chain = await a.json("/api/v1/chain");
  const response = await fetch(chain.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "eth_getBlockByNumber",
      params: ["latest", false],
    }),
  });
  return Number(BigInt((await response.json()).result.timestamp)) * 1000;
}

Deno.test("a buyer gets no row whose consent expired, and cannot single out a known trip in what it bought", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-consent-attack-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const a = api(seller);
  const b = api(buyer);
  const chain = await chainReads(a);
  const spotifyRows = (await a.importFixture("spotify")).rows;
  await a.importFixture("uber");
  const trips = await uberTrips();
  const spotify = await a.grant("spotify", PURPOSE, Date.now() + 30 * DAY);

  await t.step("a consent past its expiry on chain: the next publication has none of its rows", async () => {
    const uber = await a.grant("uber", PURPOSE, await chainNow(a) + 10 * 60_000);
    assert.equal(await chain.consentValid(uber.tokenId), true);
    await cluster.increaseTime(3600);
    assert.equal(await chain.consentValid(uber.tokenId), false, "the chain says the consent expired");
    const { consents } = await a.json("/api/v1/consents");
    assert.equal(consents.find((c: { id: string }) => c.id === uber.id).state, "expired");

    const before = (await a.json("/api/v1/publications")).publications.length;
    const alone = await a.call("/api/v1/publications", {
      method: "POST",
      body: { kinds: ["uber"], purpose: PURPOSE, title: "Trips", price: "1000", licence: "CC-BY-4.0" },
    });
    const refusal = await alone.json();
    assert.equal(alone.status, 409, JSON.stringify(refusal));
    assert.equal(refusal.error.code, "conflict");
    assert.match(refusal.error.message, /^Nothing to publish: uber: no valid consent/);
    assert.equal((await a.json("/api/v1/publications")).publications.length, before, "nothing published");

    const publication = await a.publish({
      kinds: ["spotify", "uber"],
      purpose: PURPOSE,
      title: "Listening and trips",
      price: "1000",
    });
    assert.deepEqual(publication.kinds, ["spotify"]);
    assert.deepEqual(publication.excluded.map((e) => e.kind), ["uber"]);
    assert.deepEqual(publication.consentIds, [spotify.tokenId]);
    await a.list(publication.manifestCid);
    const table = readTable(await b.buy(publication.manifestCid));
    assert.ok(table.rows.length > 0);
    assert.equal(table.rows.length + publication.privacy.suppressed!, spotifyRows);
    if (table.header.includes("source")) assert.ok(table.rows.every((r) => r.source === "spotify"));
    const spotifyFields = new Set(SOURCE_KIND_INFO.spotify.fields.map((f) => f.name));
    for (const name of SOURCE_KIND_INFO.uber.fields.map((f) => f.name).filter((n) => !spotifyFields.has(n))) {
      assert.ok(table.rows.every((r) => !r[name]), `no row fills the Uber column ${name}`);
    }
  });

  await t.step("a buyer who knows some trips exactly cannot single one out", async () => {
    await a.grant("uber", PURPOSE, await chainNow(a) + 30 * DAY);
    const publication = await a.publish({ kinds: ["uber"], purpose: PURPOSE, title: "Trips", price: "1000" });
    assert.deepEqual(publication.kinds, ["uber"]);
    await a.list(publication.manifestCid);
    const bytes = await b.buy(publication.manifestCid);
    const text = new TextDecoder().decode(bytes);
    const released = rowsOfKind(readTable(bytes), "uber");
    const report = (await b.json(`/api/v1/listings/${publication.manifestCid}`)).manifest.privacy;
    assert.equal(report.k, K);
    const quasi = fieldsOf("uber", "quasi");
    const fields = SOURCE_KIND_INFO.uber.fields;
    const cell = (v: unknown) => v === null || v === undefined ? "" : String(v);

    // Every 7th trip: the attacker's side knowledge.
    const known = trips.filter((_, i) => i % 7 === 0);
    assert.ok(known.length >= 20, `the attacker knows ${known.length} trips`);
    let found = 0;
    for (const trip of known) {
      const target = generaliseQuasi(fields, report.generalised, trip);
      const byAll = released.filter((r) => quasi.every((q) => r[q] === cell(target[q]))).length;
      const byTime = released.filter((r) => r.requestedAt === cell(target.requestedAt)).length;
      assert.ok(byAll === 0 || byAll >= K, `a known trip matches ${byAll} released rows`);
      assert.ok(byTime === 0 || byTime >= K, `a known trip's hour matches ${byTime} released rows`);
      if (byAll > 0) found++;
      // Neither the exact time nor the exact places are anywhere in the bytes.
      const exact = new Date(trip.requestedAt as number).toISOString();
      assert.ok(!text.includes(exact.slice(0, 16)) || exact.slice(14, 16) === "00", "no exact trip time");
      for (const place of [trip.pickup, trip.dropoff]) {
        if (typeof place === "string") assert.ok(!text.includes(place), "no exact trip place");
      }
    }
    assert.ok(found > known.length / 2, `most known trips are in the table, hidden among k: ${found}`);
  });
});
