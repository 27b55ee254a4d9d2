import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { bytesToHex, getAddress, type Hex, keccak256 } from "viem";
import {
  attestationOf,
  canonicalReadingBytes,
  canonicalReadingJson,
  contentCidOf,
  decodeEpochFile,
  decodeStreamManifest,
  decryptLiveBatch,
  deriveEpochKey,
  deriveEpochKeys,
  encodeEpochFile,
  encodeStreamManifest,
  encryptLiveBatch,
  epochDekCommit,
  epochEnd,
  epochOf,
  epochPrice,
  epochStart,
  MAX_STREAM_MANIFEST_BYTES,
  parseStreamTopic,
  type ReadingSensorState,
  sensorPublicKeyHex,
  signReading,
  signSensorAttestation,
  signStreamManifest,
  spanEpochs,
  type StreamManifestBody,
  StreamProtocolError,
  type StreamReading,
  streamTopic,
  validateReading,
  validateStreamManifestBody,
  verifyReadingSignature,
  verifySensorAttestation,
  verifyStreamManifest,
} from "./streams.ts";
import { computeDekCommit } from "./quote.ts";

const CHAIN = 31337;
const gateway = privateKeyToAccount(generatePrivateKey());
const owner = privateKeyToAccount(generatePrivateKey());
const mallory = privateKeyToAccount(generatePrivateKey());
const PEER = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf";
const NOW = 1_800_000_000_000;

async function manifestBody(patch: Partial<StreamManifestBody> = {}): Promise<StreamManifestBody> {
  const sensors = [];
  for (
    const [sensorId, sensorKey] of [["temp-1", null], ["temp-2", `0x${"ab".repeat(32)}` as Hex]] as const
  ) {
    const a = { sensorId, owner: owner.address, gateway: gateway.address, sensorKey, issuedAt: NOW - 1000 };
    sensors.push({ ...a, label: sensorId, attestation: await signSensorAttestation(gateway, a, CHAIN) });
  }
  return {
    v: 1,
    title: "Roof weather",
    description: "Two thermometers",
    owner: owner.address,
    gateway: gateway.address,
    publisherPeer: PEER,
    sensors: sensors.map(({ gateway: _g, ...s }) => s),
    schema: [{ name: "celsius", type: "number" }, { name: "ok", type: "boolean" }],
    pricePerHour: "3600",
    epochSeconds: 5,
    licence: "CC-BY-4.0",
    createdAt: NOW,
    ...patch,
  };
}

Deno.test("a stream manifest signs, encodes to its stream id, decodes and verifies", async () => {
  const signed = await signStreamManifest(owner, await manifestBody());
  const { bytes, streamId } = encodeStreamManifest(signed);
  const cid = CID.createV1(0x71, await sha256.digest(bytes)).toString();
  assert.equal(streamId, cid);
  const decoded = decodeStreamManifest(bytes, streamId);
  assert.deepEqual(decoded.manifest, signed);
  assert.deepEqual(await verifyStreamManifest(decoded.manifest, CHAIN), signed);
  assert.equal(parseStreamTopic(streamTopic(streamId)), streamId);
  assert.throws(() => decodeStreamManifest(bytes, contentCidOf(bytes)), StreamProtocolError);
});

Deno.test("verifyStreamManifest refuses a changed body, a foreign signer and a forged attestation", async () => {
  const signed = await signStreamManifest(owner, await manifestBody());
  await assert.rejects(
    verifyStreamManifest({ ...signed, pricePerHour: "1" }, CHAIN),
    /not signed by its owner/,
  );
  const byMallory = await signStreamManifest(mallory, { ...(await manifestBody()), owner: mallory.address })
    .catch((e) => e);
  assert.ok(byMallory instanceof StreamProtocolError, "sensor owners must be the stream owner");
  await assert.rejects(verifyStreamManifest(signed, CHAIN + 1), /not attested by the gateway/);
  const body = await manifestBody();
  const forged = {
    ...body.sensors[0],
    attestation: await signSensorAttestation(
      mallory,
      attestationOf({ gateway: mallory.address }, body.sensors[0]),
      CHAIN,
    ),
  };
  const withForged = await signStreamManifest(owner, { ...body, sensors: [forged, body.sensors[1]] });
  await assert.rejects(verifyStreamManifest(withForged, CHAIN), /temp-1 is not attested/);
});

Deno.test("stream manifest validation rejects bad fields with the field named", async () => {
  const body = await manifestBody();
  const bad: [Partial<StreamManifestBody> | Record<string, unknown>, RegExp][] = [
    [{ epochSeconds: 0 }, /epochSeconds/],
    [{ epochSeconds: 86_401 }, /epochSeconds/],
    [{ schema: [] }, /schema/],
    [{ schema: [{ name: "ts", type: "number" }] }, /schema\[0\]\.name/],
    [{ schema: [{ name: "a b", type: "number" }] }, /schema\[0\]\.name/],
    [{ schema: [{ name: "__proto__", type: "number" }] }, /schema\[0\]\.name/],
    [{ schema: [{ name: "t", type: "timestamp" }] }, /schema\[0\]\.type/],
    [{ schema: [{ name: "A", type: "number" }, { name: "a", type: "number" }] }, /repeat/],
    [{ pricePerHour: "-1" }, /pricePerHour/],
    [{ publisherPeer: "not a peer" }, /publisherPeer/],
    [{ sensors: [body.sensors[0], body.sensors[0]] }, /repeat a sensor/],
    [{ extra: 1 }, /extra/],
  ];
  for (const [patch, message] of bad) {
    assert.throws(() => validateStreamManifestBody({ ...body, ...patch }), message, JSON.stringify(patch));
  }
});

Deno.test("decodeStreamManifest refuses non-canonical and oversized bytes", async () => {
  const signed = await signStreamManifest(owner, await manifestBody());
  const { bytes } = encodeStreamManifest(signed);
  assert.throws(() => decodeStreamManifest(new TextEncoder().encode(JSON.stringify(signed))), /not DAG-CBOR/);
  // An indefinite-length map decodes to the same value but is not the canonical encoding.
  const indefinite = new Uint8Array([0xbf, ...bytes.subarray(1), 0xff]);
  assert.throws(() => decodeStreamManifest(indefinite), StreamProtocolError);
  assert.throws(() => decodeStreamManifest(new Uint8Array(MAX_STREAM_MANIFEST_BYTES + 1)), /over the cap/);
  assert.equal(decodeStreamManifest(bytes).manifest.title, "Roof weather");
});

Deno.test("a sensor attestation verifies for its gateway and chain only", async () => {
  const a = {
    sensorId: "s1",
    owner: getAddress(owner.address),
    gateway: gateway.address,
    sensorKey: null,
    issuedAt: 5,
  };
  const sig = await signSensorAttestation(gateway, a, CHAIN);
  assert.equal(await verifySensorAttestation(a, sig, CHAIN), true);
  assert.equal(await verifySensorAttestation(a, sig, 1), false);
  assert.equal(await verifySensorAttestation({ ...a, owner: mallory.address }, sig, CHAIN), false);
  assert.equal(await verifySensorAttestation({ ...a, sensorKey: `0x${"00".repeat(32)}` }, sig, CHAIN), true);
  await assert.rejects(signSensorAttestation(mallory, a, CHAIN), /not its gateway/);
});

const SCHEMA = [{ name: "celsius", type: "number" }, { name: "n", type: "integer" }] as const;

function state(patch: Partial<ReadingSensorState> = {}): ReadingSensorState {
  return { schema: SCHEMA, sensorKey: null, lastTs: null, sealedBefore: null, ...patch };
}

Deno.test("validateReading names every rejection reason", () => {
  const ok = { sensorId: "s1", ts: NOW, values: { celsius: 20.5, n: 3 } };
  const check = (value: unknown, s = state()) =>
    validateReading(value, { sensor: (id) => (id === "s1" ? s : undefined), now: NOW });
  assert.deepEqual(check(ok), { ok: true, reading: { ...ok, sig: null } });
  const cases: [unknown, string, ReadingSensorState?][] = [
    [null, "malformed"],
    [{ ...ok, sensorId: "" }, "malformed"],
    [{ ...ok, sensorId: "nope" }, "unknown-sensor"],
    [{ ...ok, ts: 1.5 }, "malformed"],
    [{ ...ok, ts: "1" }, "malformed"],
    [{ ...ok, values: { celsius: 1 } }, "malformed"],
    [{ ...ok, values: { celsius: 1, n: 1.5 } }, "malformed"],
    [{ ...ok, values: { celsius: "1", n: 1 } }, "malformed"],
    [{ ...ok, values: { celsius: 1, n: 1, x: 1 } }, "malformed"],
    [{ ...ok, extra: true }, "malformed"],
    [{ ...ok, sig: "0x12" }, "malformed"],
    [{ ...ok, ts: NOW + 5001 }, "future"],
    [ok, "out-of-order", state({ lastTs: NOW })],
    [ok, "epoch-sealed", state({ sealedBefore: NOW + 1 })],
    [ok, "bad-signature", state({ sensorKey: `0x${"11".repeat(32)}` })],
  ];
  for (const [value, reason, s] of cases) {
    const result = check(value, s);
    assert.equal(result.ok ? "ok" : result.reason, reason, JSON.stringify(value));
  }
  assert.equal(check({ ...ok, ts: NOW + 5000 }).ok, true);
  assert.equal(check({ ...ok, values: { celsius: null, n: 1 } }).ok, true);
});

Deno.test("readings are signed and verified with Ed25519 over the canonical JSON", async () => {
  const pair = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  const key = await sensorPublicKeyHex(pair.publicKey);
  const reading: StreamReading = { sensorId: "s1", ts: 7, values: { z: 1, a: "x", m: true } };
  assert.equal(canonicalReadingJson(reading), '{"sensorId":"s1","ts":7,"values":{"a":"x","m":true,"z":1}}');
  const sig = await signReading(pair.privateKey, reading);
  assert.equal(await verifyReadingSignature({ ...reading, sig }, key), true);
  assert.equal(
    await verifyReadingSignature({ ...reading, values: { z: 2, a: "x", m: true }, sig }, key),
    false,
  );
  const other = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  assert.equal(
    await verifyReadingSignature({ ...reading, sig }, await sensorPublicKeyHex(other.publicKey)),
    false,
  );
  assert.equal(await verifyReadingSignature({ ...reading }, key), false);
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      "Ed25519",
      pair.privateKey,
      canonicalReadingBytes(reading) as Uint8Array<ArrayBuffer>,
    ),
  );
  assert.equal(sig, bytesToHex(raw));
});

Deno.test("epoch math, spans and per-epoch price", () => {
  assert.equal(epochOf(0, 5), 0);
  assert.equal(epochOf(4999, 5), 0);
  assert.equal(epochOf(5000, 5), 1);
  assert.equal(epochStart(3, 5), 15_000);
  assert.equal(epochEnd(3, 5), 20_000);
  assert.deepEqual(spanEpochs(12_000, 10, 5), { first: 2, last: 4 });
  assert.deepEqual(spanEpochs(10_000, 10, 5), { first: 2, last: 3 });
  assert.deepEqual(spanEpochs(10_000, 1, 5), { first: 2, last: 2 });
  assert.throws(() => spanEpochs(0, 745 * 3600, 3600), RangeError);
  assert.equal(epochPrice("3600", 5), 5n);
  assert.equal(epochPrice("1", 5), 1n);
  assert.equal(epochPrice("7200", 3600), 7200n);
  assert.throws(() => epochOf(1, 0), RangeError);
});

Deno.test("deriveEpochKey is HMAC-SHA256(secret, tag ‖ uint64be(epoch))", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const epoch = 123_456_789;
  const message = Buffer.concat([Buffer.from("kosmos.stream.epoch"), Buffer.alloc(8)]);
  message.writeBigUInt64BE(BigInt(epoch), message.length - 8);
  const expected = "0x" + createHmac("sha256", secret).update(message).digest("hex");
  assert.equal(await deriveEpochKey(secret, epoch), expected);
  assert.equal(await deriveEpochKey(bytesToHex(secret), epoch), expected);
  const keys = await deriveEpochKeys(secret, epoch - 1, epoch + 1);
  assert.equal(keys[1], expected);
  assert.equal(new Set(keys).size, 3);
  assert.equal(epochDekCommit(keys[0]), computeDekCommit([keys[0]]));
  assert.equal(epochDekCommit(keys[0]), keccak256(keys[0]));
  await assert.rejects(deriveEpochKey(new Uint8Array(31), 1), TypeError);
});

Deno.test("live batches decrypt only with their epoch key, stream, epoch and seq", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const streamId = encodeStreamManifest(await signStreamManifest(owner, await manifestBody())).streamId;
  const readings: StreamReading[] = [
    { sensorId: "temp-1", ts: 10, values: { celsius: 1.5, ok: true } },
    { sensorId: "temp-2", ts: 11, values: { celsius: -2, ok: null } },
  ];
  const dek = await deriveEpochKey(secret, 2);
  const batch = await encryptLiveBatch({ streamId, epoch: 2, seq: 9, readings }, dek);
  assert.equal(batch.iv.byteLength, 12);
  assert.deepEqual(await decryptLiveBatch(batch, dek), readings);
  const schema = [{ name: "celsius", type: "number" }, { name: "ok", type: "boolean" }] as const;
  assert.deepEqual(await decryptLiveBatch(batch, dek, schema), readings);
  await assert.rejects(decryptLiveBatch(batch, await deriveEpochKey(secret, 3)), StreamProtocolError);
  await assert.rejects(decryptLiveBatch({ ...batch, seq: 10 }, dek), /wrong key or altered/);
  await assert.rejects(decryptLiveBatch({ ...batch, epoch: 3 }, dek), /wrong key or altered/);
  const flipped = batch.ct.slice();
  flipped[0] ^= 1;
  await assert.rejects(decryptLiveBatch({ ...batch, ct: flipped }, dek), /wrong key or altered/);
  await assert.rejects(
    decryptLiveBatch(batch, dek, [{ name: "celsius", type: "integer" }]),
    /bad value|columns/,
  );
});

Deno.test("the epoch file is the sorted canonical NDJSON and its content CID is raw sha2-256", async () => {
  const readings: StreamReading[] = [
    { sensorId: "b", ts: 2, values: { v: 1 } },
    { sensorId: "a", ts: 2, values: { v: 2 } },
    { sensorId: "c", ts: 1, values: { v: 3 } },
  ];
  const bytes = encodeEpochFile(readings);
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"sensorId":"c","ts":1,"values":{"v":3}}\n' +
      '{"sensorId":"a","ts":2,"values":{"v":2}}\n' +
      '{"sensorId":"b","ts":2,"values":{"v":1}}\n',
  );
  assert.equal(contentCidOf(bytes), CID.createV1(0x55, await sha256.digest(bytes)).toString());
  assert.deepEqual(decodeEpochFile(bytes), [readings[2], readings[1], readings[0]]);
  assert.deepEqual(encodeEpochFile([]), new Uint8Array());
  assert.equal(contentCidOf(new Uint8Array()), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  for (
    const bad of [
      '{"sensorId":"a","ts":1,"values":{"v":1}}',
      '{"ts":1,"sensorId":"a","values":{"v":1}}\n',
      '{"sensorId":"a","ts":1.0,"values":{"v":1}}\n',
      '{"sensorId":"a","ts":1,"values":{"v":1},"x":1}\n',
      '{"sensorId":"a","ts":2,"values":{"v":1}}\n{"sensorId":"a","ts":1,"values":{"v":1}}\n',
      '{"sensorId":"a","ts":1,"values":{"v":1}}\n{"sensorId":"a","ts":1,"values":{"v":2}}\n',
    ]
  ) assert.throws(() => decodeEpochFile(new TextEncoder().encode(bad)), StreamProtocolError, bad);
});
