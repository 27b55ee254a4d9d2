/**
 * A fetch interrupted by killing the node process (SIGKILL, no shutdown code
 * runs) resumes when the node restarts with the same data dir, and completes
 * without downloading again any chunk it had already verified and stored.
 */
import assert from "node:assert/strict";
import { startNetwork } from "./nodes.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { startKosmosProcess } from "./process.ts";
import { openBlockStore, prepareDataset } from "../node/services/blocks/mod.ts";

const KiB = 1024;

/** Starts `kosmos` as a child process, quiet, on a free port. */
function startKosmos(args: string[]) {
  return startKosmosProcess(["--port", "0", "--log-level", "error", ...args]);
}

function makeCsv(rows: number): Uint8Array {
  const lines = ["id,ts,value"];
  for (let i = 0; i < rows; i++) lines.push(`${i},${1_700_000_000_000 + i * 1000},${(i * 7919) % 100_000}`);
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

Deno.test("a fetch killed with SIGKILL resumes after restart without re-downloading verified chunks", async () => {
  await using net = await startNetwork(1);
  const [a] = net.nodes;
  const data = makeCsv(400_000); // ≈ 10 MiB in 64 KiB chunks
  const prepared = await prepareDataset(a.components.blocks, ReadableStream.from([data]), {
    title: "Readings",
    category: "sensors",
    seller: a.address,
    price: 1n,
    licence: "kosmos-research-1",
    filename: "readings.csv",
    chunkSize: 64 * KiB,
  });
  await a.components.replication.provideDataset(prepared.manifestCid);
  const chunks = prepared.manifest.chunks.map(String);
  assert.ok(chunks.length >= 100, `${chunks.length} chunks`);

  // Slow the provider's disk reads so the fetch is still running when we kill.
  const store = a.components.blocks;
  const get = store.get.bind(store);
  store.get = async (...args: Parameters<typeof store.get>) => {
    await new Promise((r) => setTimeout(r, 40));
    return await get(...args);
  };
  const served: string[] = [];
  a.components.transfer.addEventListener("served", (e) => {
    const detail = (e as CustomEvent<{ cid: string; op: string }>).detail;
    if (detail.op === "get") served.push(detail.cid);
  });

  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-kill-" });
  try {
    const flags = [
      "--data-dir",
      dataDir,
      "--rpc-url",
      net.anvil.rpcUrl,
      "--bootstrap",
      a.components.p2p.listenAddresses()[0],
    ];
    const first = await startKosmos(flags);
    try {
      await waitFor("the new node to connect to the provider", async () => {
        const info = await (await ownerFetch(first, `/api/v1/node`)).json();
        return info.peers.includes(a.peerId);
      });
      const res = await ownerFetch(first, `/api/v1/fetches`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ manifestCid: prepared.manifestCid }),
      });
      assert.equal(res.status, 202, await res.text());
      await waitFor("at least 20 verified chunks", async () => {
        const progress = await (await ownerFetch(first, `/api/v1/fetches/${prepared.manifestCid}`)).json();
        return progress.chunksVerified >= 20;
      }, { timeout: 20_000, interval: 20 });
    } finally {
      first.child.kill("SIGKILL");
      await first.child.status;
    }

    const diskStore = await openBlockStore(dataDir);
    const kept = new Set<string>();
    for (const cid of chunks) {
      if (await diskStore.has(prepared.manifest.chunks[chunks.indexOf(cid)])) kept.add(cid);
    }
    assert.ok(kept.size >= 20 && kept.size < chunks.length, `kept ${kept.size} of ${chunks.length}`);
    await waitFor("the killed streams to close", () => a.components.transfer.activeStreams === 0);
    served.length = 0;

    const second = await startKosmos(flags);
    try {
      const done = await waitFor("the resumed fetch to complete", async () => {
        const res = await ownerFetch(second, `/api/v1/fetches/${prepared.manifestCid}`);
        const progress = await res.json();
        return progress.status === "complete" ? progress : undefined;
      }, { timeout: 30_000, interval: 100 });
      assert.equal(done.chunksVerified, chunks.length);
      const again = served.filter((cid) => kept.has(cid));
      assert.deepEqual(again, [], "no verified chunk is downloaded twice");
      assert.equal(served.filter((cid) => chunks.includes(cid)).length, chunks.length - kept.size);
    } finally {
      second.child.kill("SIGTERM");
      await second.child.status;
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
