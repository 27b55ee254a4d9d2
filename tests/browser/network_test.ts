/**
 * The Network page in a real browser against real nodes: node B bootstraps to
 * node A and shows up in A's live peer list; then node C starts and appears
 * too, without the page reloading, which proves the PeerList island is
 * hydrated and polling.
 */
import assert from "node:assert/strict";
import { createNode, type KosmosNode } from "../../node/node.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

async function startNode(bootstrap: string[], dirs: string[], nodes: KosmosNode[]): Promise<KosmosNode> {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-" });
  dirs.push(dataDir);
  const node = await createNode({ dataDir, port: 0, bootstrap, logLevel: "warn" });
  nodes.push(node);
  await node.start();
  return node;
}

Deno.test("Network page lists connected peers live, without reloading", async () => {
  const dirs: string[] = [];
  const nodes: KosmosNode[] = [];
  const browser = await launchBrowser();
  try {
    const a = await startNode([], dirs, nodes);
    const { listen } = await a.facade.getNodeInfo();
    const b = await startNode(listen, dirs, nodes);

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, a);
    await page.goto(`${a.url}/network`);
    assert.equal(await page.locator('[data-testid="peer-id"]').textContent(), a.peerId);

    await waitFor(
      () => page.locator('kosmos-island[data-island="peer_list"][data-hydrated="true"]').count(),
      {
        what: "the PeerList island to hydrate",
      },
    );
    await waitFor(() => page.locator(`[data-peer-id="${b.peerId}"]`).count(), {
      timeoutMs: 15_000,
      what: "node B in node A's peer list",
    });
    // B may already be in the server-rendered snapshot; the island turns "Live" at its first poll.
    await waitFor(
      async () => (await page.locator('[data-testid="peer-status"]').textContent()) === "Live",
      { what: "the peer list to go live" },
    );

    // Anything set on this window survives only if the page is never reloaded.
    await page.evaluate(() => Object.assign(globalThis, { kosmosSamePage: true }));
    const c = await startNode(listen, dirs, nodes);
    await waitFor(() => page.locator(`[data-peer-id="${c.peerId}"]`).count(), {
      timeoutMs: 15_000,
      what: "node C to appear in node A's peer list",
    });
    assert.equal(
      await page.evaluate(() => (globalThis as { kosmosSamePage?: boolean }).kosmosSamePage),
      true,
    );
    const listed = await page.locator("[data-peer-id]").evaluateAll((items) =>
      items.map((item) => item.getAttribute("data-peer-id"))
    );
    assert.ok(listed.includes(b.peerId) && listed.includes(c.peerId));
    assert.equal(await page.locator('[data-testid="peer-count"]').textContent(), String(listed.length));
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    for (const node of nodes.reverse()) await node.stop();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});
