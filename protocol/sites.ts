/**
 * Site announcements: a site owner's node tells the network that it owns a
 * website domain, so any node can act as its analytics proxy. The
 * announcement names the owner's wallet, peer id and X25519 encryption key
 * (to which proxies seal event batches). The wallet signs it with EIP-712 and
 * the node's libp2p key countersigns the wallet signature, which binds the
 * peer id and key to the wallet. It travels by gossip on {@link SITES_TOPIC}
 * and through {@link SITES_SYNC_PROTOCOL} to nodes that join later, as
 * DAG-CBOR of at most {@link MAX_SITE_ANNOUNCEMENT_BYTES}.
 *
 * The EIP-712 domain is `{ name: "Kosmos Site", version: "1" }`.
 *
 * Nodes accept an announcement only when the domain itself vouches for it:
 * its owner publishes a {@link SiteProof} at
 * `https://DOMAIN/.well-known/kosmos-site.json` ({@link siteProofUrl}), a
 * JSON object naming the same owner wallet, peer id and encryption key,
 * signed by that peer's node key over the tagged message of
 * {@link siteProofMessage}. Whoever controls the domain decides who receives
 * its visitors; announcing first wins nothing.
 *
 * ```ts
 * const signed = await signSiteAnnouncement(identity.account, identity.privateKey, body);
 * const bytes = encodeSiteAnnouncement(signed);
 * const site = await verifySiteAnnouncement(decodeSiteAnnouncement(bytes)); // throws a TypeError
 * const proof = await signSiteProof(identity.privateKey, body); // publish JSON.stringify(proof)
 * const checked = await verifySiteProof(parseSiteProof(text), { domain: "example.com" });
 * siteProofMatches(checked, site); // true when the domain vouches for this announcement
 * ```
 */
import * as dagCbor from "@ipld/dag-cbor";
import { recoverTypedDataAddress } from "viem";
import type { LocalAccount } from "viem/accounts";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Address, toAddress } from "./ids.ts";
import { isSiteDomain } from "./analytics.ts";

/** Gossip topic of site announcements. */
export const SITES_TOPIC = "/kosmos/sites/1";
/** Catching up on site announcements from a peer. */
export const SITES_SYNC_PROTOCOL = "/kosmos/sites-sync/1.0.0";
export const MAX_SITE_ANNOUNCEMENT_BYTES = 2048;
/** How far in the future a timestamp may be, in ms. */
export const MAX_SITE_CLOCK_SKEW = 5 * 60 * 1000;

export const SITE_DOMAIN = { name: "Kosmos Site", version: "1" } as const;
export const SITE_TYPES = {
  Site: [
    { name: "v", type: "uint8" },
    { name: "domain", type: "string" },
    { name: "owner", type: "address" },
    { name: "peerId", type: "string" },
    { name: "encryptionKey", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

export interface SiteAnnouncementBody {
  v: 1;
  /** The website's host name, lowercase (`example.com`). */
  domain: string;
  /** The owner's wallet. */
  owner: Address;
  /** The owner's node, which receives the events. */
  peerId: string;
  /** The owner node's X25519 public key, `0x` + 64 hex digits. */
  encryptionKey: `0x${string}`;
  /** ms since the epoch; a newer announcement by the same owner replaces an older one. */
  timestamp: number;
}

export interface SiteAnnouncement extends SiteAnnouncementBody {
  /** EIP-712 signature by `owner`. */
  signature: `0x${string}`;
  /** The peer's libp2p signature over the UTF-8 of `signature`. */
  peerSignature: Uint8Array;
}

/** Signs with the wallet, then countersigns with the node key. */
export async function signSiteAnnouncement(
  account: Pick<LocalAccount, "address" | "signTypedData">,
  peerKey: { sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> },
  body: SiteAnnouncementBody,
): Promise<SiteAnnouncement> {
  const clean = checkBody(body);
  if (account.address.toLowerCase() !== clean.owner.toLowerCase()) {
    throw new TypeError(`Cannot sign site "${clean.domain}": the account is not the owner ${clean.owner}`);
  }
  const signature = await account.signTypedData({
    domain: SITE_DOMAIN,
    types: SITE_TYPES,
    primaryType: "Site",
    message: toTypedMessage(clean),
  });
  const peerSignature = await peerKey.sign(new TextEncoder().encode(signature));
  return { ...clean, signature, peerSignature };
}

/** Checks both signatures; throws a `TypeError`. */
export async function verifySiteAnnouncement(
  announcement: SiteAnnouncement,
  options: { now?: number; maxClockSkew?: number } = {},
): Promise<SiteAnnouncement> {
  const clean = checkBody(announcement);
  const now = options.now ?? Date.now();
  if (clean.timestamp > now + (options.maxClockSkew ?? MAX_SITE_CLOCK_SKEW)) {
    throw new TypeError(`Cannot verify site "${clean.domain}": timestamp is in the future`);
  }
  const { signature, peerSignature } = announcement;
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new TypeError(`Cannot verify site "${clean.domain}": bad signature`);
  }
  let signer: string;
  try {
    signer = await recoverTypedDataAddress({
      domain: SITE_DOMAIN,
      types: SITE_TYPES,
      primaryType: "Site",
      message: toTypedMessage(clean),
      signature,
    });
  } catch (cause) {
    throw new TypeError(`Cannot verify site "${clean.domain}": bad signature`, { cause });
  }
  if (signer !== clean.owner) {
    throw new TypeError(`Cannot verify site "${clean.domain}": not signed by its owner`);
  }
  const publicKey = peerIdFromString(clean.peerId).publicKey;
  const valid = publicKey !== undefined && peerSignature instanceof Uint8Array &&
    await verifyQuietly(() => publicKey.verify(new TextEncoder().encode(signature), peerSignature));
  if (!valid) throw new TypeError(`Cannot verify site "${clean.domain}": bad peer signature`);
  return { ...clean, signature, peerSignature };
}

export function encodeSiteAnnouncement(announcement: SiteAnnouncement): Uint8Array {
  const bytes = dagCbor.encode(announcement);
  if (bytes.byteLength > MAX_SITE_ANNOUNCEMENT_BYTES) throw new RangeError("Site announcement is too large");
  return bytes;
}

/** Decodes (does not verify) a site announcement; throws a `TypeError`. */
export function decodeSiteAnnouncement(bytes: Uint8Array): SiteAnnouncement {
  if (bytes.byteLength > MAX_SITE_ANNOUNCEMENT_BYTES) throw new TypeError("Site announcement is too large");
  let value: Record<string, unknown>;
  try {
    value = dagCbor.decode(bytes);
  } catch {
    throw new TypeError("Site announcement is not DAG-CBOR");
  }
  const keys = ["v", "domain", "owner", "peerId", "encryptionKey", "timestamp", "signature", "peerSignature"];
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    Object.keys(value).length !== keys.length || !keys.every((k) => k in value)
  ) {
    throw new TypeError("Site announcement has missing or unknown fields");
  }
  return value as unknown as SiteAnnouncement;
}

function checkBody(body: SiteAnnouncementBody): SiteAnnouncementBody {
  if (body.v !== 1) throw new TypeError("Site announcement version must be 1");
  if (!isSiteDomain(body.domain)) throw new TypeError("Site domain must be a lowercase host name");
  const owner = toAddress(body.owner);
  if (typeof body.peerId !== "string" || body.peerId.length > 128) throw new TypeError("Bad site peer id");
  try {
    peerIdFromString(body.peerId);
  } catch (cause) {
    throw new TypeError("Bad site peer id", { cause });
  }
  if (typeof body.encryptionKey !== "string" || !/^0x[0-9a-f]{64}$/.test(body.encryptionKey)) {
    throw new TypeError("Site encryption key must be 0x and 64 lowercase hex digits");
  }
  if (!Number.isSafeInteger(body.timestamp) || body.timestamp <= 0) {
    throw new TypeError("Site timestamp must be a positive integer");
  }
  return {
    v: 1,
    domain: body.domain,
    owner,
    peerId: body.peerId,
    encryptionKey: body.encryptionKey,
    timestamp: body.timestamp,
  };
}

function toTypedMessage(body: SiteAnnouncementBody) {
  return { ...body, timestamp: BigInt(body.timestamp) };
}

// --- domain proofs -----------------------------------------------------------

/** Where a domain publishes its proof, below its origin. */
export const SITE_PROOF_PATH = "/.well-known/kosmos-site.json";
/** Largest proof document, in bytes. */
export const MAX_SITE_PROOF_BYTES = 4096;
/** Tag of the message a proof's signature covers; nothing else is signed with it. */
const SITE_PROOF_TAG = "kosmos-site-proof/1";

/** The fields a domain's proof binds: the same as its site announcement's. */
export type SiteProofBody = SiteAnnouncementBody;

export interface SiteProof extends SiteProofBody {
  /** The node key's signature over {@link siteProofMessage}, `0x` + hex. */
  signature: `0x${string}`;
}

/**
 * Where the proof of `domain` is published: `https://DOMAIN/.well-known/kosmos-site.json`,
 * or plain `http://` for loopback names (`localhost`, `*.localhost`).
 */
export function siteProofUrl(domain: string): string {
  if (!isSiteDomain(domain)) {
    throw new TypeError(`Cannot locate the proof of ${JSON.stringify(domain)}: not a domain`);
  }
  const loopback = domain === "localhost" || domain.endsWith(".localhost");
  return `${loopback ? "http" : "https"}://${domain}${SITE_PROOF_PATH}`;
}

/** The bytes a proof's signature covers: a tag, then the bound fields as a JSON array. */
export function siteProofMessage(body: SiteProofBody): Uint8Array {
  const clean = checkBody(body);
  return new TextEncoder().encode(
    `${SITE_PROOF_TAG}\n${
      JSON.stringify([clean.v, clean.domain, clean.owner, clean.peerId, clean.encryptionKey, clean.timestamp])
    }`,
  );
}

/** Signs a proof with the node key of `body.peerId`. */
export async function signSiteProof(
  peerKey: { sign(data: Uint8Array): Uint8Array | Promise<Uint8Array> },
  body: SiteProofBody,
): Promise<SiteProof> {
  const clean = checkBody(body);
  const signature = await peerKey.sign(siteProofMessage(clean));
  return { ...clean, signature: `0x${toHex(signature)}` };
}

/** Parses a proof document (the text served at {@link siteProofUrl}); throws a `TypeError`. */
export function parseSiteProof(text: string): SiteProof {
  if (text.length > MAX_SITE_PROOF_BYTES) throw new TypeError("The site proof is too large");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("The site proof is not JSON");
  }
  const keys = ["v", "domain", "owner", "peerId", "encryptionKey", "timestamp", "signature"];
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    Object.keys(value).length !== keys.length || !keys.every((k) => k in value)
  ) {
    throw new TypeError(`The site proof must be a JSON object with exactly ${keys.join(", ")}`);
  }
  return value as SiteProof;
}

/**
 * Checks a proof's fields and its node-key signature, and that it is the
 * proof of `options.domain`; throws a `TypeError` saying what is wrong.
 */
export async function verifySiteProof(
  proof: SiteProof,
  options: { domain: string; now?: number; maxClockSkew?: number },
): Promise<SiteProof> {
  const clean = checkBody(proof);
  if (clean.domain !== options.domain) {
    throw new TypeError(`The site proof is for "${clean.domain}", not "${options.domain}"`);
  }
  if (clean.timestamp > (options.now ?? Date.now()) + (options.maxClockSkew ?? MAX_SITE_CLOCK_SKEW)) {
    throw new TypeError("The site proof's timestamp is in the future");
  }
  const { signature } = proof;
  if (typeof signature !== "string" || !/^0x([0-9a-f]{2}){32,256}$/.test(signature)) {
    throw new TypeError("The site proof's signature must be 0x and lowercase hex");
  }
  const publicKey = peerIdFromString(clean.peerId).publicKey;
  const valid = publicKey !== undefined &&
    await verifyQuietly(() => publicKey.verify(siteProofMessage(clean), fromHex(signature.slice(2))));
  if (!valid) throw new TypeError("The site proof is not signed by the node it names");
  return { ...clean, signature };
}

/** Whether a verified proof vouches for `site`: the same domain, owner, node and encryption key. */
export function siteProofMatches(
  proof: SiteProofBody,
  site: { domain: string; owner: string; peerId: string; encryptionKey: string },
): boolean {
  return proof.domain === site.domain && proof.owner.toLowerCase() === site.owner.toLowerCase() &&
    proof.peerId === site.peerId && proof.encryptionKey === site.encryptionKey;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A signature check that says false, instead of throwing, when the key is not a point on the curve. */
async function verifyQuietly(verify: () => boolean | Promise<boolean>): Promise<boolean> {
  try {
    return await verify();
  } catch {
    return false;
  }
}
