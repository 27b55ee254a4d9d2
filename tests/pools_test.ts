/**
 * A pool end to end, only through the nodes' HTTP API, checked against what anyone can derive from
 * chain events. Harness: eight real Kosmos nodes in this process (libp2p on loopback, each with its
 * own data dir, HTTP server and wallet) on one real anvil with our contracts (`market_cluster.ts`),
 * the lightest way to run this many nodes on two cores (`deno task devnet` would start eight
 * processes). The operator's wallet is the dev chain's arbiter, so on this dev chain it is also the
 * mining distributor and its node publishes the mining epochs.
 *
 * Five contributors each import their own cut of the Spotify fixture (distinct plays, one country
 * each, so the bought table tells their rows apart), consent for the pool's kind and purpose, and
 * join; the operator publishes version 1; two buyers buy it; the operator's node distributes both
 * sales; every contributor claims through `POST /api/v1/earnings/claims` and gets exactly its share
 * as `poolSaleLeaves` recomputes it from `VersionRegistered` and the escrow's `Completed`, the shares
 * summing to toSeller − fee to the wei; a second claim moves nothing. One contributor revokes: version
 * 2 lists it in `excluded`, registers none of its rows and the bought table has none. The chain's
 * clock then passes the end of every epoch with a sale: the distributor publishes each epoch's
 * `epochLeaves` and the contributors claim them exactly.
 */
import assert from "node:assert/strict";
import type { Address, Hex } from "viem";
import type { KosmosNode } from "../node/node.ts";
import { epochLeaves, poolSaleLeaves, type RewardAmount } from "../protocol/rewards.ts";
import { startMarketCluster } from "./market_cluster.ts";
import {
  classSizes,
  type ContributorApi,
  contributorApi,
  fieldsOf,
  importSpotifyJson,
  readTable,
  spotifySlices,
} from "./contributors.ts";
import { amountsByAccount, type PoolChain, poolChain, rootOf, type VersionOnChain } from "./pools.ts";
import { waitFor } from "./helpers.ts";

const K = 5;
const FEE_BPS = 1000;
const CONTRIBUTORS = 5;
const PURPOSE = "Research on listening habits across Europe";
const TERMS = {
  kind: "spotify",
  purpose: PURPOSE,
  title: "European listening, pooled",
  description: "Plays of five listeners, anonymized on their own nodes",
  price: "1000",
  licence: "CC-BY-4.0",
  k: K,
  operatorFeeBps: FEE_BPS,
};

const apiOf = (node: KosmosNode) => contributorApi({ url: node.url, token: node.apiToken });
const lower = (a: string) => a.toLowerCase();

interface VersionView {
  listingId: string;
  manifestCid: string;
  contributors: { address: string; rows: number }[];
  excluded: { address: string; reason: string }[];
}

/** Rows per country in a bought table: each contributor's rows, since each slice has its own country. */
function rowsByCountry(bytes: Uint8Array): Map<string, number> {
  const table = readTable(bytes);
  for (const name of fieldsOf("spotify", "identifier")) {
    assert.ok(!table.header.includes(name), `no identifier column ${name}`);
  }
  for (const [key, size] of classSizes(table.rows, "spotify")) {
    assert.ok(size >= K, `class ${key} has ${size} rows, fewer than k = ${K}`);
  }
  const counts = new Map<string, number>();
  for (const row of table.rows) counts.set(row.country, (counts.get(row.country) ?? 0) + 1);
  return counts;
}

/** Waits for the `SaleDistributed` of every sale in `saleIds`; returns them by sale id. */
async function waitForDistributions(chain: PoolChain, saleIds: Hex[]) {
  return await waitFor(`the operator to distribute ${saleIds.length} sales`, async () => {
    const found = new Map((await chain.events.saleDistributions()).map((e) => [e.args.saleId!, e.args]));
    return saleIds.every((id) => found.has(id)) ? found : undefined;
  }, { timeout: 60_000, interval: 250 });
}

/** Claims `distributionIds` on `node` one at a time; returns its token balance change. */
async function claim(chain: PoolChain, node: ContributorApi, account: Address, distributionIds: bigint[]) {
  const before = await chain.balanceOf(account);
  for (const id of distributionIds) {
    const answer = await node.json("/api/v1/earnings/claims", {
      method: "POST",
      body: { distributionId: String(id) },
    });
    const claimed = answer.claimed.map((c: { distributionId: string }) => String(c.distributionId));
    assert.deepEqual(claimed, [String(id)], `distribution ${id} claimed by ${account}`);
  }
  return (await chain.balanceOf(account)) - before;
}

/** What `leaves` owe `account` in total, over several distributions. */
const owed = (account: string, ...distributions: RewardAmount[][]) =>
  distributions.reduce((sum, leaves) => sum + (amountsByAccount(leaves).get(lower(account)) ?? 0n), 0n);

Deno.test("pools on a dev chain: five contributors are paid their pro-rata share of two sales, a revoked one is absent from the next version, a mining epoch pays the rows sold", async (t) => {
  const operatorDir = await Deno.makeTempDir({ prefix: "kosmos-pool-operator-" });
  try {
    await using cluster = await startMarketCluster({ prefix: "kosmos-pool-", roles: operatorDir });
    const operatorNode = await cluster.start({ dataDir: operatorDir, fund: true });
    const contributorNodes: KosmosNode[] = [];
    for (let i = 0; i < CONTRIBUTORS; i++) contributorNodes.push(await cluster.start());
    const buyerNodes = [
      await cluster.start({ config: { storage: { quotaGB: 0 } } }),
      await cluster.start({ config: { storage: { quotaGB: 0 } } }),
    ];
    const operator = apiOf(operatorNode);
    const contributors = contributorNodes.map(apiOf);
    const buyers = buyerNodes.map(apiOf);
    const accounts = contributorNodes.map((n) => n.address);
    const chain = poolChain(cluster.anvil.rpcUrl, cluster.dev.contracts);
    const slices = await spotifySlices(CONTRIBUTORS);

    let poolId = "";
    await t.step(
      "the operator creates the pool; it is on chain with its fee and reaches every contributor",
      async () => {
        const pool = await operator.json("/api/v1/pools", { method: "POST", body: TERMS }, 201);
        poolId = String(pool.id);
        const event = (await chain.events.pools()).find((e) => String(e.args.poolId) === poolId);
        assert.ok(event, `PoolCreated for pool ${poolId}`);
        assert.equal(lower(event.args.operator!), lower(operatorNode.address));
        assert.equal(Number(event.args.feeBps), FEE_BPS);
        for (const c of contributors) {
          await waitFor("the pool to reach a contributor", async () => {
            const response = await c.call(`/api/v1/pools/${poolId}`);
            await response.body?.cancel();
            return response.status === 200;
          }, { timeout: 30_000, interval: 200 });
        }
      },
    );

    const consents: { id: string; tokenId: string }[] = [];
    await t.step(
      "each contributor imports its own plays, consents for the pool's kind and purpose, and joins",
      async () => {
        const expiresAt = Date.now() + 30 * 24 * 3600_000;
        consents.push(
          ...await Promise.all(contributors.map(async (c, i) => {
            const imported = await importSpotifyJson(c, slices[i].json);
            assert.equal(
              imported.rows,
              slices[i].plays,
              `contributor ${i} imported its ${slices[i].plays} plays`,
            );
            const consent = await c.grant("spotify", PURPOSE, expiresAt);
            assert.equal(consent.state, "valid");
            await c.json(`/api/v1/pools/${poolId}/join`, {
              method: "POST",
              body: { consentId: consent.tokenId },
            });
            return consent;
          })),
        );
      },
    );

    let v1: VersionView;
    let v1Chain: VersionOnChain;
    await t.step("version 1 registers every contributor's released rows, as its view says", async () => {
      v1 = await operator.json(`/api/v1/pools/${poolId}/versions`, { method: "POST", body: {} }, 201);
      assert.deepEqual(v1.excluded, []);
      assert.deepEqual(v1.contributors.map((c) => lower(c.address)).sort(), accounts.map(lower).sort());
      v1Chain = await chain.version(BigInt(v1.listingId));
      assert.equal(String(v1Chain.poolId), poolId);
      const view = new Map(v1.contributors.map((c) => [lower(c.address), BigInt(c.rows)]));
      v1Chain.contributors.forEach((a, i) =>
        assert.equal(v1Chain.rows[i], view.get(lower(a)), `rows of ${a}`)
      );
      accounts.forEach((a, i) => {
        const rows = Number(view.get(lower(a)));
        // Slice i's first hour holds 3 plays, a class under k: suppressed (or the rest generalised).
        assert.ok(rows <= slices[i].plays && rows >= slices[i].plays - 3, `contributor ${i}: ${rows} rows`);
      });
    });

    await t.step(
      "two buyers buy version 1: each contributor's rows are in it as registered, anonymized",
      async () => {
        const [first, second] = await Promise.all(buyers.map((b) => b.buy(v1.manifestCid)));
        assert.deepEqual(second, first, "both buyers got the same table");
        const counts = rowsByCountry(first);
        accounts.forEach((a, i) => {
          const registered = v1Chain.rows[v1Chain.contributors.findIndex((c) => lower(c) === lower(a))];
          assert.equal(BigInt(counts.get(slices[i].country) ?? 0), registered, `rows of contributor ${i}`);
        });
        assert.equal(
          [...counts.values()].reduce((s, n) => s + n, 0),
          v1.contributors.reduce((s, c) => s + c.rows, 0),
        );
      },
    );

    const poolLeaves = new Map<bigint, RewardAmount[]>();
    /** Σ (toSeller − fee) over the sales of version 1, from the escrow's Completed events. */
    let sellerShares = 0n;
    await t.step(
      "the operator distributes each sale: toSeller − fee, split as poolSaleLeaves recomputes it",
      async () => {
        const sales = await waitFor("two completed sales of version 1", async () => {
          const found = await chain.sales(v1Chain.listingId);
          return found.length === 2 ? found : undefined;
        }, { timeout: 30_000, interval: 250 });
        const distributed = await waitForDistributions(chain, sales.map((s) => s.saleId));
        for (const sale of sales) {
          const event = distributed.get(sale.saleId)!;
          const expected = poolSaleLeaves({ toSeller: sale.toSeller, feeBps: FEE_BPS, ...v1Chain });
          assert.equal(event.listingId, v1Chain.listingId);
          assert.equal(event.sellerShare, sale.toSeller);
          assert.equal(event.fee, expected.fee);
          assert.equal(event.total, sale.toSeller - expected.fee);
          assert.equal(
            expected.leaves.reduce((s, l) => s + l.amount, 0n),
            event.total,
            "the leaves sum to the total",
          );
          assert.equal(expected.leaves.length, CONTRIBUTORS);
          const onChain = await chain.distribution(event.distributionId!);
          assert.equal(onChain.root, rootOf(expected.leaves));
          assert.equal(onChain.total, event.total);
          poolLeaves.set(event.distributionId!, expected.leaves);
          sellerShares += sale.toSeller - (sale.toSeller * BigInt(FEE_BPS)) / 10000n;
        }
      },
    );

    await t.step(
      "each contributor claims through the API and receives exactly its share of both sales",
      async () => {
        const ids = [...poolLeaves.keys()];
        const deltas = await Promise.all(contributors.map((c, i) => claim(chain, c, accounts[i], ids)));
        deltas.forEach((delta, i) =>
          assert.equal(delta, owed(accounts[i], ...poolLeaves.values()), `contributor ${i}`)
        );
        assert.equal(
          deltas.reduce((a, b) => a + b, 0n),
          sellerShares,
          "the contributors got toSeller − fee, to the wei",
        );
        for (const [id, leaves] of poolLeaves) {
          const onChain = await chain.distribution(id);
          assert.equal(onChain.claimed, onChain.total, `distribution ${id} is claimed to the wei`);
          assert.equal(leaves.reduce((s, l) => s + l.amount, 0n), onChain.total);
        }
        const earnings = await contributors[0].json("/api/v1/earnings");
        for (const id of ids) {
          const entry = earnings.pools.find((e: { distributionId: string }) =>
            String(e.distributionId) === String(id)
          );
          assert.ok(entry?.claimed, `the earnings view shows distribution ${id} claimed`);
          assert.equal(BigInt(entry.amount), owed(accounts[0], poolLeaves.get(id)!));
        }
      },
    );

    await t.step("a second claim is answered with the first and moves nothing", async () => {
      const [id] = poolLeaves.keys();
      const before = await chain.balanceOf(accounts[0]);
      const answer = await contributors[0].json("/api/v1/earnings/claims", {
        method: "POST",
        body: { distributionId: String(id) },
      });
      assert.deepEqual(answer.claimed, []);
      assert.deepEqual(
        answer.alreadyClaimed.map((c: { distributionId: string }) => String(c.distributionId)),
        [
          String(id),
        ],
      );
      assert.equal(await chain.balanceOf(accounts[0]), before);
    });

    const revoked = CONTRIBUTORS - 1;
    let v2Chain: VersionOnChain;
    await t.step(
      "a contributor revokes its consent: version 2 excludes it and has none of its rows",
      async () => {
        await contributors[revoked].revoke(consents[revoked].id);
        const v2: VersionView = await operator.json(
          `/api/v1/pools/${poolId}/versions`,
          { method: "POST", body: {} },
          201,
        );
        assert.notEqual(v2.manifestCid, v1.manifestCid);
        assert.deepEqual(v2.excluded.map((e) => lower(e.address)), [lower(accounts[revoked])]);
        assert.ok(v2.excluded[0].reason, "the exclusion says why");
        const kept = accounts.filter((_, i) => i !== revoked).map(lower).sort();
        assert.deepEqual(v2.contributors.map((c) => lower(c.address)).sort(), kept);
        v2Chain = await chain.version(BigInt(v2.listingId));
        assert.deepEqual(v2Chain.contributors.map(lower).sort(), kept);

        const counts = rowsByCountry(await buyers[0].buy(v2.manifestCid));
        assert.equal(counts.get(slices[revoked].country), undefined, "no row of the revoked contributor");
        accounts.forEach((a, i) => {
          if (i === revoked) return;
          const rows = v2Chain.rows[v2Chain.contributors.findIndex((c) => lower(c) === lower(a))];
          assert.equal(BigInt(counts.get(slices[i].country) ?? 0), rows, `rows of contributor ${i}`);
        });
        const [sale] = await waitFor("the sale of version 2", async () => {
          const found = await chain.sales(v2Chain.listingId);
          return found.length === 1 ? found : undefined;
        }, { timeout: 30_000, interval: 250 });
        const event = (await waitForDistributions(chain, [sale.saleId])).get(sale.saleId)!;
        const expected = poolSaleLeaves({ toSeller: sale.toSeller, feeBps: FEE_BPS, ...v2Chain });
        assert.equal((await chain.distribution(event.distributionId!)).root, rootOf(expected.leaves));
        assert.equal(
          owed(accounts[revoked], expected.leaves),
          0n,
          "the revoked contributor is owed nothing of it",
        );
        // Its node, asked to claim that distribution anyway, refuses and sends nothing.
        const before = await chain.balanceOf(accounts[revoked]);
        const refused = await contributors[revoked].call("/api/v1/earnings/claims", {
          method: "POST",
          body: { distributionId: String(event.distributionId) },
        });
        assert.equal(refused.status, 404, await refused.text());
        assert.equal(await chain.balanceOf(accounts[revoked]), before);
      },
    );

    await t.step(
      "past the end of every epoch with a sale, the distributor publishes epochLeaves and each contributor claims them exactly",
      async () => {
        const [start, epochLength] = await Promise.all([chain.mining.start(), chain.mining.epochLength()]);
        const versions = [v1Chain, v2Chain];
        const sales = [...await chain.sales(v1Chain.listingId), ...await chain.sales(v2Chain.listingId)];
        const byEpoch = new Map<bigint, VersionOnChain[]>();
        for (const sale of sales) {
          const epoch = (sale.completedAt - start) / epochLength;
          byEpoch.set(epoch, [
            ...byEpoch.get(epoch) ?? [],
            versions.find((v) => v.listingId === sale.listingId)!,
          ]);
        }
        const last = [...byEpoch.keys()].reduce((a, b) => (a > b ? a : b));
        const end = await chain.mining.epochEnd(last);
        const now = await chain.now();
        if (now <= end) await cluster.increaseTime(Number(end - now) + 1);

        const published = await waitFor(
          `the epochs ${[...byEpoch.keys()].join(", ")} to be published`,
          async () => {
            const found = new Map((await chain.events.epochs()).map((e) => [e.args.epoch!, e.args]));
            return [...byEpoch.keys()].every((e) => found.has(e)) ? found : undefined;
          },
          { timeout: 60_000, interval: 250 },
        );
        assert.deepEqual([...published.keys()].sort(), [...byEpoch.keys()].sort(), "no epoch without a sale");
        const epochLeavesById = new Map<bigint, RewardAmount[]>();
        for (const [epoch, sold] of byEpoch) {
          const reward = await chain.mining.epochReward(epoch);
          const expected = epochLeaves({ reward, sales: sold });
          const event = published.get(epoch)!;
          assert.equal(event.total, expected.total);
          assert.equal(event.total, reward, "the whole epoch reward is paid out");
          assert.equal(event.root, rootOf(expected.leaves));
          epochLeavesById.set(event.distributionId!, expected.leaves);
        }
        const ids = [...epochLeavesById.keys()];
        const deltas = await Promise.all(contributors.map((c, i) => claim(chain, c, accounts[i], ids)));
        deltas.forEach((delta, i) => {
          const expected = owed(accounts[i], ...epochLeavesById.values());
          assert.ok(expected > 0n, `contributor ${i} had rows sold`);
          assert.equal(delta, expected, `contributor ${i}'s mining reward`);
        });
        for (const id of ids) {
          const onChain = await chain.distribution(id);
          assert.equal(onChain.claimed, onChain.total, `epoch distribution ${id} is claimed to the wei`);
        }
        const earnings = await contributors[0].json("/api/v1/earnings");
        for (const id of ids) {
          const entry = earnings.epochs.find((e: { distributionId: string }) =>
            String(e.distributionId) === String(id)
          );
          assert.ok(entry?.claimed, `the earnings view shows epoch distribution ${id} claimed`);
        }
      },
    );
  } finally {
    await Deno.remove(operatorDir, { recursive: true }).catch(() => {});
  }
});
