/**
 * Sealed batches as blocks across real nodes on loopback. A proxy stores each
 * sealed batch as a content-addressed block and, while the site owner is
 * offline, hands a copy to the node closest to its CID; the batch survives
 * the proxy going away, and the owner gets every event exactly once from the
 * replica when it comes back. A block tampered with in transit is refused
 * until a valid copy is served; forged or misaddressed notices are rejected.
 * Sites are verified through proofs served by a local web server.
 */
import { pageview } from "../node/services/analytics/fixtures_test.ts";
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Stream } from "@libp2p/interface";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { type AnalyticsEvent, encodeSealedBatch } from "../protocol/analytics.ts";
import {
  type BatchNotice,
  type BatchReply,
  decodeBatchReply,
  encodeBatchNotice,
  INGEST_BLOCKS_PROTOCOL,
} from "../protocol/ingest.ts";
import { CHUNKS_PROTOCOL } from "../protocol/topics.ts";
import { createNode, type KosmosNode } from "../node/node.ts";
import { openDatabase } from "../node/services/db/mod.ts";
import { sealBatch } from "../node/services/ingest/mod.ts";
import { decodeRequest, OP_GET, Status } from "../protocol/chunks.ts";
import { startNetwork } from "./nodes.ts";
import { registerVerifiedSite, startProofServer } from "./site_proofs.ts";
import { signSealedBatch } from "../protocol/ingest.ts";
import { ownerFetch, readFilesUnder, testLogger, waitFor } from "./helpers.ts";

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

async function postEvents(node: KosmosNode, domain: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    const res = await fetch(`${node.url}/api/event`, {
      method: "POST",
      body: JSON.stringify({ n: "pageview", u: `https://${domain}${path}`, d: domain, r: null }),
      headers: { "Content-Type": "text/plain", "User-Agent": firefox },
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("x-kosmos-dropped"), null);
    await res.body?.cancel();
  }
  await node.components.ingest.flush();
}

function collect(node: KosmosNode): AnalyticsEvent[] {
  const events: AnalyticsEvent[] = [];
  node.components.ingest.onEvents((_site, batch) => events.push(...batch));
  return events;
}

/**
 * Two meshed nodes: B owns `domain` and A has learned it, so A proxies its
 * events; `received` collects what B stores.
 */
async function startSiteOwner(domain: string) {
  const proofs = await startProofServer();
  const net = await startNetwork(2, { siteProofOrigins: proofs.origins }).catch(async (err) => {
    await proofs.stop();
    throw err;
  });
  const stop = async () => {
    await net.stop();
    await proofs.stop();
  };
  try {
    await net.waitForMesh();
    const [a, b] = net.nodes;
    const received = collect(b);
    await registerVerifiedSite(b, proofs, domain);
    await waitFor("A to learn the site", () => a.components.sites.getSite(domain));
    return { ...net, a, b, received, proofs, stop, [Symbol.asyncDispose]: stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function assertNoPlaintext(node: KosmosNode, secret: string): Promise<void> {
  for (const bytes of await readFilesUnder(node.config.dataDir)) {
    assert.ok(
      !new TextDecoder("latin1").decode(bytes).includes(secret),
      "a data dir holds a plaintext event",
    );
  }
}

async function countPageviews(node: KosmosNode, domain: string): Promise<number> {
  const res = await ownerFetch(node, `/api/v2/query`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ site_id: domain, date_range: "day", metrics: ["pageviews"] }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).results[0].metrics[0];
}

/** Sends notices to `peerId` on one ingest block stream and returns the replies. */
async function sendNotices(from: KosmosNode, peerId: string, frames: Uint8Array[]): Promise<BatchReply[]> {
  const stream = await from.components.p2p.libp2p.dialProtocol(
    peerIdFromString(peerId),
    INGEST_BLOCKS_PROTOCOL,
  );
  const lp = lpStream(stream);
  const replies: BatchReply[] = [];
  try {
    for (const frame of frames) {
      await lp.write(frame);
      replies.push(decodeBatchReply((await lp.read()).subarray()));
    }
    await stream.close();
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
  return replies;
}

function notice(op: BatchNotice["op"], cid: string, site: string): Uint8Array {
  return encodeBatchNotice({ v: 2, op, cid, site });
}

Deno.test("a batch sealed while its owner is offline reaches the owner from a replica after the proxy stops", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(3, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [c, a, b] = net.nodes;
  const domain = "offline-owner.example";
  await registerVerifiedSite(b, proofs, domain);
  await waitFor(
    "A and C to learn the site",
    () => a.components.sites.getSite(domain) && c.components.sites.getSite(domain),
  );

  const bDir = b.config.dataDir;
  await b.stop();
  const secret = `/secret-${crypto.randomUUID()}`;
  await postEvents(a, domain, [secret, "/two", "/three"]);
  const [sealed] = a.components.ingest.listBatches();
  assert.equal(sealed.role, "proxy");
  assert.equal(sealed.peerId, b.peerId);
  const cid = CID.parse(sealed.cid);
  assert.equal(cid.code, 0x55, "a raw block");
  assert.ok(await a.components.blocks.has(cid), "the sealed batch is a block in A's store");

  // B is unreachable, so A hands a copy to C, which checks and stores it.
  await waitFor(
    "A to hand the batch to C",
    () => a.components.ingest.listBatches()[0].replicas.includes(c.peerId),
    {
      timeout: 20_000,
    },
  );
  const held = c.components.ingest.listBatches();
  assert.deepEqual(held.map((h) => [h.cid, h.role, h.peerId]), [[sealed.cid, "replica", b.peerId]]);
  assert.ok(await c.components.blocks.has(cid));
  await assertNoPlaintext(a, secret);
  await assertNoPlaintext(c, secret);
  await a.stop();

  // B comes back with the same data dir; only C holds the batch now.
  const b2 = await createNode({
    dataDir: bDir,
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: [c.components.p2p.listenAddresses()[0]],
    rpcUrl: net.anvil.rpcUrl,
    siteProofOrigins: proofs.origins,
  }, { logger: testLogger() });
  const received = collect(b2);
  await b2.start();
  try {
    assert.equal(b2.peerId, b.peerId);
    await waitFor("B to get the events from C", () => received.length >= 3, { timeout: 30_000 });
    assert.deepEqual(received.map((e) => e.pathname).sort(), [secret, "/three", "/two"].sort());
    await waitFor("C to see B's ack", () => c.components.ingest.listBatches()[0]?.ackedAt !== undefined);
    assert.equal(c.components.ingest.countOutbox(), 0);

    // A repeated notice (C forgot the ack) is acked again and records nothing twice.
    c.components.db.prepare("UPDATE ingest_batches SET acked_at = NULL").run();
    await c.components.ingest.deliverNow();
    assert.ok(c.components.ingest.listBatches()[0].ackedAt !== undefined);
    assert.equal(received.length, 3);
    assert.equal(await countPageviews(b2, domain), 3);
  } finally {
    await b2.stop();
  }
});

Deno.test("the owner refuses a block tampered with in transit and takes the valid copy later", async () => {
  const domain = "tamper.example";
  await using net = await startSiteOwner(domain);
  const { a, b, received } = net;

  // A serves every block with one byte flipped.
  const libp2p = a.components.p2p.libp2p;
  await libp2p.unhandle(CHUNKS_PROTOCOL);
  let served = 0;
  await libp2p.handle(CHUNKS_PROTOCOL, async (stream: Stream) => {
    const lp = lpStream(stream);
    try {
      for (;;) {
        const { op, cid } = decodeRequest((await lp.read()).subarray());
        if (op !== OP_GET || !(await a.components.blocks.has(cid))) {
          await lp.write(Uint8Array.of(Status.notFound));
          continue;
        }
        const bytes = new Uint8Array(await a.components.blocks.get(cid));
        bytes[bytes.length - 1] ^= 0xff;
        served++;
        await lp.writeV([Uint8Array.of(Status.ok), bytes]);
      }
    } catch {
      stream.abort(new Error("done"));
    }
  });

  await postEvents(a, domain, ["/one", "/two"]);
  await waitFor("B to refuse the tampered block", () => a.components.ingest.listBatches()[0]?.attempts >= 1, {
    timeout: 20_000,
  });
  assert.ok(served >= 1);
  assert.equal(received.length, 0);
  assert.equal(a.components.ingest.countOutbox(), 1);

  // The honest chunk server again: the same notice now succeeds, once.
  await libp2p.unhandle(CHUNKS_PROTOCOL);
  await a.components.transfer.start();
  await a.components.ingest.deliverNow();
  await waitFor("B to get the events", () => received.length >= 2);
  assert.deepEqual(received.map((e) => e.pathname), ["/one", "/two"]);
  assert.equal(a.components.ingest.countOutbox(), 0);
  assert.equal(await countPageviews(b, domain), 2);
});

Deno.test("the owner and replicas reject forged, misaddressed and malformed batch notices", async () => {
  const domain = "forged.example";
  await using net = await startSiteOwner(domain);
  const { a, b, received } = net;
  const event = pageview(Date.now(), "0123456789abcdef0123456789abcdef", "/forged", { hostname: domain });
  const wrongKey = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
  const wrongPublic = new Uint8Array(await crypto.subtle.exportKey("raw", wrongKey.publicKey));
  // Signed by A, a proxy, so that what is refused is the sealing and addressing, not the signature.
  const signer = { proxy: a.peerId, key: a.components.identity.privateKey };
  const put = async (site: string, publicKey: Uint8Array) =>
    (await a.components.blocks.put(
      encodeSealedBatch(
        await signSealedBatch(
          await sealBatch([event], { id: crypto.randomUUID().replaceAll("-", ""), site, publicKey }),
          signer,
          { from: event.ts, to: event.ts },
        ),
      ),
    )).toString();
  const ownerKey = b.components.sites.encryptionKey.publicKey;
  const notSealedToB = await put(domain, wrongPublic);
  const otherSite = await put("other.example", ownerKey);
  const notABatch = (await a.components.blocks.put(new TextEncoder().encode("not a sealed batch")))
    .toString();
  const missing = CID.createV1(0x55, await sha256.digest(crypto.getRandomValues(new Uint8Array(64))))
    .toString();

  const replies = await sendNotices(a, b.peerId, [
    notice("deliver", notSealedToB, domain),
    notice("deliver", otherSite, domain),
    notice("deliver", notABatch, domain),
    notice("deliver", notSealedToB, "unknown.example"),
    notice("hold", notSealedToB, "unknown.example"),
    notice("deliver", missing, domain),
  ]);
  assert.ok(
    "reject" in replies[0] && /not sealed to this node's key/.test(replies[0].reject),
    JSON.stringify(replies[0]),
  );
  assert.deepEqual(replies[1], { reject: "the block is a batch of another site" });
  assert.ok("reject" in replies[2], JSON.stringify(replies[2]));
  assert.deepEqual(replies[3], { reject: "this node does not own the site" });
  assert.deepEqual(replies[4], { reject: "this node does not know the site" });
  assert.ok("retry" in replies[5], JSON.stringify(replies[5]));

  // A malformed notice is rejected and ends the stream.
  const [bad] = await sendNotices(a, b.peerId, [new TextEncoder().encode("{}")]);
  assert.ok("reject" in bad);
  assert.equal(received.length, 0);
  assert.equal(b.components.ingest.listBatches().length, 0, "B holds none of the forged blocks");
});

Deno.test("batches an older version kept as bytes in SQLite become blocks, reach their owner after an upgrade, and are dropped after retention", async () => {
  const domain = "upgrade.example";
  await using net = await startSiteOwner(domain);
  const { a, b, received } = net;
  const aDir = a.config.dataDir;
  await a.stop();

  // What the previous version left in A's outbox: a sealed batch as a row.
  const id = "00112233445566778899aabbccddeeff";
  const event = pageview(Date.now(), "0123456789abcdef0123456789abcdef", "/before-upgrade", {
    hostname: domain,
  });
  const bytes = encodeSealedBatch(
    await sealBatch([event], { id, site: domain, publicKey: b.components.sites.encryptionKey.publicKey }),
  );
  const db = openDatabase(`${aDir}/kosmos.db`);
  db.prepare(
    "INSERT INTO ingest_outbox (id, site, peer_id, bytes, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(id, domain, b.peerId, bytes, Date.now(), Date.now());
  db.close();

  const a2 = await createNode({
    dataDir: aDir,
    port: 0,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: [b.components.p2p.listenAddresses()[0]],
    rpcUrl: net.anvil.rpcUrl,
    siteProofOrigins: net.proofs.origins,
  }, { logger: testLogger(), services: { ingest: { retention: 1000 } } });
  await a2.start();
  try {
    const [batch] = a2.components.ingest.listBatches();
    assert.equal(batch.peerId, b.peerId);
    assert.ok(await a2.components.blocks.has(CID.parse(batch.cid)), "the batch is a block now");
    const legacy = a2.components.db.prepare("SELECT COUNT(*) AS n FROM ingest_outbox").get() as { n: number };
    assert.equal(legacy.n, 0);
    await waitFor("B to get the event", () => received.length >= 1, { timeout: 20_000 });
    assert.deepEqual(received.map((e) => e.pathname), ["/before-upgrade"]);
    await waitFor("A to see B's ack", () => a2.components.ingest.countOutbox() === 0);
    // Acked batches are dropped after the retention period.
    await waitFor(
      "A to drop the acked batch",
      async () =>
        a2.components.ingest.listBatches().length === 0 &&
        !(await a2.components.blocks.has(CID.parse(batch.cid))),
    );
  } finally {
    await a2.stop();
  }
});
