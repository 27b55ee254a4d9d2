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
 * ```ts
 * const signed = await signSiteAnnouncement(identity.account, identity.privateKey, body);
 * const bytes = encodeSiteAnnouncement(signed);
 * const site = await verifySiteAnnouncement(decodeSiteAnnouncement(bytes)); // throws a TypeError
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
    await publicKey.verify(new TextEncoder().encode(signature), peerSignature);
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
