/**
 * The pool protocol between real nodes on one anvil with our contracts (an operator, two contributors
 * A and B, and a buyer), through the HTTP API and, for the attacker's requests, straight over
 * `/kosmos/pool/1.0.0`: the pool is created on chain and its announcement reaches every node; a join
 * with the joiner's own valid consent is accepted, one with someone else's consent (or signed for
 * someone else) is refused; a version holds both members' anonymized rows and no identifier value of
 * their exports (read back with the operator's own dataset key); after A revokes its consent the next
 * version leaves A out; a sale of that version is distributed to its contributor, and so is one that
 * completed while the operator's pools service was stopped. Every status the pool routes answer is
 * checked on the way.
 */
import assert from "node:assert/strict";
import { createPublicClient, http } from "viem";
import { computeTermsHash, poolJoinTypedData, type PoolTerms } from "../protocol/pools.ts";
import { kosmosPoolsAbi } from "../protocol/contracts_generated.ts";
import { decryptDataset, getManifest } from "../node/services/blocks/mod.ts";
import { askPeer } from "../node/services/pools/mod.ts";
import type { KosmosNode } from "../node/node.ts";
import { startMarketCluster } from "./market_cluster.ts";
import { contributorApi, importSpotifyJson, jsonValues, parseCsv, spotifySlices } from "./contributors.ts";
import { waitFor } from "./helpers.ts";
import { CID } from "multiformats/cid";

const PURPOSE = "Research on listening habits";
const TERMS = {
  kind: "spotify",
  purpose: PURPOSE,
  title: "Listening, pooled",
  description: "Plays of two listeners, anonymized on their own nodes",
  price: "10",
  licence: "CC-BY-4.0",
  k: 5,
  operatorFeeBps: 1000,
};
/** The identifier fields of a Spotify export, and the columns they would become. */
const IDENTIFIER_KEYS = ["username", "ip_addr", "ip_addr_decrypted", "platform"];
const IDENTIFIER_COLUMNS = ["username", "ipAddress", "platform"];

const apiOf = (node: KosmosNode) => contributorApi({ url: node.url, token: node.apiToken });

/** The plaintext of a dataset the node published, opened with its own key. */
async function readOwnDataset(node: KosmosNode, manifestCid: string): Promise<string> {
  const { blocks, datasets } = node.components;
  const manifest = await getManifest(blocks, CID.parse(manifestCid));
  const dek = datasets.getDatasetKey(manifestCid);
  assert.ok(dek, "the operator keeps the version's key");
  return await new Response(decryptDataset(blocks, manifest, { dek })).text();
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = await response.json();
  return { status: response.status, code: body.error?.code, message: body.error?.message };
}

Deno.test("pools over /kosmos/pool/1.0.0: announce, join with one's own consent only, versions of anonymized rows, a revoked member left out, a sale distributed", async (t) => {
  await using cluster = await startMarketCluster({
    prefix: "kosmos-pools-",
    services: { pools: { contributeTimeout: 20_000, requestTimeout: 10_000 } },
  });
  const operatorNode = await cluster.start();
  const aNode = await cluster.start();
  const bNode = await cluster.start();
  const buyerNode = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const [operator, a, b, buyer] = [operatorNode, aNode, bNode, buyerNode].map(apiOf);
  const slices = await spotifySlices(2);
  const chain = createPublicClient({ transport: http(cluster.anvil.rpcUrl) });

  let poolId = "";
  await t.step("POST /api/v1/pools creates the pool on chain with the hash of its terms (201)", async () => {
    const preview = await operator.json("/api/v1/pools?preview=1", { method: "POST", body: TERMS });
    assert.equal(preview.preview, true);
    assert.ok(BigInt(preview.fee.gas) > 0n);
    const pool = await operator.json("/api/v1/pools", { method: "POST", body: TERMS }, 201);
    poolId = pool.id;
    assert.equal(pool.role, "operator");
    assert.equal(pool.operator, operatorNode.address);
    assert.equal(pool.price, (10n * 10n ** 18n).toString(), "the price is a token amount");
    const terms: PoolTerms = {
      kind: "spotify",
      purpose: PURPOSE,
      title: TERMS.title,
      description: TERMS.description,
      price: pool.price,
      licence: TERMS.licence,
      k: 5,
      operatorFeeBps: 1000,
      operator: operatorNode.address,
      createdAt: pool.createdAt,
    };
    assert.equal(pool.termsHash, computeTermsHash(terms));
    const onChain = await chain.readContract({
      address: cluster.dev.contracts.pools,
      abi: kosmosPoolsAbi,
      functionName: "getPool",
      args: [BigInt(poolId)],
    });
    assert.equal(onChain.operator, operatorNode.address);
    assert.equal(onChain.termsHash, pool.termsHash);
    assert.equal(Number(onChain.feeBps), 1000);
  });

  await t.step("the announcement reaches every other node, which lists the pool (200)", async () => {
    for (const node of [a, b, buyer]) {
      await waitFor("the pool announcement", async () => {
        const response = await node.call(`/api/v1/pools/${poolId}`);
        await response.body?.cancel();
        return response.status === 200;
      }, { timeout: 20_000, interval: 200 });
    }
    const { pools } = await a.json("/api/v1/pools");
    assert.deepEqual(pools.map((p: { id: string }) => p.id), [poolId]);
    assert.equal(pools[0].role, null);
  });

  let late: ReturnType<typeof apiOf>;
  await t.step("a node started later learns the pool from its peers' announcements", async () => {
    late = apiOf(await cluster.start({ config: { storage: { quotaGB: 0 } } }));
    await waitFor("the late node to learn the pool", async () => {
      const response = await late.call(`/api/v1/pools/${poolId}`);
      await response.body?.cancel();
      return response.status === 200;
    }, { timeout: 20_000, interval: 200 });
  });

  await t.step("bad requests: 422 for bad terms, 404 for an unknown or malformed pool id", async () => {
    const bad = await errorOf(
      await operator.call("/api/v1/pools", { method: "POST", body: { ...TERMS, operatorFeeBps: 6000 } }),
    );
    assert.equal(bad.status, 422);
    assert.match(bad.message, /operatorFeeBps/);
    const extra = await errorOf(
      await operator.call("/api/v1/pools", { method: "POST", body: { ...TERMS, x: 1 } }),
    );
    assert.equal(extra.status, 422);
    assert.equal((await errorOf(await a.call("/api/v1/pools/999"))).status, 404);
    assert.equal((await errorOf(await a.call("/api/v1/pools/abc"))).status, 404);
  });

  const expiresAt = Date.now() + 30 * 24 * 3600_000;
  const consents: { a?: { tokenId: string }; b?: { tokenId: string } } = {};
  await t.step(
    "the contributors import their own plays and consent for the pool's kind and purpose",
    async () => {
      await importSpotifyJson(a, slices[0].json);
      await importSpotifyJson(b, slices[1].json);
      consents.a = await a.grant("spotify", PURPOSE, expiresAt);
      consents.b = await b.grant("spotify", PURPOSE, expiresAt);
    },
  );

  await t.step(
    "a join with someone else's consent is refused, by B's node (409) and by the operator",
    async () => {
      const local = await errorOf(
        await b.call(`/api/v1/pools/${poolId}/join`, {
          method: "POST",
          body: { consentId: consents.a!.tokenId },
        }),
      );
      assert.equal(local.status, 409);
      assert.match(local.message, /held by/);
      // Straight to the operator, past B's own checks: B signs a join with A's consent.
      const operatorPeer = operatorNode.peerId;
      const consentId = BigInt(consents.a!.tokenId);
      const signal = AbortSignal.timeout(10_000);
      const bSigned = await bNode.components.identity.account.signTypedData(
        poolJoinTypedData({ poolId: BigInt(poolId), consentId, peerId: bNode.peerId }),
      );
      const asB = await askPeer(bNode.components.p2p, operatorPeer, {
        v: 1,
        type: "join",
        poolId,
        contributor: bNode.address,
        consentId: consents.a!.tokenId,
        signature: bSigned,
      }, { signal });
      assert.ok("error" in asB && asB.error.code === "consent-invalid", JSON.stringify(asB));
      // B claims to be A, with B's signature.
      const asA = await askPeer(bNode.components.p2p, operatorPeer, {
        v: 1,
        type: "join",
        poolId,
        contributor: aNode.address,
        consentId: consents.a!.tokenId,
        signature: bSigned,
      }, { signal });
      assert.ok("error" in asA && asA.error.code === "bad-signature", JSON.stringify(asA));
      // A's own signature replayed from B's node: signed for A's peer, not B's.
      const aSigned = await aNode.components.identity.account.signTypedData(
        poolJoinTypedData({ poolId: BigInt(poolId), consentId, peerId: aNode.peerId }),
      );
      const replay = await askPeer(bNode.components.p2p, operatorPeer, {
        v: 1,
        type: "join",
        poolId,
        contributor: aNode.address,
        consentId: consents.a!.tokenId,
        signature: aSigned,
      }, { signal });
      assert.ok("error" in replay && replay.error.code === "bad-signature", JSON.stringify(replay));
      const view = await operator.json(`/api/v1/pools/${poolId}`);
      assert.deepEqual(view.members, [], "nobody joined");
    },
  );

  await t.step(
    "publishing with no member is a 409, and another node's pool is not its to publish (403)",
    async () => {
      const empty = await errorOf(
        await operator.call(`/api/v1/pools/${poolId}/versions`, { method: "POST" }),
      );
      assert.equal(empty.status, 409);
      const notMine = await errorOf(await a.call(`/api/v1/pools/${poolId}/versions`, { method: "POST" }));
      assert.equal(notMine.status, 403);
      const leave = await errorOf(await a.call(`/api/v1/pools/${poolId}/leave`, { method: "POST" }));
      assert.equal(leave.status, 404, "not a member");
    },
  );

  await t.step("joins with each contributor's own valid consent are accepted (200)", async () => {
    const joinedA = await a.json(`/api/v1/pools/${poolId}/join`, {
      method: "POST",
      body: { consentId: consents.a!.tokenId },
    });
    assert.equal(joinedA.role, "member");
    assert.equal(joinedA.membership.consentId, consents.a!.tokenId);
    await b.json(`/api/v1/pools/${poolId}/join`, {
      method: "POST",
      body: { consentId: consents.b!.tokenId },
    });
    const view = await operator.json(`/api/v1/pools/${poolId}`);
    assert.deepEqual(
      view.members.map((m: { address: string }) => m.address).sort(),
      [aNode.address, bNode.address].sort(),
    );
    const own = await errorOf(
      await operator.call(`/api/v1/pools/${poolId}/join`, { method: "POST", body: { consentId: "1" } }),
    );
    assert.equal(own.status, 422, "the operator cannot join its own pool");
  });

  await t.step("version 1 holds both members' anonymized rows and no identifier value (201)", async () => {
    const preview = await operator.json(`/api/v1/pools/${poolId}/versions?preview=1`, { method: "POST" });
    assert.equal(preview.members, 2);
    const v1 = await operator.json(`/api/v1/pools/${poolId}/versions`, { method: "POST" }, 201);
    assert.deepEqual(v1.excluded, []);
    assert.deepEqual(
      v1.contributors.map((c: { address: string }) => c.address).sort(),
      [aNode.address, bNode.address].sort(),
    );
    const text = await readOwnDataset(operatorNode, v1.manifestCid);
    const [header, ...rows] = parseCsv(text).filter((r) => r.some((f) => f !== ""));
    assert.equal(rows.length, v1.rows);
    assert.equal(v1.rows, v1.contributors.reduce((n: number, c: { rows: number }) => n + c.rows, 0));
    for (const key of IDENTIFIER_COLUMNS) assert.ok(!header.includes(key), `no ${key} column`);
    for (const slice of slices) {
      for (const value of jsonValues(JSON.parse(slice.json), IDENTIFIER_KEYS)) {
        assert.ok(!text.includes(value), "no identifier value of an export is in the version");
      }
      const country = header.indexOf("country");
      assert.ok(rows.some((r) => r[country] === slice.country), `rows of the ${slice.country} contributor`);
    }
    assert.ok(rows.length < slices[0].plays + slices[1].plays, "the classes under k were suppressed");
    const onChain = await chain.readContract({
      address: cluster.dev.contracts.pools,
      abi: kosmosPoolsAbi,
      functionName: "getVersion",
      args: [BigInt(v1.listingId)],
    });
    assert.equal(String(onChain.poolId), poolId);
    assert.equal(Number(onChain.contributorCount), 2);
    assert.equal(onChain.totalRows, BigInt(v1.rows));
  });

  let v2: { listingId: string; manifestCid: string; contributors: { address: string; rows: number }[] };
  await t.step("after A revokes its consent, the next version leaves A out with the reason", async () => {
    await a.revoke(consents.a!.tokenId);
    v2 = await operator.json(`/api/v1/pools/${poolId}/versions`, { method: "POST" }, 201);
    assert.deepEqual(v2.contributors.map((c) => c.address), [bNode.address]);
    const excluded = (v2 as unknown as { excluded: { address: string; reason: string }[] }).excluded;
    assert.equal(excluded.length, 1);
    assert.equal(excluded[0].address, aNode.address);
    assert.match(excluded[0].reason, /consent-invalid|revoked/);
    const text = await readOwnDataset(operatorNode, v2.manifestCid);
    const [header, ...rows] = parseCsv(text).filter((r) => r.some((f) => f !== ""));
    const country = header.indexOf("country");
    assert.ok(rows.every((r) => r[country] === slices[1].country), "no row of A");
  });

  await t.step("a sale of version 2 is distributed to its contributor on the rewards contract", async () => {
    await buyer.buy(v2.manifestCid);
    await waitFor("the sale's distribution", () => {
      const done = operatorNode.components.pools.listDistributions().find((d) => d.status === "distributed");
      return done !== undefined;
    }, { timeout: 60_000, interval: 300 });
    const [d] = operatorNode.components.pools.listDistributions();
    assert.equal(d.listingId, BigInt(v2.listingId));
    const id = await chain.readContract({
      address: cluster.dev.contracts.pools,
      abi: kosmosPoolsAbi,
      functionName: "saleDistribution",
      args: [d.saleId],
    });
    assert.equal(id, d.distributionId);
  });

  await t.step(
    "a sale completed while the operator's pools service was stopped is distributed when it starts",
    async () => {
      const pools = operatorNode.components.pools;
      await pools.stop();
      await late.buy(v2.manifestCid);
      assert.equal(pools.listDistributions().length, 1, "nothing recorded while stopped");
      await pools.start();
      await waitFor("the missed sale's distribution", () => {
        const all = pools.listDistributions();
        return all.length === 2 && all.every((d) => d.status === "distributed");
      }, { timeout: 60_000, interval: 300 });
    },
  );

  await t.step("the Pools page lists the pool with the operator's actions and its versions", async () => {
    const response = await operator.call("/pools");
    const html = await response.text();
    assert.equal(response.status, 200);
    assert.match(html, new RegExp(`data-pool="${poolId}"`));
    assert.match(html, /Listing \d+<\/a>: \d+ rows of/);
    assert.match(html, /Publish a version/);
  });

  await t.step("leaving tells the operator (200); a join to an operator that is gone is a 503", async () => {
    const left = await b.json(`/api/v1/pools/${poolId}/leave`, { method: "POST" });
    assert.equal(left.notified, true);
    assert.equal(left.role, null);
    assert.deepEqual(
      (await operator.json(`/api/v1/pools/${poolId}`)).members.map((m: { address: string }) => m.address),
      [
        aNode.address,
      ],
    );
    await operatorNode.stop();
    const gone = await errorOf(
      await b.call(`/api/v1/pools/${poolId}/join`, {
        method: "POST",
        body: { consentId: consents.b!.tokenId },
      }),
    );
    assert.equal(gone.status, 503);
  });

  await t.step(
    "a restarted operator keeps its pool, members and versions, and distributes no sale twice",
    async () => {
      const restarted = await cluster.start({ dataDir: operatorNode.config.dataDir });
      const again = apiOf(restarted);
      const view = await again.json(`/api/v1/pools/${poolId}`);
      assert.equal(view.role, "operator");
      assert.equal(view.versions.length, 2);
      assert.deepEqual(view.members.map((m: { address: string }) => m.address), [aNode.address]);
      await restarted.components.pools.settleDistributions();
      const distributions = restarted.components.pools.listDistributions();
      assert.equal(distributions.length, 2);
      assert.ok(distributions.every((d) => d.status === "distributed"));
    },
  );
});
