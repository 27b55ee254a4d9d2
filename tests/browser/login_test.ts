/**
 * Logging in as a person does: the buyer's node runs as a child process
 * started the way the README says (`deno run -A node/main.ts --data-dir …
 * --port 0`), prints a one-time login link on stdout, and Chromium logs in
 * through it and buys a listing of an in-process seller through the UI. A
 * browser that was not given the link sees only how to log in, and the link
 * does not work a second time.
 */
import assert from "node:assert/strict";
import { getContractsPath, writeContractsFile } from "../../node/services/chain/contracts.ts";
import { listForSale, startMarketCluster } from "../market_cluster.ts";
import { startKosmosProcess } from "../process.ts";
import { makeCsv, ownerFetch, tempDir, waitFor as waitUntil } from "../helpers.ts";
import { launchBrowser, waitFor } from "./browser.ts";

const ONE = 10n ** 18n;

Deno.test("the login link a node prints logs Chromium in once, and the owner buys through the UI", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-browser-login-" });
  await using dir = await tempDir("kosmos-browser-login-buyer-");
  const seller = await cluster.start();
  await writeContractsFile(getContractsPath(dir.path), { chainId: 31337, contracts: cluster.dev.contracts });
  const buyer = await startKosmosProcess([
    "--data-dir",
    dir.path,
    "--port",
    "0",
    "--log-level",
    "error",
    "--rpc-url",
    cluster.anvil.rpcUrl,
    "--bootstrap",
    seller.components.p2p.listenAddresses()[0],
  ]);
  const browser = await launchBrowser();
  try {
    // What it printed: a link with a one-time code under a name it answers to, not the token.
    const link = new URL(buyer.loginLink);
    assert.equal(link.origin, new URL(buyer.url).origin);
    assert.equal(link.pathname, "/login");
    assert.match(link.searchParams.get("code") ?? "", /^[\w-]{43}$/);
    assert.ok(!buyer.loginLink.includes(buyer.token));
    assert.equal((await Deno.stat(`${dir.path}/api-token`)).mode! & 0o777, 0o600);
    await cluster.dev.fund(buyer.address);
    const csv = new TextDecoder().decode(makeCsv(200_000));
    const { manifestCid } = await listForSale(seller, new TextEncoder().encode(csv), {
      title: "Harbour tides",
      price: 4n * ONE,
      filename: "tides.csv",
    });
    await waitUntil(
      "the listing to reach the buyer's process",
      async () => (await ownerFetch(buyer, `/api/v1/listings/${manifestCid}`)).ok,
      { timeout: 20_000 },
    );

    // Without the link: a page saying how to log in, and nothing of the owner's.
    const stranger = await browser.newPage();
    const refused = await stranger.goto(`${buyer.url}/wallet`);
    assert.equal(refused?.status(), 401);
    assert.match(await stranger.content(), /login link/);
    assert.ok(!(await stranger.content()).includes(buyer.address));
    await stranger.close();

    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    const landed = await page.goto(buyer.loginLink);
    assert.equal(landed?.status(), 200);
    assert.equal(new URL(page.url()).pathname, "/");
    const cookies = await context.cookies(buyer.url);
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0].httpOnly, true);
    assert.equal(cookies[0].sameSite, "Strict");
    assert.equal(cookies[0].path, "/");
    assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");

    await page.goto(`${buyer.url}/datasets/${manifestCid}`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="buy_listing"][data-hydrated="true"]').count(),
      { what: "the BuyListing island to hydrate" },
    );
    await page.locator('[data-testid="buy-quote"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid="buy-price"]').textContent(), "4 KOS");
    await page.click('[data-testid="buy-button"]');
    // The fee estimated for the seller's quote, then the person's confirmation.
    await page.locator('[data-testid="fee-confirm-button"]').click({ timeout: 10_000 });
    await waitFor(
      async () =>
        (await page.locator('[data-testid="buy-status"]').getAttribute("data-status")) === "complete",
      { timeoutMs: 30_000, what: "the purchase to complete" },
    );
    const href = await page.locator('[data-testid="buy-download"]').getAttribute("href");
    // The download link works in the logged-in browser (as a download) and for the token.
    const download = await ownerFetch(buyer, href!);
    assert.equal(download.status, 200);
    assert.equal(await download.text(), csv);
    assert.deepEqual(pageErrors, []);

    // The link a second time, in another browser: refused, no cookie, a page saying what to do.
    const late = await browser.newContext();
    const again = await late.newPage();
    const second = await again.goto(buyer.loginLink);
    assert.equal(second?.status(), 401);
    assert.match(await again.content(), /used already, has expired/);
    assert.deepEqual(await late.cookies(buyer.url), []);
    const wallet = await again.goto(`${buyer.url}/wallet`);
    assert.equal(wallet?.status(), 401);

    // `kosmos login` mints a fresh link for the running node, with the token from the data dir.
    const login = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../node/main.ts", import.meta.url).pathname,
        "login",
        "--url",
        buyer.url,
        "--data-dir",
        dir.path,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const printed = new TextDecoder().decode(login.stdout);
    assert.equal(login.code, 0, new TextDecoder().decode(login.stderr));
    const fresh = printed.match(/(http:\/\/\S+\/login\?code=\S+)/)?.[1];
    assert.ok(fresh, printed);
    const relogged = await again.goto(fresh);
    assert.equal(relogged?.status(), 200);
    assert.equal(new URL(again.url()).pathname, "/");
    // Without the right token it mints nothing.
    const refusedLogin = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../node/main.ts", import.meta.url).pathname,
        "login",
        "--url",
        buyer.url,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", KOSMOS_TOKEN: "0".repeat(64) },
    }).output();
    assert.equal(refusedLogin.code, 1);
    assert.equal(new TextDecoder().decode(refusedLogin.stdout), "");
    assert.match(new TextDecoder().decode(refusedLogin.stderr), /not this node's API token \(401\)/);
  } finally {
    await browser.close();
    buyer.child.kill("SIGTERM");
    await buyer.child.status;
  }
});
