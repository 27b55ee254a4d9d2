import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { getAddress, type Hex, keccak256 } from "viem";
import { computeDekCommit, computeSaleKeyCommit, encodeSaleKeys, type Quote } from "./quote.ts";
import {
  contentCidOf,
  decodeEpochOpened,
  decodeEpochQueryRequest,
  decodeEpochQueryResponse,
  decodeEpochSealed,
  decodeLiveBatch,
  decodeStreamAnnouncement,
  decodeStreamSaleRequest,
  decodeStreamSaleResponse,
  decodeStreamsTopicMessage,
  decodeStreamTopicMessage,
  decryptLiveBatch,
  deriveEpochKeys,
  encodeEpochFile,
  encodeEpochOpened,
  encodeEpochQueryRequest,
  encodeEpochQueryResponse,
  encodeEpochSealed,
  encodeLiveBatch,
  encodeStreamAnnouncement,
  encodeStreamSaleRequest,
  encodeStreamSaleResponse,
  encryptLiveBatch,
  type EpochSealedBody,
  MAX_EPOCH_QUERY_RESULTS,
  MAX_LIVE_BATCH_BYTES,
  MAX_STREAM_SALE_REQUEST_BYTES,
  signEpochOpened,
  signEpochSealed,
  signStreamAnnouncement,
  STREAM_SALE_PROTOCOL,
  StreamProtocolError,
  STREAMS_PROTOCOL,
  STREAMS_TOPIC,
  verifyEpochOpened,
  verifyEpochSealed,
  verifyStreamAnnouncement,
} from "./streams.ts";
import { CHAIN, gateway, NOW, owner, signedStream } from "./stream_fixtures_test.ts";

const mallory = privateKeyToAccount(generatePrivateKey());
const secret = crypto.getRandomValues(new Uint8Array(32));
const { manifest, bytes: manifestBytes, streamId } = await signedStream();

Deno.test("names of the stream topics and protocols", () => {
  assert.equal(STREAMS_TOPIC, "/kosmos/streams/1");
  assert.equal(STREAMS_PROTOCOL, "/kosmos/streams/1.0.0");
  assert.equal(STREAM_SALE_PROTOCOL, "/kosmos/stream-sale/1.0.0");
});

Deno.test("a live batch round-trips through its codec and the stream topic decoder", async () => {
  const [dek] = await deriveEpochKeys(secret, 4, 4);
  const readings = [{ sensorId: "s1", ts: 1, values: { v: 1 } }];
  const batch = await encryptLiveBatch({ streamId, epoch: 4, seq: 0, readings }, dek);
  const bytes = encodeLiveBatch(batch);
  assert.deepEqual(decodeLiveBatch(bytes), batch);
  const message = decodeStreamTopicMessage(bytes);
  assert.equal(message.type, "live");
  if (message.type === "live") assert.deepEqual(await decryptLiveBatch(message, dek), readings);
  assert.throws(() => decodeLiveBatch(new Uint8Array(MAX_LIVE_BATCH_BYTES + 1)), /over/);
  assert.throws(() => decodeLiveBatch(dagCbor.encode({ ...batch, iv: new Uint8Array(11) })), /iv/);
  assert.throws(() => decodeLiveBatch(dagCbor.encode({ ...batch, streamId: "x" })), /streamId/);
  assert.throws(
    () => decodeStreamTopicMessage(dagCbor.encode({ ...batch, type: "other" })),
    StreamProtocolError,
  );
});

Deno.test("EpochOpened verifies for the stream's gateway only", async () => {
  const [dek] = await deriveEpochKeys(secret, 7, 7);
  const opened = await signEpochOpened(gateway, {
    v: 1,
    type: "epoch-opened",
    streamId,
    epoch: 7,
    dekCommit: keccak256(dek),
  });
  const decoded = decodeEpochOpened(encodeEpochOpened(opened));
  assert.deepEqual(await verifyEpochOpened(decoded, manifest.gateway), opened);
  assert.equal(decodeStreamTopicMessage(encodeEpochOpened(opened)).type, "epoch-opened");
  await assert.rejects(verifyEpochOpened(decoded, mallory.address), /not signed by the gateway/);
  await assert.rejects(verifyEpochOpened({ ...decoded, epoch: 8 }, manifest.gateway), /not signed/);
});

Deno.test("EpochSealed signs, round-trips and binds gateway, content and key commitment", async () => {
  const [dek] = await deriveEpochKeys(secret, 9, 9);
  const content = encodeEpochFile([{ sensorId: "s1", ts: 540_000, values: { v: 2 } }]);
  const body: EpochSealedBody = {
    v: 1,
    type: "epoch-sealed",
    streamId,
    epoch: 9,
    manifestCid: streamId,
    contentCid: contentCidOf(content),
    rows: 1,
    dekCommit: keccak256(dek),
    gateway: gateway.address,
  };
  const sealed = await signEpochSealed(gateway, body);
  const bytes = encodeEpochSealed(sealed);
  assert.deepEqual(await verifyEpochSealed(decodeEpochSealed(bytes), manifest.gateway), sealed);
  assert.equal(decodeStreamsTopicMessage(bytes).type, "epoch-sealed");
  await assert.rejects(verifyEpochSealed({ ...sealed, rows: 2 }), /not signed/);
  await assert.rejects(verifyEpochSealed(sealed, mallory.address), /not the stream's gateway/);
  await assert.rejects(signEpochSealed(mallory, body), /not the gateway/);
  const empty = await signEpochSealed(gateway, {
    ...body,
    manifestCid: null,
    rows: 0,
    contentCid: contentCidOf(new Uint8Array()),
  });
  assert.equal(decodeEpochSealed(encodeEpochSealed(empty)).manifestCid, null);
  await assert.rejects(signEpochSealed(gateway, { ...body, manifestCid: null }), /manifestCid/);
  await assert.rejects(signEpochSealed(gateway, { ...body, contentCid: streamId }), /contentCid/);
});

Deno.test("a stream announcement verifies manifest, id and signer", async () => {
  const body = {
    v: 1 as const,
    type: "stream" as const,
    streamId,
    manifest: manifestBytes,
    listingId: "3",
    timestamp: NOW,
  };
  for (const signer of [owner, gateway]) {
    const a = await signStreamAnnouncement(signer, body);
    const decoded = decodeStreamsTopicMessage(encodeStreamAnnouncement(a));
    assert.equal(decoded.type, "stream");
    const { manifest: m } = await verifyStreamAnnouncement(decoded, CHAIN);
    assert.deepEqual(m, manifest);
  }
  const byMallory = await signStreamAnnouncement(mallory, body);
  await assert.rejects(verifyStreamAnnouncement(byMallory, CHAIN), /not signed by its owner or gateway/);
  const other = await signedStream("another");
  const swapped = await signStreamAnnouncement(owner, { ...body, manifest: other.bytes });
  await assert.rejects(verifyStreamAnnouncement(swapped, CHAIN), /hash to/);
  await assert.rejects(signStreamAnnouncement(owner, { ...body, listingId: "01" }), /listingId/);
  assert.deepEqual(decodeStreamAnnouncement(encodeStreamAnnouncement(byMallory)), byMallory);
});

Deno.test("stream sale request and response codecs", async () => {
  const request = {
    v: 1 as const,
    type: "subscribe" as const,
    streamId,
    first: 10,
    last: 12,
    buyer: mallory.address,
  };
  assert.deepEqual(decodeStreamSaleRequest(encodeStreamSaleRequest(request)), request);
  for (
    const bad of [
      { ...request, last: 9 },
      { ...request, last: 10 + 744 },
      { ...request, buyer: "0x12" },
      { ...request, type: "quote" },
      { ...request, x: 1 },
    ]
  ) {
    assert.throws(
      () => decodeStreamSaleRequest(new TextEncoder().encode(JSON.stringify(bad))),
      StreamProtocolError,
    );
  }
  assert.throws(() => decodeStreamSaleRequest(new Uint8Array(MAX_STREAM_SALE_REQUEST_BYTES + 1)), /over/);

  const deks = await deriveEpochKeys(secret, 10, 12);
  const kSale = keccak256("0x01");
  const z = encodeSaleKeys(deks, kSale);
  const quote: Quote = {
    listingId: 5n,
    buyer: getAddress(mallory.address),
    price: 3n,
    zHash: keccak256(z),
    kSaleHash: computeSaleKeyCommit(kSale),
    dekCommit: computeDekCommit(deks),
    gateway: gateway.address,
    nonce: 1n,
    deadline: 2n,
  };
  const offer = { v: 1 as const, quote, signature: `0x${"1".repeat(128)}1b` as Hex, z };
  assert.deepEqual(decodeStreamSaleResponse(encodeStreamSaleResponse(offer)), offer);
  const refusal = { v: 1 as const, error: { code: "out-of-range" as const, message: "too old" } };
  assert.deepEqual(decodeStreamSaleResponse(encodeStreamSaleResponse(refusal)), refusal);
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  assert.throws(() => decodeStreamSaleResponse(json({ v: 1, error: { code: "nope", message: "" } })), /code/);
  assert.throws(() => decodeStreamSaleResponse(json({ ...offer, quote: {}, z: "0x" })), StreamProtocolError);
  assert.throws(
    () => decodeStreamSaleResponse(json({ v: 1, quote: {}, signature: "0x", z })),
    StreamProtocolError,
  );
});

Deno.test("epoch query request and response codecs", async () => {
  const request = { v: 1 as const, streamId, from: 3, to: 9 };
  assert.deepEqual(decodeEpochQueryRequest(encodeEpochQueryRequest(request)), request);
  assert.throws(() => decodeEpochQueryRequest(dagCbor.encode({ ...request, to: 2 })), /to/);
  const sealed = await signEpochSealed(gateway, {
    v: 1,
    type: "epoch-sealed",
    streamId,
    epoch: 3,
    manifestCid: null,
    contentCid: contentCidOf(new Uint8Array()),
    rows: 0,
    dekCommit: keccak256("0x02"),
    gateway: gateway.address,
  });
  const response = { v: 1 as const, epochs: [sealed, { ...sealed, epoch: 4 }] };
  assert.deepEqual(decodeEpochQueryResponse(encodeEpochQueryResponse(response)), response);
  const error = { v: 1 as const, error: { code: "unknown-stream" as const, message: "no" } };
  assert.deepEqual(decodeEpochQueryResponse(encodeEpochQueryResponse(error)), error);
  const many = { v: 1, epochs: Array.from({ length: MAX_EPOCH_QUERY_RESULTS + 1 }, () => sealed) };
  assert.throws(() => decodeEpochQueryResponse(dagCbor.encode(many)), /at most 1000/);
});
