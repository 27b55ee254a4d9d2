/**
 * The contributor's side end to end on `deno task devnet` (two nodes, one anvil, our contracts),
 * only through the HTTP API: person A imports the fixture export of every kind, grants consent for
 * two (Spotify, Uber) for one purpose, and publishes from three (the third, Netflix, has no consent
 * and is left out); node B buys the listing and reads the bought CSV: rows of both consented kinds,
 * no identifier column or value, every equivalence class of quasi-identifiers at least k = 5, and
 * the manifest's privacy report saying so. A revokes the Uber consent (the consent contract answers
 * `isValid` false), publishes again with the same request, B buys that: no Uber row in it. Each
 * publication's ownership record is held by A's wallet on chain.
 */
import assert from "node:assert/strict";
import { SOURCE_KIND_INFO, SOURCE_KINDS, type SourceKind } from "../protocol/sources.ts";
import type { PublicationView } from "../protocol/api/sources.ts";
import type { PrivacyReport } from "../protocol/manifest.ts";
import { devnetNodes, startDevnet } from "./devnet.ts";
import {
  chainReads,
  classSizes,
  type ContributorApi,
  contributorApi,
  csvValues,
  fieldsOf,
  fixturePath,
  jsonValues,
  parseCsv,
  readTable,
  rowsOfKind,
} from "./contributors.ts";

const K = 5;
const PURPOSE = "Research on listening and travel habits";
const REQUEST = {
  kinds: ["spotify", "uber", "netflix"] as SourceKind[],
  purpose: PURPOSE,
  title: "Listening and trips, anonymized",
  price: "1000",
};

/** How many records the fixture export of `kind` holds, counted from the file itself. */
async function fixtureRecords(kind: SourceKind): Promise<number> {
  const path = fixturePath(kind);
  const text = (await Deno.readTextFile(path)).replace(/^\uFEFF/, "");
  if (path.endsWith(".xml")) {
    // Apple Health: every top-level <Record> and <Workout> (records inside a <Correlation> are listed twice).
    assert.doesNotMatch(text, /<Correlation\s/, "the main fixture lists no record twice");
    return text.match(/<(Record|Workout)\s/g)?.length ?? 0;
  }
  if (path.endsWith(".json")) {
    const parsed = JSON.parse(text);
    const records = Array.isArray(parsed) ? parsed : Object.values(parsed).find(Array.isArray);
    return (records as unknown[]).length;
  }
  return parseCsv(text).filter((row) => row.some((f) => f.trim() !== "")).length - 1;
}

/** The identifier values of the consented kinds' fixtures: what must never reach a buyer. */
async function fixtureIdentifiers(): Promise<string[]> {
  const spotify = JSON.parse(await Deno.readTextFile(fixturePath("spotify")));
  const uber = await Deno.readTextFile(fixturePath("uber"));
  const values = [
    ...jsonValues(spotify, ["username", "ip_addr", "ip_addr_decrypted", "platform"]),
    ...csvValues(uber, ["Begin Trip Address", "Dropoff Address"]),
  ];
  assert.ok(values.length >= 3, `the fixtures carry identifiers to look for: ${values.length}`);
  return values;
}

/** What B bought of `publication`, checked against the privacy promises. */
function checkBought(bytes: Uint8Array, publication: PublicationView, identifiers: string[]) {
  const text = new TextDecoder().decode(bytes);
  const table = readTable(bytes);
  assert.equal(table.rows.length, publication.rows, "the bought file holds the rows the publication says");
  if (table.header.includes("source")) {
    assert.deepEqual(
      new Set(table.rows.map((r) => r.source)),
      new Set(publication.kinds),
      "rows of its kinds only",
    );
  }
  for (const kind of publication.kinds) {
    // (Apple Health's identifier `source` is dropped; the column of that name is the row's kind.)
    for (const name of fieldsOf(kind, "identifier").filter((n) => n !== "source")) {
      assert.ok(!table.header.includes(name), `no identifier column ${name} (${kind})`);
    }
  }
  for (const value of identifiers) {
    assert.ok(!text.includes(value), "no identifier value of the fixtures appears in the bought bytes");
  }
  for (const kind of publication.kinds) {
    const rows = rowsOfKind(table, kind);
    assert.ok(rows.length > 0, `the bought data has ${kind} rows`);
    for (const [key, size] of classSizes(rows, kind)) {
      assert.ok(size >= K, `${kind} class ${key} has ${size} rows, fewer than k = ${K}`);
    }
  }
  return table;
}

async function manifestPrivacy(buyer: ContributorApi, manifestCid: string): Promise<PrivacyReport> {
  const listing = await buyer.json(`/api/v1/listings/${manifestCid}`);
  assert.ok(listing.manifest, "the buyer holds the manifest once it bought the data");
  return listing.manifest.privacy;
}

Deno.test("contributors on a devnet: A imports every kind, consents to two, publishes anonymized, B buys; after a revocation the next publication has no row of the revoked kind", async (t) => {
  const devnet = await startDevnet(["--nodes", "2", "--base-port", "0"], /2 nodes up/);
  try {
    const [nodeA, nodeB] = await devnetNodes(devnet.out);
    const a = contributorApi(nodeA);
    const b = contributorApi(nodeB);
    const wallet = (await a.json("/api/v1/wallet")).address as `0x${string}`;
    const chain = await chainReads(a);
    const identifiers = await fixtureIdentifiers();
    const imported = new Map<SourceKind, number>();

    await t.step(
      "A imports the fixture export of every kind; each import has the file's records",
      async () => {
        for (const kind of SOURCE_KINDS) {
          const result = await a.importFixture(kind);
          assert.equal(result.kind, kind);
          assert.equal(result.rows, await fixtureRecords(kind), `rows of the ${kind} fixture`);
          imported.set(kind, result.rows);
        }
        const { sources } = await a.json("/api/v1/sources");
        assert.deepEqual(
          sources.map((s: { kind: string; rows: number }) => [s.kind, s.rows]).sort(),
          [...imported].sort(),
        );
      },
    );

    const expiresAt = Date.now() + 30 * 24 * 3600_000;
    const spotify = await a.grant("spotify", PURPOSE, expiresAt);
    const uber = await a.grant("uber", PURPOSE, expiresAt);

    await t.step("the two consents are records held by A's wallet, valid on chain", async () => {
      for (const consent of [spotify, uber]) {
        assert.equal(consent.state, "valid");
        assert.equal(consent.contributor, wallet);
        assert.equal(await chain.consentValid(consent.tokenId), true);
        assert.equal(await chain.consentOwner(consent.tokenId), wallet);
      }
    });

    let first: PublicationView;
    await t.step("A publishes from three kinds: the one without consent is excluded", async () => {
      first = await a.publish(REQUEST);
      assert.deepEqual([...first.kinds].sort(), ["spotify", "uber"]);
      assert.deepEqual(first.excluded.map((e) => e.kind), ["netflix"]);
      assert.deepEqual([...first.consentIds].sort(), [spotify.tokenId, uber.tokenId].sort());
      assert.equal(first.privacy.k, K);
      assert.equal(
        first.rows + first.privacy.suppressed!,
        imported.get("spotify")! + imported.get("uber")!,
        "every row of the two kinds is either released or suppressed",
      );
      assert.ok(first.ownershipTokenId, "the publication has an ownership record");
      assert.equal(await chain.ownershipOwner(first.ownershipTokenId!), wallet);
      await a.list(first.manifestCid);
    });

    await t.step("B buys it: both kinds, no identifier, every class ≥ k, the manifest's report", async () => {
      const bought = checkBought(await b.buy(first.manifestCid), first, identifiers);
      assert.ok(bought.header.includes("source"), "a table of two kinds names each row's source");
      const privacy = await manifestPrivacy(b, first.manifestCid);
      assert.deepEqual(privacy, first.privacy);
      assert.equal(privacy.k, K);
      for (const name of [...fieldsOf("spotify", "identifier"), ...fieldsOf("uber", "identifier")]) {
        assert.ok((privacy.dropped ?? []).includes(name), `the report lists ${name} as dropped`);
      }
    });

    await t.step("A revokes the Uber consent: it is revoked on chain", async () => {
      const revoked = await a.revoke(uber.id);
      assert.equal(revoked.state, "revoked");
      assert.ok(revoked.revokeTxHash);
      assert.equal(await chain.consentValid(uber.tokenId), false);
      assert.equal(await chain.consentValid(spotify.tokenId), true);
      const { consents } = await a.json("/api/v1/consents");
      const states = new Map(consents.map((c: { id: string; state: string }) => [c.id, c.state]));
      assert.equal(states.get(uber.id), "revoked");
      assert.equal(states.get(spotify.id), "valid");
    });

    await t.step("the same request publishes no Uber row; B buys it and finds none", async () => {
      const second = await a.publish(REQUEST);
      assert.notEqual(second.manifestCid, first.manifestCid);
      assert.deepEqual(second.kinds, ["spotify"]);
      assert.deepEqual(second.excluded.map((e) => e.kind).sort(), ["netflix", "uber"]);
      assert.deepEqual(second.consentIds, [spotify.tokenId]);
      assert.ok(second.ownershipTokenId);
      assert.equal(await chain.ownershipOwner(second.ownershipTokenId!), wallet);
      await a.list(second.manifestCid);

      const table = checkBought(await b.buy(second.manifestCid), second, identifiers);
      // Columns only Uber rows fill: absent, or empty in every row.
      const spotifyFields = new Set(SOURCE_KIND_INFO.spotify.fields.map((f) => f.name));
      const uberOnly = SOURCE_KIND_INFO.uber.fields.map((f) => f.name).filter((n) => !spotifyFields.has(n));
      for (const name of uberOnly) {
        assert.ok(table.rows.every((r) => !r[name]), `no row fills the Uber column ${name}`);
      }
      assert.equal(table.rows.length + second.privacy.suppressed!, imported.get("spotify")!);
    });
    assert.equal(await devnet.stop(), 0, "the devnet stops cleanly");
  } finally {
    await devnet.stop();
  }
});
