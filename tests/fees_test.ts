/**
 * Fee previews on real nodes sharing one anvil with our contracts, over
 * their HTTP API: every signing endpoint answers `?preview=1` with the fee
 * estimated on the chain and signs nothing (the wallet's nonce and balances do
 * not move), and the estimate is within 10 % of the gas the receipts then
 * use, for staking, buying (openWithPermit and confirm together), withdrawing
 * payouts, requesting a stake withdrawal and challenging.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { getTokenBalance } from "../node/services/chain/mod.ts";
import type {
  BuyPreviewView,
  ChallengePreviewView,
  FeeView,
  PurchaseView,
  StakePreviewView,
  WithdrawPayoutsPreviewView,
  WithdrawStakePreviewView,
} from "../protocol/api/mod.ts";
import { ownerFetch } from "./helpers.ts";
import { startMarketCluster, waitForListing } from "./market_cluster.ts";

const ONE = 10n ** 18n;

async function post<T>(node: KosmosNode, path: string, body?: unknown, status = 200): Promise<T> {
  const response = await ownerFetch(node, path, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const result = await response.json();
  assert.equal(response.status, status, `${path}: ${JSON.stringify(result)}`);
  return result as T;
}

/** The wallet's nonce and token balance: a preview must move neither. */
async function walletState(node: KosmosNode): Promise<[number, bigint]> {
  const chain = node.components.chain;
  return [
    await chain.publicClient.getTransactionCount({ address: node.address, blockTag: "pending" }),
    await getTokenBalance(chain.client),
  ];
}

/** Previews `path`, checks it signed nothing, and returns the preview. */
async function preview<T extends { preview: true; fee: FeeView }>(
  node: KosmosNode,
  path: string,
  body?: unknown,
): Promise<T> {
  const before = await walletState(node);
  const answer = await post<T>(node, `${path}?preview=1`, body);
  assert.equal(answer.preview, true);
  const { gas, maxFeePerGas, maxPriorityFeePerGas, fee } = answer.fee;
  assert.ok(BigInt(gas) > 21_000n, `${path}: gas ${gas}`);
  assert.ok(BigInt(maxFeePerGas) >= BigInt(maxPriorityFeePerGas));
  assert.equal(BigInt(fee), BigInt(gas) * BigInt(maxFeePerGas));
  assert.deepEqual(await walletState(node), before, `${path}?preview=1 signed nothing`);
  return answer;
}

function assertClose(what: string, estimate: string, gasUsed: bigint): void {
  const off = Number(BigInt(estimate) - gasUsed) / Number(gasUsed);
  console.log(`${what}: previewed ${estimate} gas, receipts ${gasUsed} (${(off * 100).toFixed(1)} %)`);
  assert.ok(Math.abs(off) <= 0.1, `${what}: ${estimate} is not within 10 % of ${gasUsed}`);
}

/** The receipt's gas as the chain has it, checked against what the API answered. */
async function receiptGas(node: KosmosNode, txHash: `0x${string}`, answered?: string): Promise<bigint> {
  const receipt = await node.components.chain.publicClient.getTransactionReceipt({ hash: txHash });
  if (answered !== undefined) {
    assert.ok(BigInt(answered) >= receipt.gasUsed, "gasUsed counts the transaction");
  }
  return receipt.gasUsed;
}

Deno.test("every signing endpoint previews its fee with ?preview=1, signs nothing, and the fee is within 10 % of the receipts", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-fees-" });
  const seller = await cluster.start();
  const buyer = await cluster.start({ config: { storage: { quotaGB: 0 } } });
  const data = new TextEncoder().encode(
    ["id,value", ...Array.from({ length: 2000 }, (_, i) => `${i},${i * 7}`)].join("\n") + "\n",
  );
  const { manifestCid } = await seller.components.datasets.publishDataset(ReadableStream.from([data]), {
    title: "Fees",
    category: "sensors",
    price: 5n * ONE,
    licence: "kosmos-research-1",
    filename: "fees.csv",
    gateway: seller.address,
  });
  let listingId = "";

  await t.step("stake: a new listing (listWithPermit)", async () => {
    const body = { manifestCid, amount: "100" };
    const p = await preview<StakePreviewView>(seller, "/api/v1/stakes", body);
    assert.equal(p.created, true);
    assert.equal(p.stake, (100n * ONE).toString());
    const done = await post<{ listingId: string; txHash: `0x${string}`; gasUsed: string }>(
      seller,
      "/api/v1/stakes",
      body,
      201,
    );
    listingId = done.listingId;
    assert.equal(BigInt(done.gasUsed), await receiptGas(seller, done.txHash));
    assertClose("stake (listWithPermit)", p.fee.gas, BigInt(done.gasUsed));
  });

  await t.step("buy: openWithPermit and confirm on the previewed quote", async () => {
    await waitForListing(buyer, manifestCid);
    const p = await preview<BuyPreviewView>(buyer, "/api/v1/purchases", { listingId: manifestCid });
    assert.equal(p.listingId, manifestCid);
    assert.equal(p.quote?.registryListingId, listingId);
    assert.equal(p.quote?.price, (5n * ONE).toString());
    assert.equal(p.gas?.confirmSource, "simulated");
    assert.equal(BigInt(p.gas!.open) + BigInt(p.gas!.confirm), BigInt(p.fee.gas));
    const started = await post<PurchaseView>(buyer, "/api/v1/purchases", { listingId: manifestCid }, 202);
    const record = buyer.components.market.getPurchase(started.id);
    assert.equal(Number(record.quote.deadline), p.quote!.deadline, "the buy opened the quote previewed");
    await buyer.components.market.waitForPurchase(started.id, { timeout: 30_000 });
    const view = await (await ownerFetch(buyer, `/api/v1/purchases/${started.id}`)).json() as PurchaseView;
    const open = view.txs.find((tx) => tx.action === "open")!;
    const confirm = view.txs.find((tx) => tx.action === "confirm")!;
    assert.equal(BigInt(open.gasUsed!), await receiptGas(buyer, open.txHash));
    assert.equal(BigInt(confirm.gasUsed!), await receiptGas(buyer, confirm.txHash));
    assert.ok(BigInt(open.effectiveGasPrice!) > 0n);
    assertClose("openWithPermit", p.gas!.open, BigInt(open.gasUsed!));
    assertClose("confirm", p.gas!.confirm, BigInt(confirm.gasUsed!));
    assertClose("the whole buy", p.fee.gas, BigInt(open.gasUsed!) + BigInt(confirm.gasUsed!));
    // A listing already bought costs nothing more: the preview names the purchase, with no gas.
    const again = await post<BuyPreviewView>(buyer, "/api/v1/purchases?preview=1", {
      listingId: manifestCid,
    });
    assert.equal(again.purchaseId, started.id);
    assert.equal(again.fee.gas, "0");
  });

  await t.step("withdraw payouts", async () => {
    const p = await preview<WithdrawPayoutsPreviewView>(seller, "/api/v1/wallet/withdraw");
    assert.ok(BigInt(p.amount) > 0n);
    const done = await post<{ amount: string; gasUsed: string; txHash: `0x${string}` }>(
      seller,
      "/api/v1/wallet/withdraw",
    );
    assert.equal(done.amount, p.amount);
    assertClose("withdraw payouts", p.fee.gas, await receiptGas(seller, done.txHash, done.gasUsed));
  });

  await t.step("request a stake withdrawal", async () => {
    const path = `/api/v1/stakes/${listingId}/withdrawal`;
    const p = await preview<WithdrawStakePreviewView>(seller, path);
    assert.equal(p.status, "requested");
    const done = await post<{ status: string; gasUsed: string; txHash: `0x${string}` }>(
      seller,
      path,
      undefined,
      202,
    );
    assert.equal(done.status, "requested");
    assertClose("requestWithdrawal", p.fee.gas, await receiptGas(seller, done.txHash, done.gasUsed));
  });

  await t.step("challenge: an approval and the challenge", async () => {
    const body = { listingId, amount: "10" };
    const p = await preview<ChallengePreviewView>(buyer, "/api/v1/challenges", body);
    const done = await post<{ gasUsed: string; txHash: `0x${string}` }>(
      buyer,
      "/api/v1/challenges",
      body,
      201,
    );
    assert.ok(BigInt(done.gasUsed) > await receiptGas(buyer, done.txHash), "the approval counts too");
    assertClose("approve + challenge", p.fee.gas, BigInt(done.gasUsed));
  });

  await t.step("bad previews are refused and sign nothing", async () => {
    const before = await walletState(buyer);
    await post(buyer, "/api/v1/challenges?preview=yes", { listingId, amount: "10" }, 400);
    await post(buyer, "/api/v1/challenges?preview=1", { listingId, amount: "ten" }, 422);
    const notArbiter = await post<{ error: { code: string } }>(
      buyer,
      `/api/v1/challenges/${listingId}/resolve?preview=1`,
      { valid: true },
      403,
    );
    assert.ok(notArbiter.error.code);
    const own = await post<{ error: { message: string } }>(
      seller,
      "/api/v1/challenges?preview=1",
      { listingId, amount: "10" },
      422,
    );
    assert.match(own.error.message, /OwnListing/);
    assert.deepEqual(await walletState(buyer), before);
  });
});
