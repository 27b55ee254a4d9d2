/**
 * Fuzzing the sensor stream decoders (`protocol/streams.ts`): the stream manifest, the messages of a stream's
 * topic (live batches, opened epochs) and of the `streams` topic (announcements, sealed epochs), the frames of
 * the stream-sale and epoch-query protocols, reading NDJSON (live batch plaintext, epoch files) and the
 * gateway's reading check. Arbitrary bytes, CBOR bombs, wrong, missing, extra and huge fields, and mutations of
 * valid encodings; each decoder returns a value that encodes back to itself or throws a clean, short error;
 * oversized input is refused before parsing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as dagCbor from "@ipld/dag-cbor";
import { keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  contentCidOf,
  decodeEpochFile,
  decodeEpochQueryRequest,
  decodeEpochQueryResponse,
  decodeStreamListResponse,
  decodeStreamManifest,
  decodeStreamSaleRequest,
  decodeStreamSaleResponse,
  decodeStreamsRequest,
  decodeStreamsTopicMessage,
  decodeStreamTopicMessage,
  encodeEpochFile,
  encodeEpochOpened,
  encodeEpochQueryRequest,
  encodeEpochQueryResponse,
  encodeEpochSealed,
  encodeLiveBatch,
  encodeStreamAnnouncement,
  encodeStreamListRequest,
  encodeStreamListResponse,
  encodeStreamManifest,
  encodeStreamSaleRequest,
  encodeStreamSaleResponse,
  encryptLiveBatch,
  type EpochSealed,
  MAX_EPOCH_QUERY_RESPONSE_BYTES,
  MAX_LIVE_BATCH_BYTES,
  MAX_STREAM_ANNOUNCEMENT_BYTES,
  MAX_STREAM_LIST_RESPONSE_BYTES,
  MAX_STREAM_LIST_RESULTS,
  MAX_STREAM_MANIFEST_BYTES,
  MAX_STREAM_SALE_REQUEST_BYTES,
  MAX_STREAM_SALE_RESPONSE_BYTES,
  signEpochOpened,
  signEpochSealed,
  signSensorAttestation,
  signStreamAnnouncement,
  signStreamManifest,
  type StreamManifest,
  type StreamReading,
  validateReading,
} from "../../protocol/streams.ts";
import { addressArb } from "../../protocol/arbitraries_test.ts";
import { expectClean, FUZZ_RUNS, toCbor, toJsonBytes, wildValue, wrongFields } from "./mod.ts";
import { assertRefusesOversized, fuzz, hexArb, NOW } from "./arbitraries.ts";

const gateway = privateKeyToAccount(generatePrivateKey());
const owner = privateKeyToAccount(generatePrivateKey());
const PEER = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf";
const SCHEMA = [{ name: "celsius", type: "number" }, { name: "n", type: "integer" }] as const;

const manifests: StreamManifest[] = [];
for (const title of ["a", "b", "c"]) {
  const a = {
    sensorId: `s-${title}`,
    owner: owner.address,
    gateway: gateway.address,
    sensorKey: null,
    issuedAt: NOW,
  };
  manifests.push(
    await signStreamManifest(owner, {
      v: 1,
      title,
      description: "",
      owner: owner.address,
      gateway: gateway.address,
      publisherPeer: PEER,
      sensors: [{
        sensorId: a.sensorId,
        label: "x",
        owner: a.owner,
        sensorKey: null,
        issuedAt: NOW,
        attestation: await signSensorAttestation(gateway, a, 31337),
      }],
      schema: [...SCHEMA],
      pricePerHour: "10",
      epochSeconds: 60,
      licence: "CC0-1.0",
      createdAt: NOW,
    }),
  );
}
const encoded = manifests.map(encodeStreamManifest);
const streamId = encoded[0].streamId;
const readingArb: fc.Arbitrary<StreamReading> = fc.record({
  sensorId: fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,20}$/),
  ts: fc.nat(),
  values: fc.record({
    celsius: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
    n: fc.integer(),
  }),
});
const dek = keccak256("0x01");
const batches = await Promise.all(
  fc.sample(fc.array(readingArb, { maxLength: 5 }), { numRuns: 4, seed: 3 }).map((readings, seq) =>
    encryptLiveBatch({ streamId, epoch: 7, seq, readings }, dek)
  ),
);
const opened = await signEpochOpened(gateway, {
  v: 1,
  type: "epoch-opened",
  streamId,
  epoch: 7,
  dekCommit: dek,
});
const sealed: EpochSealed[] = await Promise.all([0, 3].map((rows) =>
  signEpochSealed(gateway, {
    v: 1,
    type: "epoch-sealed",
    streamId,
    epoch: 7 + rows,
    manifestCid: rows === 0 ? null : encoded[1].streamId,
    contentCid: contentCidOf(new Uint8Array(rows)),
    rows,
    dekCommit: dek,
    gateway: gateway.address,
  })
));
const announcement = await signStreamAnnouncement(owner, {
  v: 1,
  type: "stream",
  streamId,
  manifest: encoded[0].bytes,
  listingId: "12",
  timestamp: NOW,
});
const asCbor = (bytes: Uint8Array) => dagCbor.decode(bytes) as Record<string, unknown>;

Deno.test("decodeStreamManifest() rejects hostile bytes with a clean error", async () => {
  const valid = fc.constantFrom(...encoded.map((e) => e.bytes));
  const structured = fc.oneof(
    wrongFields(fc.constantFrom(...manifests).map((m) => ({ ...m }) as Record<string, unknown>)),
    fc.constantFrom(...manifests).chain((m) =>
      wrongFields(fc.constant(m.sensors[0] as unknown as Record<string, unknown>)).map((s) => ({
        ...m,
        sensors: [s],
      }))
    ),
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.streamManifest.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeStreamManifest()", () => decodeStreamManifest(bytes));
    if (value) assert.deepEqual(encodeStreamManifest(value.manifest).bytes, bytes);
    return value !== undefined;
  });
  await assertRefusesOversized("decodeStreamManifest()", MAX_STREAM_MANIFEST_BYTES, decodeStreamManifest);
});

Deno.test("decodeStreamTopicMessage() rejects hostile live batches and opened epochs", async () => {
  const messages = [...batches.map((b) => ({ ...b }) as Record<string, unknown>), { ...opened }];
  const valid = fc.constantFrom(...batches.map(encodeLiveBatch), encodeEpochOpened(opened));
  const structured = wrongFields(fc.constantFrom(...messages)).map(toCbor);
  await fuzz(FUZZ_RUNS.streamTopicMessage.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeStreamTopicMessage()", () => decodeStreamTopicMessage(bytes));
    if (value) {
      const again = value.type === "live" ? encodeLiveBatch(value) : encodeEpochOpened(value);
      assert.deepEqual(decodeStreamTopicMessage(again), value);
    }
    return value !== undefined;
  });
  await assertRefusesOversized("decodeStreamTopicMessage()", MAX_LIVE_BATCH_BYTES, decodeStreamTopicMessage);
});

Deno.test("decodeStreamsTopicMessage() rejects hostile announcements and sealed epochs", async () => {
  const valid = fc.constantFrom(encodeStreamAnnouncement(announcement), ...sealed.map(encodeEpochSealed));
  const structured = wrongFields(
    fc.constantFrom(asCbor(encodeStreamAnnouncement(announcement)), ...sealed.map((s) => ({ ...s }))),
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.streamsTopicMessage.decoder, valid, structured, async (bytes) => {
    const value = await expectClean("decodeStreamsTopicMessage()", () => decodeStreamsTopicMessage(bytes));
    if (value) {
      const again = value.type === "stream" ? encodeStreamAnnouncement(value) : encodeEpochSealed(value);
      assert.deepEqual(decodeStreamsTopicMessage(again), value);
    }
    return value !== undefined;
  });
  await assertRefusesOversized(
    "decodeStreamsTopicMessage()",
    MAX_STREAM_ANNOUNCEMENT_BYTES,
    decodeStreamsTopicMessage,
  );
});

const saleRequestArb = fc.record({
  v: fc.constant(1 as const),
  type: fc.constant("subscribe" as const),
  streamId: fc.constantFrom(...encoded.map((e) => e.streamId)),
  first: fc.nat({ max: 1_000_000 }),
  span: fc.nat({ max: 743 }),
  buyer: addressArb,
}).map(({ span, ...r }) => ({ ...r, last: r.first + span }));

Deno.test("decodeStreamSaleRequest() and decodeStreamSaleResponse() reject hostile frames", async () => {
  await fuzz(
    FUZZ_RUNS.streamSaleRequest.decoder,
    saleRequestArb.map(encodeStreamSaleRequest),
    wrongFields(saleRequestArb).map(toJsonBytes),
    async (bytes) => {
      const value = await expectClean("decodeStreamSaleRequest()", () => decodeStreamSaleRequest(bytes));
      if (value) assert.deepEqual(decodeStreamSaleRequest(encodeStreamSaleRequest(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized(
    "decodeStreamSaleRequest()",
    MAX_STREAM_SALE_REQUEST_BYTES,
    decodeStreamSaleRequest,
  );
  const offerArb = fc.record({
    keys: fc.array(hexArb(32), { minLength: 1, maxLength: 20 }),
    buyer: addressArb,
    price: fc.bigInt({ min: 0n, max: 10n ** 30n }),
  }).map(({ keys, buyer, price }) => ({
    v: 1 as const,
    quote: {
      listingId: 1n,
      buyer,
      price,
      zHash: keccak256(keys[0]),
      kSaleHash: keccak256("0x02"),
      dekCommit: keccak256("0x03"),
      gateway: gateway.address,
      nonce: 4n,
      deadline: 5n,
    },
    signature: `0x${"2".repeat(128)}1c` as const,
    z: `0x${keys.map((k) => k.slice(2)).join("")}` as const,
  }));
  const valid = offerArb.map(encodeStreamSaleResponse);
  await fuzz(
    FUZZ_RUNS.streamSaleResponse.decoder,
    valid,
    wrongFields(valid.map((b) => JSON.parse(new TextDecoder().decode(b)))).map(toJsonBytes),
    async (bytes) => {
      const value = await expectClean("decodeStreamSaleResponse()", () => decodeStreamSaleResponse(bytes));
      if (value) assert.deepEqual(decodeStreamSaleResponse(encodeStreamSaleResponse(value)), value);
      return value !== undefined;
    },
  );
  await assertRefusesOversized(
    "decodeStreamSaleResponse()",
    MAX_STREAM_SALE_RESPONSE_BYTES,
    decodeStreamSaleResponse,
  );
});

Deno.test("decodeEpochQueryRequest() and decodeEpochQueryResponse() reject hostile frames", async () => {
  const requestArb = fc.record({
    v: fc.constant(1 as const),
    streamId: fc.constant(streamId),
    from: fc.nat(),
    span: fc.nat(),
  })
    .map(({ span, ...r }) => ({ ...r, to: r.from + span }));
  const responses = [{ v: 1 as const, epochs: sealed }, { v: 1 as const, epochs: [] }];
  const valid = fc.oneof(
    requestArb.map(encodeEpochQueryRequest),
    fc.constantFrom(...responses.map(encodeEpochQueryResponse)),
  );
  const structured = fc.oneof(
    wrongFields(requestArb),
    wrongFields(fc.constantFrom(...responses)),
    wrongFields(fc.constantFrom(...sealed.map((s) => ({ ...s })))).map((s) => ({ v: 1, epochs: [s] })),
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.epochQuery.decoder, valid, structured, async (bytes) => {
    const request = await expectClean("decodeEpochQueryRequest()", () => decodeEpochQueryRequest(bytes));
    if (request) assert.deepEqual(decodeEpochQueryRequest(encodeEpochQueryRequest(request)), request);
    const response = await expectClean("decodeEpochQueryResponse()", () => decodeEpochQueryResponse(bytes));
    if (response) assert.deepEqual(decodeEpochQueryResponse(encodeEpochQueryResponse(response)), response);
    return request !== undefined || response !== undefined;
  });
  await assertRefusesOversized(
    "decodeEpochQueryResponse()",
    MAX_EPOCH_QUERY_RESPONSE_BYTES,
    decodeEpochQueryResponse,
  );
});

Deno.test("decodeStreamsRequest() and decodeStreamListResponse() reject hostile stream list frames", async () => {
  const others = await Promise.all(
    encoded.slice(1).map((e, i) =>
      signStreamAnnouncement(owner, {
        v: 1,
        type: "stream",
        streamId: e.streamId,
        manifest: e.bytes,
        listingId: null,
        timestamp: NOW + i,
      })
    ),
  );
  const ordered = [announcement, ...others].sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
  const requestArb = fc.record({
    v: fc.constant(1 as const),
    type: fc.constant("streams" as const),
    limit: fc.integer({ min: 1, max: MAX_STREAM_LIST_RESULTS }),
    after: fc.option(fc.constantFrom(...encoded.map((e) => e.streamId)), { nil: undefined }),
  }).map(({ after, ...r }) => (after === undefined ? r : { ...r, after }));
  const responses = [
    { v: 1 as const, streams: ordered },
    { v: 1 as const, streams: ordered.slice(0, 2), next: ordered[1].streamId },
    { v: 1 as const, streams: [] },
  ];
  const valid = fc.oneof(
    requestArb.map(encodeStreamListRequest),
    fc.constantFrom(...responses.map(encodeStreamListResponse)),
  );
  const structured = fc.oneof(
    wrongFields(requestArb.map((r) => ({ ...r }) as Record<string, unknown>)),
    wrongFields(fc.constantFrom(...responses.map((r) => ({ ...r }) as Record<string, unknown>))),
    wrongFields(fc.constant(asCbor(encodeStreamAnnouncement(announcement)))).map((a) => ({
      v: 1,
      streams: [a],
    })),
  ).map(toCbor);
  await fuzz(FUZZ_RUNS.streamList.decoder, valid, structured, async (bytes) => {
    const request = await expectClean("decodeStreamsRequest()", () => decodeStreamsRequest(bytes));
    if (request && "type" in request) {
      assert.deepEqual(decodeStreamsRequest(encodeStreamListRequest(request)), request);
    }
    const response = await expectClean("decodeStreamListResponse()", () => decodeStreamListResponse(bytes));
    if (response) assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(response)), response);
    return request !== undefined || response !== undefined;
  });
  await assertRefusesOversized(
    "decodeStreamListResponse()",
    MAX_STREAM_LIST_RESPONSE_BYTES,
    decodeStreamListResponse,
  );
});

Deno.test("decodeEpochFile() parses exactly the canonical NDJSON it writes", async () => {
  const files = fc.array(readingArb, { maxLength: 6 }).map(encodeEpochFile);
  const structured = wrongFields(readingArb.map((r) => ({ ...r }) as Record<string, unknown>)).map((r) =>
    new TextEncoder().encode(JSON.stringify(r) + "\n")
  );
  await fuzz(FUZZ_RUNS.readingLines.decoder, files, structured, async (bytes) => {
    const value = await expectClean("decodeEpochFile()", () => decodeEpochFile(bytes, SCHEMA));
    if (value) assert.deepEqual(encodeEpochFile(value), bytes);
    return value !== undefined;
  });
});

Deno.test("validateReading() answers every input with a verdict and never throws", async () => {
  const inputArb = fc.oneof(
    wrongFields(readingArb.map((r) => ({ ...r, sensorId: "s1" }) as Record<string, unknown>)),
    wildValue,
    readingArb.map((r) => ({ ...r, sensorId: "s1" })),
  );
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(inputArb, fc.option(fc.nat(), { nil: null }), async (input, lastTs) => {
      const verdict = await expectClean("validateReading()", () =>
        validateReading(input, {
          sensor: (id) =>
            id === "s1" ? { schema: SCHEMA, sensorKey: null, lastTs, sealedBefore: null } : undefined,
          now: NOW,
        }));
      assert.ok(verdict !== undefined, "validateReading() must not throw");
      seen.add(verdict.ok ? "ok" : verdict.reason);
      if (verdict.ok) {
        assert.equal(
          validateReading(verdict.reading, {
            sensor: () => ({ schema: SCHEMA, sensorKey: null, lastTs: null, sealedBefore: null }),
            now: NOW,
          }).ok,
          true,
        );
      }
    }),
    { numRuns: FUZZ_RUNS.readingInput.decoder, seed: 17 },
  );
  for (const reason of ["ok", "malformed", "unknown-sensor", "out-of-order"]) {
    assert.ok(seen.has(reason), `no input reached ${reason}: ${[...seen].join(", ")}`);
  }
});
