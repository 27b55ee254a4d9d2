/**
 * Importing a site's history over HTTP and with `kosmos analytics-import`: a
 * Plausible CSV export zip and a GA4 NDJSON file become daily aggregates of
 * one of the node's sites; a bad file is refused with 422 and changes
 * nothing; another site is 404; without the owner's token, 401.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import type { AnalyticsImportResultView, AnalyticsImportView } from "../protocol/api/mod.ts";
import { kosmos } from "./cli.ts";
import { ownerFetch, tempDir } from "./helpers.ts";
import { startAppNode } from "./node_app.ts";

const domain = "history.example";

const plausibleZip = zipSync({
  "imported_visitors_20240301_20240302.csv": strToU8(
    "date,visitors,pageviews,bounces,visits,visit_duration\n2024-03-01,40,90,10,50,3000\n2024-03-02,4,9,1,5,300\n",
  ),
  "imported_pages_20240301_20240302.csv": strToU8(
    "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n" +
      "2024-03-01,history.example,/,30,30,60,,0\n",
  ),
});

function upload(name: string, bytes: Uint8Array): FormData {
  const form = new FormData();
  form.append("file", new File([bytes as Uint8Array<ArrayBuffer>], name));
  return form;
}

Deno.test("POST /api/v1/sites/:domain/imports imports Plausible and GA4 exports; bad files change nothing", async () => {
  await using started = await startAppNode("kosmos-analytics-imports-");
  const { node } = started;
  const registered = await ownerFetch(node, "/api/v1/sites", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ domain }),
  });
  assert.equal(registered.status, 201);
  await registered.body?.cancel();
  const path = `/api/v1/sites/${domain}/imports`;

  let res = await ownerFetch(node, path, { method: "POST", body: upload("export.zip", plausibleZip) });
  assert.equal(res.status, 201);
  const imported = await res.json() as AnalyticsImportResultView;
  assert.deepEqual(
    [imported.source, imported.from, imported.to, imported.days],
    ["plausible-csv", "2024-03-01", "2024-03-02", 2],
  );

  const ga4 = JSON.stringify({
    event_date: "20240305",
    event_timestamp: String(Date.parse("2024-03-05T10:00:00Z") * 1000),
    event_name: "page_view",
    user_pseudo_id: "u1",
    event_params: [{ key: "page_location", value: { string_value: "https://history.example/a" } }],
  });
  res = await ownerFetch(node, path, {
    method: "POST",
    body: upload("events_20240305.ndjson", strToU8(ga4)),
  });
  assert.equal(res.status, 201);
  assert.equal((await res.json()).source, "ga4");

  const list = async () => {
    const r = await ownerFetch(node, path);
    assert.equal(r.status, 200);
    return await r.json() as AnalyticsImportView[];
  };
  const before = await list();
  assert.deepEqual(before.map((i) => [i.source, i.visitors, i.pageviews]), [["ga4", 1, 1], [
    "plausible-csv",
    44,
    99,
  ]]);

  res = await ownerFetch(node, path, {
    method: "POST",
    body: upload("imported_visitors_20240301_20240301.csv", strToU8("date,visitors\n2024-03-01,1\n")),
  });
  assert.equal(res.status, 422);
  const refused = await res.json();
  assert.equal(refused.error.code, "import_error");
  assert.match(refused.error.message, /no "pageviews" column/);
  res = await ownerFetch(node, path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 415);
  await res.body?.cancel();
  assert.deepEqual(await list(), before);

  res = await ownerFetch(node, `/api/v1/sites/other.example/imports`, {
    method: "POST",
    body: upload("export.zip", plausibleZip),
  });
  assert.equal(res.status, 404);
  await res.body?.cancel();
  res = await fetch(new URL(path, node.url), { method: "POST", body: upload("export.zip", plausibleZip) });
  assert.equal(res.status, 401);
  await res.body?.cancel();

  res = await ownerFetch(node, `${path}?source=ga4`, { method: "DELETE" });
  assert.equal(res.status, 200);
  assert.ok((await res.json()).removed > 0);
  assert.deepEqual((await list()).map((i) => i.source), ["plausible-csv"]);
});

Deno.test("the site's history page imports, removes and sets paths through forms that come back to it", async () => {
  await using started = await startAppNode("kosmos-history-page-");
  const { node } = started;
  await node.components.sites.registerSite(domain);
  const html = { accept: "text/html" };
  const page = `/sites/${domain}/history`;

  let res = await ownerFetch(node, `/api/v1/sites/${domain}/imports`, {
    method: "POST",
    headers: html,
    body: upload("export.zip", plausibleZip),
    redirect: "manual",
  });
  assert.equal(res.status, 303);
  assert.match(
    res.headers.get("location") ?? "",
    /^\/sites\/history\.example\/history\?saved=Imported\+2\+days/,
  );
  await res.body?.cancel();
  res = await ownerFetch(node, `/api/v1/sites/${domain}/imports`, {
    method: "POST",
    headers: html,
    body: upload("notes.txt", strToU8("hello")),
    redirect: "manual",
  });
  assert.equal(res.status, 303);
  assert.match(decodeURIComponent(res.headers.get("location") ?? ""), /\?error=Expected\+a\+Plausible/);
  await res.body?.cancel();

  res = await ownerFetch(node, `/api/v1/sites/${domain}/paths`, {
    method: "POST",
    headers: { ...html, "content-type": "application/x-www-form-urlencoded" },
    body: "scriptPath=%2Fjs%2Fstats.js&eventPath=",
    redirect: "manual",
  });
  assert.equal(res.status, 303);
  await res.body?.cancel();
  res = await ownerFetch(node, page, { headers: html });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /data-import="plausible-csv"/);
  assert.match(text, /value="\/js\/stats\.js"/);
  assert.match(text, /src=&quot;\/js\/stats\.js&quot;/, "the snippet names the script path");

  res = await ownerFetch(node, `/api/v1/sites/${domain}/imports/plausible-csv/delete`, {
    method: "POST",
    headers: html,
    redirect: "manual",
  });
  assert.equal(res.status, 303);
  await res.body?.cancel();
  assert.deepEqual(node.components.analytics.imports.listImports(domain), []);
  res = await ownerFetch(node, `/sites/elsewhere.example/history`, { headers: html });
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("kosmos analytics-import uploads an export and lists what was imported", async () => {
  await using started = await startAppNode("kosmos-cli-analytics-import-");
  await using dir = await tempDir();
  const { node } = started;
  await node.components.sites.registerSite(domain);
  const file = join(dir.path, "plausible-export.zip");
  await Deno.writeFile(file, plausibleZip);

  const run = await kosmos(node, ["analytics-import", domain, file]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout.trim(),
    "imported plausible-csv history of history.example: 2024-03-01 … 2024-03-02, 2 days, 3 rows",
  );
  const listed = await kosmos(node, ["analytics-import", domain]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^plausible-csv\t2024-03-01 … 2024-03-02\t2 days\t44 visitors\t99 pageviews\t/);

  const bad = join(dir.path, "notes.txt");
  await Deno.writeTextFile(bad, "hello");
  const refused = await kosmos(node, ["analytics-import", domain, bad]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /refused notes\.txt: .*Expected a Plausible CSV export/);
});
