/**
 * The IPFS trustless gateway of a public node, end to end: a real node (embedded chain, real block
 * store, its HTTP server on loopback) publishes a dataset, and a stock IPFS client (Helia with its
 * trustless-gateway block broker, pointed at the node and nothing else: no routers, no bootstrap, no
 * DNS) fetches and verifies its encrypted chunks. A proxy that flips one byte shows the client's
 * check is real. Then the HTTP face: headers, CARs read back with `@ipld/car`, every error status,
 * the per-caller rate limit, and 404 on a node that is not public.
 */
import assert from "node:assert/strict";
import { CarReader } from "@ipld/car";
import { trustlessGatewayBlockBroker } from "@helia/trustless-gateway-client";
import { multiaddr } from "@multiformats/multiaddr";
import { createHeliaLight } from "helia";
import { base36 } from "multiformats/bases/base36";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import * as dagCbor from "@ipld/dag-cbor";
import { Hono } from "hono";
import { createIpfsApi } from "../node/api/ipfs.ts";
import { getManifest, matchesCid, openBlockStore } from "../node/services/blocks/mod.ts";
import { createApp } from "../web/app.ts";
import { createIpfsRoutes } from "../web/routes/ipfs.ts";
import { makeCsv, tempDir } from "./helpers.ts";
import { startPublicNodeWithDataset } from "./nodes.ts";

const quietLog = { error: () => {}, debug: () => {} };
const RAW = "application/vnd.ipld.raw";

/** All of a Helia block read (a block arrives as one or more pieces). */
async function collect(pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of pieces) parts.push(part);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** The raw CID of bytes this node never stored. */
async function absentCid(): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(crypto.getRandomValues(new Uint8Array(32))));
}

async function cidsOf(reader: CarReader): Promise<string[]> {
  const out: string[] = [];
  for await (const cid of reader.cids()) out.push(cid.toString());
  return out;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test({
  name: "a public node's /ipfs/{cid} serves its encrypted chunks to a stock IPFS client, which verifies them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using dir = await tempDir("kosmos-ipfs-");
    const csv = makeCsv(2.5 * 1024 * 1024);
    const { node, manifestCid } = await startPublicNodeWithDataset(dir.path, csv);
    try {
      const { blocks } = node.components;
      const manifest = await getManifest(blocks, CID.parse(manifestCid));
      assert.ok(manifest.chunks.length >= 3, `${manifest.chunks.length} chunks`);
      const chunk = manifest.chunks[1];
      const stored = await blocks.get(chunk);
      const port = new URL(node.url).port;

      await t.step(
        "Helia's trustless-gateway broker fetches a chunk by CID and gets exactly the stored ciphertext",
        async () => {
          const helia = createHeliaLight({
            blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
            routers: [],
          });
          await helia.start();
          try {
            const providers = [multiaddr(`/ip4/127.0.0.1/tcp/${port}/http`)];
            const signal = AbortSignal.timeout(10_000);
            const session = helia.blockstore.createSession(chunk, { providers, signal });
            const fetched = await collect(session.get(chunk, { signal }));
            assert.deepEqual(fetched, stored);
            // Ciphertext only: the plaintext this chunk encrypts is not in it.
            const plain = csv.subarray(manifest.chunkSize, 2 * manifest.chunkSize);
            assert.equal(contains(fetched, plain.subarray(4096, 4096 + 32)), false);
            // The manifest (DAG-CBOR) is a block too, verified the same way.
            const root = CID.parse(manifestCid);
            const manifestSession = helia.blockstore.createSession(root, { providers, signal });
            assert.deepEqual(await collect(manifestSession.get(root, { signal })), await blocks.get(root));
          } finally {
            await helia.stop();
          }
        },
      );

      await t.step("Helia rejects a block that a gateway altered on the way", async () => {
        let tampered = 0;
        const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
          const url = new URL(req.url);
          const upstream = await fetch(`${node.url}${url.pathname}${url.search}`, { headers: req.headers });
          const body = new Uint8Array(await upstream.arrayBuffer());
          if (upstream.status === 200 && body.length > 0) {
            body[body.length >> 1] ^= 0x01;
            tampered++;
          }
          return new Response(body, { status: upstream.status, headers: upstream.headers });
        });
        const helia = createHeliaLight({
          blockBrokers: [trustlessGatewayBlockBroker({ allowInsecure: true, allowLocal: true })],
          routers: [],
        });
        await helia.start();
        try {
          const providers = [multiaddr(`/ip4/127.0.0.1/tcp/${proxy.addr.port}/http`)];
          const signal = AbortSignal.timeout(10_000);
          const session = helia.blockstore.createSession(chunk, { providers, signal });
          await assert.rejects(collect(session.get(chunk, { signal })));
          assert.ok(tampered >= 1, "the proxy answered 200 with a flipped byte");
          assert.equal(await helia.blockstore.has(chunk), false, "nothing unverified was kept");
        } finally {
          await helia.stop();
          await proxy.shutdown();
        }
      });

      await t.step("a raw block answers with the trustless gateway's headers, on GET and HEAD", async () => {
        const response = await fetch(`${node.url}/ipfs/${chunk}`, { headers: { Accept: RAW } });
        assert.equal(response.status, 200);
        assert.deepEqual(new Uint8Array(await response.arrayBuffer()), stored);
        const h = response.headers;
        assert.equal(h.get("content-type"), RAW);
        assert.equal(h.get("content-length"), String(stored.byteLength));
        assert.equal(h.get("x-content-type-options"), "nosniff");
        assert.equal(h.get("cache-control"), "public, max-age=29030400, immutable");
        assert.equal(h.get("etag"), `"${chunk}.raw"`);
        assert.equal(h.get("x-ipfs-path"), `/ipfs/${chunk}`);
        assert.equal(h.get("x-ipfs-roots"), chunk.toString());
        assert.match(h.get("content-disposition") ?? "", /^attachment; filename="bafkrei\w+\.bin"$/);
        assert.equal(h.get("content-location"), `/ipfs/${chunk}?format=raw`);

        const head = await fetch(`${node.url}/ipfs/${chunk}?format=raw`, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), String(stored.byteLength));
        assert.equal(head.headers.get("etag"), `"${chunk}.raw"`);
        assert.equal((await head.arrayBuffer()).byteLength, 0);

        const cached = await fetch(`${node.url}/ipfs/${chunk}?format=raw`, {
          headers: { "If-None-Match": `"${chunk}.raw"` },
        });
        assert.equal(cached.status, 304);
        await cached.body?.cancel();
        // The same CID in another multibase names the same block.
        const other = await fetch(`${node.url}/ipfs/${chunk.toString(base36)}?format=raw`);
        assert.equal(other.status, 200);
        assert.deepEqual(new Uint8Array(await other.arrayBuffer()), stored);
      });

      await t.step(
        "a CAR holds the manifest and every chunk, depth first, each matching its CID",
        async () => {
          const response = await fetch(`${node.url}/ipfs/${manifestCid}?format=car`);
          assert.equal(response.status, 200);
          assert.equal(
            response.headers.get("content-type"),
            "application/vnd.ipld.car; version=1; order=dfs; dups=n",
          );
          const reader = await CarReader.fromBytes(new Uint8Array(await response.arrayBuffer()));
          assert.deepEqual((await reader.getRoots()).map(String), [manifestCid]);
          const seen: string[] = [];
          for await (const { cid, bytes } of reader.blocks()) {
            assert.ok(await matchesCid(CID.asCID(cid)!, bytes), `${cid} matches its bytes`);
            seen.push(cid.toString());
          }
          assert.deepEqual(seen, [manifestCid, ...manifest.chunks.map(String)]);

          const one = await fetch(`${node.url}/ipfs/${manifestCid}?dag-scope=block`, {
            headers: { Accept: "application/vnd.ipld.car; version=1" },
          });
          assert.equal(one.status, 200);
          const only = await CarReader.fromBytes(new Uint8Array(await one.arrayBuffer()));
          assert.deepEqual(await cidsOf(only), [manifestCid]);
        },
      );

      await t.step("the probe CID bafkqaaa answers an empty block and an empty CAR", async () => {
        const probe = await fetch(`${node.url}/ipfs/bafkqaaa?format=raw`);
        assert.equal(probe.status, 200);
        assert.equal((await probe.arrayBuffer()).byteLength, 0);
        const car = await fetch(`${node.url}/ipfs/bafkqaaa?format=car`);
        assert.equal(car.status, 200);
        const reader = await CarReader.fromBytes(new Uint8Array(await car.arrayBuffer()));
        assert.deepEqual((await reader.getRoots()).map(String), ["bafkqaaa"]);
        assert.deepEqual(await cidsOf(reader), []);
      });

      await t.step(
        "bad requests get 400, 404, 406 and 412 with a message, in the one error shape",
        async () => {
          const absent = await absentCid();
          const cases: [string, RequestInit, number, RegExp][] = [
            [`/ipfs/not-a-cid?format=raw`, {}, 400, /Invalid CID/],
            [`/ipfs/b${"a".repeat(300)}?format=raw`, {}, 400, /longer than/],
            [`/ipfs/${chunk}/path/below?format=raw`, {}, 400, /resolves no paths/],
            [`/ipfs/${chunk}`, {}, 400, /Accept: application\/vnd\.ipld\.raw/],
            [`/ipfs/${chunk}`, { headers: { Accept: "*/*" } }, 400, /format=raw/],
            [
              `/ipfs/${chunk}`,
              { headers: { Accept: "application/json" } },
              406,
              /serves application\/vnd\.ipld\.raw/,
            ],
            [`/ipfs/${chunk}?format=dag-json`, {}, 406, /not dag-json/],
            [`/ipfs/${chunk}?format=zip`, {}, 400, /Unknown format/],
            [`/ipfs/${chunk}?format=car&car-dups=y`, {}, 406, /dups=n/],
            [`/ipfs/${chunk}?format=car&dag-scope=some`, {}, 400, /dag-scope/],
            [`/ipfs/${absent}?format=raw`, {}, 404, /does not hold/],
            [`/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG?format=raw`, {}, 404, /stores only CIDv1/],
            [
              `/ipfs/${absent}?format=raw`,
              { headers: { "Cache-Control": "only-if-cached" } },
              412,
              /does not hold/,
            ],
          ];
          for (const [path, init, status, message] of cases) {
            const response = await fetch(`${node.url}${path}`, init);
            assert.equal(response.status, status, path);
            const body = await response.json();
            assert.match(body.error.message, message, path);
          }
        },
      );

      await t.step("one caller is held to its rate; others are still served", async () => {
        const app = createApp(node.facade, { log: quietLog, auth: node.auth, publicUrl: "http://127.0.0.1" });
        const from = (hostname: string) => ({ remoteAddr: { hostname } });
        let limited: Response | undefined;
        let served = 0;
        for (let i = 0; i < 2_000 && !limited; i++) {
          const response = await app.request("/ipfs/bafkqaaa?format=raw", {}, from("203.0.113.9"));
          if (response.status === 429) limited = response;
          else served++;
          await response.body?.cancel();
        }
        assert.ok(limited, "the caller was limited");
        assert.ok(served >= 200, `served ${served} before the limit`);
        assert.ok(Number(limited.headers.get("retry-after")) >= 1);
        // Another caller is not.
        const other = await app.request("/ipfs/bafkqaaa?format=raw", {}, from("198.51.100.7"));
        assert.equal(other.status, 200);
        await other.body?.cancel();
      });

      await t.step(
        "a node without --public-url is no gateway: every /ipfs/ path is 404 and reads nothing",
        async () => {
          const calls: string[] = [];
          const facade = new Proxy(node.facade, {
            get: (target, name, receiver) => {
              calls.push(String(name));
              return Reflect.get(target, name, receiver);
            },
          });
          const app = createApp(facade, { log: quietLog, auth: node.auth });
          for (const path of [`/ipfs/${chunk}?format=raw`, "/ipfs/bafkqaaa?format=raw", "/ipfs/x"]) {
            const response = await app.request(path);
            assert.equal(response.status, 404, path);
            assert.match((await response.json()).error.message, /not a public IPFS gateway/);
          }
          assert.equal(calls.includes("getIpfsBlock"), false);
        },
      );
    } finally {
      await node.stop();
    }
  },
});

Deno.test("a CAR is slowed down by the caller's rate limit, not cut, and ends at the first child the store lacks", async () => {
  await using dir = await tempDir("kosmos-ipfs-car-");
  const blocks = await openBlockStore(dir.path);
  try {
    const children: CID[] = [];
    for (let i = 0; i < 6; i++) children.push(await blocks.put(new TextEncoder().encode(`child ${i}`)));
    const missing = await absentCid();
    const links = [...children.slice(0, 3), missing, ...children.slice(3)];
    const node = dagCbor.encode({ links });
    const root = await blocks.put(node, { cid: CID.createV1(dagCbor.code, await sha256.digest(node)) });
    // Two blocks at once, then twenty a second: the root and one child go at once, the rest wait.
    const api = createIpfsApi({ blocks, config: { trustedProxies: [] } }, {
      perCallerBurst: 2,
      perCallerRate: 20,
    });
    const app = new Hono();
    app.route("/", createIpfsRoutes(api, { enabled: true }));
    const started = performance.now();
    const response = await app.request(`/ipfs/${root}?format=car`, {}, {
      remoteAddr: { hostname: "203.0.113.9" },
    });
    assert.equal(response.status, 200);
    const reader = await CarReader.fromBytes(new Uint8Array(await response.arrayBuffer()));
    const elapsed = performance.now() - started;
    assert.deepEqual(await cidsOf(reader), [root, ...children.slice(0, 3)].map(String));
    assert.ok(elapsed >= 80, `the stream waited for the limit (${elapsed.toFixed(0)} ms)`);
  } finally {
    blocks.close();
  }
});
