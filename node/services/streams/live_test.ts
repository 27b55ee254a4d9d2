import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  deriveEpochKey,
  epochDekCommit,
  epochOf,
  signEpochOpened,
  type StreamReading,
  streamTopic,
} from "../../../protocol/streams.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createP2P, type P2P } from "../p2p/mod.ts";
import { createLogger } from "../../log.ts";
import { LiveChannel, LivePublisher, type LiveReadings } from "./live.ts";
import { makeReadings, SCHEMA } from "./epochs_fixtures_test.ts";

const STREAM_ID = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
const EPOCH_SECONDS = 3600;
const log = createLogger({ level: "error" }).forComponent("kosmos:streams");

async function until(what: string, check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Two real libp2p hosts on loopback, connected: a gateway and a buyer. */
async function pair() {
  const dirs: string[] = [];
  const hosts: P2P[] = [];
  const identities = [];
  for (let i = 0; i < 2; i++) {
    const dir = await Deno.makeTempDir({ prefix: "kosmos-live-" });
    dirs.push(dir);
    const identity = await loadIdentity(dir);
    identities.push(identity);
    const p2p = createP2P({ identity, log }, { listen: ["/ip4/127.0.0.1/tcp/0"] });
    await p2p.start();
    hosts.push(p2p);
  }
  await hosts[1].libp2p.dial(multiaddr(hosts[0].listenAddresses()[0]));
  return {
    gateway: hosts[0],
    buyer: hosts[1],
    wallet: identities[0].account,
    async [Symbol.asyncDispose]() {
      for (const h of hosts) await h.stop();
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    },
  };
}

Deno.test("LivePublisher batches readings (at once at maxBatch, else after flushInterval) and a LiveChannel decrypts them for held epochs only", async () => {
  await using net = await pair();
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const now = Date.now();
  const current = epochOf(now, EPOCH_SECONDS);
  const publisher = new LivePublisher({
    p2p: net.gateway,
    log,
    epochKey: (_id, epoch) => deriveEpochKey(secret, epoch),
    epochSeconds: () => EPOCH_SECONDS,
  }, { flushInterval: 2000, maxBatch: 50 });
  const held = new Map<number, Hex>([[current, await deriveEpochKey(secret, current)]]);
  const got: LiveReadings[] = [];
  const opened: number[] = [];
  const channel = new LiveChannel({ p2p: net.buyer, log }, {
    streamId: STREAM_ID,
    manifest: { publisherPeer: net.gateway.peerId.toString(), gateway: net.wallet.address, schema: SCHEMA },
    keyFor: (epoch) => held.get(epoch),
    onReadings: (batch) => void got.push(batch),
    onEpochOpened: (o) => void opened.push(o.epoch),
  });
  channel.open();
  await until("the buyer on the topic", () => net.gateway.topicPeers(streamTopic(STREAM_ID)).length === 1);

  // 30 readings wait for more; 30 more make a full batch: everything queued goes out at once (50 + 10).
  const readings = makeReadings("s1", now, 80, 1);
  const pushedAt = performance.now();
  publisher.push(STREAM_ID, readings.slice(0, 30));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.length, 0, "a batch under maxBatch went out before the flush interval");
  publisher.push(STREAM_ID, readings.slice(30, 60));
  await until("the full batch", () => got.length >= 2, 5000);
  assert.ok(performance.now() - pushedAt < 1500, "the full batch waited for the flush interval");
  // The last 20 go out when the flush interval (2 s) after their first reading ends.
  const lastAt = performance.now();
  publisher.push(STREAM_ID, readings.slice(60));
  await until("the rest", () => got.length === 3, 5000);
  assert.ok(performance.now() - lastAt >= 1900, "a partial batch went out before the flush interval");
  assert.deepEqual(got.map((b) => b.readings.length), [50, 10, 20]);
  assert.deepEqual(got.map((b) => b.seq), [0, 1, 2]);
  assert.deepEqual(got.flatMap((b) => b.readings), readings);

  // Readings of the next epoch (no key held here) go out but are not decrypted.
  const next: StreamReading[] = makeReadings("s2", (current + 1) * EPOCH_SECONDS * 1000, 3);
  publisher.push(STREAM_ID, next);
  await until("the batch without a key", () => channel.stats.withoutKey === 1, 5000);
  assert.equal(got.length, 3);
  assert.equal(publisher.stats.readings, 83);

  // An EpochOpened signed by the gateway's wallet is passed on; one signed by another is dropped.
  const key = await deriveEpochKey(secret, current + 1);
  const body = { v: 1 as const, type: "epoch-opened" as const, streamId: STREAM_ID, epoch: current + 1 };
  const stranger = privateKeyToAccount(generatePrivateKey());
  await publisher.publishOpened(
    await signEpochOpened(stranger, { ...body, epoch: current + 5, dekCommit: epochDekCommit(key) }),
  );
  await publisher.publishOpened(
    await signEpochOpened(net.wallet, { ...body, dekCommit: epochDekCommit(key) }),
  );
  await until("the opened epoch", () => opened.length === 1 && channel.stats.failed === 1, 5000);
  assert.deepEqual(opened, [current + 1]);
  await publisher.stop();
  channel.close();
  assert.equal(channel.isOpen, false);
  assert.equal(
    net.buyer.libp2p.services.pubsub.topicValidators.has(net.buyer.protocolId(streamTopic(STREAM_ID))),
    false,
  );
});
