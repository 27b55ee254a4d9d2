/**
 * The dataset HTTP API against two real nodes on loopback: publishing a CSV
 * through a streamed multipart upload, every way an upload can be wrong
 * (right 4xx, nothing stored), searching, filtering and sorting the catalog,
 * and a fetch from the second node that reaches `complete`.
 */
import assert from "node:assert/strict";
import { CID } from "multiformats/cid";
import { createApp } from "../web/app.ts";
import type { FetchView, ListingDetail, ListingsPage } from "../protocol/api/mod.ts";
import { decryptDataset, getManifest } from "../node/services/blocks/mod.ts";
import type { KosmosNode } from "../node/node.ts";
import { makeManifestCid } from "../node/services/chain/testing.ts";
import { startNetwork } from "./nodes.ts";
import { ownerApp, ownerFetch, waitFor } from "./helpers.ts";

const MiB = 1024 * 1024;
const quietLog = { error: () => {}, debug: () => {} };

/** A CSV of about `bytes` bytes with a timestamp and an identifying column. */
function makeCsv(bytes: number, seed = 1): Uint8Array<ArrayBuffer> {
  const lines = ["id,email,ts,sensor,value"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},user${i}@example.com,${1_700_000_000_000 + i * 1000},s${(i * seed) % 97},${
      ((i * 7919 + seed) % 100_000) / 100
    }`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

interface Upload {
  title?: string;
  description?: string;
  category?: string;
  price?: string;
  license?: string;
  file?: Uint8Array<ArrayBuffer>;
  filename?: string;
  /** @default "text/csv" */
  type?: string;
}

function formOf(upload: Upload, extra: [string, string][] = []): FormData {
  const form = new FormData();
  for (const key of ["title", "description", "category", "price", "license"] as const) {
    if (upload[key] !== undefined) form.append(key, upload[key]!);
  }
  for (const [k, v] of extra) form.append(k, v);
  if (upload.file) {
    form.append(
      "file",
      new File([upload.file], upload.filename ?? "data.csv", { type: upload.type ?? "text/csv" }),
    );
  }
  return form;
}

const valid: Upload = {
  title: "Air quality, Berlin",
  description: "PM2.5 readings from balcony sensors",
  category: "environment",
  price: "2.5",
  license: "CC-BY-4.0",
};

async function publish(node: KosmosNode, upload: Upload): Promise<Response> {
  return await ownerFetch(node, `/api/v1/datasets`, { method: "POST", body: formOf(upload) });
}

async function expectError(response: Response, status: number, code: string, message?: RegExp) {
  const body = await response.json();
  assert.equal(
    response.status,
    status,
    `${status} expected, got ${response.status}: ${JSON.stringify(body)}`,
  );
  assert.equal(body.error.code, code);
  if (message) assert.match(body.error.message, message);
}

async function getJson<T>(node: KosmosNode, path: string): Promise<T> {
  const response = await ownerFetch(node, path);
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body as T;
}

Deno.test("the dataset API publishes, validates, lists and fetches across two nodes", async (t) => {
  await using net = await startNetwork(2);
  await net.waitForMesh();
  const [a, b] = net.nodes;
  const csv = makeCsv(2.5 * MiB);
  let airId = "";

  await t.step(
    "POST /api/v1/datasets publishes a streamed CSV upload with 201 { id, manifestCid }",
    async () => {
      const response = await publish(a, { ...valid, file: csv, filename: "air.csv" });
      const body = await response.json();
      assert.equal(response.status, 201, JSON.stringify(body));
      assert.deepEqual(Object.keys(body).sort(), ["id", "manifestCid"]);
      assert.equal(body.id, body.manifestCid);
      assert.equal(response.headers.get("location"), `/api/v1/listings/${body.id}`);
      airId = body.id;

      const listing = await getJson<ListingDetail>(a, `/api/v1/listings/${airId}`);
      assert.equal(listing.title, valid.title);
      assert.equal(listing.price, "2500000000000000000");
      assert.equal(listing.seller, a.address);
      assert.equal(listing.byteLength, csv.byteLength);
      assert.equal(listing.chunkCount, 3);
      assert.deepEqual(listing.schema.map((c) => c.name), ["id", "email", "ts", "sensor", "value"]);
      assert.ok(listing.preview.length > 0 && listing.preview.every((row) => row[1] === "•••"));
      assert.deepEqual(listing.providers, [a.peerId]);
      assert.equal(listing.replication?.local, true);
      assert.equal(listing.manifest?.format, "csv");
      assert.equal(listing.manifest?.filename, "air.csv");

      // The node kept the key, and the stored chunks decrypt to exactly the uploaded bytes.
      const dek = a.components.datasets.getDatasetKey(airId);
      assert.ok(dek);
      const manifest = await getManifest(a.components.blocks, CID.parse(airId));
      const plain = new Uint8Array(
        await new Response(decryptDataset(a.components.blocks, manifest, { dek })).arrayBuffer(),
      );
      assert.deepEqual(plain, csv);
    },
  );

  await t.step("bad uploads get the right 4xx and leave nothing stored", async () => {
    const before = await a.components.blocks.usage();
    const listed = (await getJson<ListingsPage>(a, `/api/v1/listings`)).total;
    const small = makeCsv(4000);
    const post = (body: BodyInit, headers: Record<string, string> = {}) =>
      ownerFetch(a, `/api/v1/datasets`, { method: "POST", body, headers });

    await expectError(
      await post(JSON.stringify(valid), { "content-type": "application/json" }),
      415,
      "unsupported_media_type",
      /multipart\/form-data/,
    );
    await expectError(
      await post("x", { "content-type": "multipart/form-data" }),
      400,
      "bad_request",
      /boundary/,
    );
    await expectError(await post(formOf(valid)), 400, "bad_request", /no part named "file"/);
    await expectError(
      await publish(a, { ...valid, title: undefined, file: small }),
      422,
      "unprocessable",
      /title is required/,
    );
    await expectError(
      await publish(a, { ...valid, category: "weather", price: "-1", file: small }),
      422,
      "unprocessable",
      /category must be one of .*; price must be a token amount/,
    );
    await expectError(
      await publish(a, { ...valid, price: "1.1234567890123456789", file: small }),
      422,
      "unprocessable",
      /at most 18 decimals/,
    );
    await expectError(
      await publish(a, { ...valid, license: "my license", file: small }),
      422,
      "unprocessable",
      /license/,
    );
    await expectError(
      await post(formOf({ ...valid, file: small }, [["colour", "red"]])),
      422,
      "unprocessable",
      /Unknown field "colour"/,
    );
    await expectError(
      await publish(a, { ...valid, file: new Uint8Array(0) }),
      422,
      "unprocessable",
      /empty/,
    );
    await expectError(
      await publish(a, {
        ...valid,
        file: new TextEncoder().encode('[{"a":1},'),
        filename: "broken.json",
        type: "application/json",
      }),
      422,
      "unprocessable",
      /Cannot read JSON/,
    );
    // The file before the fields, one of them bad: parked on disk, then refused and removed.
    const fileFirst = new FormData();
    fileFirst.append("file", new File([makeCsv(1.5 * MiB)], "late.csv"));
    for (const [k, v] of Object.entries({ ...valid, price: "cheap" })) fileFirst.append(k, v as string);
    await expectError(await post(fileFirst), 422, "unprocessable", /price must be a token amount/);
    // A bad field before the file is refused before the file is parked.
    const badFirst = new FormData();
    badFirst.append("price", "-1");
    badFirst.append("file", new File([makeCsv(1.5 * MiB)], "late.csv"));
    await expectError(await post(badFirst), 422, "unprocessable", /^Invalid upload: price must be/);
    // A field both before and after the file.
    const twice = formOf({ ...valid, file: makeCsv(1.5 * MiB) });
    twice.append("description", "late");
    await expectError(await post(twice), 422, "unprocessable", /Field "description" is given twice/);
    // Every field before the file, then more: its chunks are written while it streams, then removed.
    const fieldAfter = formOf({ ...valid, file: makeCsv(1.5 * MiB) }, [["gateway", a.address]]);
    fieldAfter.append("colour", "late");
    await expectError(await post(fieldAfter), 400, "bad_request", /Nothing may follow the "file" part/);
    // Larger than the node accepts: refused while streaming, after some chunks were already written.
    const limited = ownerApp(
      createApp(a.facade, { log: quietLog, maxUploadBytes: 1.5 * MiB, auth: a.auth }),
      a,
    );
    const request = new Request("http://localhost/api/v1/datasets", {
      method: "POST",
      body: formOf({ ...valid, file: makeCsv(3 * MiB) }),
    });
    // No Content-Length: only the streaming check can catch it.
    const streamed = new Request(request.url, {
      method: "POST",
      headers: { "content-type": request.headers.get("content-type")! },
      body: request.body,
      duplex: "half",
    } as RequestInit);
    await expectError(await limited.request(streamed), 413, "payload_too_large", /larger than/);

    assert.deepEqual(await a.components.blocks.usage(), before, "no blocks were left behind");
    const parked = await Array.fromAsync(Deno.readDir(`${a.config.dataDir}/uploads`)).catch(() => []);
    assert.deepEqual(parked, [], "no parked upload was left behind");
    assert.equal((await getJson<ListingsPage>(a, `/api/v1/listings`)).total, listed);
  });

  await t.step("GET /api/v1/listings searches, filters and sorts, on both nodes", async () => {
    for (
      const upload of [
        {
          title: "Taxi trips, May",
          category: "mobility",
          price: "0.5",
          description: "Pickups and drop-offs",
        },
        {
          title: "Grid load, Lisbon",
          category: "energy",
          price: "10",
          description: "Air conditioning peaks",
        },
      ]
    ) {
      const response = await publish(a, { ...valid, ...upload, file: makeCsv(20_000, upload.title.length) });
      assert.equal(response.status, 201, await response.text());
    }
    for (const node of [a, b]) {
      await waitFor(
        `three listings on ${node === a ? "A" : "B"}`,
        async () => (await getJson<ListingsPage>(node, `/api/v1/listings`)).total === 3,
      );
      const titles = async (query: string) =>
        (await getJson<ListingsPage>(node, `/api/v1/listings?${query}`)).listings.map((l) => l.title);
      assert.deepEqual((await titles("q=air")).sort(), ["Air quality, Berlin", "Grid load, Lisbon"]);
      assert.deepEqual(await titles("q=taxi"), ["Taxi trips, May"]);
      assert.deepEqual(await titles("category=energy"), ["Grid load, Lisbon"]);
      assert.deepEqual(await titles("sort=price"), [
        "Taxi trips, May",
        "Air quality, Berlin",
        "Grid load, Lisbon",
      ]);
      assert.deepEqual(await titles("sort=newest"), [
        "Grid load, Lisbon",
        "Taxi trips, May",
        "Air quality, Berlin",
      ]);
      assert.deepEqual(await titles("q=nothing-matches-this"), []);
    }
    await expectError(await ownerFetch(a, `/api/v1/listings?sort=cheapest`), 400, "bad_request", /sort/);
    await expectError(
      await ownerFetch(a, `/api/v1/listings?category=weather`),
      400,
      "bad_request",
      /category/,
    );
    await expectError(await ownerFetch(a, `/api/v1/listings?colour=red`), 400, "bad_request", /colour/);
    await expectError(await ownerFetch(a, `/api/v1/listings?limit=lots`), 400, "bad_request", /limit/);
    await expectError(await ownerFetch(a, `/api/v1/listings/nope`), 400, "bad_request");
    const unknown = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    await expectError(await ownerFetch(a, `/api/v1/listings/${unknown}`), 404, "not_found");
  });

  await t.step("POST /api/v1/fetches on the second node reaches complete", async () => {
    // B may already replicate every listing it indexed: ask about a dataset nobody published.
    await expectError(
      await ownerFetch(b, `/api/v1/fetches/${await makeManifestCid("never published")}`),
      404,
      "not_found",
      /POST \/api\/v1\/fetches/,
    );
    await expectError(
      await ownerFetch(b, `/api/v1/fetches`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      }),
      422,
      "unprocessable",
      /manifest CID/,
    );
    await expectError(
      await ownerFetch(b, `/api/v1/fetches`, { method: "POST", body: airId }),
      415,
      "unsupported_media_type",
    );
    const started = await ownerFetch(b, `/api/v1/fetches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ manifestCid: airId }),
    });
    assert.equal(started.status, 202);
    assert.equal(started.headers.get("location"), `/api/v1/fetches/${airId}`);
    assert.ok(["queued", "running", "complete"].includes(((await started.json()) as FetchView).status));
    const done = await waitFor("the fetch on B to complete", async () => {
      const progress = await getJson<FetchView>(b, `/api/v1/fetches/${airId}`);
      assert.notEqual(progress.status, "failed", progress.error ?? "");
      return progress.status === "complete" ? progress : undefined;
    }, { timeout: 30_000 });
    assert.equal(done.chunksTotal, 3);
    assert.equal(done.chunksVerified, 3);
    assert.ok(done.bytes > csv.byteLength);
    assert.ok(done.providers.includes(a.peerId));
    const listing = await getJson<ListingDetail>(b, `/api/v1/listings/${airId}`);
    assert.equal(listing.fetch?.status, "complete");
    assert.equal(listing.manifest?.format, "csv");
  });

  await t.step("POST /api/v1/datasets takes the fields in any order, after the file too", async () => {
    for (const [name, order] of [["file first", "file-first"], ["file between", "middle"]] as const) {
      const data = makeCsv(1.2 * MiB, name.length);
      const form = new FormData();
      const fields = Object.entries({ ...valid, title: `Order: ${name}` }) as [string, string][];
      if (order === "middle") form.append(...fields[0]);
      form.append("file", new File([data], `${order}.csv`, { type: "text/csv" }));
      for (const field of order === "middle" ? fields.slice(1) : fields) form.append(...field);
      const response = await ownerFetch(a, `/api/v1/datasets`, { method: "POST", body: form });
      const body = await response.json();
      assert.equal(response.status, 201, JSON.stringify(body));
      const listing = await getJson<ListingDetail>(a, `/api/v1/listings/${body.id}`);
      assert.equal(listing.title, `Order: ${name}`);
      assert.equal(listing.description, valid.description);
      assert.equal(listing.manifest?.filename, `${order}.csv`);
      const manifest = await getManifest(a.components.blocks, CID.parse(body.id));
      const dek = a.components.datasets.getDatasetKey(body.id);
      const plain = new Uint8Array(
        await new Response(decryptDataset(a.components.blocks, manifest, { dek: dek! })).arrayBuffer(),
      );
      assert.deepEqual(plain, data);
    }
    const parked = await Array.fromAsync(Deno.readDir(`${a.config.dataDir}/uploads`));
    assert.deepEqual(parked, [], "the parked copies are removed");
  });
});
