/**
 * Attacks on the stream-sale protocol, from the buyer's side: what a buyer sends to a gateway over
 * `/kosmos/stream-sale/1.0.0`, and what it must not obtain.
 *
 * - A quote is free to ask for, but nothing in it opens a key: no value it carries (hashes, `Z`'s words,
 *   their XOR with the hashes) is an epoch key of the span or next to it, and a quote nobody pays is never
 *   revealed.
 * - Changing a quote (a lower price, more epochs) breaks its signature: the escrow refuses to open it.
 * - Spans a gateway must not quote are refused: more than 744 epochs, wholly older than 744 epochs, a
 *   stream it does not publish, its own wallet as buyer.
 * - A buyer that paid for a span gets exactly its keys: the epoch before and after stay closed, and the
 *   node's API refuses to export them; a renewal delivers the next epochs' keys and no others.
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Hex, hexToBigInt, keccak256, numberToHex, size, slice } from "viem";
import type { KosmosNode } from "../../node/node.ts";
import { openSale } from "../../node/services/chain/mod.ts";
import { decodeSaleKeys } from "../../protocol/quote.ts";
import {
  decodeStreamSaleResponse,
  epochOf,
  STREAM_SALE_PROTOCOL,
  type StreamSaleResponse,
} from "../../protocol/streams.ts";
import { waitFor } from "../helpers.ts";
import { api, publishTestStream, startStreamCluster } from "../streams.ts";

const EPOCH_SECONDS = 5;

/** Sends one raw stream-sale request (any JSON) to `gateway` and reads the answer. */
async function ask(from: KosmosNode, gateway: KosmosNode, request: unknown): Promise<StreamSaleResponse> {
  const stream = await from.components.p2p.dialProtocol(
    peerIdFromString(gateway.peerId),
    STREAM_SALE_PROTOCOL,
  );
  const lp = lpStream(stream, { maxDataLength: 64 * 1024 });
  await lp.write(new TextEncoder().encode(JSON.stringify(request)));
  const response = decodeStreamSaleResponse((await lp.read()).subarray());
  await stream.close().catch(() => {});
  return response;
}

const words = (z: Hex): Hex[] =>
  Array.from({ length: size(z) / 32 }, (_, i) => slice(z, i * 32, i * 32 + 32));
const xor = (a: Hex, b: Hex): Hex => numberToHex(hexToBigInt(a) ^ hexToBigInt(b), { size: 32 });

Deno.test("stream-sale attacks: quotes open no key, tampered quotes do not open, bad spans are refused, a paid span and its renewal open only their epochs", async () => {
  await using cluster = await startStreamCluster();
  const gateway = await cluster.start();
  const mallory = await cluster.start();
  const { streamId } = await publishTestStream(gateway, { epochSeconds: EPOCH_SECONDS, viewers: [mallory] });
  const keyOf = (epoch: number) => gateway.components.streams.catalog.epochKey(streamId, epoch);
  const now = epochOf(Date.now(), EPOCH_SECONDS);
  const first = now + 1;
  const last = now + 3;
  const buyer = mallory.address;

  // A quote for the span: Z has one word per epoch; nothing it carries is a key of the span or next to it.
  const offer = await ask(mallory, gateway, { v: 1, type: "subscribe", streamId, first, last, buyer });
  if ("error" in offer) assert.fail(`the gateway refused: ${offer.error.code}: ${offer.error.message}`);
  assert.equal(size(offer.z), 3 * 32);
  const keys = await Promise.all([first - 1, first, first + 1, last, last + 1].map(keyOf));
  const published: Hex[] = [offer.quote.zHash, offer.quote.kSaleHash, offer.quote.dekCommit];
  const candidates = new Set<string>(published);
  for (const w of words(offer.z)) {
    candidates.add(w);
    candidates.add(keccak256(w));
    for (const p of published) candidates.add(xor(w, p));
  }
  for (const key of keys) assert.ok(!candidates.has(key), "a quote value is an epoch key");

  // A tampered quote does not open: a lower price breaks the gateway's signature.
  const client = mallory.components.chain.client;
  await assert.rejects(
    mallory.components.chain.exclusive(() =>
      openSale(client, { quote: { ...offer.quote, price: 1n }, signature: offer.signature })
    ),
  );

  // Spans a gateway must not quote.
  const refused = async (request: Record<string, unknown>, code: string) => {
    const r = await ask(mallory, gateway, { v: 1, type: "subscribe", streamId, buyer, ...request });
    assert.ok("error" in r, `quoted ${JSON.stringify(request)}`);
    assert.equal(r.error.code, code, r.error.message);
  };
  await refused({ first: now, last: now + 744 }, "bad-request");
  await refused({ first: now - 800, last: now - 790 }, "out-of-range");
  await refused(
    { first, last, streamId: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" },
    "unknown-stream",
  );
  await refused({ first, last, buyer: gateway.address }, "bad-request");

  // The quote nobody opened is never revealed: the gateway has no sale for it.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(gateway.components.market.listSales().length, 0);

  // A paid span: exactly its keys, none of the epochs around it.
  const sub = await api<{ id: string; from: number; to: number; saleIds: Hex[] }>(
    mallory,
    "/api/v1/subscriptions",
    {
      json: { streamId, seconds: 2 * EPOCH_SECONDS },
      expect: 201,
    },
  );
  const spanFirst = epochOf(sub.from, EPOCH_SECONDS);
  const spanLast = epochOf(sub.to - 1, EPOCH_SECONDS);
  const streams = mallory.components.streams;
  await waitFor("the keys of the paid span", () => streams.keyFor(streamId, spanLast), { timeout: 30_000 });
  const [sale] = streams.subscriptions.listSales(sub.id);
  const opened = decodeSaleKeys(sale.z, sale.kSale!);
  assert.equal(opened.length, spanLast - spanFirst + 1);
  for (let e = spanFirst; e <= spanLast; e++) assert.equal(opened[e - spanFirst], await keyOf(e));
  for (const outside of [spanFirst - 1, spanLast + 1]) {
    const key = await keyOf(outside);
    assert.ok(!opened.includes(key), `the sale delivered the key of epoch ${outside}`);
    assert.equal(streams.keyFor(streamId, outside), undefined);
    await api(mallory, `/api/v1/subscriptions/${sub.id}/epochs/${outside}`, { expect: 409 });
  }

  // A renewal buys the epochs right after the span, as a second sale: their keys and no others.
  const renewed = await api<{ saleIds: Hex[]; to: number }>(
    mallory,
    `/api/v1/subscriptions/${sub.id}/renew`,
    {
      json: { seconds: EPOCH_SECONDS },
    },
  );
  assert.equal(renewed.saleIds.length, 2);
  const renewal = streams.subscriptions.listSales(sub.id)[1];
  assert.equal(renewal.first, spanLast + 1);
  await waitFor("the keys of the renewal", () => streams.keyFor(streamId, renewal.last), { timeout: 30_000 });
  const more = decodeSaleKeys(renewal.z, streams.subscriptions.listSales(sub.id)[1].kSale!);
  assert.equal(more.length, renewal.last - renewal.first + 1);
  for (let e = renewal.first; e <= renewal.last; e++) assert.equal(more[e - renewal.first], await keyOf(e));
  assert.equal(streams.keyFor(streamId, renewal.last + 1), undefined);
});
