/**
 * My data and the listing page's privacy report rendered in process with `app.request()`: empty
 * and filled states, the island props the browser hydrates, a section that fails alone when the
 * chain cannot answer, and the pure helpers of the islands (CSV head splitting, token amounts,
 * expiry days). The facade is a plain object with fixed values: these tests are about the web
 * layer; `tests/browser/consent_test.ts` and `tests/browser/import_test.ts` drive the same page in
 * Chromium against a real node.
 */
import assert from "node:assert/strict";
import type {
  ConsentView,
  KosmosApi,
  ListingDetail,
  NodeInfo,
  PublicationView,
  SourceView,
} from "../../protocol/api/mod.ts";
import { SOURCE_KIND_INFO } from "../../protocol/sources.ts";
import { ownerApp } from "../../tests/helpers.ts";
import { createApp } from "../app.ts";
import { createApiAuth } from "../auth.ts";
import { ensureClientBuild } from "../build.ts";
import { splitCsvHead } from "../components/bank_mapping.tsx";
import { endOfDay } from "../islands/data_consents.tsx";
import { isTokenAmount } from "../islands/data_publish.tsx";

await ensureClientBuild();

const token = "7a".repeat(32);
const wallet: `0x${string}` = "0x95213C5eFFACb99D4117E084f5C33fb08a2E9735";
const kinds = Object.values(SOURCE_KIND_INFO);
const info: NodeInfo = {
  peerId: "12D3KooWRuKnY5WuGW2tQDEpuNPELxxg16HRnhqY7R8JfY8bwqGH",
  address: wallet,
  listen: [],
  peers: [],
  connections: [],
  reachability: { status: "private", publicAddresses: [], relayAddresses: [], relaying: false },
  version: "0.1.0",
  chain: { chainId: 31337, rpcUrl: "http://127.0.0.1:8545", balance: "0" },
};

/** A facade answering `methods`; any other call fails the test with its name. */
function facadeOf(methods: Partial<KosmosApi>): KosmosApi {
  const base: Partial<KosmosApi> = {
    getNodeInfo: () => Promise.resolve(info),
    listSources: () => Promise.resolve({ kinds, sources: [] }),
    listConsents: () => Promise.resolve({ consents: [] }),
    listPublications: () => Promise.resolve({ publications: [] }),
    listMyListings: () => Promise.resolve([]),
    listExtensionTokens: () => Promise.resolve({ tokens: [] }),
    isArbiter: () => Promise.resolve(false),
    ...methods,
  };
  return new Proxy(base, {
    get: (target, name) =>
      typeof name === "symbol" || name === "then"
        ? undefined
        : target[name as keyof KosmosApi] ?? (() => Promise.reject(new Error(`unexpected call ${name}()`))),
  }) as KosmosApi;
}

async function render(facade: KosmosApi, path = "/data"): Promise<{ status: number; html: string }> {
  const app = ownerApp(
    createApp(facade, { log: { error: () => {}, debug: () => {} }, auth: createApiAuth(token) }),
    token,
  );
  const response = await app.request(path);
  return { status: response.status, html: await response.text() };
}

/** The JSON props of the island `name` in `html`. */
function islandProps(html: string, name: string): Record<string, unknown> {
  const marker = html.match(new RegExp(`<kosmos-island data-island="${name}" data-props="([^"]+)">`));
  assert.ok(marker, `island ${name} is on the page`);
  const json = html.match(new RegExp(`<script type="application/json" id="${marker[1]}">(.*?)</script>`));
  assert.ok(json);
  return JSON.parse(json[1]);
}

const netflix: SourceView = {
  id: "src-1",
  kind: "netflix",
  filename: "ViewingActivity.csv",
  rows: 412,
  importedAt: Date.UTC(2026, 11, 1),
  from: Date.UTC(2025, 0, 3),
  to: Date.UTC(2025, 11, 28),
};
const consent = (id: string, state: ConsentView["state"]): ConsentView => ({
  id,
  tokenId: id,
  kind: "netflix",
  purpose: "Academic research",
  contributor: wallet,
  grantedAt: Date.UTC(2026, 11, 1),
  expiresAt: Date.UTC(2027, 11, 1),
  revokedAt: state === "revoked" ? Date.UTC(2026, 11, 2) : null,
  state,
  gasless: false,
  txHash: `0x${"ab".repeat(32)}`,
  revokeTxHash: state === "revoked" ? `0x${"cd".repeat(32)}` : null,
});
const publication: PublicationView = {
  id: "pub-1",
  manifestCid: "bafyreibna4azqo5xdykbovhmhfstc7y4dwdg2nolbscgnragfwbd76zls4",
  title: "What people watch",
  purpose: "Academic research",
  kinds: ["netflix"],
  excluded: [{ kind: "spotify", reason: "no valid consent for this purpose" }],
  consentIds: ["1"],
  rows: 380,
  privacy: { k: 5, suppressed: 32, dropped: ["profile", "device"], generalised: { startedAt: "hour" } },
  ownershipTokenId: "3",
  createdAt: Date.UTC(2026, 11, 3),
  sales: { count: 2, complete: 1, open: 1, revenue: "9000000000000000000" },
};

Deno.test("GET /data with nothing imported shows the import form for every kind and empty consents and publications", async () => {
  const { status, html } = await render(facadeOf({}));
  assert.equal(status, 200);
  assert.match(html, /data-testid="sources-count">0</);
  assert.match(html, /data-testid="no-sources"/);
  assert.match(html, /data-testid="no-consents"/);
  assert.match(html, /data-testid="publish-no-sources"/);
  assert.match(html, /No datasets yet/);
  // Every kind is offered, by its label.
  for (const info of kinds) {
    // The import form names each kind's export files; the consent form names the kind.
    assert.ok(
      html.includes(`<option value="${info.kind}">${info.label} (${info.files})</option>`),
      info.kind,
    );
    assert.ok(html.includes(`<option value="${info.kind}">${info.label}</option>`), info.kind);
  }
  assert.deepEqual(islandProps(html, "data_sources"), { kinds, sources: [], consents: [], publications: [] });
  assert.deepEqual(islandProps(html, "data_consents"), { kinds, consents: [], wallet, error: null });
  assert.match(html, /Pair the browser extension/);
  assert.deepEqual(islandProps(html, "extension_pairing"), { tokens: [], error: null });
});

Deno.test("GET /data shows each source, each consent's on-chain state with Revoke only when valid, and each publication", async () => {
  const { status, html } = await render(facadeOf({
    listSources: () => Promise.resolve({ kinds, sources: [netflix] }),
    listConsents: () => Promise.resolve({ consents: [consent("2", "valid"), consent("1", "revoked")] }),
    listPublications: () => Promise.resolve({ publications: [publication] }),
  }));
  assert.equal(status, 200);
  assert.match(html, /data-testid="sources-count">1</);
  assert.match(html, /data-testid="source" data-source-id="src-1"/);
  assert.match(html, /data-testid="source-rows">412</);
  assert.match(html, /Netflix <span class="muted-inline">· ViewingActivity\.csv/);
  const source = html.match(/data-testid="source" data-source-id="src-1"[\s\S]*?<\/section>/)?.[0] ?? "";
  assert.match(
    source,
    /data-testid="source-consents"[\s\S]*data-token-id="2" data-state="valid"[\s\S]*data-token-id="1" data-state="revoked"/,
  );
  assert.match(source, /What people watch<\/a>: 2 sales, 9 KOS/);
  assert.match(html, /data-testid="consents-count">1</);
  const rows = [
    ...html.matchAll(/data-testid="consent" data-token-id="(\d+)" data-state="(\w+)"[\s\S]*?<\/li>/g),
  ];
  assert.deepEqual(rows.map((r) => [r[1], r[2]]), [["2", "valid"], ["1", "revoked"]]);
  assert.match(rows[0][0], /data-testid="consent-revoke"/);
  assert.doesNotMatch(rows[1][0], /data-testid="consent-revoke"/);
  assert.match(
    rows[1][0],
    new RegExp(`revoked in <code class="break" data-testid="consent-revoke-tx">0x${"cd".repeat(32)}`),
  );
  // The publish form offers the kinds with sources and says which consent each has.
  assert.match(html, /value="netflix"[^>]*data-testid="publish-kind"/);
  assert.match(html, /consent for Academic research/);
  // The publication with its rows, sales, ownership record, what was left out and its privacy report.
  const card = html.match(/data-testid="publication"[\s\S]*?<\/section>/)?.[0] ?? "";
  assert.match(card, /data-testid="publication-rows">380</);
  assert.match(card, /data-testid="publication-sales">2</);
  assert.match(card, /data-testid="publication-revenue">9 KOS</);
  assert.match(card, /data-testid="publication-ownership">#3</);
  assert.match(card, /Spotify \(no valid consent for this purpose\)/);
  assert.match(card, /data-testid="privacy-k" data-k="5"/);
  assert.match(card, /data-suppressed="32"/);
  assert.match(card, /<code>profile<\/code>, <code>device<\/code>/);
  assert.match(card, /<code>startedAt<\/code> → hour/);
});

Deno.test("GET /data still shows the sources when the chain cannot answer for consents and publications", async () => {
  const unavailable = () =>
    Promise.reject(Object.assign(new Error("The chain at http://127.0.0.1:8545 did not answer"), {
      name: "ChainUnavailableError",
    }));
  const { status, html } = await render(facadeOf({
    listSources: () => Promise.resolve({ kinds, sources: [netflix] }),
    listConsents: unavailable,
    listPublications: unavailable,
  }));
  assert.equal(status, 200);
  assert.match(html, /data-testid="source" data-source-id="src-1"/);
  assert.match(html, /data-testid="consents-error">Cannot show the consents: The chain at/);
  assert.match(html, /data-testid="publications-error">Cannot show the publications: The chain at/);
});

Deno.test("GET /data fails as a page, revealing nothing, when a read fails for another reason", async () => {
  const { status, html } = await render(facadeOf({
    listConsents: () => Promise.reject(new Error("disk I/O error at /home/me/.kosmos/node.db")),
  }));
  assert.equal(status, 500);
  assert.ok(!html.includes("/home/me"));
});

Deno.test("GET /datasets/:id shows the privacy report and consent references before the buy button", async () => {
  const listing: ListingDetail = {
    id: publication.manifestCid,
    manifestCid: publication.manifestCid,
    title: "What people watch",
    description: "",
    category: "media",
    price: "1000000000000000000",
    seller: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    gateway: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    byteLength: 1024,
    rowCount: 380,
    chunkCount: 1,
    schema: [],
    preview: [],
    licence: "CC-BY-4.0",
    providers: [],
    createdAt: 0,
    announcedAt: 0,
    stake: "0",
    challenges: 0,
    onChain: [],
    replication: null,
    manifest: {
      format: "csv",
      contentType: "text/csv",
      chunkSize: 1 << 20,
      merkleRoot: `0x${"11".repeat(32)}`,
      dekCommit: `0x${"22".repeat(32)}`,
      privacy: publication.privacy,
      consent: ["eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3/1"],
    },
    fetch: null,
  };
  const facade = facadeOf({
    getListing: () => Promise.resolve(listing),
    listPurchases: () => Promise.resolve([]),
  });
  const { status, html } = await render(facade, `/datasets/${listing.id}`);
  assert.equal(status, 200);
  const privacy = html.indexOf('data-testid="dataset-privacy"');
  assert.ok(privacy > 0);
  assert.ok(privacy < html.indexOf('data-island="buy_listing"'), "the report comes before the buy button");
  assert.match(html, /data-testid="privacy-k" data-k="5"/);
  assert.match(html, /data-testid="privacy-suppressed" data-suppressed="32"/);
  assert.match(html, /eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3\/1/);

  const bare = await render(
    facadeOf({
      getListing: () =>
        Promise.resolve({ ...listing, manifest: { ...listing.manifest!, privacy: {}, consent: [] } }),
      listPurchases: () => Promise.resolve([]),
    }),
    `/datasets/${listing.id}`,
  );
  assert.match(bare.html, /data-empty="true"[^>]*>The seller reports no anonymization/);
  assert.match(bare.html, /No consent record is referenced/);
});

Deno.test("splitCsvHead() splits quoted fields, doubled quotes and CRLF lines with the chosen delimiter", () => {
  const text = 'Date;"Payee; Ref";Amount\r\n01.02.2025;"Shop ""A""";-12,50\r\n\r\n02.02.2025;Rent;-800,00\n';
  assert.deepEqual(splitCsvHead(text, ";"), [
    ["Date", "Payee; Ref", "Amount"],
    ["01.02.2025", 'Shop "A"', "-12,50"],
    ["02.02.2025", "Rent", "-800,00"],
  ]);
  assert.deepEqual(splitCsvHead(text, ",")[0], ['Date;"Payee; Ref";Amount']);
  assert.equal(splitCsvHead(text, ";", 2).length, 2);
});

Deno.test("isTokenAmount() takes token amounts with up to 18 decimals and nothing else", () => {
  for (const good of ["2.5", "0", "1.000000000000000001", "100"]) assert.ok(isTokenAmount(good), good);
  for (const bad of ["", "-1", "1e3", "1.0000000000000000001", "abc", "1,5", "2.5 KOS"]) {
    assert.ok(!isTokenAmount(bad), bad);
  }
});

Deno.test("endOfDay() is the last second of a UTC day and null for anything but yyyy-mm-dd", () => {
  assert.equal(endOfDay("2027-03-14"), Date.UTC(2027, 2, 14, 23, 59, 59));
  for (const bad of ["", "2027-3-14", "2027-02-30x", "tomorrow"]) assert.equal(endOfDay(bad), null, bad);
});
