/**
 * Attack: a peer fabricates analytics for a site it does not proxy. A site's
 * encryption key is public (it is in the site's announcement), so anyone can
 * seal made-up events to it. On the old code the owner's node took any batch
 * sealed to its key from any peer over the ingest protocols, and counted it
 * as real traffic: the attacker skipped the proxies' per-client rate limits
 * and bot filtering and could inflate (or poison) the statistics the owner
 * sells.
 *
 * Now every batch is signed by the proxy that sealed it, and the owner
 * counts events per proxy. The attacker sends its fabricated batches over
 * `/kosmos/ingest/2.0.0` (and the older inline `/kosmos/ingest/1.0.0`):
 * unsigned, signed with its own key while naming an honest proxy, and carrying
 * a genuine signature of that proxy lifted from one of its real batches. None
 * is counted. Signed honestly as itself, its events are attributed to it (never
 * to the honest proxy), stop at its daily quota, and stop entirely once the
 * owner blocks it from the site's page.
 */
import assert from "node:assert/strict";
import { lpStream } from "@libp2p/utils";
import { peerIdFromString } from "@libp2p/peer-id";
import {
  type AnalyticsEvent,
  decodeIngestReply,
  decodeSealedBatch,
  encodeSealedBatch,
  INGEST_PROTOCOL,
  type SealedBatch,
} from "../../protocol/analytics.ts";
import {
  type BatchReply,
  decodeBatchReply,
  encodeBatchNotice,
  INGEST_BLOCKS_PROTOCOL,
  signSealedBatch,
} from "../../protocol/ingest.ts";
import { sealBatch } from "../../node/services/ingest/mod.ts";
import { pageview } from "../../node/services/analytics/fixtures_test.ts";
import type { KosmosNode } from "../../node/node.ts";
import type { SiteProxyView } from "../../protocol/api/mod.ts";
import { CID } from "multiformats/cid";
import { startNetwork } from "../nodes.ts";
import { registerVerifiedSite, startProofServer } from "../site_proofs.ts";
import { ownerFetch, waitFor } from "../helpers.ts";

const DOMAIN = "stats.example";
const QUOTA = 6;
const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

/** Seals `count` made-up pageviews to the owner's public key, as a peer that read the site's announcement. */
async function fabricate(
  owner: KosmosNode,
  count: number,
): Promise<{ batch: SealedBatch; events: AnalyticsEvent[] }> {
  const now = Date.now();
  const events = Array.from(
    { length: count },
    (_, i) => pageview(now - i, crypto.randomUUID().replaceAll("-", ""), `/fake-${i}`, { hostname: DOMAIN }),
  );
  const batch = await sealBatch(events, {
    id: crypto.randomUUID().replaceAll("-", ""),
    site: DOMAIN,
    publicKey: owner.components.sites.encryptionKey.publicKey,
  });
  return { batch, events };
}

/** Stores `batch` as a block on the attacker's node and notifies the owner to fetch it. */
async function deliver(attacker: KosmosNode, owner: KosmosNode, batch: SealedBatch): Promise<BatchReply> {
  const cid = await attacker.components.blocks.put(encodeSealedBatch(batch));
  const stream = await attacker.components.p2p.libp2p.dialProtocol(
    peerIdFromString(owner.peerId),
    INGEST_BLOCKS_PROTOCOL,
  );
  const lp = lpStream(stream);
  await lp.write(encodeBatchNotice({ v: 2, op: "deliver", cid: cid.toString(), site: DOMAIN }));
  const reply = decodeBatchReply((await lp.read()).subarray());
  await stream.close();
  return reply;
}

/** Sends `batch` inline over the older protocol. */
async function deliverInline(attacker: KosmosNode, owner: KosmosNode, batch: SealedBatch) {
  const stream = await attacker.components.p2p.libp2p.dialProtocol(
    peerIdFromString(owner.peerId),
    INGEST_PROTOCOL,
  );
  const lp = lpStream(stream);
  await lp.write(encodeSealedBatch(batch));
  const reply = decodeIngestReply((await lp.read()).subarray());
  await stream.close();
  return reply;
}

Deno.test("an attacker peer's fabricated batches are refused unless signed as itself, then counted against its own quota until blocked", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(3, { siteProofOrigins: proofs.origins, proxyEventQuota: QUOTA }, {
    bootstrap: "all",
  });
  await net.waitForMesh();
  const [proxy, owner, attacker] = net.nodes;
  const stored: AnalyticsEvent[] = [];
  owner.components.ingest.onEvents((_site, events) => stored.push(...events));
  await registerVerifiedSite(owner, proofs, DOMAIN);
  await waitFor(
    "the proxy and the attacker to learn the site",
    () => proxy.components.sites.getSite(DOMAIN) && attacker.components.sites.getSite(DOMAIN),
  );

  // An honest visitor's pageview through the honest proxy.
  const res = await fetch(`${proxy.url}/api/event`, {
    method: "POST",
    body: JSON.stringify({ n: "pageview", u: `https://${DOMAIN}/real`, d: DOMAIN, r: null }),
    headers: { "Content-Type": "text/plain", "User-Agent": firefox },
  });
  assert.equal(res.status, 202);
  await res.body?.cancel();
  await proxy.components.ingest.flush();
  await waitFor("the owner to store the real pageview", () => stored.length === 1);
  const [real] = proxy.components.ingest.listBatches();
  const genuine = decodeSealedBatch(
    await proxy.components.blocks.get(CID.parse(real.cid)),
  );

  // 1. Unsigned, as the old code accepted it.
  const unsigned = await fabricate(owner, 2);
  assert.deepEqual(await deliver(attacker, owner, unsigned.batch), {
    reject: "Sealed batch is not signed by a proxy",
  });
  assert.deepEqual(await deliverInline(attacker, owner, unsigned.batch), {
    reject: "Sealed batch is not signed by a proxy",
  });
  // 2. Signed with the attacker's own key, naming the honest proxy.
  const posing = await fabricate(owner, 2);
  const selfSigned = await signSealedBatch(
    posing.batch,
    { proxy: proxy.peerId, key: attacker.components.identity.privateKey },
    { from: posing.events[1].ts, to: posing.events[0].ts },
  );
  assert.deepEqual(await deliver(attacker, owner, selfSigned), {
    reject: "Sealed batch's proxy signature does not verify",
  });
  // 3. The honest proxy's genuine signature, lifted onto a fabricated batch.
  const lifted = await fabricate(owner, 2);
  const forged: SealedBatch = {
    ...lifted.batch,
    v: 2,
    proxy: genuine.proxy,
    from: genuine.from,
    to: genuine.to,
    sig: genuine.sig,
  };
  assert.deepEqual(await deliver(attacker, owner, forged), {
    reject: "Sealed batch's proxy signature does not verify",
  });
  assert.deepEqual(await deliverInline(attacker, owner, forged), {
    reject: "Sealed batch's proxy signature does not verify",
  });
  assert.equal(stored.length, 1, "a fabricated event was counted");
  assert.deepEqual(
    owner.components.ingest.listProxies(DOMAIN).map((p) => [p.proxy, p.events]),
    [[proxy.peerId, 1]],
    "the honest proxy was charged",
  );

  // 4. Signed honestly as itself: attributed to the attacker and held to its quota.
  const own = async (count: number) => {
    const { batch, events } = await fabricate(owner, count);
    const signed = await signSealedBatch(
      batch,
      { proxy: attacker.peerId, key: attacker.components.identity.privateKey },
      { from: events.at(-1)!.ts, to: events[0].ts },
    );
    return await deliver(attacker, owner, signed);
  };
  assert.ok("ack" in await own(3));
  assert.ok("ack" in await own(3));
  const over = await own(3);
  assert.ok("retry" in over && /over its quota of 6 events a day/.test(over.retry), JSON.stringify(over));
  assert.equal(stored.length, 1 + QUOTA, "the quota did not hold");

  // Events outside the window the attacker signed are refused too.
  const { batch: early, events: earlyEvents } = await fabricate(owner, 1);
  const narrow = await signSealedBatch(
    early,
    { proxy: attacker.peerId, key: attacker.components.identity.privateKey },
    { from: earlyEvents[0].ts + 1, to: earlyEvents[0].ts + 2 },
  );
  assert.deepEqual(await deliver(attacker, owner, narrow), {
    reject: "the batch has events outside its signed time window",
  });

  // 5. The owner blocks the attacker from the site's page; its batches are refused from then on.
  const page = await (await ownerFetch(owner, `/sites/${DOMAIN}`, { headers: { Accept: "text/html" } }))
    .text();
  assert.match(page, new RegExp(`data-proxy="${attacker.peerId}"`));
  const blockAction = `/api/v1/sites/${DOMAIN}/proxies/${attacker.peerId}/block`;
  assert.ok(page.includes(`action="${blockAction}"`), "the page has no block button for the attacker");
  const blocked = await ownerFetch(owner, blockAction, { method: "POST" });
  assert.equal(blocked.status, 200);
  const { proxies } = await blocked.json() as { proxies: SiteProxyView[] };
  assert.deepEqual(
    proxies.map((p) => [p.peerId, p.events, p.blocked]),
    [[attacker.peerId, QUOTA, true], [proxy.peerId, 1, false]],
  );
  const after = await own(1);
  assert.deepEqual(after, { reject: `proxy ${attacker.peerId} is blocked for ${DOMAIN}` });
  assert.equal(stored.length, 1 + QUOTA);
  const listed = await (await ownerFetch(owner, `/api/v1/sites/${DOMAIN}/proxies`)).json();
  assert.ok(listed.proxies.find((p: { peerId: string }) => p.peerId === attacker.peerId).refused >= 3);

  // Bad input to the block API changes nothing.
  const bad = await ownerFetch(owner, `/api/v1/sites/${DOMAIN}/proxies/not-a-peer/block`, { method: "POST" });
  assert.equal(bad.status, 422);
  await bad.body?.cancel();
  const unknown = await ownerFetch(owner, `/api/v1/sites/unknown.example/proxies/${attacker.peerId}/block`, {
    method: "POST",
  });
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
  assert.equal(owner.components.ingest.listProxies(DOMAIN).filter((p) => p.blocked).length, 1);
});
