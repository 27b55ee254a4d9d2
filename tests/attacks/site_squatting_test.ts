/**
 * Attack: a node claims a website domain it does not control, to receive
 * (and sell) that site's visitors. On the old code the first announcement of
 * a domain won: the squatter announced "victim.example" before its real
 * owner, every node stored the squatter as the site's owner, and the real
 * owner's registration was refused as a conflict.
 *
 * Now a node accepts a site only when the domain itself publishes a proof
 * (`/.well-known/kosmos-site.json`, signed by the owner's node key) naming
 * the same owner, node and key. The test serves the domain's proofs from a
 * local web server standing in for the website. The attacker tries: to
 * announce first (no proof: nobody accepts it, and announcing again and again
 * does not make nodes hammer the site); then, once the real owner's proof is
 * published, to replay it with its own wallet, peer and key, over gossip and
 * over sync, and to forge a proof naming itself with the owner's signature;
 * and to flood a node with announcements of many domains, which makes it look
 * up no more than a burst of proofs for that peer.
 */
import assert from "node:assert/strict";
import {
  encodeSiteAnnouncement,
  parseSiteProof,
  signSiteAnnouncement,
  SITES_TOPIC,
  verifySiteProof,
} from "../../protocol/sites.ts";
import type { KosmosNode } from "../../node/node.ts";
import { SiteStore } from "../../node/services/sites/store.ts";
import { startNetwork } from "../nodes.ts";
import { startProofServer } from "../site_proofs.ts";
import { ownerFetch, waitFor } from "../helpers.ts";

const DOMAIN = "victim.example";

/** The attacker's own announcement of DOMAIN: its wallet, its node, its key; validly signed. */
async function squat(attacker: KosmosNode, timestamp: number, domain = DOMAIN) {
  const key = Array.from(
    attacker.components.sites.encryptionKey.publicKey,
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const announcement = await signSiteAnnouncement(
    attacker.components.identity.account,
    attacker.components.identity.privateKey,
    {
      v: 1,
      domain,
      owner: attacker.address as never,
      peerId: attacker.peerId,
      encryptionKey: `0x${key}`,
      timestamp,
    },
  );
  return { announcement, bytes: encodeSiteAnnouncement(announcement) };
}

Deno.test("a node that announces a domain it does not control is accepted by no node; the domain's real owner is", async () => {
  await using proofs = await startProofServer();
  // A failed or outdated look for a domain's proof is trusted for 1 s here (1 minute by default).
  await using net = await startNetwork(3, { siteProofOrigins: proofs.origins }, {
    bootstrap: "all",
    services: { sites: { proofFailureTtl: 1000 } },
  });
  await net.waitForMesh();
  const [observer, owner, attacker] = net.nodes;

  // 1. The attacker announces the domain first, over gossip, many times.
  await waitFor(
    "peers to join the sites topic",
    () => attacker.components.p2p.topicPeers(SITES_TOPIC).length >= 2,
  );
  for (let i = 0; i < 20; i++) {
    await attacker.components.p2p.publish(SITES_TOPIC, (await squat(attacker, Date.now() + i)).bytes);
  }
  await waitFor("both nodes to look for the domain's proof", () => proofs.requests(DOMAIN) >= 2);
  await new Promise((r) => setTimeout(r, 300));
  for (const node of [observer, owner]) {
    assert.equal(node.components.sites.getSite(DOMAIN), undefined, "a node accepted the squatter");
  }
  assert.ok(
    proofs.requests(DOMAIN) <= 4,
    `20 announcements made the nodes fetch the domain ${proofs.requests(DOMAIN)} times`,
  );
  await new Promise((r) => setTimeout(r, 1000)); // the failed looks expire

  // 2. The real owner registers: pending until the domain publishes its proof, then accepted everywhere.
  const registered = await (await ownerFetch(owner, "/api/v1/sites", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ domain: DOMAIN }),
  })).json();
  assert.equal(registered.status, "pending");
  proofs.publish(DOMAIN, registered.proof);
  const checked = await (await ownerFetch(owner, `/api/v1/sites/${DOMAIN}/check`, { method: "POST" })).json();
  assert.equal(checked.status, "verified");
  await waitFor(
    "the observer to accept the real owner",
    () => observer.components.sites.getSite(DOMAIN)?.peerId === owner.peerId,
    { timeout: 15_000 },
  );

  // 3. The attacker replays the published proof with its own wallet, peer and key: over gossip…
  await attacker.components.p2p.publish(SITES_TOPIC, (await squat(attacker, Date.now() + 60_000)).bytes);
  // …and over sync, from its own store, where a modified node keeps it as if verified.
  const forged = await squat(attacker, Date.now() + 120_000);
  new SiteStore(attacker.components.db, { maxSites: 10 }).putSite(forged.announcement, forged.bytes, {
    timestamp: Date.now() + 120_000,
    verifiedAt: Date.now(),
  });
  const synced = await observer.components.sites.syncWith(attacker.peerId);
  assert.equal(synced.accepted, 0, "the observer took a site announcement from the attacker's sync");
  for (const node of [observer, owner]) {
    const site = node.components.sites.getSite(DOMAIN);
    assert.equal(site?.peerId, owner.peerId, "the attacker replaced the real owner");
    assert.equal(site?.owner, owner.address);
  }

  // 4. A proof naming the attacker but carrying the owner's signature does not verify.
  const proof = parseSiteProof(registered.proof);
  await assert.rejects(
    verifySiteProof({ ...proof, peerId: attacker.peerId }, { domain: DOMAIN }),
    /not signed by the node it names/,
  );
  await assert.rejects(
    verifySiteProof({ ...proof, owner: attacker.address as never }, { domain: DOMAIN }),
    /not signed by the node it names/,
  );
  await assert.rejects(verifySiteProof(proof, { domain: "other.example" }), /not "other\.example"/);

  // 5. The attacker's own node cannot claim it either: its registration stays pending.
  const mine = await attacker.facade.registerSite(DOMAIN);
  assert.equal(mine.status, "pending");
  assert.match(mine.proofError ?? "", /names another node/);
  assert.equal(attacker.components.sites.getSite(DOMAIN), undefined, "its own forged row is withdrawn");
});

Deno.test("when the domain publishes another node's newer proof, that node replaces the earlier holder", async () => {
  await using proofs = await startProofServer();
  // A failed or outdated look for a domain's proof is trusted for 1 s here (1 minute by default).
  await using net = await startNetwork(3, { siteProofOrigins: proofs.origins }, {
    bootstrap: "all",
    services: { sites: { proofFailureTtl: 1000 } },
  });
  await net.waitForMesh();
  const [observer, first, second] = net.nodes;
  const domain = "sold.example";
  const one = await first.facade.registerSite(domain);
  proofs.publish(domain, one.proof);
  assert.equal((await first.facade.checkSite(domain)).status, "verified");
  await waitFor(
    "the observer to accept the first owner",
    () => observer.components.sites.getSite(domain)?.peerId === first.peerId,
  );

  // The domain changes hands: its new owner publishes a newer proof.
  const two = await second.facade.registerSite(domain);
  assert.equal(two.status, "pending");
  proofs.publish(domain, two.proof);
  await new Promise((r) => setTimeout(r, 1000)); // the observer's look at the first proof is 1 s old
  assert.equal((await second.facade.checkSite(domain)).status, "verified");
  await waitFor(
    "the observer to move the site to the new owner",
    () => observer.components.sites.getSite(domain)?.peerId === second.peerId,
    { timeout: 15_000 },
  );
  // The old holder finds out on its next check and withdraws.
  const old = await first.facade.checkSite(domain);
  assert.equal(old.status, "pending");
  assert.equal(first.components.sites.getSite(domain)?.peerId, second.peerId);
});

Deno.test("sites are checked again: kept while their domain is unreachable, dropped once it names another node", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(3, { siteProofOrigins: proofs.origins }, {
    bootstrap: "all",
    services: { sites: { recheckAfter: 300, checkInterval: 100, proofFailureTtl: 100, proofGrace: 60_000 } },
  });
  await net.waitForMesh();
  const [observer, owner, next] = net.nodes;
  const domain = "rechecked.example";
  const registered = await owner.facade.registerSite(domain);
  proofs.publish(domain, registered.proof);
  assert.equal((await owner.facade.checkSite(domain)).status, "verified");
  await waitFor("the observer to accept the owner", () => observer.components.sites.getSite(domain));

  // The domain stops answering: within the grace period the site is kept.
  proofs.unpublish(domain);
  const before = proofs.requests(domain);
  await waitFor("the nodes to look again", () => proofs.requests(domain) >= before + 4);
  assert.equal(observer.components.sites.getSite(domain)?.peerId, owner.peerId);

  // The domain names another node now: every node drops the old holder at its next check.
  proofs.publish(domain, (await next.facade.registerSite(domain)).proof);
  await waitFor(
    "the observer to drop the old holder",
    () => observer.components.sites.getSite(domain)?.peerId !== owner.peerId,
  );
  await waitFor(
    "the old holder to withdraw",
    async () => (await owner.facade.listSites())[0].status === "pending",
  );
});

Deno.test("a peer announcing many domains makes a node look up at most a burst of 100 proofs", async () => {
  await using proofs = await startProofServer();
  await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
  await net.waitForMesh();
  const [observer, attacker] = net.nodes;
  // The attacker's modified node serves 150 announcements of domains it does not control over sync.
  const store = new SiteStore(attacker.components.db, { maxSites: 1000 });
  const domains = Array.from({ length: 150 }, (_, i) => `d${i}.squat.example`);
  for (const domain of domains) {
    const { announcement, bytes } = await squat(attacker, Date.now(), domain);
    store.putSite(announcement, bytes, { timestamp: 1, verifiedAt: Date.now() });
  }
  const started = Date.now();
  const { accepted } = await observer.components.sites.syncWith(attacker.peerId);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(accepted, 0);
  const fetched = domains.reduce((n, d) => n + proofs.requests(d), 0);
  assert.ok(fetched >= 100, `only ${fetched} lookups`);
  assert.ok(fetched <= 100 + Math.ceil(seconds) + 1, `${fetched} lookups for one peer in ${seconds} s`);
});
