/**
 * The contributor's side as tests drive it over HTTP: import a source's export, grant and revoke
 * consent, publish an anonymized dataset and list it, buy it from another node and read the bought
 * CSV, and the checks on what was bought (equivalence classes of quasi-identifiers, identifiers
 * absent), plus reads of the consent and ownership contracts with viem.
 *
 * ```ts
 * const a = contributorApi({ url, token });
 * const source = await a.importFixture("spotify");
 * const consent = await a.json("/api/v1/consents", { method: "POST", body: { kind, purpose, expiresAt } }, 201);
 * ```
 */
import assert from "node:assert/strict";
import { createPublicClient, type Hex, http } from "viem";
import { kosmosConsentAbi, kosmosOwnershipAbi } from "../protocol/contracts_generated.ts";
import { SOURCE_KIND_INFO, type SourceKind } from "../protocol/sources.ts";
import type { ImportResult, PublicationView } from "../protocol/api/sources.ts";
import type { ConsentView } from "../protocol/api/consents.ts";
import { asOwner, waitFor } from "./helpers.ts";

/** A node's API as its owner calls it. */
export interface NodeRef {
  url: string;
  token: string;
}

/** The main fixture of each kind (`tests/fixtures/sources/<kind>/…`), as its service names the file. */
export const MAIN_FIXTURES: { readonly [K in SourceKind]: string } = {
  spotify: "spotify/Streaming_History_Audio_2023_0.json",
  netflix: "netflix/ViewingActivity.csv",
  chrome: "chrome/BrowserHistory.json",
  "apple-health": "apple-health/export.xml",
  uber: "uber/trips_data.csv",
  amazon: "amazon/Retail.OrderHistory.1.csv",
  airbnb: "airbnb/reservations.csv",
  bank: "bank/statement.csv",
  browsing: "browsing/visits.json",
};

export const FIXTURES_DIR = new URL("./fixtures/sources/", import.meta.url);

export function fixturePath(kind: SourceKind): string {
  return new URL(MAIN_FIXTURES[kind], FIXTURES_DIR).pathname;
}

export interface JsonInit extends Omit<RequestInit, "body"> {
  /** Sent as JSON unless it is FormData. */
  body?: unknown;
}

/** HTTP calls on one node as its owner. */
export function contributorApi(node: NodeRef) {
  const call = (path: string, init: JsonInit = {}): Promise<Response> => {
    const { body, ...rest } = init;
    const headers = new Headers(rest.headers);
    let sent: BodyInit | undefined;
    if (body instanceof FormData) sent = body;
    else if (body !== undefined) {
      headers.set("content-type", "application/json");
      sent = JSON.stringify(body);
    }
    return fetch(new URL(path, node.url), asOwner(node, { ...rest, headers, body: sent }));
  };
  /** The JSON answer of `path`, asserting its status. */
  // deno-lint-ignore no-explicit-any
  const json = async <T = any>(path: string, init: JsonInit = {}, status = 200): Promise<T> => {
    const response = await call(path, init);
    const text = await response.text();
    assert.equal(response.status, status, `${init.method ?? "GET"} ${path}: ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    node,
    call,
    json,
    /** Imports the main fixture of `kind` (a bank statement with the layout the node detects). */
    async importFixture(kind: SourceKind): Promise<ImportResult> {
      const path = fixturePath(kind);
      const bytes = await Deno.readFile(path);
      const filename = path.slice(path.lastIndexOf("/") + 1);
      const form = new FormData();
      if (kind === "bank") {
        const probe = new FormData();
        probe.append("file", new File([bytes], filename));
        const layout = await json("/api/v1/sources/bank/layout", { method: "POST", body: probe });
        form.append("mapping", JSON.stringify(layout.mapping));
      }
      form.append("file", new File([bytes], filename));
      return await json<ImportResult>(`/api/v1/sources/${kind}/imports`, { method: "POST", body: form }, 201);
    },
    grant(kind: SourceKind, purpose: string, expiresAt: number): Promise<ConsentView> {
      return json("/api/v1/consents", { method: "POST", body: { kind, purpose, expiresAt } }, 201);
    },
    revoke(id: string): Promise<ConsentView> {
      return json(`/api/v1/consents/${id}`, { method: "DELETE" });
    },
    publish(fields: { kinds: SourceKind[]; purpose: string; title: string; price: string }) {
      return json<PublicationView>(
        "/api/v1/publications",
        { method: "POST", body: { licence: "CC-BY-4.0", ...fields } },
        201,
      );
    },
    /** Stakes 100 tokens on the listing, so other nodes can buy it. */
    async list(manifestCid: string): Promise<void> {
      await json("/api/v1/stakes", { method: "POST", body: { manifestCid, amount: "100" } }, 201);
    },
    /** Waits until this node's catalog has `manifestCid` staked, buys it and returns the bought bytes. */
    async buy(manifestCid: string): Promise<Uint8Array> {
      await waitFor("the listing to reach the buyer, staked", async () => {
        const response = await call(`/api/v1/listings/${manifestCid}`);
        if (response.status !== 200) return void await response.body?.cancel();
        return BigInt((await response.json()).stake) > 0n;
      }, { timeout: 30_000, interval: 200 });
      const { id } = await json(
        "/api/v1/purchases",
        { method: "POST", body: { listingId: manifestCid } },
        202,
      );
      await waitFor("the purchase to complete", async () => {
        const p = await json(`/api/v1/purchases/${id}`);
        if (p.status === "failed" || p.status === "refunded") {
          throw new Error(`purchase ${p.status}: ${p.error}`);
        }
        return p.status === "complete";
      }, { timeout: 60_000, interval: 200 });
      const data = await call(`/api/v1/purchases/${id}/data`);
      assert.equal(data.status, 200);
      return new Uint8Array(await data.arrayBuffer());
    },
  };
}

export type ContributorApi = ReturnType<typeof contributorApi>;

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF) → rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[i++];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** A bought table: its header and its rows as records. */
export function readTable(bytes: Uint8Array): { header: string[]; rows: Record<string, string>[] } {
  const [header, ...lines] = parseCsv(new TextDecoder().decode(bytes));
  assert.ok(header, "the bought file has a header");
  const rows = lines.map((line) => {
    assert.equal(line.length, header.length, `a row has ${header.length} fields: ${line.length}`);
    return Object.fromEntries(header.map((h, i) => [h, line[i]]));
  });
  return { header, rows };
}

export const fieldsOf = (kind: SourceKind, role: "identifier" | "quasi" | "plain") =>
  SOURCE_KIND_INFO[kind].fields.filter((f) => f.role === role).map((f) => f.name);

/**
 * The rows of `kind` in a combined table: those whose `source` column names it, or every row when
 * the table has no `source` column and holds `kind`'s columns only.
 */
export function rowsOfKind(table: { header: string[]; rows: Record<string, string>[] }, kind: SourceKind) {
  return table.header.includes("source") ? table.rows.filter((r) => r.source === kind) : table.rows;
}

/** Sizes of the equivalence classes of `kind`'s rows over its released quasi-identifiers. */
export function classSizes(rows: Record<string, string>[], kind: SourceKind): Map<string, number> {
  const quasi = fieldsOf(kind, "quasi");
  const sizes = new Map<string, number>();
  for (const row of rows) {
    const key = JSON.stringify(quasi.map((q) => row[q] ?? ""));
    sizes.set(key, (sizes.get(key) ?? 0) + 1);
  }
  return sizes;
}

/** Every distinct non-empty string value of `fields` in a JSON array export (nested objects searched). */
export function jsonValues(records: unknown[], keys: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (keys.includes(k) && typeof v === "string" && v.trim()) out.add(v.trim());
        else visit(v);
      }
    }
  };
  visit(records);
  return out;
}

/** Every distinct non-empty value of the named columns of a CSV export. */
export function csvValues(text: string, columns: string[]): Set<string> {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ""));
  const indexes = columns.map((c) => header.indexOf(c));
  assert.ok(indexes.every((i) => i >= 0), `columns ${columns.join(", ")} in ${header.join(",")}`);
  const out = new Set<string>();
  for (const row of rows) for (const i of indexes) if (row[i]?.trim()) out.add(row[i].trim());
  return out;
}

/** Reads of the consent and ownership contracts, at the addresses `GET /api/v1/chain` gives. */
export async function chainReads(node: ContributorApi) {
  const chain = await node.json("/api/v1/chain");
  const contracts = chain.contracts as { consent: Hex; ownership: Hex };
  assert.ok(contracts.ownership, "the ownership contract is deployed and named in /api/v1/chain");
  const client = createPublicClient({ transport: http(chain.rpcUrl) });
  return {
    consentValid: (id: string) =>
      client.readContract({
        address: contracts.consent,
        abi: kosmosConsentAbi,
        functionName: "isValid",
        args: [BigInt(id)],
      }),
    consentOwner: (id: string) =>
      client.readContract({
        address: contracts.consent,
        abi: kosmosConsentAbi,
        functionName: "ownerOf",
        args: [BigInt(id)],
      }),
    ownershipOwner: (id: string) =>
      client.readContract({
        address: contracts.ownership,
        abi: kosmosOwnershipAbi,
        functionName: "ownerOf",
        args: [BigInt(id)],
      }),
  };
}

/** One contributor's cut of the main Spotify fixture ({@link spotifySlices}). */
export interface SpotifySlice {
  /** A `Streaming_History_Audio_*.json` export of this contributor's plays only. */
  json: string;
  /** The connection country of every play in it, distinct per slice: it tells a contributor's rows apart. */
  country: string;
  plays: number;
}

/** Countries the slices take, in order. */
const SLICE_COUNTRIES = ["DE", "FR", "AT", "BE", "NL", "DK", "SE", "PL"];

/**
 * The main Spotify fixture cut into `count` distinct exports: slice `i` holds the plays of every
 * hour `h` with `h % count === i` (so every slice spans the fixture's days), all from country
 * `SLICE_COUNTRIES[i]`; its first hour keeps only 3 plays, a class under k = 5 the anonymizer
 * suppresses (or generalises, times to the day). No play is in two slices.
 */
export async function spotifySlices(count: number): Promise<SpotifySlice[]> {
  assert.ok(count >= 1 && count <= SLICE_COUNTRIES.length, `1 to ${SLICE_COUNTRIES.length} slices`);
  const plays = JSON.parse(await Deno.readTextFile(fixturePath("spotify"))) as { ts: string }[];
  const hours = [...new Set(plays.map((p) => Math.floor(Date.parse(p.ts) / 3600_000)))].sort((a, b) => a - b);
  return Array.from({ length: count }, (_, i) => {
    const mine = new Set(hours.filter((_, h) => h % count === i));
    const first = Math.min(...mine);
    let firstKept = 0;
    const records = plays
      .filter((p) => mine.has(Math.floor(Date.parse(p.ts) / 3600_000)))
      .filter((p) => Math.floor(Date.parse(p.ts) / 3600_000) !== first || firstKept++ < 3)
      .map((p) => ({ ...p, conn_country: SLICE_COUNTRIES[i] }));
    return {
      json: `[\n${records.map((r) => JSON.stringify(r)).join(",\n")}\n]\n`,
      country: SLICE_COUNTRIES[i],
      plays: records.length,
    };
  });
}

/** Imports `json` as a Spotify export on `node`. */
export async function importSpotifyJson(node: ContributorApi, json: string): Promise<ImportResult> {
  const form = new FormData();
  form.append("file", new File([json], "Streaming_History_Audio_2023_0.json"));
  return await node.json<ImportResult>(
    "/api/v1/sources/spotify/imports",
    { method: "POST", body: form },
    201,
  );
}
