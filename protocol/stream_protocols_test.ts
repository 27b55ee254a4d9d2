import assert from "node:assert/strict";
import * as dagCbor from "@ipld/dag-cbor";
import {
  decodeEpochQueryResponse,
  decodeStreamListResponse,
  decodeStreamSaleResponse,
  decodeStreamsRequest,
  encodeEpochQueryRequest,
  encodeStreamListRequest,
  encodeStreamListResponse,
  MAX_STREAM_LIST_RESPONSE_BYTES,
  MAX_STREAM_LIST_RESULTS,
  StreamProtocolError,
} from "./streams.ts";
import { announceStream, NOW } from "./stream_fixtures_test.ts";

const list = (await Promise.all(["a", "b", "c"].map(announceStream)))
  .sort((x, y) => (x.streamId < y.streamId ? -1 : 1));

Deno.test("a streams request is a stream list when it has a type, else an epoch query", () => {
  const first = { v: 1 as const, type: "streams" as const, limit: 10 };
  assert.deepEqual(decodeStreamsRequest(encodeStreamListRequest(first)), first);
  const next = { ...first, after: list[0].streamId };
  assert.deepEqual(decodeStreamsRequest(encodeStreamListRequest(next)), next);
  const query = { v: 1 as const, streamId: list[0].streamId, from: 1, to: 2 };
  assert.deepEqual(decodeStreamsRequest(encodeEpochQueryRequest(query)), query);

  for (
    const bad of [
      { ...first, limit: 0 },
      { ...first, limit: MAX_STREAM_LIST_RESULTS + 1 },
      { ...first, limit: 1.5 },
      { ...first, type: "stream" },
      { ...first, v: 2 },
      { ...first, after: "not-a-cid" },
      { ...first, after: null },
      { ...first, extra: 1 },
      { v: 1, type: "streams" },
    ]
  ) {
    assert.throws(() => decodeStreamsRequest(dagCbor.encode(bad)), StreamProtocolError, JSON.stringify(bad));
  }
  assert.throws(() => decodeStreamsRequest(new Uint8Array(257)), /over 256/);
});

Deno.test("a stream list response carries announcements in id order, next naming the last", () => {
  const page = { v: 1 as const, streams: list.slice(0, 2), next: list[1].streamId };
  assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(page)), page);
  const last = { v: 1 as const, streams: [list[2]] };
  assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(last)), last);
  const empty = { v: 1 as const, streams: [] };
  assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(empty)), empty);
  const refusal = { v: 1 as const, error: { code: "rate-limited" as const, message: "later" } };
  assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(refusal)), refusal);

  const bad: unknown[] = [
    { v: 1, streams: [list[1], list[0]] }, // out of order
    { v: 1, streams: [list[0], list[0]] }, // twice
    { v: 1, streams: list, next: list[0].streamId }, // next is not the last
    { v: 1, streams: [], next: list[0].streamId },
    { v: 1, streams: [{ ...list[0], listingId: 5 }] },
    { v: 1, streams: [{ ...list[0], type: "epoch-sealed" }] },
    { v: 1, streams: list, extra: true },
    { v: 1, error: { code: "teapot", message: "" } },
    { v: 1, streams: Array.from({ length: MAX_STREAM_LIST_RESULTS + 1 }, () => list[0]) },
  ];
  for (const value of bad) {
    assert.throws(() => decodeStreamListResponse(dagCbor.encode(value)), StreamProtocolError);
  }
  assert.throws(
    () => decodeStreamListResponse(new Uint8Array(MAX_STREAM_LIST_RESPONSE_BYTES + 1)),
    /over/,
  );
  // Signatures are not checked here (the asker checks each like gossip): an altered one still decodes.
  const altered = { v: 1 as const, streams: [{ ...list[0], timestamp: NOW + 1 }] };
  assert.deepEqual(decodeStreamListResponse(encodeStreamListResponse(altered)), altered);
});

Deno.test("the stream sale, epoch query and stream list responses read a refusal alike, each with its own codes", () => {
  const decoders = [
    { decode: decodeStreamSaleResponse, encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)) },
    { decode: decodeEpochQueryResponse, encode: (v: unknown) => dagCbor.encode(v) },
    { decode: decodeStreamListResponse, encode: (v: unknown) => dagCbor.encode(v) },
  ];
  const refusal = { v: 1, error: { code: "rate-limited", message: "x".repeat(300) } };
  for (const { decode, encode } of decoders) {
    assert.deepEqual(decode(encode(refusal)), refusal);
    const bad: unknown[] = [
      { ...refusal, v: 2 },
      { ...refusal, extra: 1 },
      { v: 1, error: "rate-limited" },
      { v: 1, error: { code: "rate-limited" } },
      { v: 1, error: { ...refusal.error, extra: 1 } },
      { v: 1, error: { code: "teapot", message: "" } },
      { v: 1, error: { code: "rate-limited", message: "x".repeat(301) } },
      { v: 1, error: { code: "rate-limited", message: 5 } },
    ];
    for (const value of bad) {
      assert.throws(() => decode(encode(value)), StreamProtocolError, JSON.stringify(value));
    }
  }
  // A seller may refuse a sale as not its stream; a streams query has no such answer.
  const notSeller = { v: 1, error: { code: "not-seller", message: "" } };
  assert.deepEqual(decoders[0].decode(decoders[0].encode(notSeller)), notSeller);
  assert.throws(() => decoders[1].decode(decoders[1].encode(notSeller)), /"error\.code" is unknown/);
  assert.throws(() => decoders[2].decode(decoders[2].encode(notSeller)), /"error\.code" is unknown/);
});
