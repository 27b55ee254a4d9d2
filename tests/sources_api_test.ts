/**
 * The sources HTTP API on a real node (embedded anvil with our contracts, real SQLite): importing
 * an export through a streamed multipart upload and every way an upload can be wrong (right 4xx,
 * nothing kept), listing, the anonymized preview, deleting, bank layouts and mappings in either
 * order, and publications: refused without a valid consent, published under one (privacy report
 * and consent reference in the manifest, ownership recorded on chain), refused again once revoked.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import type {
  ImportResult,
  PublicationPreview,
  PublicationsView,
  PublicationView,
  SourcePreview,
  SourcesView,
} from "../protocol/api/mod.ts";
import { SOURCE_KINDS } from "../protocol/sources.ts";
import { createApp } from "../web/app.ts";
import { getManifest } from "../node/services/blocks/mod.ts";
import { startAppNode } from "./node_app.ts";
import { HOUR, T0, viewingActivity } from "./sources.ts";

const encoder = new TextEncoder();

/** A bank statement: German layout, semicolons and decimal commas. */
function statement(rows: number): Uint8Array<ArrayBuffer> {
  const lines = ["Buchungstag;Verwendungszweck;Betrag;Saldo"];
  for (let i = 0; i < rows; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    lines.push(`${day}.03.2024;Payee ${i % 5};-${10 + (i % 7)},50;${1000 - i},00`);
  }
  return encoder.encode(lines.join("\n") + "\n");
}

function form(parts: [string, string | File][]): FormData {
  const body = new FormData();
  for (const [name, value] of parts) body.append(name, value);
  return body;
}

async function expectError(response: Response, status: number, code: string, message?: RegExp) {
  const body = await response.json();
  assert.equal(
    response.status,
    status,
    `${status} expected, got ${response.status}: ${JSON.stringify(body)}`,
  );
  assert.equal(body.error.code, code, JSON.stringify(body));
  if (message) assert.match(body.error.message, message);
}

Deno.test("the sources API imports, lists, previews and deletes, and refuses every bad upload", async (t) => {
  await using started = await startAppNode("kosmos-sources-api-");
  const { node, app } = started;
  const db = node.components.db;
  const count = (table: string) =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    app.request(path, { method: "POST", body, headers });
  const imports = "/api/v1/sources/netflix/imports";
  let id = "";

  await t.step("POST imports a ViewingActivity.csv: 201 once every row is committed", async () => {
    const response = await post(
      imports,
      form([["file", new File([viewingActivity(400)], "ViewingActivity.csv")]]),
    );
    assert.equal(response.status, 201, await response.clone().text());
    const result = await response.json() as ImportResult;
    assert.equal(result.kind, "netflix");
    assert.equal(result.rows, 400);
    assert.equal(response.headers.get("location"), `/api/v1/sources/${result.id}`);
    id = result.id;
    assert.equal(count("source_rows"), 400);
  });

  await t.step("GET /api/v1/sources lists every kind and the import with its time range", async () => {
    const view = await (await app.request("/api/v1/sources")).json() as SourcesView;
    assert.deepEqual(view.kinds.map((k) => k.kind), [...SOURCE_KINDS]);
    assert.equal(view.sources.length, 1);
    const [source] = view.sources;
    assert.equal(source.id, id);
    assert.equal(source.filename, "ViewingActivity.csv");
    assert.equal(source.rows, 400);
    assert.equal(source.from, T0);
    assert.equal(source.to, T0 + 99 * HOUR + 3 * 600_000);
  });

  await t.step("a bad upload gets the right 4xx and keeps nothing", async () => {
    const file = () => new File([viewingActivity(50)], "ViewingActivity.csv");
    await expectError(
      await post("/api/v1/sources/myspace/imports", form([["file", file()]])),
      404,
      "not_found",
      /No source kind "myspace"; the kinds are spotify, netflix, chrome, apple-health, uber, amazon, airbnb, bank/,
    );
    await expectError(
      await post(
        imports,
        form([["file", new File([viewingActivity(50, { line: 7, start: "yesterday" })], "Vi.csv")]]),
      ),
      422,
      "import_error",
      /^Vi\.csv line 7: Start Time "yesterday" is not a date/,
    );
    await expectError(
      await post(imports, form([["file", new File([encoder.encode("just some text\n")], "notes.txt")]])),
      422,
      "import_error",
      /^notes\.txt/,
    );
    await expectError(
      await post(imports, JSON.stringify({ file: "x" }), { "content-type": "application/json" }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      await post(imports, "x", { "content-type": "multipart/form-data" }),
      400,
      "bad_request",
      /no boundary/,
    );
    await expectError(
      await post(imports, '--b\r\nContent-Disposition: form-data; name="file"; filename="v.csv"\r\n\r\nabc', {
        "content-type": "multipart/form-data; boundary=b",
      }),
      400,
      "bad_request",
      /^Malformed upload/,
    );
    await expectError(
      await post(imports, form([["title", "x"]])),
      422,
      "unprocessable",
      /Unknown field "title"/,
    );
    await expectError(await post(imports, new FormData()), 400, "bad_request");
    await expectError(
      await post(imports, form([["file", "not a file"]])),
      422,
      "unprocessable",
      /must be a file upload/,
    );
    await expectError(
      await post(imports, form([["mapping", "{}"], ["file", file()]])),
      422,
      "unprocessable",
      /only for bank statements/,
    );
    await expectError(
      await post(imports, form([["file", file()], ["file", file()]])),
      400,
      "bad_request",
      /Nothing may follow/,
    );
    const huge = new Request(`http://localhost${imports}`, {
      method: "POST",
      body: form([["file", file()]]),
    });
    await expectError(
      await app.request(imports, {
        method: "POST",
        headers: { "content-type": huge.headers.get("content-type")!, "content-length": String(2 ** 40) },
        body: huge.body,
        duplex: "half",
      } as RequestInit),
      413,
      "payload_too_large",
    );
    // A node that takes small files only: refused while streaming (no Content-Length to go by).
    const small = createApp(node.facade, { auth: node.auth, maxUploadBytes: 1000, log: quiet });
    const streamed = new Request(`http://localhost${imports}`, {
      method: "POST",
      body: form([["file", file()]]),
    });
    await expectError(
      await small.request(
        new Request(streamed.url, {
          method: "POST",
          headers: {
            "content-type": streamed.headers.get("content-type")!,
            authorization: `Bearer ${node.apiToken}`,
          },
          body: streamed.body,
          duplex: "half",
        } as RequestInit),
      ),
      413,
      "payload_too_large",
    );
    assert.equal(count("sources"), 1);
    assert.equal(count("source_rows"), 400);
  });

  await t.step("without the owner's token every sources route answers 401", async () => {
    const open = createApp(node.facade, { auth: node.auth, log: quiet });
    for (
      const [method, path] of [
        ["POST", imports],
        ["GET", "/api/v1/sources"],
        ["GET", `/api/v1/sources/${id}/preview`],
        ["DELETE", `/api/v1/sources/${id}`],
        ["POST", "/api/v1/sources/bank/layout"],
        ["GET", "/api/v1/publications"],
        ["POST", "/api/v1/publications"],
      ]
    ) {
      await expectError(await open.request(path, { method }), 401, "unauthorized");
    }
    assert.equal(count("source_rows"), 400);
  });

  await t.step(
    "GET preview shows what would leave the node: no identifiers, generalised, at most 50 rows",
    async () => {
      const preview = await (await app.request(`/api/v1/sources/${id}/preview?k=5`)).json() as SourcePreview;
      assert.equal(preview.kind, "netflix");
      assert.ok(
        !preview.columns.includes("profile") && !preview.columns.includes("device"),
        String(preview.columns),
      );
      assert.deepEqual(preview.privacy.dropped?.toSorted(), ["device", "profile"]);
      assert.equal(preview.privacy.k, 5);
      assert.ok(preview.released > 300 && preview.released <= 400, String(preview.released));
      assert.equal(preview.rows.length, 50);
      assert.equal(preview.rows[0].length, preview.columns.length);
      await expectError(await app.request(`/api/v1/sources/${id}/preview?k=1`), 400, "bad_request", /"k"/);
      await expectError(
        await app.request(`/api/v1/sources/${id}/preview?n=1`),
        400,
        "bad_request",
        /Unknown/,
      );
      await expectError(
        await app.request(`/api/v1/sources/nope/preview`),
        404,
        "not_found",
        /No source "nope"/,
      );
    },
  );

  await t.step("bank statements: the layout detected, the mapping before or after the file", async () => {
    const layout = await (await post(
      "/api/v1/sources/bank/layout",
      form([["file", new File([statement(60)], "konto.csv")]]),
    )).json();
    assert.equal(layout.mapping.delimiter, ";");
    assert.equal(layout.mapping.decimal, ",");
    assert.equal(layout.mapping.date, "Buchungstag");
    assert.deepEqual(layout.header, ["Buchungstag", "Verwendungszweck", "Betrag", "Saldo"]);
    await expectError(
      await post(
        "/api/v1/sources/bank/layout",
        form([["file", new File([encoder.encode("")], "empty.csv")]]),
      ),
      422,
      "import_error",
      /^empty\.csv: the file is empty/,
    );
    const mapping = JSON.stringify(layout.mapping);
    const bank = "/api/v1/sources/bank/imports";
    const detected = await post(bank, form([["file", new File([statement(60)], "konto.csv")]]));
    assert.equal(detected.status, 201, await detected.clone().text());
    assert.deepEqual((await detected.json() as ImportResult).mapping, layout.mapping);
    for (const parts of [[["mapping", mapping], ["file", "f"]], [["file", "f"], ["mapping", mapping]]]) {
      const body = form(parts.map(([n, v]) => [n, v === "f" ? new File([statement(60)], "konto.csv") : v]));
      const response = await post(bank, body);
      assert.equal(response.status, 201, await response.clone().text());
      const result = await response.json() as ImportResult;
      assert.equal(result.rows, 60);
      assert.deepEqual(result.mapping, layout.mapping);
    }
    await expectError(
      await post(bank, form([["file", new File([statement(5)], "k.csv")], ["mapping", '{"date":1}']])),
      422,
      "unprocessable",
      /^Invalid mapping: /,
    );
    await expectError(
      await post(bank, form([["mapping", "not json"], ["file", new File([statement(5)], "k.csv")]])),
      422,
      "unprocessable",
      /mapping must be JSON/,
    );
    await expectError(
      await post(
        bank,
        form([["mapping", JSON.stringify({ ...layout.mapping, amount: "Nope" })], [
          "file",
          new File([statement(5)], "k.csv"),
        ]]),
      ),
      422,
      "import_error",
      /^k\.csv/,
    );
    const parked = await Array.fromAsync(Deno.readDir(`${node.config.dataDir}/uploads`)).catch(() => []);
    assert.deepEqual(parked, [], "no parked upload was left behind");
    assert.equal(count("sources"), 4);
  });

  await t.step("DELETE removes the source and its rows: 204, then 404", async () => {
    const response = await app.request(`/api/v1/sources/${id}`, { method: "DELETE" });
    assert.equal(response.status, 204);
    await expectError(await app.request(`/api/v1/sources/${id}`, { method: "DELETE" }), 404, "not_found");
    await expectError(await app.request(`/api/v1/sources/${id}/preview`), 404, "not_found");
    const view = await (await app.request("/api/v1/sources")).json() as SourcesView;
    assert.ok(view.sources.every((s) => s.kind === "bank"));
    assert.equal(count("source_rows"), 180);
  });
});

const quiet = { error: () => {}, debug: () => {} };

Deno.test("publications: refused without a valid consent, published under one, refused again once revoked", async () => {
  await using started = await startAppNode("kosmos-publications-");
  const { node, app } = started;
  const purpose = "viewing habits research";
  const postJson = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const fields = {
    kinds: ["netflix", "spotify"],
    purpose,
    title: "Viewing, March",
    price: "2.5",
    licence: "CC-BY-4.0",
  };

  const imported = await app.request("/api/v1/sources/netflix/imports", {
    method: "POST",
    body: form([["file", new File([viewingActivity(400)], "ViewingActivity.csv")]]),
  });
  assert.equal(imported.status, 201, await imported.clone().text());

  await expectError(
    await postJson("/api/v1/publications", fields),
    409,
    "conflict",
    /netflix: no valid consent for the purpose "viewing habits research"; spotify: no valid consent/,
  );
  await expectError(await postJson("/api/v1/publications?preview=1", fields), 409, "conflict");
  await expectError(
    await postJson("/api/v1/publications", { ...fields, kinds: [] }),
    422,
    "unprocessable",
    /kinds/,
  );
  await expectError(
    await postJson("/api/v1/publications", { ...fields, kinds: ["netflix", "netflix"] }),
    422,
    "unprocessable",
  );
  await expectError(
    await postJson("/api/v1/publications", { ...fields, price: "-1" }),
    422,
    "unprocessable",
    /price/,
  );
  await expectError(
    await postJson("/api/v1/publications", { ...fields, licence: "a b" }),
    422,
    "unprocessable",
    /licence/,
  );
  await expectError(await postJson("/api/v1/publications", { ...fields, k: 1 }), 422, "unprocessable", /"k"/);
  await expectError(
    await postJson("/api/v1/publications", { ...fields, purpose: "x" }),
    422,
    "unprocessable",
    /purpose/,
  );
  await expectError(
    await postJson("/api/v1/publications", { ...fields, colour: 1 }),
    422,
    "unprocessable",
    /Unknown field/,
  );

  const consent = await node.components.consent.grant({
    kind: "netflix",
    purpose,
    expiresAt: Date.now() + 30 * 86_400_000,
  });
  const preview = await (await postJson("/api/v1/publications?preview=1", fields))
    .json() as PublicationPreview;
  assert.equal(preview.preview, true);
  assert.ok(BigInt(preview.fee.gas) > 0n);
  assert.deepEqual(preview.kinds, ["netflix"]);
  assert.deepEqual(preview.excluded.map((e) => e.kind), ["spotify"]);
  assert.deepEqual((await (await app.request("/api/v1/publications")).json()).publications, []);

  const response = await postJson("/api/v1/publications", fields);
  assert.equal(response.status, 201, await response.clone().text());
  const publication = await response.json() as PublicationView;
  assert.deepEqual(publication.kinds, ["netflix"]);
  assert.deepEqual(publication.excluded, [{
    kind: "spotify",
    reason: `no valid consent for the purpose "${purpose}"`,
  }]);
  assert.deepEqual(publication.consentIds, [consent.tokenId.toString()]);
  assert.ok(publication.ownershipTokenId !== null, "the ownership is recorded on chain");
  assert.equal(publication.privacy.k, 5);
  assert.ok(publication.rows > 300, String(publication.rows));
  const manifest = await getManifest(node.components.blocks, CID.parse(publication.manifestCid));
  assert.equal(manifest.category, "media");
  assert.equal(manifest.rowCount, publication.rows);
  assert.deepEqual(manifest.privacy, publication.privacy);
  const { chainId } = node.components.chain;
  assert.deepEqual(manifest.consent, [
    `eip155:${chainId}:${node.components.chain.client.contracts.consent}/${consent.tokenId}`,
  ]);
  assert.ok(!manifest.schema.some((c) => c.name === "profile" || c.name === "device"));
  const listed = await (await app.request("/api/v1/publications")).json() as PublicationsView;
  assert.deepEqual(listed.publications.map((p) => [p.id, p.sales.count]), [[publication.id, 0]]);

  // Noisy counts: refused with nothing charged past the budget, else charged to the kind's budget.
  const budget = node.components.privacy.getBudget("netflix");
  await expectError(
    await postJson("/api/v1/publications", { ...fields, epsilon: budget.total + 1 }),
    409,
    "conflict",
    /nothing was charged/,
  );
  assert.deepEqual(node.components.privacy.getBudget("netflix"), budget);
  const noisy = await postJson("/api/v1/publications", { ...fields, epsilon: 0.5 });
  assert.equal(noisy.status, 201, await noisy.clone().text());
  assert.equal((await noisy.json() as PublicationView).privacy.epsilon, 0.5);
  assert.equal(node.components.privacy.getBudget("netflix").spent, budget.spent + 0.5);

  await node.components.consent.revoke(consent.tokenId.toString());
  await expectError(
    await postJson("/api/v1/publications", fields),
    409,
    "conflict",
    /netflix: no valid consent/,
  );
  assert.equal((await (await app.request("/api/v1/publications")).json()).publications.length, 2);
});
