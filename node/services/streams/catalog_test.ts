import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  contentCidOf,
  deriveEpochKey,
  encodeEpochFile,
  epochDekCommit,
  epochOf,
  signEpochSealed,
  signStreamAnnouncement,
  STREAMS_TOPIC,
} from "../../../protocol/streams.ts";
import { openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createP2P } from "../p2p/mod.ts";
import { createLogger } from "../../log.ts";
import { StreamCatalog } from "./catalog.ts";
import { makeReadings, makeStream } from "./epochs_fixtures_test.ts";

const CHAIN_ID = 31337;
const MANIFEST_CID = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

async function setup(init: { maxStreams?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "kosmos-stream-catalog-" });
  const identity = await loadIdentity(dir);
  const log = createLogger({ level: "error" }).forComponent("kosmos:streams");
  // Not started: the catalog reads its peer id; its gossip publishes fail quietly (no peers).
  const p2p = createP2P({ identity, log });
  const db = openDatabase(":memory:");
  const watched: string[] = [];
  const catalog = new StreamCatalog({
    db,
    p2p,
    identity,
    chain: { chainId: CHAIN_ID },
    replication: { watch: (cid) => void watched.push(cid) },
    log,
  }, init);
  return {
    identity,
    catalog,
    watched,
    async [Symbol.asyncDispose]() {
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function sealedOf(
  gateway: Parameters<typeof signEpochSealed>[0],
  streamId: string,
  epoch: number,
  key: `0x${string}`,
) {
  const bytes = encodeEpochFile(makeReadings("s1", epoch * 2000, 3));
  return await signEpochSealed(gateway, {
    v: 1,
    type: "epoch-sealed",
    streamId,
    epoch,
    manifestCid: MANIFEST_CID,
    contentCid: contentCidOf(bytes),
    rows: 3,
    dekCommit: epochDekCommit(key),
    gateway: gateway.address,
  });
}

Deno.test("StreamCatalog.registerOwnStream() keeps a secret whose epoch keys follow the HMAC derivation, for own streams only", async () => {
  await using t = await setup();
  const { catalog, identity } = t;
  const own = await makeStream({
    gateway: identity.account,
    publisherPeer: identity.peerId.toString(),
    chainId: CHAIN_ID,
  });
  const stranger = privateKeyToAccount(generatePrivateKey());
  const other = await makeStream({
    gateway: stranger,
    publisherPeer: identity.peerId.toString(),
    chainId: CHAIN_ID,
  });
  assert.throws(() => catalog.registerOwnStream(other.bytes), /not its gateway/);
  assert.equal(catalog.registerOwnStream(own.bytes), own.streamId);
  assert.equal(catalog.registerOwnStream(own.bytes, { listingId: "7" }), own.streamId); // idempotent
  const secret = catalog.store.getSecret(own.streamId)!;
  assert.equal(secret.byteLength, 32);
  assert.equal(await catalog.epochKey(own.streamId, 5), await deriveEpochKey(secret, 5));
  assert.notEqual(await catalog.epochKey(own.streamId, 5), await catalog.epochKey(own.streamId, 6));
  assert.equal(catalog.knownStream(own.streamId)?.listingId, 7n);
  assert.equal(catalog.streamOfSensor("s1"), own.streamId);
  assert.equal(catalog.streamOfSensor("nope"), undefined);
  assert.equal(catalog.isOwn(own.streamId), true);
  await assert.rejects(catalog.epochKey(other.streamId, 1), { name: "NotFoundError" });
});

Deno.test("StreamCatalog.publishAnnouncement() stores a verified announcement and refuses a forged one, storing nothing", async () => {
  await using t = await setup();
  const { catalog, identity } = t;
  const gateway = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({ gateway, publisherPeer: identity.peerId.toString(), chainId: CHAIN_ID });
  const mallory = privateKeyToAccount(generatePrivateKey());
  const { signature: _, ...body } = stream.announcement;
  const forged = await signStreamAnnouncement(mallory, body);
  await assert.rejects(catalog.publishAnnouncement(forged), { name: "StreamProtocolError" });
  assert.equal(catalog.knownStream(stream.streamId), undefined);
  // Attested on another chain: the sensors' attestations do not verify here.
  const elsewhere = await makeStream({ gateway, publisherPeer: identity.peerId.toString(), chainId: 1 });
  await assert.rejects(catalog.publishAnnouncement(elsewhere.announcement), /not attested/);
  await catalog.publishAnnouncement(stream.announcement);
  const known = catalog.knownStream(stream.streamId)!;
  assert.deepEqual(known.manifest, stream.manifest);
  assert.equal(known.listingId, null);
  assert.equal(catalog.getStream(stream.streamId).mine, false);
  assert.equal(catalog.streamOfSensor("s1"), undefined, "a sensor of another gateway's stream");
});

Deno.test("StreamCatalog.ingestSealed() stores only epochs signed by the stream's gateway, once, and watches their datasets", async () => {
  await using t = await setup();
  const { catalog, identity, watched } = t;
  const gateway = privateKeyToAccount(generatePrivateKey());
  const stream = await makeStream({ gateway, publisherPeer: identity.peerId.toString(), chainId: CHAIN_ID });
  const key = await deriveEpochKey(crypto.getRandomValues(new Uint8Array(32)), 3);
  const past = epochOf(Date.now(), 2) - 10;
  const sealed = await sealedOf(gateway, stream.streamId, past, key);
  assert.deepEqual(await catalog.ingestSealed(sealed), { result: "ignore", reason: "unknown stream" });

  await catalog.publishAnnouncement(stream.announcement);
  const mallory = privateKeyToAccount(generatePrivateKey());
  const byMallory = await sealedOf(mallory, stream.streamId, past, key);
  assert.equal((await catalog.ingestSealed(byMallory)).result, "reject");
  const altered = { ...sealed, rows: 4 };
  assert.equal((await catalog.ingestSealed(altered)).result, "reject");
  const future = await sealedOf(gateway, stream.streamId, epochOf(Date.now(), 2) + 1000, key);
  assert.equal((await catalog.ingestSealed(future)).result, "reject");
  assert.equal(catalog.getEpoch(stream.streamId, past), undefined);

  catalog.recordOpened(stream.streamId, past, epochDekCommit(key).toUpperCase() as `0x${string}`);
  assert.equal(catalog.commitOf(stream.streamId, past), epochDekCommit(key));
  assert.deepEqual(await catalog.ingestSealed(sealed), { result: "accept" });
  assert.deepEqual(await catalog.ingestSealed(sealed), { result: "ignore", reason: "known" });
  const row = catalog.getEpoch(stream.streamId, past)!;
  assert.equal(row.rows, 3);
  assert.equal(row.dekCommit, epochDekCommit(key));
  assert.deepEqual(watched, [MANIFEST_CID]);
  assert.deepEqual(catalog.listEpochs(stream.streamId, 0, past + 5).map((e) => e.epoch), [past]);
  assert.equal(catalog.store.lastSealedEpoch(stream.streamId), past);
});

Deno.test("StreamCatalog keeps at most maxStreams streams of other nodes, dropping the one seen longest ago, never its own", async () => {
  await using t = await setup({ maxStreams: 2 });
  const { catalog, identity } = t;
  const own = await makeStream({
    gateway: identity.account,
    publisherPeer: identity.peerId.toString(),
    chainId: CHAIN_ID,
  });
  catalog.registerOwnStream(own.bytes);
  const gateway = privateKeyToAccount(generatePrivateKey());
  const others = [];
  for (let i = 0; i < 3; i++) {
    const s = await makeStream({ gateway, publisherPeer: identity.peerId.toString(), chainId: CHAIN_ID });
    await catalog.publishAnnouncement(s.announcement);
    others.push(s);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(catalog.knownStream(others[0].streamId), undefined);
  assert.ok(catalog.knownStream(others[1].streamId));
  assert.ok(catalog.knownStream(others[2].streamId));
  assert.ok(catalog.knownStream(own.streamId));
  assert.equal(catalog.listStreams().length, 3);
});

Deno.test("StreamCatalog takes stream announcements and sealed epochs from gossip, at most newStreamBurst new streams per peer", async () => {
  const dirs: string[] = [];
  const nodes = [];
  const log = createLogger({ level: "error" }).forComponent("kosmos:streams");
  for (let i = 0; i < 2; i++) {
    const dir = await Deno.makeTempDir({ prefix: "kosmos-stream-gossip-" });
    dirs.push(dir);
    const identity = await loadIdentity(dir);
    const p2p = createP2P({ identity, log }, { listen: ["/ip4/127.0.0.1/tcp/0"] });
    await p2p.start();
    const db = openDatabase(":memory:");
    const catalog = new StreamCatalog({ db, p2p, identity, chain: { chainId: CHAIN_ID }, log }, {
      newStreamBurst: 2,
      newStreamsPerMinute: 0.001,
    });
    await catalog.start();
    nodes.push({ identity, p2p, db, catalog });
  }
  const [a, b] = nodes;
  try {
    await b.p2p.libp2p.dial(multiaddr(a.p2p.listenAddresses()[0]));
    const deadline = Date.now() + 10_000;
    while (!a.p2p.topicPeers(STREAMS_TOPIC).includes(b.p2p.peerId.toString())) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the topic mesh");
      await new Promise((r) => setTimeout(r, 20));
    }
    const streams = [];
    for (let i = 0; i < 3; i++) {
      const s = await makeStream({
        gateway: a.identity.account,
        publisherPeer: a.p2p.peerId.toString(),
        chainId: CHAIN_ID,
      });
      a.catalog.registerOwnStream(s.bytes);
      await a.catalog.publishAnnouncement(s.announcement);
      streams.push(s);
    }
    // An EpochSealed of a stream not known yet is ignored (it is asked for later): wait for the streams.
    while (b.catalog.listStreams().length < 2) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the streams");
      await new Promise((r) => setTimeout(r, 20));
    }
    const key = await a.catalog.epochKey(streams[0].streamId, 3);
    const past = epochOf(Date.now(), 2) - 3;
    await a.catalog.publishSealed(await sealedOf(a.identity.account, streams[0].streamId, past, key));
    while (!b.catalog.getEpoch(streams[0].streamId, past)) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the sealed epoch");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(b.catalog.knownStream(streams[0].streamId));
    assert.ok(b.catalog.knownStream(streams[1].streamId));
    assert.equal(b.catalog.knownStream(streams[2].streamId), undefined, "a third new stream from one peer");
    assert.equal(b.catalog.getStream(streams[0].streamId).mine, false);
    assert.equal(b.catalog.commitOf(streams[0].streamId, past), epochDekCommit(key));
  } finally {
    for (const n of nodes) {
      await n.catalog.stop();
      await n.p2p.stop();
      n.db.close();
    }
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});
