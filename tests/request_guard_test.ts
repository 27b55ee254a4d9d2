/**
 * Other websites cannot act through a node's API (`web/request_guard.ts`): a
 * page elsewhere that posts a dataset upload form or a JSON request to the
 * node is refused and nothing changes, even though the owner's browser sends
 * its session cookie along, and a name rebound to 127.0.0.1 is refused
 * altogether; the node's own pages, the CLI and the analytics SDK's
 * `POST /api/event` still work.
 */
import assert from "node:assert/strict";
import type { KosmosNode } from "../node/node.ts";
import { startNetwork } from "./nodes.ts";
import { asOwner, ownerFetch } from "./helpers.ts";

/** The `Cookie` header of the owner's browser, logged in through a login link. */
function sessionCookie(node: KosmosNode): string {
  const code = new URL(node.createLoginLink()).searchParams.get("code")!;
  return `${node.auth.cookieName}=${node.auth.redeemLoginCode(code)}`;
}

function uploadForm(title: string): FormData {
  const form = new FormData();
  form.append("title", title);
  form.append("description", "Readings");
  form.append("category", "environment");
  form.append("price", "1");
  form.append("license", "CC-BY-4.0");
  form.append("file", new File(["ts,value\n1,2\n3,4\n"], "data.csv", { type: "text/csv" }));
  return form;
}

async function listingTitles(node: KosmosNode): Promise<string[]> {
  const res = await ownerFetch(node, `/api/v1/listings`);
  assert.equal(res.status, 200);
  return ((await res.json()).listings as { title: string }[]).map((l) => l.title).sort();
}

/** Status line of a raw HTTP/1.1 request naming `host` (fetch() always sends the URL's host). */
async function statusFor(node: KosmosNode, host: string, path = "/api/v1/node"): Promise<number> {
  const { hostname, port } = new URL(node.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const auth = `Authorization: Bearer ${node.apiToken}`;
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const reader = conn.readable.getReader();
    let text = "";
    while (!text.includes("\r\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return Number(text.split(" ")[1]);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test("a page on another site can neither publish nor start anything through the node's API", async () => {
  await using net = await startNetwork(1);
  const [node] = net.nodes;
  const cookie = sessionCookie(node);
  const forged: Record<string, string>[] = [
    { "Sec-Fetch-Site": "cross-site" },
    { "Sec-Fetch-Site": "same-site" },
    { Origin: "http://evil.example" },
    { Origin: "null" },
  ];
  for (const headers of forged) {
    const upload = await fetch(`${node.url}/api/v1/datasets`, {
      method: "POST",
      body: uploadForm("Forged"),
      headers: { Cookie: cookie, ...headers },
    });
    assert.equal(upload.status, 403, JSON.stringify(headers));
    const body = await upload.json();
    assert.equal(body.error.code, "forbidden");
    assert.match(body.error.message, /own pages/);

    const json = await fetch(`${node.url}/api/v1/fetches`, {
      method: "POST",
      body: JSON.stringify({ manifestCid: "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" }),
      headers: { "Content-Type": "application/json", Cookie: cookie, ...headers },
    });
    assert.equal(json.status, 403, JSON.stringify(headers));
    await json.body?.cancel();
  }
  assert.deepEqual(await listingTitles(node), []);
  assert.deepEqual(node.components.fetches.listFetches(), []);

  // The node's own pages and clients that are not browsers (the CLI) publish as before.
  const own = await fetch(`${node.url}/api/v1/datasets`, {
    method: "POST",
    body: uploadForm("From the Publish page"),
    headers: { "Sec-Fetch-Site": "same-origin", Origin: node.url, Cookie: cookie },
  });
  assert.equal(own.status, 201);
  await own.body?.cancel();
  const cli = await fetch(
    `${node.url}/api/v1/datasets`,
    asOwner(node, {
      method: "POST",
      body: uploadForm("From the CLI"),
    }),
  );
  assert.equal(cli.status, 201);
  await cli.body?.cancel();
  assert.deepEqual(await listingTitles(node), ["From the CLI", "From the Publish page"]);
  // Reading is not a change: another site's GET gets the answer its browser keeps from it anyway.
  const read = await fetch(`${node.url}/api/v1/node`, {
    headers: { "Sec-Fetch-Site": "cross-site", Cookie: cookie },
  });
  assert.equal(read.status, 200);
  await read.body?.cancel();

  // The analytics SDK posts from the websites it measures.
  const event = await fetch(`${node.url}/api/event`, {
    method: "POST",
    body: JSON.stringify({ n: "pageview", u: "https://shop.example/", d: "shop.example", r: null }),
    headers: { "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", Origin: "https://shop.example" },
  });
  assert.notEqual(event.status, 403);
  await event.body?.cancel();
});

Deno.test("a node answers only requests to its loopback names and its --public-name names", async () => {
  await using net = await startNetwork(1);
  const [node] = net.nodes;
  const port = new URL(node.url).port;
  assert.equal(await statusFor(node, `127.0.0.1:${port}`), 200);
  assert.equal(await statusFor(node, `localhost:${port}`), 200);
  assert.equal(await statusFor(node, `[::1]:${port}`), 200);
  assert.equal(await statusFor(node, `rebind.evil.example:${port}`), 403);
  assert.equal(await statusFor(node, `127.0.0.1.evil.example:${port}`, "/"), 403);
  // The analytics SDK answers under any name (sites point it at a proxy's name).
  assert.equal(await statusFor(node, `stats.example:${port}`, "/js/kosmos.js"), 200);
  assert.notEqual(await statusFor(node, `stats.example:${port}`, "/api/event"), 403);
  // Neither a wildcard nor a LAN address is a name this node answers to, unless its owner says so.
  assert.equal(await statusFor(node, `0.0.0.0:${port}`), 403);
  assert.equal(await statusFor(node, `192.168.1.20:${port}`), 403);

  // --public-name adds names, and only those.
  const named = await net.addNode({ publicName: ["Kosmos.Example.org", "192.168.1.20"] });
  const namedPort = new URL(named.url).port;
  assert.equal(await statusFor(named, `kosmos.example.org:${namedPort}`), 200);
  assert.equal(await statusFor(named, `192.168.1.20:${namedPort}`), 200);
  assert.equal(await statusFor(named, `127.0.0.1:${namedPort}`), 200);
  assert.equal(await statusFor(named, `other.example.org:${namedPort}`), 403);
});
