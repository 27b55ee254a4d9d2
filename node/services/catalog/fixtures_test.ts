/**
 * Announcement bodies and ids for catalog tests. The manifest CIDs name
 * stand-in DAG-CBOR blocks: the catalog never fetches the manifest.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import {
  type Announcement,
  type AnnouncementBody,
  signAnnouncement,
} from "../../../protocol/announcement.ts";
import { type Address, DAG_CBOR_CODE, type ManifestCid, toAddress } from "../../../protocol/ids.ts";

/** A manifest CID derived from `seed`. */
export async function makeManifestCid(seed: string): Promise<ManifestCid> {
  const digest = await sha256.digest(dagCbor.encode({ seed }));
  return CID.create(1, DAG_CBOR_CODE, digest).toString() as ManifestCid;
}

/** A valid announcement body by `seller`, announced now; override any field. */
export async function makeBody(
  seller: string,
  patch: Partial<AnnouncementBody> & { seed?: string } = {},
): Promise<AnnouncementBody> {
  const { seed, ...rest } = patch;
  const now = Date.now();
  return {
    v: 1,
    manifestCid: await makeManifestCid(seed ?? crypto.randomUUID()),
    title: "Hourly air quality, Berlin Mitte",
    description: "PM2.5 and PM10 readings from twelve street sensors",
    category: "environment",
    price: "1000000000000000000",
    seller: toAddress(seller),
    gateway: toAddress(seller) as Address,
    byteLength: 123_456,
    rowCount: 8_760,
    chunkCount: 1,
    schema: [{ name: "time", type: "timestamp" }, { name: "pm25", type: "number" }],
    preview: [[now - 3_600_000, 12.5], [now, 14]],
    licence: "kosmos-research-1",
    createdAt: now - 60_000,
    timestamp: now,
    providers: [],
    ...rest,
  };
}

/** Signs a changed copy of a signed announcement (its signature dropped). */
export function resign(
  account: Parameters<typeof signAnnouncement>[0],
  announcement: Announcement,
  patch: Partial<AnnouncementBody> = {},
): Promise<Announcement> {
  const { signature: _, ...body } = announcement;
  return signAnnouncement(account, { ...body, ...patch });
}
