/**
 * The README's side-by-side example in a real browser: node A started plain,
 * node B started with `--bootstrap <A's address as A printed it>` and no chain
 * flags. On A's Publish page the owner publishes a CSV and lists it (stake,
 * fee confirmed); on B's Wallet page "Get test tokens" fills B's wallet from
 * the network's faucet; on B's dataset page Buy runs the key sale to
 * "Owned", and the download link serves exactly A's bytes.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { launchBrowser, waitFor } from "./browser.ts";
import { asOwner, makeCsv, ownerFetch, tempDir } from "../helpers.ts";
import { type KosmosProcess, startKosmosProcess, stopKosmosProcess } from "../process.ts";

Deno.test("side by side in the browser: publish and list on A, get test tokens, buy and download on B", async () => {
  await using dirA = await tempDir("kosmos-side-ui-a-");
  await using dirB = await tempDir("kosmos-side-ui-b-");
  let a: KosmosProcess | undefined;
  let b: KosmosProcess | undefined;
  const browser = await launchBrowser();
  try {
    a = await startKosmosProcess(["--data-dir", dirA.path, "--port", "0"]);
    const addrA = a.output.match(/other nodes join with --bootstrap (\S+)$/m)?.[1];
    assert.ok(addrA, `A prints the address to join it:\n${a.output}`);
    b = await startKosmosProcess(["--data-dir", dirB.path, "--port", "0", "--bootstrap", addrA]);
    const pageErrors: string[] = [];

    // A: publish and list in one flow.
    const pageA = await browser.newPage();
    pageA.on("pageerror", (err) => pageErrors.push(`A: ${err.message}`));
    await pageA.goto(a.loginLink);
    await pageA.goto(`${a.url}/publish`);
    await waitFor(
      () => pageA.locator('kosmos-island[data-island="publish_form"][data-hydrated="true"]').count(),
      { what: "the publish form to hydrate" },
    );
    const data = makeCsv(300 * 1024);
    await pageA.fill('input[name="title"]', "Canal water temperature");
    await pageA.fill('textarea[name="description"]', "Every ten minutes, one sensor");
    await pageA.selectOption('select[name="category"]', "environment");
    await pageA.fill('input[name="price"]', "3");
    await pageA.fill('input[name="license"]', "CC-BY-4.0");
    await pageA.fill('[data-testid="publish-stake"]', "100");
    await pageA.setInputFiles('[data-testid="file-input"]', {
      name: "canal.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(data),
    });
    await pageA.click('[data-testid="publish-button"]');
    await pageA.locator('[data-testid="publish-done"]').waitFor({ timeout: 30_000 });
    const manifestCid = (await pageA.locator('[data-testid="published-cid"]').textContent())!.trim();
    await pageA.locator('[data-testid="fee-confirm-button"]').click({ timeout: 15_000 });
    await waitFor(
      async () =>
        /Listed as #\d+/.test((await pageA.locator('[data-testid="publish-listed"]').textContent()) ?? ""),
      { timeoutMs: 30_000, what: "A's listing to be staked" },
    );

    // B: test tokens from the faucet, then buy.
    const pageB = await browser.newPage();
    pageB.on("pageerror", (err) => pageErrors.push(`B: ${err.message}`));
    await pageB.goto(b.loginLink);
    await pageB.goto(`${b.url}/wallet`);
    await waitFor(
      () => pageB.locator('kosmos-island[data-island="faucet_button"][data-hydrated="true"]').count(),
      { what: "B's Get test tokens button (B is on a dev network)" },
    );
    await pageB.click('[data-testid="faucet-button"]');
    await pageB.locator('[data-testid="faucet-status"][data-state="done"]').waitFor({ timeout: 30_000 });

    await waitFor(async () => {
      const res = await ownerFetch(b!, `/api/v1/listings/${manifestCid}`);
      if (res.status !== 200) return void await res.body?.cancel();
      return BigInt((await res.json()).stake) > 0n;
    }, { timeoutMs: 30_000, what: "B to list A's dataset as staked" });
    await pageB.goto(`${b.url}/datasets/${manifestCid}`);
    await waitFor(
      () => pageB.locator('kosmos-island[data-island="buy_listing"][data-hydrated="true"]').count(),
      { what: "the Buy island to hydrate" },
    );
    await pageB.locator('[data-testid="buy-quote"]').waitFor({ timeout: 15_000 });
    await pageB.click('[data-testid="buy-button"]');
    await pageB.locator('[data-testid="fee-confirm-button"]').click({ timeout: 15_000 });
    await waitFor(
      async () =>
        (await pageB.locator('[data-testid="buy-status"]').getAttribute("data-status")) === "complete",
      { timeoutMs: 60_000, what: "B's purchase to complete" },
    );
    const href = await pageB.locator('[data-testid="buy-download"]').getAttribute("href");
    const download = await fetch(`${b.url}${href}`, asOwner(b));
    assert.equal(download.status, 200);
    assert.deepEqual(new Uint8Array(await download.arrayBuffer()), data, "B downloads exactly A's bytes");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await Promise.all([stopKosmosProcess(b), stopKosmosProcess(a)]);
  }
});
