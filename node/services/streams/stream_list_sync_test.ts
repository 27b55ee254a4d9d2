/**
 * The stream list of `/kosmos/streams/1.0.0` between real libp2p hosts on loopback, each with a real SQLite
 * catalog: pages of stored announcements, each checked like gossip; requests rate limited per peer; nothing
 * stored from a peer answering forged or altered announcements.
 */
import assert from "node:assert/strict";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  decodeStreamsRequest,
  encodeStreamListResponse,
  encodeStreamManifest,
  signStreamAnnouncement,
  signStreamManifest,
  type StreamAnnouncement,
} from "../../../protocol/streams.ts";
import { makeStream } from "./epochs_fixtures_test.ts";
import { answerWith, CHAIN_ID, startProtocolHosts } from "./protocol_fixtures_test.ts";

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
  await using net = await startProtocolHosts(2);
  const [server, asker] = net.hosts;
  const list = await announcements(5, server.peerId);
  for (const a of list) await server.catalog.publishAnnouncement(a);

  // Pages of two: three requests, every stream in id order, `next` on all but the last.
  const first = server.protocol.answerStreams({ limit: 2 });
  assert.ok("streams" in first);
  assert.deepEqual(first.streams.map((a) => a.streamId), list.slice(0, 2).map((a) => a.streamId));
  assert.equal(first.next, list[1].streamId);
  const last = server.protocol.answerStreams({ after: list[3].streamId, limit: 2 });
  assert.ok("streams" in last);
  assert.deepEqual(last, { v: 1, streams: [list[4]] });

  assert.deepEqual(await asker.protocol.syncStreams(server.peerId, { limit: 2 }), {
    received: 5,
    stored: 5,
  });
  assert.deepEqual(
    asker.catalog.listStreams().map((r) => r.streamId).sort(),
    list.map((a) => a.streamId),
  );
  const known = asker.catalog.knownStream(list[2].streamId);
  assert.equal(known?.listingId, BigInt(list[2].listingId!));
  // Asked again: nothing new.
  assert.deepEqual(await asker.protocol.syncStreams(server.peerId), { received: 5, stored: 0 });
});

Deno.test("stream list requests are rate limited per peer", async () => {
  await using net = await startProtocolHosts(2, { listBurst: 2, listPerMinute: 1 });
  const [server, asker] = net.hosts;
  const [a] = await announcements(1, server.peerId);
  await server.catalog.publishAnnouncement(a);
  assert.deepEqual(await asker.protocol.syncStreams(server.peerId), { received: 1, stored: 1 });
  assert.deepEqual(await asker.protocol.syncStreams(server.peerId), { received: 1, stored: 0 });
  await assert.rejects(asker.protocol.syncStreams(server.peerId), {
    name: "EpochQueryError",
    message: /rate-limited/,
  });
});

Deno.test("a node stores nothing from a peer that answers the stream list with forged or altered announcements", async () => {
  await using net = await startProtocolHosts(2);
  const [server, asker] = net.hosts;
  // The "server" here lies: its handler answers whatever `answer` holds.
  let answer: StreamAnnouncement[] = [];
  await answerWith(server, (request) => {
    decodeStreamsRequest(request);
    return encodeStreamListResponse({ v: 1, streams: answer });
  });
  const gateway = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const genuine = await makeStream({
    gateway,
    publisherPeer: server.peerId,
    chainId: CHAIN_ID,
    listingId: "7",
  });
  const { signature: _signature, ...body } = genuine.announcement;

  // Another listing id under the owner's signature of the genuine one.
  answer = [{ ...genuine.announcement, listingId: "8" }];
  await assert.rejects(asker.protocol.syncStreams(server.peerId), {
    name: "EpochQueryError",
    message: /invalid announcement/,
  });
  // Signed by someone who is neither the owner nor the gateway.
  answer = [await signStreamAnnouncement(mallory, body)];
  await assert.rejects(asker.protocol.syncStreams(server.peerId), { message: /invalid announcement/ });
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
  await assert.rejects(asker.protocol.syncStreams(server.peerId), { message: /invalid announcement/ });
  // The same manifest under its own id: its gateway attested the sensors to the genuine owner, not mallory.
  answer = [
    await signStreamAnnouncement(mallory, { ...body, streamId: altered.streamId, manifest: altered.bytes }),
  ];
  await assert.rejects(asker.protocol.syncStreams(server.peerId), { message: /invalid announcement/ });
  assert.equal(asker.catalog.listStreams().length, 0);

  // The genuine one is stored.
  answer = [genuine.announcement];
  assert.deepEqual(await asker.protocol.syncStreams(server.peerId), { received: 1, stored: 1 });
});
