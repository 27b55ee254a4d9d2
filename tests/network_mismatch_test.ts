/**
 * Two real nodes on different networks, bootstrapped to each other: each is
 * told so in one line and never lists the other's datasets; a third node,
 * bootstrapped to the same peer without chain flags, joins that peer's
 * network and gets the listing (the control that gossip had time to arrive).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createNode, type KosmosNode } from "../node/node.ts";
import { createLogger } from "../node/log.ts";
import { startAnvil } from "../node/services/chain/anvil.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { writeNetworkProfile } from "../node/network.ts";
import { networkPrefix } from "../protocol/network.ts";
import { makeCsv, ownerFetch, tempDir, waitFor } from "./helpers.ts";

const MISMATCH =
  /peer (\S+) is on network "([^"]+)" \(chain (\d+), registry (0x[0-9a-fA-F]{40})\), this node is on "([^"]+)" \(chain \d+, registry (0x[0-9a-fA-F]{40})\): not trading with it/;

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: "warn", write: (line) => lines.push(line) }) };
}

function listed(node: KosmosNode, manifestCid: string): boolean {
  try {
    node.components.catalog.getListing(manifestCid);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a node bootstrapped to a peer of another network is told so in one line and never lists that network's datasets", async () => {
  await using dir = await tempDir("kosmos-mismatch-");
  await using otherChain = await startAnvil();
  const other = await setUpDevChain(otherChain.rpcUrl);
  const profilePath = join(dir.path, "other.json");
  await writeNetworkProfile(profilePath, {
    name: "other",
    chainId: 31337,
    rpcUrls: [otherChain.rpcUrl],
    contracts: { ...other.contracts },
    bootstrap: [],
    protocolPrefix: networkPrefix("other", other.contracts.registry),
    dev: true,
  });
  const logA = capture();
  const logB = capture();
  const nodes: KosmosNode[] = [];
  try {
    // A: a plain node on its embedded chain (network "local").
    const a = await createNode({ dataDir: join(dir.path, "a"), port: 0 }, { logger: logA.logger });
    nodes.push(a);
    await a.start();
    const addrA = a.components.p2p.listenAddresses()[0];
    // B: on the network "other", bootstrapped to A.
    const b = await createNode(
      { dataDir: join(dir.path, "b"), port: 0, network: profilePath, bootstrap: [addrA] },
      { logger: logB.logger },
    );
    nodes.push(b);
    await b.start();
    // C: bootstrapped to A without chain flags: joins A's network.
    const c = await createNode({ dataDir: join(dir.path, "c"), port: 0, bootstrap: [addrA] }, {
      logger: capture().logger,
    });
    nodes.push(c);
    await c.start();
    assert.equal(c.components.chain.contracts?.registry, a.components.chain.contracts?.registry);

    const lineB = await waitFor(
      "B to say A is on another network",
      () => logB.lines.find((l) => MISMATCH.test(l)),
    );
    const [, peer, theirName, chainId, theirRegistry, myName, myRegistry] = lineB.match(MISMATCH)!;
    assert.equal(peer, a.peerId);
    assert.equal(theirName, "local");
    assert.equal(chainId, "31337");
    assert.equal(theirRegistry, a.components.chain.contracts!.registry);
    assert.equal(myName, "other");
    assert.equal(myRegistry, other.contracts.registry);
    const lineA = await waitFor(
      "A to say B is on another network",
      () => logA.lines.find((l) => MISMATCH.test(l)),
    );
    assert.equal(lineA.match(MISMATCH)![1], b.peerId);

    const { manifestCid } = await a.components.datasets.publishDataset(ReadableStream.from([makeCsv(4096)]), {
      title: "Readings from network local",
      category: "sensors",
      price: 10n ** 18n,
      licence: "kosmos-research-1",
      filename: "readings.csv",
    });
    await waitFor("C, on A's network, to list A's dataset", () => listed(c, manifestCid), {
      timeout: 15_000,
    });
    // B keeps dialling its bootstrap peer (1 s, 2 s, … apart): give it a few rounds to (not) learn anything.
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok(!listed(b, manifestCid), "B's catalog never holds a listing of another network");
    await assert.rejects(b.facade.getListing(manifestCid), { name: "NotFoundError" });
    const page = await (await ownerFetch(b, "/")).text();
    assert.ok(
      !page.includes("Readings from network local"),
      "B's marketplace shows nothing of network local",
    );
    const buy = await ownerFetch(b, "/api/v1/purchases", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ listingId: manifestCid }),
    });
    assert.ok(buy.status >= 400 && buy.status < 500, `buying it is refused, got ${buy.status}`);
    await buy.body?.cancel();

    assert.equal(logB.lines.filter((l) => MISMATCH.test(l)).length, 1, logB.lines.join("\n"));
    assert.equal(logA.lines.filter((l) => MISMATCH.test(l)).length, 1, logA.lines.join("\n"));
    const info = await b.facade.getNodeInfo();
    assert.deepEqual(info.network?.foreignPeers.map((p) => p.peerId), [a.peerId]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
  }
});
