/**
 * The Kosmos browser extension in a real headless Chromium (loaded unpacked from a fresh
 * `deno task extension` build) against a real node on its embedded anvil. The person pairs it
 * through its options page with the code My data's "Pair the browser extension" shows; pages on three sites
 * (`a.test`, `b.test`, `excluded.test`, all mapped to a server on 127.0.0.1 by
 * `--host-resolver-rules`: nothing leaves the machine) are visited; visits are recorded in the
 * extension's storage, but not the excluded site, nor what was opened while paused, nor the node's
 * own pages. Before consent the popup's "Send now" is disabled and a forced send leaves everything
 * where it is: the node has no browsing source. After a browsing consent on chain, "Send now"
 * delivers them: the node has a browsing source with exactly the recorded domains, and the
 * extension has removed what it sent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Worker } from "playwright-core";
import { buildExtension } from "../../scripts/extension.ts";
import { findChromium } from "../../scripts/chromium.ts";
import type { BrowsingVisit } from "../../protocol/browsing.ts";
import { startAppNode } from "../node_app.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

function serveSites(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    const html = `<!doctype html><title>${url.hostname}${url.pathname}</title><p>${url.hostname}</p>`;
    return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
  });
}

async function storedVisits(worker: Worker): Promise<BrowsingVisit[]> {
  return await worker.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const { visits } = await (globalThis as any).chrome.storage.local.get(["visits"]);
    return visits ?? [];
  });
}

Deno.test("the extension records visits locally, sends nothing before consent, and delivers them to its own node after", async () => {
  const executablePath = findChromium();
  assert.ok(executablePath, "Chromium is installed (deno task test installs it)");
  const buildDir = await Deno.makeTempDir({ prefix: "kosmos-extension-build-" });
  const profile = await Deno.makeTempDir({ prefix: "kosmos-extension-profile-" });
  // Built before the node starts: the build stops esbuild's service when done, which must not cut
  // short the node's own client build (its pages would wait for it forever).
  const { dir } = await buildExtension(join(buildDir, "dist"));
  await using started = await startAppNode("kosmos-extension-browser-");
  const { node, app } = started;
  const sites = serveSites();
  let context: BrowserContext | undefined;
  let ownerBrowser: Browser | undefined;
  try {
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    assert.equal(manifest.manifest_version, 3);
    assert.equal(manifest.incognito, "not_allowed", "never in incognito windows");
    assert.deepEqual(manifest.host_permissions, ["http://127.0.0.1/*", "http://localhost/*"]);

    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: false,
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
        "--host-resolver-rules=MAP *.test 127.0.0.1",
        `--disable-extensions-except=${dir}`,
        `--load-extension=${dir}`,
      ],
    });
    const worker = context.serviceWorkers()[0] ?? await context.waitForEvent("serviceworker");
    const extensionId = new URL(worker.url()).host;
    const site = (host: string, path = "/") => `http://${host}:${sites.addr.port}${path}`;

    // Pairing: My data shows the owner a code; the person types it into the options page.
    // (The owner's UI in a browser of its own, so its pages stay out of the extension's log until
    // the extension knows the node.)
    ownerBrowser = await launchBrowser();
    const myData = await ownerBrowser.newPage();
    await logIn(myData, node);
    await myData.goto(`${node.url}/data`);
    await myData.locator('kosmos-island[data-island="extension_pairing"][data-hydrated="true"]').waitFor();
    assert.equal(await myData.locator('[data-testid="extension-none"]').count(), 1);
    await myData.click('[data-testid="extension-pair"]');
    const code = (await myData.locator('[data-testid="extension-code"]').textContent({ timeout: 10_000 }))!;
    assert.match(code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    const options = await context.newPage();
    await options.goto(`chrome-extension://${extensionId}/options.html`);
    await options.fill('[data-testid="node-url"]', node.url);
    await options.fill('[data-testid="code"]', code);
    await options.click('[data-testid="pair"]');
    await options.locator('[data-testid="result"][data-paired="true"]').waitFor({ timeout: 10_000 });
    assert.match(
      (await options.locator('[data-testid="result"]').textContent())!,
      /Paired with http:\/\/127\.0\.0\.1/,
    );
    const tokens = await (await app.request("/api/v1/extension/tokens")).json();
    assert.equal(tokens.tokens.length, 1, "the node lists the paired extension");
    await myData.reload();
    await myData.locator(`[data-testid="extension-tokens"] li[data-token-id="${tokens.tokens[0].id}"]`)
      .waitFor();
    await myData.close();

    // An exclusion, typed in the popup as a URL.
    const popup = await context.newPage();
    await popup.goto(`chrome-extension://${extensionId}/popup.html`);
    await popup.fill('[data-testid="exclude-input"]', "https://www.Excluded.test/");
    await popup.click('[data-testid="exclude-add"]');
    await popup.locator('[data-testid="excluded"] li[data-domain="excluded.test"]').waitFor();

    // Browsing: two sites recorded, the excluded one and the node's own pages not.
    const tab = await context.newPage();
    for (const url of [site("a.test"), site("excluded.test"), site("b.test", "/one"), `${node.url}/login`]) {
      await tab.goto(url);
    }
    await tab.goto(site("sub.excluded.test"));
    await waitFor(async () => (await storedVisits(worker)).length >= 2, { what: "two visits recorded" });

    // Paused: nothing recorded.
    await popup.check('[data-testid="paused"]');
    await waitFor(() =>
      worker.evaluate(async () =>
        // deno-lint-ignore no-explicit-any
        (await (globalThis as any).chrome.storage.local.get(["paused"])).paused === true
      ), { what: "the pause to be stored" });
    await tab.goto(site("c.test", "/while-paused"));
    await popup.uncheck('[data-testid="paused"]');
    await waitFor(() =>
      worker.evaluate(async () =>
        // deno-lint-ignore no-explicit-any
        (await (globalThis as any).chrome.storage.local.get(["paused"])).paused === false
      ), { what: "the pause to be lifted" });
    await tab.goto(site("b.test", "/two"));
    await waitFor(async () => (await storedVisits(worker)).length >= 3, { what: "the third visit recorded" });
    // One more load of a page that is recorded, so anything queued before it has been written too.
    await tab.goto(site("a.test", "/last"));
    const recorded = await waitFor(async () => {
      const visits = await storedVisits(worker);
      return visits.length >= 4 ? visits : null;
    }, { what: "the last visit recorded" });
    assert.deepEqual(recorded.map((v) => v.domain), ["a.test", "b.test", "b.test", "a.test"]);
    for (const v of recorded) assert.ok(Math.abs(v.visitedAt - Date.now()) < 120_000);

    // The popup shows what would be shared: domains and hours.
    await popup.reload();
    await popup.locator('[data-testid="count"]', { hasText: "4" }).waitFor();
    const shared = await popup.locator('[data-testid="shared"] tr').evaluateAll((rows) =>
      rows.map((r) => (r as HTMLElement).dataset.domain)
    );
    assert.deepEqual(new Set(shared), new Set(["a.test", "b.test"]));

    // Before consent: "Send now" is disabled, and even a forced send leaves everything where it is.
    await popup.locator('[data-testid="status"][data-consent="false"]').waitFor();
    assert.equal(await popup.locator('[data-testid="send"]').isDisabled(), true);
    const forced = await popup.evaluate(() =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).chrome.runtime.sendMessage({ type: "send" })
    );
    assert.equal(forced.sent, 0);
    assert.match(forced.message, /no valid consent/);
    assert.equal((await storedVisits(worker)).length, 4);
    const before = await (await app.request("/api/v1/sources")).json();
    assert.deepEqual(before.sources, [], "nothing reached the node before consent");

    // Consent for the browsing log, on chain, through the node's API.
    const granted = await app.request("/api/v1/consents", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        kind: "browsing",
        purpose: "browsing habits research",
        expiresAt: Date.now() + 86_400_000,
      }),
    });
    assert.equal(granted.status, 201, await granted.clone().text());
    await granted.body?.cancel();

    await popup.reload();
    await popup.locator('[data-testid="status"][data-consent="true"]').waitFor({ timeout: 10_000 });
    await popup.click('[data-testid="send"]');
    await popup.locator('[data-testid="last-send"]', { hasText: "Sent 4 visits" }).waitFor({
      timeout: 10_000,
    });
    assert.deepEqual(await storedVisits(worker), [], "what was sent is removed");

    const after = await (await app.request("/api/v1/sources")).json();
    assert.equal(after.sources.length, 1);
    const [source] = after.sources;
    assert.equal(source.kind, "browsing");
    assert.equal(source.rows, 4);
    const rows = [...node.components.sources.rows(source.id)];
    assert.deepEqual(
      rows.map((r) => [r.domain, r.visitedAt]).sort(),
      recorded.map((v) => [v.domain, v.visitedAt]).sort(),
    );
    for (const r of rows) assert.ok(!String(r.domain).includes("excluded") && r.domain !== "c.test");
  } finally {
    await context?.close();
    await ownerBrowser?.close();
    await sites.shutdown();
    await Deno.remove(buildDir, { recursive: true }).catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
