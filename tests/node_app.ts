/**
 * One node on its embedded chain, in a temp dir, listening on loopback, with
 * its HTTP app as the owner calls it (`app.request()` sends the owner's token).
 * Disposing it stops the node and removes the dir.
 *
 * ```ts
 * await using started = await startAppNode("kosmos-my-data-");
 * const { node, app } = started;
 * await app.request("/api/v1/me/listings");
 * ```
 */
import { createNode, type KosmosNode } from "../node/node.ts";
import { createApp } from "../web/app.ts";
import { ownerApp, type RequestableApp, tempDir, testLogger } from "./helpers.ts";

const quietLog = { error: () => {}, debug: () => {} };

export interface AppNode extends AsyncDisposable {
  node: KosmosNode;
  /** The node's app; requests carry the owner's token. */
  app: RequestableApp;
}

/** Starts a node in a new temp dir named `prefix…`; stops and removes it again if it fails to start. */
export async function startAppNode(prefix: string): Promise<AppNode> {
  const dir = await tempDir(prefix);
  let node: KosmosNode | undefined;
  try {
    node = await createNode({ dataDir: dir.path, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"] }, {
      logger: testLogger(),
    });
    await node.start();
  } catch (err) {
    await node?.stop().catch(() => {});
    await dir[Symbol.asyncDispose]();
    throw err;
  }
  const started = node;
  return {
    node: started,
    app: ownerApp(createApp(started.facade, { log: quietLog, auth: started.auth }), started),
    async [Symbol.asyncDispose]() {
      try {
        await started.stop();
      } finally {
        await dir[Symbol.asyncDispose]();
      }
    },
  };
}

/** A small CSV of stations, different for each `seed`. */
function stationsCsv(seed: string): ReadableStream<Uint8Array> {
  const rows = Array.from({ length: 50 }, (_, i) => `${i},${seed},${i * 3}`);
  return ReadableStream.from([new TextEncoder().encode(["id,station,value", ...rows].join("\n") + "\n")]);
}

/** Publishes two small CSV datasets on `node`, "Stations A" (a.csv) and then "Stations B" (b.csv), at `price`. */
export async function publishStations(node: KosmosNode, price: string) {
  const fields = { description: "", category: "environment", price, license: "CC-BY-4.0" };
  const a = await node.facade.publishDataset(stationsCsv("a"), {
    ...fields,
    title: "Stations A",
    filename: "a.csv",
  });
  const b = await node.facade.publishDataset(stationsCsv("b"), {
    ...fields,
    title: "Stations B",
    filename: "b.csv",
  });
  return [a, b] as const;
}
