/**
 * The chain service inside real nodes: a node on its embedded chain deploys
 * the contracts (the supply in a faucet, one drip for the node), and the chain, wallet, stake and
 * challenge routes work over it with `app.request()` — including their error
 * shapes — and survive a restart. A second node on the same chain (through
 * the contracts file) is not the arbiter.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createNode, type KosmosNode } from "../node/node.ts";
import { createApp } from "../web/app.ts";
import {
  challengeListing,
  getContractsPath,
  getListing,
  listDataset,
  transferToken,
  writeContractsFile,
} from "../node/services/chain/mod.ts";
import { TOTAL_SUPPLY } from "../node/services/chain/deploy.ts";
import {
  completeSale,
  createDevClient,
  makeDekCommit,
  makeManifestCid,
  ONE,
} from "../node/services/chain/testing.ts";
import { ownerApp, testLogger } from "./helpers.ts";

const quietLog = { error: () => {}, debug: () => {} };

async function startNode(dataDir: string, rpcUrl?: string): Promise<KosmosNode> {
  const node = await createNode({
    dataDir,
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    ...(rpcUrl && { rpcUrl }),
  }, { logger: testLogger() });
  await node.start();
  return node;
}

function api(node: KosmosNode) {
  const app = ownerApp(createApp(node.facade, { log: quietLog, auth: node.auth }), node);
  return {
    get: (path: string) => app.request(path, { headers: { accept: "application/json" } }),
    post: (path: string, body?: unknown) =>
      app.request(path, {
        method: "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    page: (path: string) => app.request(path, { headers: { accept: "text/html" } }),
  };
}

async function expectError(response: Response, status: number, code: string, match?: RegExp) {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, code);
  if (match) assert.match(body.error.message, match);
}

Deno.test("a node on its embedded chain serves chain, wallet, stake and arbitration routes, and keeps them after a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-chain-node-" });
  const otherDir = await Deno.makeTempDir({ prefix: "kosmos-chain-node-" });
  let node = await startNode(dataDir);
  let other: KosmosNode | undefined;
  try {
    let http = api(node);
    const chainInfo = await (await http.get("/api/v1/chain")).json();
    assert.equal(chainInfo.chainId, 31337);
    assert.equal(chainInfo.rpcUrl, node.components.chain.rpcUrl);
    assert.ok(chainInfo.block > 0);
    assert.deepEqual(Object.keys(chainInfo.contracts).sort(), [
      "anchor",
      "consent",
      "escrow",
      "faucet",
      "mining",
      "ownership",
      "pools",
      "registry",
      "rewards",
      "token",
    ]);

    let wallet = await (await http.get("/api/v1/wallet")).json();
    assert.equal(wallet.address, node.address);
    assert.equal(wallet.arbiter, true);
    // Arbiter and treasury, but its tokens are one drip from the faucet, not the supply.
    assert.equal(wallet.balances.token, (10_000n * 10n ** 18n).toString());
    assert.ok(BigInt(wallet.balances.token) < TOTAL_SUPPLY);
    assert.ok(BigInt(wallet.balances.eth) > 0n);
    assert.deepEqual([wallet.payouts, wallet.stakes], ["0", []]);

    // Bad input: the one error shape with 4xx, never a 500.
    await expectError(await http.post("/api/v1/stakes", "nope"), 400, "bad_request");
    await expectError(
      await http.post("/api/v1/stakes", undefined),
      415,
      "unsupported_media_type",
    );
    await expectError(await http.post("/api/v1/stakes", []), 422, "unprocessable", /JSON object/);
    // A listing binds the manifest's key commitment, so the node stakes only a manifest it holds.
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid: await makeManifestCid("not held"), amount: "100" }),
      422,
      "unprocessable",
      /does not hold its manifest/,
    );
    const { manifestCid } = await node.components.datasets.publishDataset(
      ReadableStream.from([new TextEncoder().encode("time,value\n1,2\n")]),
      {
        title: "Node listing",
        category: "sensors",
        price: 10n * ONE,
        licence: "kosmos-research-1",
        filename: "a.csv",
      },
    );
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid, amount: "1", x: 1 }),
      422,
      "unprocessable",
      /"x"/,
    );
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid: "bafy", amount: "100" }),
      422,
      "unprocessable",
      /manifest CID/,
    );
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid, amount: 100 }),
      422,
      "unprocessable",
      /"amount"/,
    );
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid, amount: "0" }),
      422,
      "unprocessable",
      /more than 0/,
    );
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid, amount: "1" }),
      422,
      "unprocessable",
      /StakeTooLow/,
    );
    await expectError(await http.post("/api/v1/stakes/abc/withdrawal"), 400, "bad_request", /listing number/);
    await expectError(await http.get("/api/v1/stakes"), 405, "method_not_allowed");

    // List, then add to the same listing.
    let response = await http.post("/api/v1/stakes", { manifestCid, amount: "100" });
    assert.equal(response.status, 201);
    const listed = await response.json();
    assert.equal(listed.created, true);
    response = await http.post("/api/v1/stakes", { manifestCid, amount: "50.5" });
    assert.equal(response.status, 200);
    assert.deepEqual(
      { ...(await response.json()), txHash: undefined, gasUsed: undefined, effectiveGasPrice: undefined },
      {
        listingId: listed.listingId,
        stake: String(1505n * ONE / 10n),
        created: false,
        txHash: undefined,
        gasUsed: undefined,
        effectiveGasPrice: undefined,
      },
    );
    wallet = await (await http.get("/api/v1/wallet")).json();
    assert.deepEqual(wallet.stakes, [{
      listingId: listed.listingId,
      manifestCid,
      kind: "dataset",
      stake: String(1505n * ONE / 10n),
      withdrawableAt: null,
      challengeCount: 0,
    }]);

    // Withdrawal: requested (202), then too early (409 with the custom error's name).
    response = await http.post(`/api/v1/stakes/${listed.listingId}/withdrawal`);
    assert.equal(response.status, 202);
    assert.equal((await response.json()).status, "requested");
    await expectError(
      await http.post(`/api/v1/stakes/${listed.listingId}/withdrawal`),
      409,
      "conflict",
      /WithdrawalTooEarly/,
    );
    await expectError(
      await http.post(`/api/v1/stakes/999/withdrawal`),
      404,
      "not_found",
      /ERC721NonexistentToken/,
    );

    // Someone else's listing on this node's chain, challenged by two accounts and this node.
    const contracts = node.components.chain.contracts!;
    const [alice, bob, carol] = [1, 2, 3].map((i) =>
      createDevClient(node.components.chain.rpcUrl, contracts, i)
    );
    for (const c of [alice, bob, carol]) {
      await transferToken(node.components.chain.client, {
        to: c.walletClient.account.address,
        amount: 1000n * ONE,
      });
    }
    const { listingId } = await listDataset(alice, {
      manifestCid: await makeManifestCid("alice"),
      dekCommit: makeDekCommit("alice"),
      stake: 100n * ONE,
    });
    await expectError(
      await http.post("/api/v1/challenges", { listingId: listed.listingId, amount: "10" }),
      422,
      "unprocessable",
      /OwnListing/,
    );
    await expectError(
      await http.post("/api/v1/challenges", { listingId: "x", amount: "10" }),
      422,
      "unprocessable",
    );
    await expectError(
      await http.post("/api/v1/challenges", { listingId: String(listingId), amount: "1" }),
      422,
      "unprocessable",
      /ChallengeStakeTooLow/,
    );
    response = await http.post("/api/v1/challenges", { listingId: String(listingId), amount: "10" });
    assert.equal(response.status, 201);
    assert.equal((await response.json()).challengeCount, 1);
    await challengeListing(bob, { listingId, amount: 10n * ONE });
    await expectError(
      await http.post(`/api/v1/challenges/${listingId}/resolve`, { valid: false }),
      409,
      "conflict",
      /NotResolvable/,
    );
    // The challenged stake (10 + 10 + 80) reaches the registry's threshold of 100 tokens.
    await challengeListing(carol, { listingId, amount: 80n * ONE });
    const { challenges } = await (await http.get("/api/v1/challenges")).json();
    assert.equal(challenges.length, 1);
    assert.equal(challenges[0].listingId, String(listingId));
    assert.equal(challenges[0].challengeCount, 3);
    assert.equal(challenges[0].challenged, String(100n * ONE));
    assert.equal(challenges[0].threshold, String(100n * ONE));
    assert.equal(challenges[0].resolvable, true);

    // The arbitration page lists it and the nav shows it to the arbiter.
    let html = await (await http.page("/arbitration")).text();
    assert.match(html, /href="\/arbitration"/);
    assert.match(html, new RegExp(`Listing #${listingId}`));
    assert.match(html, /data-island="wallet_resolve"/);

    // A second node on the same chain, through the contracts file, is not the arbiter.
    await writeContractsFile(getContractsPath(otherDir), { chainId: 31337, contracts });
    other = await startNode(otherDir, node.components.chain.rpcUrl);
    const otherHttp = api(other);
    assert.deepEqual((await (await otherHttp.get("/api/v1/chain")).json()).contracts, contracts);
    await expectError(
      await otherHttp.post(`/api/v1/challenges/${listingId}/resolve`, { valid: false }),
      403,
      "forbidden",
      /arbiter/,
    );
    assert.doesNotMatch(await (await otherHttp.page("/wallet")).text(), /href="\/arbitration"/);
    await other.stop();
    other = undefined;

    await expectError(
      await http.post(`/api/v1/challenges/${listingId}/resolve`, { valid: "no" }),
      422,
      "unprocessable",
      /"valid"/,
    );
    response = await http.post(`/api/v1/challenges/${listingId}/resolve`, { valid: false });
    assert.equal(response.status, 200);
    const resolved = await response.json();
    assert.equal(resolved.valid, false);
    // The stake and the challenge stakes are conserved; challengers get half the stake, less rounding dust.
    assert.equal(BigInt(resolved.toChallengers) + BigInt(resolved.toTreasury), 200n * ONE);
    assert.ok(150n * ONE - BigInt(resolved.toChallengers) < 3n);
    assert.equal(await getListing(alice, { listingId }), undefined);
    assert.deepEqual((await (await http.get("/api/v1/challenges")).json()).challenges, []);

    // Payouts: nothing yet (409), then a sale of this node's listing, then withdraw.
    await expectError(await http.post("/api/v1/wallet/withdraw"), 409, "conflict", /NothingToWithdraw/);
    await completeSale(node.components.chain.client, alice, BigInt(listed.listingId), 20n * ONE);
    wallet = await (await http.get("/api/v1/wallet")).json();
    assert.equal(
      wallet.payouts,
      String(16n * ONE + 2n * ONE * 2n),
      "seller and treasury shares (no gateway)",
    );
    html = await (await http.page("/wallet")).text();
    assert.match(html, /data-island="wallet_withdraw"/);
    response = await http.post("/api/v1/wallet/withdraw");
    assert.equal(response.status, 200);
    assert.equal((await response.json()).amount, String(20n * ONE));
    assert.equal((await (await http.get("/api/v1/wallet")).json()).payouts, "0");

    // Restart: the same deployment, the index resumes without duplicates.
    const indexed = node.components.chain.indexer.listEvents().length;
    const block = node.components.chain.indexer.block;
    await node.stop();
    node = await startNode(dataDir);
    http = api(node);
    assert.deepEqual(node.components.chain.contracts, contracts);
    assert.ok(node.components.chain.indexer.block >= block, "the index resumes from its last block");
    wallet = await (await http.get("/api/v1/wallet")).json();
    assert.equal(wallet.stakes.length, 1);
    assert.equal(wallet.stakes[0].listingId, listed.listingId);
    assert.ok(wallet.stakes[0].withdrawableAt > 0);
    assert.equal(node.components.chain.indexer.listEvents().length, indexed);
  } finally {
    await other?.stop();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(otherDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a node on a chain without the contracts answers 503 on chain writes and shows an empty wallet", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-chain-node-" });
  const first = await startNode(join(dataDir, "a"));
  const node = await startNode(join(dataDir, "b"), first.components.chain.rpcUrl);
  try {
    const http = api(node);
    assert.equal((await (await http.get("/api/v1/chain")).json()).contracts, null);
    const wallet = await (await http.get("/api/v1/wallet")).json();
    assert.deepEqual([wallet.contracts, wallet.balances.token, wallet.stakes], [false, "0", []]);
    await expectError(await http.post("/api/v1/wallet/withdraw"), 503, "unavailable", /No Kosmos contracts/);
    await expectError(
      await http.post("/api/v1/stakes", { manifestCid: await makeManifestCid("x"), amount: "100" }),
      503,
      "unavailable",
    );
    await expectError(await http.get("/api/v1/consents"), 503, "unavailable", /No Kosmos contracts/);
    await expectError(
      await http.post("/api/v1/consents", {
        kind: "uber",
        purpose: "trips",
        expiresAt: Date.now() + 86_400_000,
      }),
      503,
      "unavailable",
    );
  } finally {
    await node.stop();
    await first.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
