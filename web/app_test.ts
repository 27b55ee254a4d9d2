/**
 * In-process tests of the HTTP layer with `app.request()`: the one error
 * shape, methods, every page inside the layout, island markup and props, and
 * the client bundle under `/static`. The facade here is a plain object with
 * fixed values, since these tests are about the web layer; the browser tests
 * in `tests/browser/` run the same app inside real nodes.
 */
import assert from "node:assert/strict";
import { streamsNode } from "./app_fakes_streams.ts";
import { createApp } from "./app.ts";
import { createApiAuth } from "./auth.ts";
import { ownerApp } from "../tests/helpers.ts";
import { buildClient, ensureClientBuild } from "./build.ts";
import type { KosmosApi as KosmosFacade, ListingDetail, NodeInfo } from "../protocol/api/mod.ts";
import { HttpError } from "./http_error.ts";
import { islandLoaders } from "./island_registry.ts";
import { SOURCE_KIND_INFO } from "../protocol/sources.ts";

const manifest = await ensureClientBuild();

const peerA = "12D3KooWGRbkTYcMwh17hc5s9pgJdLjPiwARpzjYWrAaCHHZ8rch";
const peerB = "12D3KooWKTV48x3sbMAFqs7neQvuGtXf46SbFNghGFRzMKb3GLsb";

const info: NodeInfo = {
  peerId: "12D3KooWRuKnY5WuGW2tQDEpuNPELxxg16HRnhqY7R8JfY8bwqGH",
  address: "0x95213C5eFFACb99D4117E084f5C33fb08a2E9735",
  listen: ["/ip4/127.0.0.1/tcp/36435/p2p/12D3KooWRuKnY5WuGW2tQDEpuNPELxxg16HRnhqY7R8JfY8bwqGH"],
  peers: [peerA, peerB],
  connections: [{ peerId: peerA, direct: true }, { peerId: peerB, direct: false }],
  reachability: { status: "private", publicAddresses: [], relayAddresses: [], relaying: false },
  version: "0.1.0",
  chain: { chainId: 31337, rpcUrl: "http://127.0.0.1:8545", balance: "1500000000000000000" },
};

/** The rest of a node whose catalog is empty and that has fetched nothing. */
const emptyNode: Omit<KosmosFacade, "getNodeInfo"> = {
  publishDataset: () => Promise.reject(new TypeError("This test node does not publish")),
  listListings: () => Promise.resolve({ listings: [], total: 0 }),
  getListing: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  startFetch: () => Promise.reject(Object.assign(new Error("Not fetching"), { name: "FetchError" })),
  getFetch: (cid) => Promise.reject(Object.assign(new Error(`No fetch "${cid}"`), { name: "NotFoundError" })),
  // A chain without the Kosmos contracts: reads answer, writes fail as the node's would.
  getChainInfo: () =>
    Promise.resolve({ chainId: 31337, rpcUrl: info.chain.rpcUrl, block: 0, contracts: null }),
  isArbiter: () => Promise.resolve(false),
  getWallet: () =>
    Promise.resolve({
      address: info.address,
      chainId: 31337,
      arbiter: false,
      contracts: false,
      balances: { eth: info.chain.balance, token: "0" },
      payouts: "0",
      stakes: [],
    }),
  listChallenges: () => Promise.resolve([]),
  // Not on a dev network: no faucet.
  getFaucet: () => Promise.reject(noFaucet()),
  requestFaucet: () => Promise.reject(noFaucet()),
  withdrawPayouts: () => Promise.reject(noContracts()),
  stakeListing: () => Promise.reject(noContracts()),
  withdrawStake: () => Promise.reject(noContracts()),
  challengeListing: () => Promise.reject(noContracts()),
  resolveChallenge: () => Promise.reject(noContracts()),
  previewStakeListing: () => Promise.reject(noContracts()),
  previewWithdrawStake: () => Promise.reject(noContracts()),
  previewChallengeListing: () => Promise.reject(noContracts()),
  previewResolveChallenge: () => Promise.reject(noContracts()),
  previewWithdrawPayouts: () => Promise.reject(noContracts()),
  previewBuyListing: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  previewDelegateSales: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  // Owns no site and knows of none.
  recordEvent: () => Promise.resolve({ dropped: "unknown_site" }),
  registerSite: (domain) => Promise.reject(new TypeError(`This test node registers no site "${domain}"`)),
  listSites: () => Promise.resolve([]),
  removeSite: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  checkSite: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  listSiteProxies: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  setProxyBlocked: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  queryStats: (query) =>
    Promise.reject(Object.assign(new Error(`No site ${JSON.stringify(query)}`), { name: "NotFoundError" })),
  getRealtimeVisitors: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  listAnalyticsSites: () => Promise.resolve([]),
  queryStatsV2: () => Promise.reject(Object.assign(new Error("No site"), { name: "NotFoundError" })),
  queryStatsV1: () => Promise.reject(Object.assign(new Error("No site"), { name: "NotFoundError" })),
  countRealtimeVisitors: () => Promise.reject(Object.assign(new Error("No site"), { name: "NotFoundError" })),
  getApiKeySite: () => Promise.resolve(null),
  listGoals: () => Promise.resolve([]),
  addGoal: () => Promise.reject(new TypeError("This test node keeps no goals")),
  deleteGoal: () => Promise.reject(Object.assign(new Error("No goal"), { name: "NotFoundError" })),
  listFunnels: () => Promise.resolve([]),
  addFunnel: () => Promise.reject(new TypeError("This test node keeps no funnels")),
  deleteFunnel: () => Promise.reject(Object.assign(new Error("No funnel"), { name: "NotFoundError" })),
  getFunnelResult: () => Promise.reject(Object.assign(new Error("No funnel"), { name: "NotFoundError" })),
  listApiKeys: () => Promise.resolve([]),
  createApiKey: () => Promise.reject(new TypeError("This test node keeps no keys")),
  revokeApiKey: () => Promise.reject(Object.assign(new Error("No key"), { name: "NotFoundError" })),
  createRelease: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  listReleases: (domain) =>
    Promise.reject(Object.assign(new Error(`No site "${domain}"`), { name: "NotFoundError" })),
  // Has bought and sold nothing.
  buyListing: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  getPurchase: (id) =>
    Promise.reject(Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" })),
  getPurchaseEvidence: (id) =>
    Promise.reject(Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" })),
  listPurchases: () => Promise.resolve([]),
  listSales: () => Promise.resolve([]),
  readPurchaseData: (id) =>
    Promise.reject(Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" })),
  previewQuote: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  delegateSales: (id) =>
    Promise.reject(Object.assign(new Error(`No listing "${id}"`), { name: "NotFoundError" })),
  exportPurchase: (id) =>
    Promise.reject(Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" })),
  startDelivery: (id) =>
    Promise.reject(Object.assign(new Error(`No purchase "${id}"`), { name: "NotFoundError" })),
  listDeliveries: () => Promise.resolve([]),
  // Sells nothing.
  listMyListings: () => Promise.resolve([]),
  removeDelegate: (id) =>
    Promise.reject(Object.assign(new Error(`"${id}" is not listed by this node`), { name: "NotFoundError" })),
  previewRemoveDelegate: (id) =>
    Promise.reject(Object.assign(new Error(`"${id}" is not listed by this node`), { name: "NotFoundError" })),
  // Has imported nothing, consented to nothing, published nothing from sources.
  importSource: (kind) => Promise.reject(new TypeError(`This test node imports no "${kind}" export`)),
  listSources: () => Promise.resolve({ kinds: Object.values(SOURCE_KIND_INFO), sources: [] }),
  detectBankLayout: () => Promise.reject(new TypeError("This test node reads no bank statement")),
  previewSource: (id) =>
    Promise.reject(Object.assign(new Error(`No source "${id}"`), { name: "NotFoundError" })),
  deleteSource: (id) =>
    Promise.reject(Object.assign(new Error(`No source "${id}"`), { name: "NotFoundError" })),
  createPublication: () => Promise.reject(noContracts()),
  previewPublication: () => Promise.reject(noContracts()),
  listPublications: () => Promise.resolve({ publications: [] }),
  grantConsent: () => Promise.reject(noContracts()),
  previewGrantConsent: () => Promise.reject(noContracts()),
  revokeConsent: (id) =>
    Promise.reject(Object.assign(new Error(`No consent "${id}"`), { name: "NotFoundError" })),
  previewRevokeConsent: (id) =>
    Promise.reject(Object.assign(new Error(`No consent "${id}"`), { name: "NotFoundError" })),
  listConsents: () => Promise.resolve({ consents: [] }),
  getGrantMessage: () => Promise.reject(noContracts()),
  createExtensionPairing: () => Promise.resolve({ code: "ABCD-EFGH", expiresAt: Date.now() + 600_000 }),
  pairExtension: () =>
    Promise.reject(Object.assign(new Error("Not a pairing code"), { name: "PairingCodeError" })),
  verifyExtensionToken: () =>
    Promise.reject(Object.assign(new Error("Not an extension token"), { name: "ExtensionTokenError" })),
  getExtensionStatus: () =>
    Promise.reject(Object.assign(new Error("Not an extension token"), { name: "ExtensionTokenError" })),
  postExtensionVisits: () =>
    Promise.reject(Object.assign(new Error("Not an extension token"), { name: "ExtensionTokenError" })),
  listExtensionTokens: () => Promise.resolve({ tokens: [] }),
  revokeExtensionToken: (id) =>
    Promise.reject(Object.assign(new Error(`No paired extension "${id}"`), { name: "NotFoundError" })),
  listPools: () => Promise.resolve({ pools: [] }),
  getPool: (id) => Promise.reject(noPool(id)),
  createPool: () => Promise.reject(noContracts()),
  previewCreatePool: () => Promise.reject(noContracts()),
  joinPool: (id) => Promise.reject(noPool(id)),
  leavePool: (id) => Promise.reject(noPool(id)),
  publishPoolVersion: (id) => Promise.reject(noPool(id)),
  previewPublishPoolVersion: (id) => Promise.reject(noPool(id)),
  getEarnings: () => Promise.reject(noContracts()),
  claimEarnings: () => Promise.reject(noContracts()),
  previewClaimEarnings: () => Promise.reject(noContracts()),
  getMining: () => Promise.reject(noContracts()),
  ...streamsNode,
};

function noPool(id: string): Error {
  return Object.assign(new Error(`No pool ${id} known to this node`), { name: "NotFoundError" });
}

function noFaucet(): Error {
  return Object.assign(new Error("No faucet: not a dev network"), { name: "FaucetUnavailableError" });
}

function noContracts(): Error {
  return Object.assign(new Error("No Kosmos contracts on chain 31337"), { name: "ChainUnavailableError" });
}

function facadeWith(getNodeInfo: KosmosFacade["getNodeInfo"]): KosmosFacade {
  return { getNodeInfo, ...emptyNode };
}

const quietLog = { error: () => {}, debug: () => {} };

/** The owner's API token of the test app. */
const token = "5e".repeat(32);

/** An app whose requests come from its owner (the token checks have their own tests in auth_test.ts). */
function createTestApp(facade: KosmosFacade = facadeWith(() => Promise.resolve(info))) {
  return ownerApp(createApp(facade, { log: quietLog, auth: createApiAuth(token) }), token);
}

async function assertErrorShape(response: Response, status: number, code: string): Promise<string> {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message"]);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
  return body.error.message;
}

const pages = [
  { path: "/", title: "Marketplace" },
  { path: "/data", title: "My data" },
  { path: "/pools", title: "Pools" },
  { path: "/sites", title: "Sites" },
  { path: "/streams", title: "Streams" },
  { path: "/wallet", title: "Wallet" },
  { path: "/network", title: "Network" },
];

Deno.test("GET /api/v1/node returns the facade's node info as JSON", async () => {
  const response = await createTestApp().request("/api/v1/node");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(await response.json(), info);
});

Deno.test("HEAD /api/v1/node answers like GET without a body", async () => {
  const response = await createTestApp().request("/api/v1/node", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
});

Deno.test("an unknown API route answers 404 not_found in the error shape", async () => {
  const app = createTestApp();
  const message = await assertErrorShape(await app.request("/api/v1/nope"), 404, "not_found");
  assert.match(message, /GET \/api\/v1\/nope/);
  // Even a browser asking for HTML gets JSON from the API.
  const asBrowser = await app.request("/api/v2/node", { headers: { Accept: "text/html" } });
  await assertErrorShape(asBrowser, 404, "not_found");
});

Deno.test("a wrong method answers 405 method_not_allowed with Allow", async () => {
  const app = createTestApp();
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const response = await app.request("/api/v1/node", { method });
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    const message = await assertErrorShape(response, 405, "method_not_allowed");
    assert.match(message, new RegExp(`^${method} is not allowed`));
  }
  const page = await app.request("/network", { method: "POST" });
  assert.equal(page.headers.get("allow"), "GET, HEAD");
  await assertErrorShape(page, 405, "method_not_allowed");
});

Deno.test("an unexpected error answers 500 internal with a generic message and is logged", async () => {
  const logged: Array<{ message: string; meta?: Record<string, unknown> }> = [];
  const app = ownerApp(
    createApp(facadeWith(() => Promise.reject(new Error("secret detail at /home/me/.kosmos"))), {
      log: { error: (message, meta) => logged.push({ message, meta }), debug: () => {} },
      auth: createApiAuth(token),
    }),
    token,
  );
  for (const path of ["/api/v1/node", "/network"]) {
    const response = await app.request(path);
    const text = await response.clone().text();
    assert.doesNotMatch(text, /secret detail|at \w+ \(|\.ts:\d+/);
    await assertErrorShape(response, 500, "internal");
  }
  assert.equal(logged.length, 2);
  assert.equal((logged[0].meta?.error as Error).message, "secret detail at /home/me/.kosmos");
});

Deno.test("an HttpError thrown below a route keeps its status and code", async () => {
  const app = createTestApp(facadeWith(() => {
    throw new HttpError(503, "unavailable", "The chain is not reachable yet");
  }));
  const message = await assertErrorShape(await app.request("/api/v1/node"), 503, "unavailable");
  assert.equal(message, "The chain is not reachable yet");
});

for (const { path, title } of pages) {
  Deno.test(`GET ${path} renders the ${title} page inside the layout with the navigation`, async () => {
    const response = await createTestApp().request(path);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const html = await response.text();
    assert.ok(html.startsWith("<!doctype html>"));
    assert.match(html, new RegExp(`<title>${title} · Kosmos</title>`));
    assert.match(html, new RegExp(`<h1>${title}</h1>`));
    for (const { path: href, title: label } of pages) {
      assert.match(html, new RegExp(`<a href="${href}"[^>]*>.*?<span>${label}</span></a>`));
    }
    assert.match(html, new RegExp(`<a href="${path}" class="active" aria-current="page">`));
    assert.equal(html.match(/aria-current="page"/g)?.length, 1);
    assert.ok(html.includes(`<link rel="stylesheet" href="/static/build/${manifest.style}"/>`));
  });
}

Deno.test("GET /network renders node info and the PeerList island with its props", async () => {
  const html = await (await createTestApp().request("/network")).text();
  for (
    const text of [info.peerId, info.address, info.listen[0], "31337", info.chain.rpcUrl, "1.5", "0.1.0"]
  ) {
    assert.ok(html.includes(text), `the page shows ${text}`);
  }
  const marker = html.match(
    /<kosmos-island data-island="peer_list" data-props="([^"]+)">([\s\S]*?)<\/kosmos-island>/,
  );
  assert.ok(marker, "the island marker is rendered");
  // Server-rendered content of the island: the peers, before any script runs.
  assert.ok(marker[2].includes(`data-peer-id="${peerA}"`));
  assert.ok(marker[2].includes(`data-peer-id="${peerB}"`));
  assert.match(marker[2], /data-testid="peer-count">2</);
  const props = html.match(new RegExp(`<script type="application/json" id="${marker[1]}">(.*?)</script>`));
  assert.ok(props, "the props script follows the marker");
  assert.deepEqual(JSON.parse(props[1]), { peers: [peerA, peerB] });
  // The client and the island's chunk are loaded because the page has an island.
  assert.ok(html.includes(`<script type="module" src="/static/build/${manifest.entry}"></script>`));
  assert.ok(html.includes(`<link rel="modulepreload" href="/static/build/${manifest.islands.peer_list}"/>`));
});

Deno.test("pages without islands do not load the client", async () => {
  const html = await (await createTestApp().request("/")).text();
  assert.ok(!html.includes('<script type="module"'));
  assert.ok(!html.includes("kosmos-island"));
});

Deno.test("island props are escaped so no value can close the script tag", async () => {
  const evil = "</script><script>alert(1)</script>&\u2028";
  const app = createTestApp(facadeWith(() => Promise.resolve({ ...info, peers: [evil] })));
  const html = await (await app.request("/network")).text();
  assert.ok(!html.includes("<script>alert(1)"));
  const props = html.match(/<script type="application\/json" id="[^"]+">(.*?)<\/script>/);
  assert.ok(props);
  assert.deepEqual(JSON.parse(props[1]), { peers: [evil] });
});

Deno.test("GET /datasets/:id shows stake and challenges, with Challenge for another seller and Stake to list for our own", async () => {
  const listing: ListingDetail = {
    id: "bafyreibna4azqo5xdykbovhmhfstc7y4dwdg2nolbscgnragfwbd76zls4",
    manifestCid: "bafyreibna4azqo5xdykbovhmhfstc7y4dwdg2nolbscgnragfwbd76zls4",
    title: "Air quality",
    description: "",
    category: "environment",
    price: "0",
    seller: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    gateway: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    byteLength: 1024,
    rowCount: 10,
    chunkCount: 1,
    schema: [],
    preview: [],
    licence: "CC-BY-4.0",
    providers: [],
    createdAt: 0,
    announcedAt: 0,
    stake: "250000000000000000000",
    challenges: 2,
    onChain: ["7"],
    replication: null,
    manifest: null,
    fetch: null,
  };
  const page = async (l: ListingDetail) => {
    const facade = { ...facadeWith(() => Promise.resolve(info)), getListing: () => Promise.resolve(l) };
    return await (await createTestApp(facade).request(`/datasets/${l.id}`)).text();
  };
  const other = await page(listing);
  assert.match(other, /data-testid="dataset-stake">250 KOS</);
  assert.match(other, /data-testid="dataset-challenges">2</);
  assert.match(other, /<kosmos-island data-island="stake_listing"/);
  assert.match(other, /data-testid="challenge-form"/);
  assert.ok(!other.includes('data-testid="stake-form"'));
  const own = await page({ ...listing, seller: info.address, stake: "0", challenges: 0, onChain: [] });
  assert.match(own, /data-testid="stake-form"/);
  assert.match(own, />Stake to list</);
  assert.ok(!own.includes('data-testid="challenge-form"'));
});

Deno.test("an unknown page answers an HTML 404 to browsers and JSON to others", async () => {
  const app = createTestApp();
  const browser = await app.request("/no-such-page", { headers: { Accept: "text/html,*/*" } });
  assert.equal(browser.status, 404);
  const html = await browser.text();
  assert.match(html, /<h1>Not found<\/h1>/);
  assert.match(html, /<a href="\/network"/);
  await assertErrorShape(await app.request("/no-such-page"), 404, "not_found");
});

Deno.test("/static/build serves the client entry and island chunk, hashed and immutable", async () => {
  const app = createTestApp();
  const entry = await app.request(`/static/build/${manifest.entry}`);
  assert.equal(entry.status, 200);
  assert.equal(entry.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(entry.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const code = await entry.text();
  assert.ok(
    code.includes(`import("./${manifest.islands.peer_list}")`),
    "the entry imports the island lazily",
  );
  const chunk = await app.request(`/static/build/${manifest.islands.peer_list}`);
  assert.equal(chunk.status, 200);
  assert.match(await chunk.text(), /api\/v1\/node/);
  const style = await app.request(`/static/build/${manifest.style}`);
  assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(style.headers.get("cache-control"), "public, max-age=31536000, immutable");
});

Deno.test("/static serves source files with an ETag and answers 304 when unchanged", async () => {
  const app = createTestApp();
  const first = await app.request("/static/style.css");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(first.headers.get("cache-control"), "no-cache");
  const etag = first.headers.get("etag");
  assert.ok(etag);
  assert.match(await first.text(), /prefers-color-scheme: dark/);
  const again = await app.request("/static/style.css", { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
});

Deno.test("/static answers 404 for missing files and paths that leave the directory", async () => {
  const app = createTestApp();
  for (
    const path of [
      "/static/missing.js",
      "/static/build/missing-AAAAAAAA.js",
      "/static/..%2f..%2fdeno.json",
      "/static/build/..%2f..%2fapp.ts",
      "/static/build",
      "/static/.hidden",
    ]
  ) {
    await assertErrorShape(await app.request(path), 404, "not_found");
  }
  await assertErrorShape(
    await app.request("/static/style.css", { method: "POST" }),
    405,
    "method_not_allowed",
  );
});

Deno.test("buildClient() bundles the client, one chunk per island, and the stylesheet", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "kosmos-build-" });
  try {
    const built = await buildClient({ outDir });
    assert.match(built.entry, /^client-[A-Z0-9]{8}\.js$/);
    assert.match(built.style, /^style-[A-Z0-9]{8}\.css$/);
    assert.deepEqual(Object.keys(built.islands).sort(), Object.keys(islandLoaders).sort());
    const entry = await Deno.readTextFile(`${outDir}/${built.entry}`);
    assert.ok(entry.includes(`import("./${built.islands.peer_list}")`));
    assert.ok((await Deno.stat(`${outDir}/${built.islands.peer_list}`)).isFile);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${outDir}/manifest.json`)), built);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});
