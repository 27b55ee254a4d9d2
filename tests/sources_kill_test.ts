/**
 * An import is one unit across a crash: once the node answered 201, killing its process (SIGKILL,
 * no shutdown code runs) loses nothing of it; an import killed before its answer leaves nothing
 * behind after the restart, neither a listed source nor a row.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startAnvil } from "../node/services/chain/anvil.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/mod.ts";
import type { ImportResult, SourcesView } from "../protocol/api/mod.ts";
import { ownerFetch, waitFor } from "./helpers.ts";
import { type KosmosProcess, startKosmosProcess, stopKosmosProcess } from "./process.ts";
import { viewingActivity } from "./sources.ts";

function countRows(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, "kosmos.db"), { readOnly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM source_rows").get() as { n: number }).n;
  } catch {
    return 0; // not migrated yet
  } finally {
    db.close();
  }
}

function importRequest(node: KosmosProcess, body: ReadableStream<Uint8Array>, boundary: string) {
  return fetch(`${node.url}/api/v1/sources/netflix/imports`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${node.token}`,
      "content-type": `multipart/form-data; boundary=${boundary}`,
    },
    body,
  });
}

Deno.test("an acknowledged import survives SIGKILL; one killed midway leaves nothing after restart", async () => {
  const anvil = await startAnvil();
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-sources-kill-" });
  let node: KosmosProcess | undefined;
  try {
    const dev = await setUpDevChain(anvil.rpcUrl);
    await writeContractsFile(getContractsPath(dataDir), { chainId: 31337, contracts: dev.contracts });
    const flags = ["--data-dir", dataDir, "--rpc-url", anvil.rpcUrl, "--port", "0", "--log-level", "error"];

    node = await startKosmosProcess(flags);
    const form = new FormData();
    form.append("file", new File([viewingActivity(3000)], "ViewingActivity.csv"));
    const response = await ownerFetch(node, "/api/v1/sources/netflix/imports", {
      method: "POST",
      body: form,
    });
    assert.equal(response.status, 201, await response.clone().text());
    const imported = await response.json() as ImportResult;
    node.child.kill("SIGKILL");
    await node.child.status;

    node = await startKosmosProcess(flags);
    let view = await (await ownerFetch(node, "/api/v1/sources")).json() as SourcesView;
    assert.deepEqual(view.sources.map((s) => [s.id, s.rows]), [[imported.id, 3000]]);
    const preview = await ownerFetch(node, `/api/v1/sources/${imported.id}/preview`);
    assert.equal(preview.status, 200, await preview.clone().text());

    // Killed midway: the first half of a file is in, the rest never comes.
    const boundary = "killboundary";
    const csv = new TextDecoder().decode(viewingActivity(60_000));
    const cut = csv.indexOf("\n", csv.length / 2) + 1;
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="V.csv"\r\n\r\n`;
    const pending = importRequest(
      node,
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(head + csv.slice(0, cut)));
        },
      }),
      boundary,
    ).catch((err) => err);
    await waitFor("rows of the unfinished import on disk", () => countRows(dataDir) > 3000 + 1000, {
      timeout: 30_000,
      interval: 50,
    });
    node.child.kill("SIGKILL");
    await node.child.status;
    assert.ok(await pending instanceof Error, "the killed import was never acknowledged");
    assert.ok(countRows(dataDir) > 3000, "the killed process had written rows of the import");

    node = await startKosmosProcess(flags);
    view = await (await ownerFetch(node, "/api/v1/sources")).json() as SourcesView;
    assert.deepEqual(view.sources.map((s) => [s.id, s.rows]), [[imported.id, 3000]]);
    assert.equal(countRows(dataDir), 3000, "nothing of the killed import is left");
  } finally {
    await stopKosmosProcess(node);
    await anvil.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
