/**
 * A gateway whose sold keys differ from what it commits to for an epoch (it sells one key and encrypts the
 * epoch under another) is caught by the buyer before any confirmation: the key of that epoch does not hash to
 * the gateway's signed commitment, so the buyer's node disputes the sale with the evidence's hash, marks the
 * subscription failed, and never confirms. The gateway's diverging commitment is put into the buyer's
 * store of signed commitments directly, as if the gateway had gossiped it (what a dishonest gateway would
 * sign); everything else is real: nodes, anvil, escrow.
 */
import assert from "node:assert/strict";
import { keccak256, toBytes } from "viem";
import { epochOf } from "../../protocol/streams.ts";
import { waitFor } from "../helpers.ts";
import { api, publishTestStream, startStreamCluster } from "../streams.ts";

const EPOCH_SECONDS = 30;

Deno.test("a key that differs from the gateway's signed commitment of its epoch is disputed with evidence, never confirmed", async () => {
  await using cluster = await startStreamCluster();
  const gateway = await cluster.start();
  const buyer = await cluster.start();
  const { streamId } = await publishTestStream(gateway, { epochSeconds: EPOCH_SECONDS, viewers: [buyer] });
  const now = epochOf(Date.now(), EPOCH_SECONDS);
  // The gateway "commits" epoch now + 2 to a key other than the one it sells.
  const forged = keccak256(toBytes("another key"));
  buyer.components.streams.catalog.recordOpened(streamId, now + 2, forged);

  const sub = await api<{ id: string }>(buyer, "/api/v1/subscriptions", {
    json: { streamId, seconds: 3 * EPOCH_SECONDS },
    expect: 201,
  });
  const streams = buyer.components.streams;
  const sale = await waitFor("the sale to be disputed", () => {
    const s = streams.subscriptions.listSales(sub.id)[0];
    return s.status === "disputed" ? s : undefined;
  }, { timeout: 30_000 });
  const view = await api<{ status: string; error: string }>(buyer, `/api/v1/subscriptions/${sub.id}`);
  assert.equal(view.status, "failed");
  assert.match(view.error, new RegExp(`epoch ${now + 2}`));
  // The evidence names the epoch and the commitment, and its hash is what went on chain.
  const evidence = JSON.parse(sale.evidence!);
  assert.equal(evidence.epoch, now + 2);
  assert.equal(evidence.expected, forged);
  const disputed = await waitFor(
    "the Disputed event",
    () =>
      buyer.components.chain.indexer.listEvents({ contract: "escrow", saleId: sale.saleId })
        .find((e) => e.name === "Disputed"),
    { timeout: 10_000 },
  );
  assert.equal(String(disputed?.args.evidenceHash).toLowerCase(), keccak256(toBytes(sale.evidence!)));
  assert.ok(!sale.txs.some((t) => t.action === "confirm"), "the buyer confirmed");
  await api(buyer, `/api/v1/subscriptions/${sub.id}/renew`, { json: { seconds: 30 }, expect: 409 });
  // Nor is a renewal of it previewed: the same refusal, nothing asked of the gateway.
  await api(buyer, `/api/v1/subscriptions/${sub.id}/renew?preview=1`, { json: { seconds: 30 }, expect: 409 });
  assert.equal(streams.subscriptions.listSales(sub.id).length, 1);
});
