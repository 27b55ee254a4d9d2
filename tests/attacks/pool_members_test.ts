/**
 * Attacks on a pool from a member's side, with real nodes on one anvil with our contracts
 * (`market_cluster.ts`): an operator, Vera (an honest contributor) and Mallory (the attacker, who
 * runs her own node and holds its wallet, and speaks `/kosmos/pool/1.0.0` however she likes).
 *
 * 1. Someone else's consent. Mallory asks her node to join with Vera's consent id; over the pool
 *    protocol she sends a join naming Vera as contributor, signed by her own wallet, and a join naming
 *    herself with Vera's consent id. Must not obtain: membership, so no row of hers and no share of a
 *    sale in any version.
 * 2. Hostile contributions. Mallory joins with a consent of her own, then answers the operator's
 *    request for rows with her own handler: rows with an identifier column (`username`); a response
 *    over the size cap; rows forged to inflate her share (two thousand rows that are no
 *    anonymized table: every quasi-identifier class of one row, times to the second, a report claiming
 *    k = 5). Must not obtain: a version published or registered with any of those rows, or a row count
 *    in `VersionRegistered` (which is what sales are split by).
 */
import assert from "node:assert/strict";
import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import type { KosmosNode } from "../../node/node.ts";
import { askPeer } from "../../node/services/pools/mod.ts";
import {
  type Contribution,
  encodePoolResponse,
  MAX_POOL_RESPONSE_BYTES,
  POOL_PROTOCOL,
  poolJoinTypedData,
  type PoolResponse,
} from "../../protocol/pools.ts";
import { SOURCE_KIND_INFO } from "../../protocol/sources.ts";
import { startMarketCluster } from "../market_cluster.ts";
import { contributorApi, importSpotifyJson, spotifySlices } from "../contributors.ts";
import { poolChain } from "../pools.ts";
import { waitFor } from "../helpers.ts";

const PURPOSE = "Research on listening habits";
const RELEASED = SOURCE_KIND_INFO.spotify.fields.filter((f) => f.role !== "identifier").map((f) => f.name);

const apiOf = (node: KosmosNode) => contributorApi({ url: node.url, token: node.apiToken });

/** Mallory's node answers every pool request with `answer()` from now on, instead of its pool service. */
async function answerPoolRequests(node: KosmosNode, answer: () => PoolResponse | Uint8Array) {
  const p2p = node.components.p2p;
  await p2p.unhandle(POOL_PROTOCOL);
  await p2p.handle(POOL_PROTOCOL, async (stream: Stream, _connection: Connection) => {
    const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024 });
    try {
      await lp.read();
      const reply = answer();
      await lp.write(reply instanceof Uint8Array ? reply : encodePoolResponse(reply));
      await stream.close();
    } catch (err) {
      stream.abort(err as Error);
    }
  });
}

/** Rows of the released Spotify columns, `count` of them, each its own quasi-identifier class. */
function forgedRows(count: number): Contribution["rows"] {
  const at = Date.UTC(2023, 4, 1, 8);
  return Array.from(
    { length: count },
    (_, i) =>
      RELEASED.map((name) =>
        name === "playedAt"
          ? new Date(at + i * 1000).toISOString()
          : name === "msPlayed"
          ? 1000 + i
          : name === "country"
          ? "DE"
          : `forged ${i}`
      ),
  );
}

const report = { k: 5, suppressed: 0, dropped: ["platform", "username", "ipAddress"], generalised: {} };

Deno.test("attack: joining with another's consent is refused, and hostile contributions are kept out of every version", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-attack-pool-" });
  const operatorNode = await cluster.start();
  const veraNode = await cluster.start();
  const malloryNode = await cluster.start();
  const [operator, vera, mallory] = [operatorNode, veraNode, malloryNode].map(apiOf);
  const chain = poolChain(cluster.anvil.rpcUrl, cluster.dev.contracts);
  const [veraSlice, mallorySlice] = await spotifySlices(2);
  const expiresAt = Date.now() + 30 * 24 * 3600_000;

  const pool = await operator.json("/api/v1/pools", {
    method: "POST",
    body: {
      kind: "spotify",
      purpose: PURPOSE,
      title: "Listening, pooled",
      description: "",
      price: "10",
      licence: "CC-BY-4.0",
      k: 5,
      operatorFeeBps: 500,
    },
  }, 201);
  const poolId = String(pool.id);
  for (const node of [vera, mallory]) {
    await waitFor("the pool to reach a member", async () => {
      const response = await node.call(`/api/v1/pools/${poolId}`);
      await response.body?.cancel();
      return response.status === 200;
    }, { timeout: 30_000, interval: 200 });
  }
  await importSpotifyJson(vera, veraSlice.json);
  const veraConsent = await vera.grant("spotify", PURPOSE, expiresAt);
  await vera.json(`/api/v1/pools/${poolId}/join`, {
    method: "POST",
    body: { consentId: veraConsent.tokenId },
  });
  await importSpotifyJson(mallory, mallorySlice.json);

  /** Publishes a version and checks that Vera alone is in it, on chain too, and Mallory in `excluded` (or nowhere). */
  const publishWithoutMallory = async (why?: RegExp) => {
    const malloryIsMember = why !== undefined;
    const version = await operator.json(
      `/api/v1/pools/${poolId}/versions`,
      { method: "POST", body: {} },
      201,
    );
    assert.deepEqual(version.contributors.map((c: { address: string }) => c.address.toLowerCase()), [
      veraNode.address.toLowerCase(),
    ]);
    const excluded = version.excluded.map((e: { address: string }) => e.address.toLowerCase());
    assert.deepEqual(excluded, malloryIsMember ? [malloryNode.address.toLowerCase()] : []);
    if (why) assert.match(version.excluded[0].reason, why);
    const registered = await chain.version(BigInt(version.listingId));
    assert.deepEqual(registered.contributors.map((a) => a.toLowerCase()), [veraNode.address.toLowerCase()]);
    assert.equal(Number(registered.rows[0]), version.contributors[0].rows);
    return version;
  };

  await t.step("Mallory cannot join with Vera's consent, through her node or the pool protocol", async () => {
    const response = await mallory.call(`/api/v1/pools/${poolId}/join`, {
      method: "POST",
      body: { consentId: veraConsent.tokenId },
    });
    const body = await response.text();
    assert.ok(
      response.status >= 400 && response.status < 500,
      `refused with a 4xx: ${response.status} ${body}`,
    );
    assert.doesNotMatch(body, /stack|at file:/i);

    const account = malloryNode.components.identity.account;
    const ask = (contributor: `0x${string}`) =>
      account.signTypedData(poolJoinTypedData({
        poolId: BigInt(poolId),
        consentId: BigInt(veraConsent.tokenId),
        peerId: malloryNode.peerId,
      })).then((signature) =>
        askPeer(malloryNode.components.p2p, operatorNode.peerId, {
          v: 1,
          type: "join",
          poolId,
          contributor,
          consentId: veraConsent.tokenId,
          signature,
        }, { signal: AbortSignal.timeout(10_000) })
      );
    const asVera = await ask(veraNode.address);
    assert.ok("error" in asVera && asVera.error.code === "bad-signature", JSON.stringify(asVera));
    const asHerself = await ask(malloryNode.address);
    assert.ok("error" in asHerself && asHerself.error.code === "consent-invalid", JSON.stringify(asHerself));

    await publishWithoutMallory();
  });

  await t.step(
    "Mallory joins with her own consent; rows with an identifier column are left out",
    async () => {
      const own = await mallory.grant("spotify", PURPOSE, expiresAt);
      await mallory.json(`/api/v1/pools/${poolId}/join`, {
        method: "POST",
        body: { consentId: own.tokenId },
      });
      await answerPoolRequests(malloryNode, () => ({
        v: 1,
        contribution: {
          columns: [...RELEASED, "username"],
          rows: forgedRows(20).map((row) => [...row, "mallory"]),
          count: 20,
          report,
        },
      }));
      await publishWithoutMallory(/columns/);
    },
  );

  await t.step("an answer over the size cap is not read, and left out", async () => {
    const oversized = new TextEncoder().encode(" ".repeat(MAX_POOL_RESPONSE_BYTES + 1));
    await answerPoolRequests(malloryNode, () => oversized);
    await publishWithoutMallory(/too long|too large|over|exceed/i);
  });

  await t.step(
    "forged rows that are no k-anonymous table (a report claiming k = 5) are left out",
    async () => {
      // Two thousand rows, each its own class: times to the second, every row distinct.
      const rows = forgedRows(2_000);
      await answerPoolRequests(malloryNode, () => ({
        v: 1,
        contribution: { columns: RELEASED, rows, count: rows.length, report },
      }));
      await publishWithoutMallory(/^(?!did not answer).*(anonym|class|k = )/i);
    },
  );
});
