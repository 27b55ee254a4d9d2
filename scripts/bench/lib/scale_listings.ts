/**
 * The signed listings of `deno task bench scale`, generated once and kept in
 * a file, and the fill that puts them into a node's catalog before it starts.
 *
 * Signing costs ~1.5 ms a listing and checking a signature ~2 ms, so 100,000
 * listings on 10 nodes would take over half an hour to sign and index through
 * the gossip check on every run. Instead:
 *
 * - The listings are signed once (16 sellers, every category) and written to
 *   `~/.cache/kosmos/bench-scale-listings.bin` (`--listings-file` to change):
 *   a JSON header line (count, tag, creation time, SHA-256 of the rest), then
 *   each encoded announcement behind its 4-byte length. A later run reuses
 *   the file, adds to it when it needs more, and signs it all anew when the
 *   checksum does not match or it is older than 20 days (announcements older
 *   than 30 days are ignored by the catalog).
 * - Loading checks the checksum and verifies 64 signatures picked at random.
 * - {@link fillCatalog} decodes and validates each announcement (schema,
 *   clock) and stores it as the catalog does after its check, without the
 *   signature recovery: these are the bench's own signatures, checked when
 *   loaded. What nodes receive from each other (gossip, the late joiner's and
 *   the churned-in nodes' catalog sync) is verified in full as always.
 *
 * ```ts
 * const listings = await loadListings(100_000, defaultListingsPath());
 * const added = fillCatalog(new CatalogStore(node.components.db), listings.slice(0, 10_000));
 * ```
 */
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, toHex } from "viem";
import { CatalogStore } from "../../../node/services/catalog/store.ts";
import { makeBody } from "../../../node/services/catalog/fixtures_test.ts";
import {
  decodeAnnouncement,
  encodeAnnouncement,
  signAnnouncement,
  verifyAnnouncement,
} from "../../../protocol/announcement.ts";
import { CATEGORIES } from "../../../protocol/manifest.ts";
import { day } from "../../../node/constants.ts";
import { progress } from "./fair.ts";

/** Sellers of the generated listings (fixed keys, so a run's listings look like many sellers'). */
const SELLERS = 16;
/** A file older than this is signed anew (the catalog ignores announcements older than 30 days). */
const MAX_FILE_AGE = 20 * day;
/** Signatures verified at random whenever the file is loaded. */
const SPOT_CHECKS = 64;

interface Header {
  v: 1;
  count: number;
  tag: string;
  createdAt: number;
  sha256: string;
}

/** `$XDG_CACHE_HOME/kosmos/bench-scale-listings.bin`, else under `~/.cache`, else the temp dir. */
export function defaultListingsPath(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : Deno.env.get("TMPDIR") ?? "/tmp");
  return `${base}/kosmos/bench-scale-listings.bin`;
}

const sellers = () =>
  Array.from(
    { length: SELLERS },
    (_, i) => privateKeyToAccount(keccak256(toHex(`kosmos.bench.scale.seller.${i}`))),
  );

/** Listings `from` to `to` (exclusive) of the set named `tag`, signed and encoded. */
async function sign(tag: string, from: number, to: number): Promise<Uint8Array[]> {
  const accounts = sellers();
  const out: Uint8Array[] = [];
  for (let i = from; i < to; i++) {
    const account = accounts[i % SELLERS];
    const body = await makeBody(account.address, {
      seed: `${tag}-${i}`,
      title: `Bench listing ${i}`,
      category: CATEGORIES[i % CATEGORIES.length],
    });
    out.push(encodeAnnouncement(await signAnnouncement(account, body)));
    if ((i + 1) % 5000 === 0) progress(`signed ${i + 1}/${to} listings`);
  }
  return out;
}

async function hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function frame(listings: Uint8Array[]): Uint8Array {
  const size = listings.reduce((sum, l) => sum + 4 + l.byteLength, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const l of listings) {
    view.setUint32(at, l.byteLength);
    out.set(l, at + 4);
    at += 4 + l.byteLength;
  }
  return out;
}

function unframe(body: Uint8Array, count: number): Uint8Array[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < body.byteLength) {
    if (at + 4 > body.byteLength) throw new RangeError("truncated length");
    const length = view.getUint32(at);
    if (at + 4 + length > body.byteLength) throw new RangeError("truncated listing");
    out.push(body.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (out.length !== count) throw new RangeError(`${out.length} listings, the header says ${count}`);
  return out;
}

/** The cached file's listings, or null (with the reason logged) when it cannot be used. */
async function read(path: string): Promise<{ header: Header; listings: Uint8Array[] } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) progress(`cannot read ${path}: ${(err as Error).message}`);
    return null;
  }
  try {
    const newline = bytes.indexOf(10);
    if (newline < 0) throw new TypeError("no header line");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline))) as Header;
    if (header.v !== 1 || !Number.isInteger(header.count) || typeof header.tag !== "string") {
      throw new TypeError("unknown header");
    }
    const body = bytes.subarray(newline + 1);
    if (await hex(body) !== header.sha256) throw new TypeError("checksum does not match");
    if (Date.now() - header.createdAt > MAX_FILE_AGE) throw new TypeError("older than 20 days");
    const listings = unframe(body, header.count);
    for (let i = 0; i < Math.min(SPOT_CHECKS, listings.length); i++) {
      const bytes = listings[Math.floor(Math.random() * listings.length)];
      await verifyAnnouncement(decodeAnnouncement(bytes));
    }
    return { header, listings };
  } catch (err) {
    progress(`signing listings anew: ${path}: ${(err as Error).message}`);
    return null;
  }
}

async function write(path: string, header: Omit<Header, "sha256">, listings: Uint8Array[]): Promise<void> {
  const body = frame(listings);
  const line = new TextEncoder().encode(JSON.stringify({ ...header, sha256: await hex(body) }) + "\n");
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
  try {
    for (const part of [line, body]) {
      let at = 0;
      while (at < part.byteLength) at += await file.write(part.subarray(at));
    }
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

/**
 * At least `count` signed listings (encoded announcements) from the file at
 * `path`, signing and saving what it lacks first (see the module doc).
 */
export async function loadListings(count: number, path: string): Promise<Uint8Array[]> {
  const cached = await read(path);
  if (cached && cached.listings.length >= count) {
    progress(`${cached.listings.length} signed listings from ${path}`);
    return cached.listings;
  }
  const tag = cached?.header.tag ?? crypto.randomUUID().slice(0, 8);
  const have = cached?.listings ?? [];
  progress(`signing ${count - have.length} listings into ${path} (once)`);
  const listings = [...have, ...await sign(tag, have.length, count)];
  await write(
    path,
    { v: 1, count: listings.length, tag, createdAt: cached?.header.createdAt ?? Date.now() },
    listings,
  );
  return listings;
}

/**
 * Stores `listings` (from {@link loadListings}) in `store` without recovering
 * their signatures; each is decoded and validated first. Returns how many
 * were added; throws when the catalog refuses one (full, or a duplicate).
 */
export function fillCatalog(store: CatalogStore, listings: Uint8Array[]): number {
  let added = 0;
  for (const bytes of listings) {
    const put = store.putAnnouncement(decodeAnnouncement(bytes), bytes);
    if (put !== "added") throw new Error(`A node did not index a generated listing: ${put}`);
    added++;
  }
  return added;
}
