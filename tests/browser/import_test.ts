/**
 * Importing on My data in a real browser against a real node: a bank statement goes through the
 * column mapping step (the columns the node detects are shown as selects over the file's header,
 * with its first rows; the person changes one and imports with it), and the node reads the rows
 * with the confirmed mapping. A file that is not the export it claims to be shows the node's own
 * message and leaves nothing behind.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createNode } from "../../node/node.ts";
import type { BankLayoutView, SourcesView } from "../../protocol/api/sources.ts";
import { FIXTURES_DIR } from "../contributors.ts";
import { asOwner } from "../helpers.ts";
import { launchBrowser, logIn, waitFor } from "./browser.ts";

const COLUMNS = ["date", "amount", "debit", "credit", "description", "balance", "currency"] as const;

Deno.test("My data imports a bank statement with the column mapping the person changed, and shows a bad file's error", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-browser-import-" });
  const node = await createNode({ dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "warn" });
  const browser = await launchBrowser();
  try {
    await node.start();
    const listSources = async () =>
      (await (await fetch(`${node.url}/api/v1/sources`, asOwner(node))).json() as SourcesView).sources;
    // A statement with debit and credit columns and a column the mapping leaves out.
    const statement = new URL("bank/statement_uk.csv", FIXTURES_DIR).pathname;
    const bytes = await Deno.readFile(statement);
    const probe = new FormData();
    probe.append("file", new File([bytes], "statement_uk.csv"));
    const detected = await (await fetch(
      `${node.url}/api/v1/sources/bank/layout`,
      asOwner(node, { method: "POST", body: probe }),
    )).json() as BankLayoutView;

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await logIn(page, node);
    await page.goto(`${node.url}/data`);
    await waitFor(
      () => page.locator('kosmos-island[data-island="data_sources"][data-hydrated="true"]').count(),
      { what: "the DataSources island to hydrate" },
    );

    // A file that is not a Netflix export: the node's message, nothing imported.
    await page.selectOption('[data-testid="import-kind"]', "netflix");
    await page.setInputFiles('[data-testid="import-file"]', {
      name: "ViewingActivity.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("this is,not\na viewing,history\n"),
    });
    await page.click('[data-testid="import-button"]');
    const error = page.locator('[data-testid="import-error"]');
    await error.waitFor({ timeout: 20_000 });
    assert.match((await error.textContent())!, /ViewingActivity\.csv/);
    assert.deepEqual(await listSources(), []);

    // The bank statement: the node detects the columns, the page shows them over the first rows.
    await page.selectOption('[data-testid="import-kind"]', "bank");
    assert.match((await page.locator('[data-testid="import-button"]').textContent())!, /Detect the columns/);
    await page.setInputFiles('[data-testid="import-file"]', statement);
    await page.click('[data-testid="import-button"]');
    const mapping = page.locator('[data-testid="bank-mapping"]');
    await mapping.waitFor({ timeout: 20_000 });
    assert.deepEqual(
      await mapping.locator('[data-testid="bank-sample"] thead th').evaluateAll(
        (cells) => cells.map((c) => c.childNodes[0]?.textContent ?? ""),
      ),
      detected.header,
    );
    assert.equal(
      await mapping.locator('[data-testid="bank-sample"] tbody tr').count(),
      detected.sample.length,
    );
    for (const key of COLUMNS) {
      const select = mapping.locator(`[data-testid="mapping-${key}"]`);
      if (await select.count() === 0) continue; // amount or debit/credit, as detected
      assert.equal(await select.inputValue(), detected.mapping[key] ?? "", `detected ${key}`);
    }
    assert.equal(
      await mapping.locator('[data-testid="mapping-dateFormat"]').inputValue(),
      detected.mapping.dateFormat,
    );

    // Another delimiter splits the head again; the detected one restores it.
    const other = detected.mapping.delimiter === ";" ? "," : ";";
    await page.selectOption('[data-testid="mapping-delimiter"]', other);
    await waitFor(
      async () =>
        (await mapping.locator('[data-testid="bank-sample"] thead th').count()) !== detected.header.length,
      {
        what: "the head to be split with the other delimiter",
      },
    );
    await page.selectOption('[data-testid="mapping-delimiter"]', detected.mapping.delimiter);
    await waitFor(
      async () =>
        (await mapping.locator('[data-testid="bank-sample"] thead th').count()) === detected.header.length,
      {
        what: "the head to be split as detected",
      },
    );
    for (const key of COLUMNS) {
      const select = mapping.locator(`[data-testid="mapping-${key}"]`);
      if (await select.count() === 0) continue;
      assert.equal(await select.inputValue(), detected.mapping[key] ?? "", `${key} restored`);
    }

    // The person changes the description column to another one the mapping does not use.
    const used = new Set(COLUMNS.map((k) => detected.mapping[k]).filter((c) => c !== undefined));
    const description = detected.header.find((h) => !used.has(h)) ?? "";
    await page.selectOption('[data-testid="mapping-description"]', description);
    assert.equal(description, "Transaction type", "the test changes a column");
    await page.click('[data-testid="mapping-import"]');
    const done = page.locator('[data-testid="import-done"]');
    await done.waitFor({ timeout: 30_000 });

    const [source] = await listSources();
    assert.equal(source.kind, "bank");
    assert.equal(source.id, await done.getAttribute("data-source-id"));
    assert.ok(source.rows > 0);
    assert.equal(source.mapping?.description, description || undefined);
    assert.equal(source.mapping?.date, detected.mapping.date);
    const card = page.locator(`[data-testid="source"][data-source-id="${source.id}"]`);
    await card.waitFor({ timeout: 10_000 });
    assert.equal(
      (await card.locator('[data-testid="source-rows"]').textContent())?.trim(),
      source.rows.toLocaleString("en-US"),
    );
    const mappingText = (await card.locator('[data-testid="source-mapping"]').textContent())!;
    assert.ok(mappingText.includes(`date ${detected.mapping.date}`), mappingText);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
