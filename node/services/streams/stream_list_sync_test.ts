/**
 * The stream list of `/kosmos/streams/1.0.0` between real libp2p hosts on loopback, each with a real SQLite
 * catalog: pages of stored announcements, each checked like gossip; requests rate limited per peer; nothing
 * stored from a peer answering forged or altered announcements.
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  decodeStreamsRequest,
  encodeStreamListResponse,
  encodeStreamManifest,
  signStreamAnnouncement,
  signStreamManifest,
  type StreamAnnouncement,
  STREAMS_PROTOCOL,
} from "../../../protocol/streams.ts";
import { openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createP2P, type P2P } from "../p2p/mod.ts";
import { createLogger } from "../../log.ts";
import { StreamCatalog } from "./catalog.ts";
import { StreamsProtocol, type StreamsProtocolInit } from "./protocol_handler.ts";
import { makeStream } from "./epochs_fixtures_test.ts";

const CHAIN_ID = 31337;
const log = createLogger({ level: "error" }).forComponent("kosmos:streams");

/** A server (its protocol started with `init`) and an asker connected to it, each with a catalog. */
async function pair(init: StreamsProtocolInit = {}) {
  const dirs: string[] = [];
  const nodes: { p2p: P2P; catalog: StreamCatalog; protocol: StreamsProtocol; close(): void }[] = [];
  for (let i = 0; i < 2; i++) {
    const dir = await Deno.makeTempDir({ prefix: "kosmos-stream-list-" });
    dirs.push(dir);
    const identity = await loadIdentity(dir);
    const p2p = createP2P({ identity, log }, { listen: ["/ip4/127.0.0.1/tcp/0"] });
    await p2p.start();
    const db = openDatabase(":memory:");
    const catalog = new StreamCatalog({ db, p2p, identity, chain: { chainId: CHAIN_ID }, log });
    const protocol = new StreamsProtocol({ p2p, catalog, log }, { timeout: 5000, ...init });
    nodes.push({ p2p, catalog, protocol, close: () => db.close() });
  }
  await nodes[0].protocol.start();
  await nodes[1].p2p.libp2p.dial(multiaddr(nodes[0].p2p.listenAddresses()[0]));
  return {
    server: nodes[0],
    asker: nodes[1],
    serverId: nodes[0].p2p.peerId.toString(),
    async [Symbol.asyncDispose]() {
      await nodes[0].protocol.stop();
      for (const n of nodes) {
        await n.p2p.stop();
        n.close();
      }
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    },
  };
}

async function announcements(count: number, publisherPeer: string): Promise<StreamAnnouncement[]> {
  const gateway = privateKeyToAccount(generatePrivateKey());
  const out: StreamAnnouncement[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      (await makeStream({ gateway, publisherPeer, chainId: CHAIN_ID, listingId: `${i + 1}` })).announcement,
    );
  }
  return out.sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
}

Deno.test("a node asks a peer for the streams it knows, page by page, and stores each announcement that checks", async () => {
  await using net = await pair();
  const list = await announcements(5, net.serverId);
  for (const a of list) await net.server.catalog.publishAnnouncement(a);

  // Pages of two: three requests, every stream in id order, `next` on all but the last.
  const first = net.server.protocol.answerStreams({ limit: 2 });
  assert.ok("streams" in first);
  assert.deepEqual(first.streams.map((a) => a.streamId), list.slice(0, 2).map((a) => a.streamId));
  assert.equal(first.next, list[1].streamId);
  const last = net.server.protocol.answerStreams({ after: list[3].streamId, limit: 2 });
  assert.ok("streams" in last);
  assert.deepEqual(last, { v: 1, streams: [list[4]] });

  assert.deepEqual(await net.asker.protocol.syncStreams(net.serverId, { limit: 2 }), {
    received: 5,
    stored: 5,
  });
  assert.deepEqual(
    net.asker.catalog.listStreams().map((r) => r.streamId).sort(),
    list.map((a) => a.streamId),
  );
  const known = net.asker.catalog.knownStream(list[2].streamId);
  assert.equal(known?.listingId, BigInt(list[2].listingId!));
  // Asked again: nothing new.
  assert.deepEqual(await net.asker.protocol.syncStreams(net.serverId), { received: 5, stored: 0 });
});

Deno.test("stream list requests are rate limited per peer", async () => {
  await using net = await pair({ listBurst: 2, listPerMinute: 1 });
  const [a] = await announcements(1, net.serverId);
  await net.server.catalog.publishAnnouncement(a);
  assert.deepEqual(await net.asker.protocol.syncStreams(net.serverId), { received: 1, stored: 1 });
  assert.deepEqual(await net.asker.protocol.syncStreams(net.serverId), { received: 1, stored: 0 });
  await assert.rejects(net.asker.protocol.syncStreams(net.serverId), {
    name: "EpochQueryError",
    message: /rate-limited/,
  });
});

Deno.test("a node stores nothing from a peer that answers the stream list with forged or altered announcements", async () => {
  await using net = await pair();
  // The "server" here lies: its handler answers whatever `answer` holds.
  await net.server.protocol.stop();
  let answer: StreamAnnouncement[] = [];
  await net.server.p2p.handle(STREAMS_PROTOCOL, async (s) => {
    const lp = lpStream(s);
    decodeStreamsRequest((await lp.read()).subarray());
    await lp.write(encodeStreamListResponse({ v: 1, streams: answer }));
    await s.close();
  });
  const gateway = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const genuine = await makeStream({
    gateway,
    publisherPeer: net.serverId,
    chainId: CHAIN_ID,
    listingId: "7",
  });
  const { signature: _signature, ...body } = genuine.announcement;

  // Another listing id under the owner's signature of the genuine one.
  answer = [{ ...genuine.announcement, listingId: "8" }];
  await assert.rejects(net.asker.protocol.syncStreams(net.serverId), {
    name: "EpochQueryError",
    message: /invalid announcement/,
  });
  // Signed by someone who is neither the owner nor the gateway.
  answer = [await signStreamAnnouncement(mallory, body)];
  await assert.rejects(net.asker.protocol.syncStreams(net.serverId), { message: /invalid announcement/ });
  // A manifest altered (its sensors claimed by mallory, who signs it) under the genuine stream id.
  const { signature: _manifestSignature, ...manifestBody } = genuine.manifest;
  const altered = encodeStreamManifest(
    await signStreamManifest(mallory, {
      ...manifestBody,
      owner: mallory.address,
      title: "Mine now",
      sensors: manifestBody.sensors.map((x) => ({ ...x, owner: mallory.address })),
    }),
  );
  answer = [await signStreamAnnouncement(mallory, { ...body, manifest: altered.bytes })];
  await assert.rejects(net.asker.protocol.syncStreams(net.serverId), { message: /invalid announcement/ });
  // The same manifest under its own id: its gateway attested the sensors to the genuine owner, not mallory.
  answer = [
    await signStreamAnnouncement(mallory, { ...body, streamId: altered.streamId, manifest: altered.bytes }),
  ];
  await assert.rejects(net.asker.protocol.syncStreams(net.serverId), { message: /invalid announcement/ });
  assert.equal(net.asker.catalog.listStreams().length, 0);

  // The genuine one is stored.
  answer = [genuine.announcement];
  assert.deepEqual(await net.asker.protocol.syncStreams(net.serverId), { received: 1, stored: 1 });
});
