/**
 * The consent flow of My data in a real browser against a real node on its embedded anvil: the
 * person imports a Netflix export, sees the source and a preview of what would be shared after
 * anonymization, grants consent after seeing what is collected, for what, until when and how it
 * pays, and confirms the fee; the consent contract then says the record is valid, for that source
 * and purpose, and held by the node's wallet. The person publishes from the source under it (the
 * kinds that go in, the fee, the rows and privacy report of the result). Revoking is one click and the fee confirmation; the
 * contract then says it is not valid (the record is burnt), and the page shows it revoked, also
 * after a reload (read from the chain).
 */
import assert from "node:assert/strict";
import { keccak256, toBytes } from "viem";
import { createNode } from "../../node/node.ts";
import { kosmosConsentAbi } from "../../protocol/contracts_generated.ts";
import type { PublicationView, SourcePreview, SourcesView } from "../../protocol/api/sources.ts";
import { SOURCE_KIND_INFO, sourceIdPreimage } from "../../protocol/sources.ts";
import { fixturePath } from "../contributors.ts";
import { asOwner } from "../helpers.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

Deno.test("My data: import, preview, grant consent with the fee confirmed, see it on chain, revoke in one click", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-consent-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const chain = node.components.chain;
    const contract = { address: chain.contracts!.consent, abi: kosmosConsentAbi } as const;
    const isValid = (id: bigint) =>
      chain.publicClient.readContract({ ...contract, functionName: "isValid", args: [id] });
    const ownerOf = (id: bigint) =>
      chain.publicClient.readContract({ ...contract, functionName: "ownerOf", args: [id] });
    const getConsent = (id: bigint) =>
      chain.publicClient.readContract({ ...contract, functionName: "getConsent", args: [id] });
    const nonce = () =>
      chain.publicClient.getTransactionCount({ address: node.address, blockTag: "pending" });

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/data`);
    for (const island of ["data_sources", "data_consents", "data_publish"]) {
      await waitFor(
        () => page.locator(`kosmos-island[data-island="${island}"][data-hydrated="true"]`).count(),
        { what: `the ${island} island to hydrate` },
      );
    }
    assert.equal(await page.locator('[data-testid="no-consents"]').count(), 1);

    // Import: the form names the files the service exports, uploads with progress, lists the source.
    await page.selectOption('[data-testid="import-kind"]', "netflix");
    assert.match(
      (await page.locator('[data-testid="import-files-hint"]').textContent())!,
      /Netflix names it ViewingActivity\.csv/,
    );
    await page.setInputFiles('[data-testid="import-file"]', fixturePath("netflix"));
    await page.click('[data-testid="import-button"]');
    const done = page.locator('[data-testid="import-done"]');
    await done.waitFor({ timeout: 30_000 });
    const sourceId = (await done.getAttribute("data-source-id"))!;
    const { sources } = await (await fetch(`${node.url}/api/v1/sources`, asOwner(node)))
      .json() as SourcesView;
    assert.deepEqual(sources.map((s) => [s.id, s.kind]), [[sourceId, "netflix"]]);
    assert.ok(sources[0].rows >= 300, `the main fixture has at least 300 rows: ${sources[0].rows}`);
    const card = page.locator(`[data-testid="source"][data-source-id="${sourceId}"]`);
    await card.waitFor({ timeout: 10_000 });
    assert.equal(
      (await card.locator('[data-testid="source-rows"]').textContent())?.trim(),
      sources[0].rows.toLocaleString("en-US"),
    );

    // The preview shows what would leave the node: no identifier column, the privacy report.
    await card.locator('[data-testid="source-preview-toggle"]').click();
    await card.locator('[data-testid="source-preview"]').waitFor({ timeout: 30_000 });
    const headers = await card.locator('[data-testid="source-preview-table"] th').allTextContents();
    const preview = await (await fetch(`${node.url}/api/v1/sources/${sourceId}/preview`, asOwner(node)))
      .json() as SourcePreview;
    assert.deepEqual(headers, preview.columns);
    const identifiers = SOURCE_KIND_INFO.netflix.fields.filter((f) => f.role === "identifier").map((f) =>
      f.name
    );
    for (const id of identifiers) assert.ok(!headers.includes(id), `${id} is not shared`);
    assert.equal(
      await card.locator('[data-testid="privacy-k"]').getAttribute("data-k"),
      String(preview.privacy.k),
    );
    assert.equal(
      (await card.locator('[data-testid="privacy-released"]').textContent())?.trim(),
      preview.released.toLocaleString("en-US"),
    );

    // Grant: first what is collected, for what, until when, how it pays, and the fee; nothing signed yet.
    const consents = page.locator('[data-testid="consents"]');
    await page.selectOption('[data-testid="consent-kind"]', "netflix");
    await page.fill('[data-testid="consent-purpose"]', "Academic research on viewing habits");
    const before = await nonce();
    await page.click('[data-testid="consent-review"]');
    const disclosure = consents.locator('[data-testid="consent-disclosure"]');
    await disclosure.waitFor({ timeout: 10_000 });
    for (const f of SOURCE_KIND_INFO.netflix.fields) {
      assert.equal(
        await disclosure.locator(`li[data-field="${f.name}"][data-role="${f.role}"]`).count(),
        1,
        `the disclosure says what happens to ${f.name}`,
      );
    }
    assert.match(
      (await disclosure.locator('li[data-field="startedAt"]').textContent())!,
      /rounded down to the hour/,
    );
    assert.match((await disclosure.locator('li[data-field="profile"]').textContent())!, /dropped/);
    assert.equal(
      (await disclosure.locator('[data-testid="disclosure-purpose"]').textContent())?.trim(),
      "Academic research on viewing habits",
    );
    assert.equal(
      (await disclosure.locator('[data-testid="disclosure-wallet"]').textContent())?.trim(),
      node.address,
    );
    assert.match(
      (await disclosure.locator('[data-testid="disclosure-until"]').textContent())!,
      /^\d{4}-\d\d-\d\d/,
    );
    const confirm = consents.locator('[data-testid="fee-confirm"]');
    await confirm.waitFor({ timeout: 10_000 });
    assert.match((await confirm.locator('[data-testid="fee-amount"]').textContent())!, /^0\.\d+ ETH$/);
    assert.equal(await nonce(), before, "showing what is collected and the fee signed nothing");
    await confirm.locator('[data-testid="fee-confirm-button"]').click();
    const row = consents.locator('[data-testid="consent"]');
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.getAttribute("data-state"), "valid");
    const tokenId = BigInt((await row.getAttribute("data-token-id"))!);
    assert.match((await consents.locator('[data-testid="consent-status"]').textContent())!, /granted/);
    const onCard = card.locator(`[data-testid="source-consents"] li[data-token-id="${tokenId}"]`);
    assert.equal(await onCard.getAttribute("data-state"), "valid", "the source card follows the grant");

    // On chain: the record is valid, for this source and purpose, and the node's wallet holds it.
    assert.equal(await isValid(tokenId), true);
    assert.equal(await ownerOf(tokenId), node.address);
    const record = await getConsent(tokenId);
    assert.equal(record.contributor, node.address);
    assert.equal(record.source, keccak256(toBytes(sourceIdPreimage("netflix"))));
    assert.equal(record.purpose, keccak256(toBytes("Academic research on viewing habits")));
    assert.equal(record.revokedAt, 0);
    assert.equal(await nonce(), before + 1, "one transaction");

    // Publish from the source under that consent: which kinds go in, the fee, then the result.
    const publish = page.locator('[data-testid="publish-sources"]');
    const kindBox = publish.locator('[data-testid="publish-kind"][value="netflix"]');
    assert.match(
      (await publish.locator("label.kind-choice", { has: page.locator('input[value="netflix"]') })
        .textContent())!,
      /consent for Academic research/,
    );
    await kindBox.check();
    await publish.locator('[data-testid="publish-purpose"]').fill("Academic research on viewing habits");
    await publish.locator('[data-testid="publish-title"]').fill("Viewing, anonymized");
    await publish.locator('input[name="price"]').fill("2.5");
    await publish.locator('input[name="licence"]').fill("CC-BY-4.0");
    await publish.locator('[data-testid="publish-sources-button"]').click();
    await publish.locator('[data-testid="publish-preview"]').waitFor({ timeout: 30_000 });
    assert.match((await publish.locator('[data-testid="publish-preview"]').textContent())!, /from Netflix/);
    await publish.locator('[data-testid="fee-confirm-button"]').click();
    const result = publish.locator('[data-testid="publication-result"]');
    await result.waitFor({ timeout: 60_000 });
    const manifestCid = (await result.getAttribute("data-manifest-cid"))!;
    const { publications } = await (await fetch(`${node.url}/api/v1/publications`, asOwner(node))).json() as {
      publications: PublicationView[];
    };
    assert.deepEqual(publications.map((p) => [p.manifestCid, p.consentIds]), [[manifestCid, [
      tokenId.toString(),
    ]]]);
    assert.ok(publications[0].rows > 0);
    assert.equal(
      (await result.locator('[data-testid="publication-rows"]').textContent())?.trim(),
      publications[0].rows.toLocaleString("en-US"),
    );
    assert.equal(await result.locator('[data-testid="privacy-k"]').getAttribute("data-k"), "5");
    const granted = await nonce();

    // Revoke: one click, the fee, Confirm; the contract says no more.
    await row.locator('[data-testid="consent-revoke"]').click();
    await confirm.waitFor({ timeout: 10_000 });
    assert.match((await confirm.textContent())!, new RegExp(`Revoke consent #${tokenId}`));
    assert.equal(await nonce(), granted, "the revoke's fee preview signed nothing");
    await confirm.locator('[data-testid="fee-confirm-button"]').click();
    await waitFor(async () => (await row.getAttribute("data-state")) === "revoked", {
      what: "the consent to show revoked",
      timeoutMs: 30_000,
    });
    assert.equal((await row.locator('[data-testid="consent-state"]').textContent())?.trim(), "revoked");
    assert.equal(await row.locator('[data-testid="consent-revoke"]').count(), 0);
    assert.equal(await isValid(tokenId), false);
    assert.ok((await getConsent(tokenId)).revokedAt > 0, "the contract records the revocation");
    await assert.rejects(ownerOf(tokenId), "the record is burnt");
    assert.equal(await nonce(), granted + 1, "one transaction");

    // After a reload the page reads the state from the chain.
    await page.reload();
    const reloaded = page.locator(`[data-testid="consent"][data-token-id="${tokenId}"]`);
    assert.equal(await reloaded.getAttribute("data-state"), "revoked");
    assert.equal((await page.locator('[data-testid="consents-count"]').textContent())?.trim(), "0");
    assert.equal(await onCard.getAttribute("data-state"), "revoked");
    assert.equal(
      await card.locator(`[data-testid="source-publications"] li[data-manifest-cid="${manifestCid}"]`)
        .count(),
      1,
    );
    const listed = page.locator(`[data-testid="publication"][data-manifest-cid="${manifestCid}"]`);
    assert.equal(
      (await listed.locator('[data-testid="publication-consents"]').textContent())?.trim(),
      `#${tokenId}`,
    );
    assert.equal((await listed.locator('[data-testid="publication-sales"]').textContent())?.trim(), "0");
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
