/**
 * The README's side-by-side example, run as a person runs it: node A started
 * plain (its embedded chain, the network `local`), node B started with only a
 * data dir, a port and `--bootstrap <A's address as A printed it>`. B joins
 * A's network (A's chain, checked contracts, A's protocol prefix), gets test
 * tokens from the faucet, and buys A's dataset through the API: the bytes B
 * downloads are the bytes A published. Then the same from the command line:
 * `kosmos publish --stake` on A, `kosmos buy --yes` and `kosmos exports` on B.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { PurchaseView } from "../protocol/api/mod.ts";
import { kosmosJson } from "./cli.ts";
import { makeCsv, ownerFetch, tempDir, waitFor } from "./helpers.ts";
import { type KosmosProcess, startKosmosProcess, stopKosmosProcess } from "./process.ts";

const ONE = 10n ** 18n;

async function json(response: Response, status: number): Promise<Record<string, unknown>> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  return JSON.parse(text);
}

Deno.test("two nodes started side by side as the README shows trade: B, bootstrapped to A, joins A's network and buys A's dataset", async () => {
  await using dirA = await tempDir("kosmos-side-a-");
  await using dirB = await tempDir("kosmos-side-b-");
  let a: KosmosProcess | undefined;
  let b: KosmosProcess | undefined;
  try {
    a = await startKosmosProcess(["--data-dir", dirA.path, "--port", "0"]);
    const printed = a.output.match(
      /^Network "local" \(chain 31337, registry (0x[0-9a-fA-F]{40})\) · other nodes join with --bootstrap (\S+)$/m,
    );
    assert.ok(printed, `A prints its network and the address to join it:\n${a.output}`);
    const [, registryA, addrA] = printed;
    b = await startKosmosProcess(["--data-dir", dirB.path, "--port", "0", "--bootstrap", addrA]);
    assert.match(b.output, new RegExp(`^Network "local" \\(chain 31337, registry ${registryA}\\)`, "m"));

    const infoA = await json(await ownerFetch(a, "/api/v1/node"), 200) as {
      chain: { rpcUrl: string };
      peerId: string;
    };
    const infoB = await json(await ownerFetch(b, "/api/v1/node"), 200) as {
      chain: { rpcUrl: string };
      network: { name: string; registry: string; joinedFrom: string; protocolPrefix: string; dev: boolean };
    };
    assert.equal(infoB.chain.rpcUrl, infoA.chain.rpcUrl, "B uses A's chain, not an anvil of its own");
    assert.equal(infoB.network.name, "local");
    assert.equal(infoB.network.registry, registryA);
    assert.equal(infoB.network.joinedFrom, addrA);
    assert.ok(infoB.network.dev);
    await waitFor("B to connect to A", async () => {
      const peers = (await json(await ownerFetch(b!, "/api/v1/node"), 200)).peers as string[];
      return peers.includes(infoA.peerId);
    });

    // B's test tokens: the faucet of the dev network (B's "Get test tokens").
    const drip = await json(await ownerFetch(b, "/api/v1/faucet", { method: "POST" }), 200);
    assert.ok(BigInt(drip.tokens as string) >= 100n * ONE, "the faucet gives B tokens to buy with");

    // A publishes and lists (stakes) a dataset.
    const data = makeCsv(600 * 1024);
    const form = new FormData();
    form.append("title", "Balcony air quality");
    form.append("description", "PM2.5 every minute");
    form.append("category", "environment");
    form.append("price", "2.5");
    form.append("license", "CC-BY-4.0");
    form.append("file", new File([data], "air.csv", { type: "text/csv" }));
    const published = await json(
      await ownerFetch(a, "/api/v1/datasets", { method: "POST", body: form }),
      201,
    );
    const manifestCid = published.manifestCid as string;
    await json(
      await ownerFetch(a, "/api/v1/stakes", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ manifestCid, amount: "100" }),
      }),
      201,
    );
    await waitFor("B to list A's dataset as staked", async () => {
      const res = await ownerFetch(b!, `/api/v1/listings/${manifestCid}`);
      if (res.status !== 200) return void await res.body?.cancel();
      const listing = await res.json();
      return BigInt(listing.stake) > 0n;
    }, { timeout: 30_000 });

    // B buys it through the API and downloads what it bought.
    const purchase = await json(
      await ownerFetch(b, "/api/v1/purchases", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ listingId: manifestCid }),
      }),
      202,
    );
    const done = await waitFor("B's purchase to complete", async () => {
      const p = await json(await ownerFetch(b!, `/api/v1/purchases/${purchase.id}`), 200);
      if (p.status === "failed" || p.status === "refunded") {
        throw new Error(`purchase ${p.status}: ${p.error}`);
      }
      return p.status === "complete" ? p : undefined;
    }, { timeout: 90_000, interval: 250 });
    assert.equal(done.listingId, manifestCid);
    const download = await ownerFetch(b, `/api/v1/purchases/${purchase.id}/data`);
    assert.equal(download.status, 200);
    assert.deepEqual(
      new Uint8Array(await download.arrayBuffer()),
      data,
      "B gets exactly the bytes A published",
    );

    // The same trade from the command line.
    const cliA = { url: a.url, config: { dataDir: dirA.path } };
    const cliB = { url: b.url, config: { dataDir: dirB.path } };
    const second = makeCsv(300 * 1024);
    const file = join(dirA.path, "second.csv");
    await Deno.writeFile(file, second);
    const listed = await kosmosJson<{ manifestCid: string; stake: { created: boolean } }>(cliA, [
      ...["publish", file, "--title", "Balcony noise", "--category", "environment", "--price", "1.5"],
      ...["--license", "CC-BY-4.0", "--stake", "100", "--yes"],
    ]);
    assert.equal(listed.stake.created, true);
    await waitFor("B to list the second dataset as staked", async () => {
      const res = await ownerFetch(b!, `/api/v1/listings/${listed.manifestCid}`);
      if (res.status !== 200) return void await res.body?.cancel();
      return BigInt((await res.json()).stake) > 0n;
    }, { timeout: 30_000 });
    const bought = await kosmosJson<PurchaseView>(cliB, ["buy", listed.manifestCid, "--yes"]);
    assert.equal(bought.status, "complete");
    const output = join(dirB.path, "second.csv");
    await kosmosJson(cliB, ["exports", bought.id, "--format", "original", "--output", output]);
    assert.deepEqual(await Deno.readFile(output), second, "the CLI's buy gives B the bytes A published");
  } finally {
    await Promise.all([stopKosmosProcess(b), stopKosmosProcess(a)]);
  }
});
