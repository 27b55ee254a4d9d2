/**
 * Nodes take responsibility for the datasets their catalog indexes: a
 * dataset published through the datasets service on one node reaches its
 * replication target on the others with no `watch()` call from outside,
 * since every node watches each listing it hears about, and only the nodes
 * that could add a replica count its providers.
 */
import assert from "node:assert/strict";
import { announcementTopic } from "../protocol/topics.ts";
import { CID } from "multiformats/cid";
import { datasetKey, sortByDistance } from "../node/services/replication/mod.ts";
import { waitFor } from "./helpers.ts";
import { startNetwork } from "./nodes.ts";

Deno.test("a dataset published on one of four nodes reaches 3 providers through the catalog's listings alone", async () => {
  await using net = await startNetwork(4, { listen: ["/ip4/127.0.0.1/tcp/0"] }, {
    bootstrap: "all",
    services: { replication: { repairInterval: 250, probeTimeout: 1000, findTimeout: 2000 } },
    prefix: "kosmos-watch-",
  });
  await net.waitForMesh({ timeout: 15_000 });
  const { nodes } = net;
  const [a, ...others] = nodes;
  // Gossip reaches only the peers already on the topic; wait for both directions.
  const topic = announcementTopic("sensors");
  await waitFor(
    "the announcement topic to connect the nodes",
    () =>
      others.every((n) =>
        a.components.p2p.topicPeers(topic).includes(n.peerId) &&
        n.components.p2p.topicPeers(topic).includes(a.peerId)
      ),
    { timeout: 10_000 },
  );
  const rows = Array.from({ length: 5000 }, (_, i) => `${i},st${i % 17},${(i * 37) % 400}`);
  const csv = new TextEncoder().encode(["id,station,value", ...rows].join("\n") + "\n");
  const { manifestCid } = await a.components.datasets.publishDataset(ReadableStream.from([csv]), {
    title: "Stations",
    category: "sensors",
    price: 10n ** 18n,
    licence: "kosmos-research-1",
    filename: "stations.csv",
    chunkSize: 64 * 1024,
  });

  // Every node watches the listing as soon as its catalog indexes it.
  await waitFor("every node to watch the dataset", () =>
    others.every((n) => {
      try {
        n.components.catalog.getListing(manifestCid);
      } catch {
        return false;
      }
      return n.components.replication.getReplication(manifestCid) !== undefined;
    }), { timeout: 10_000 });
  const holders = () => nodes.filter((n) => n.components.replication.getReplication(manifestCid)?.local);
  await waitFor("3 providers", () => holders().length >= 3, { timeout: 20_000 });
  assert.equal(holders().length, 3, "more replicas than the target");
  assert.ok(holders().includes(a));

  // A node that could never be chosen to add a replica (ranked 3rd or further from the
  // dataset among all four) does not count providers: the closest nodes keep the dataset.
  const order = await sortByDistance(await datasetKey(CID.parse(manifestCid)), nodes.map((n) => n.peerId));
  for (const n of nodes.filter((n) => !holders().includes(n))) {
    await n.components.replication.repairNow();
    const status = n.components.replication.getReplication(manifestCid)?.status;
    if (order.indexOf(n.peerId) >= 3) assert.equal(status, "elsewhere");
    else assert.notEqual(status, "elsewhere");
  }
});
