/**
 * What the IPFS trustless gateway (`GET /ipfs/{cid}`, specs.ipfs.tech/http-gateways/trustless-gateway)
 * shares between the node and its routes: the CID of a request, parsed in any multibase and bounded
 * before anything is looked up, and the CARv1 framing of blocks (`application/vnd.ipld.car`).
 *
 * ```ts
 * const cid = parseGatewayCid("bafkreigh2akiscaildc…"); // TypeError for anything else
 * const car = [encodeCarHeader([cid]), encodeCarBlock(cid, bytes)]; // a CARv1 of one block
 * ```
 */
import { decode as decodeCbor, encode as encodeCbor } from "@ipld/dag-cbor";
import { bases } from "multiformats/basics";
import { CID } from "multiformats/cid";
import { varint } from "multiformats";
import { DAG_CBOR_CODE } from "./ids.ts";

/** Multihash code of the identity "hash": the block is the digest itself. */
export const IDENTITY_CODE = 0x00;
/** Longest CID string a request may carry (a CIDv1 sha2-512 in base32 is 113 characters). */
export const MAX_GATEWAY_CID_LENGTH = 200;
/** Largest identity CID's block served (its bytes come from the URL, not from the store). */
export const MAX_IDENTITY_BYTES = 64;

/** The response types of a trustless gateway. */
export const RAW_BLOCK_TYPE = "application/vnd.ipld.raw";
export const CAR_TYPE = "application/vnd.ipld.car";

/** One decoder for every multibase `multiformats` knows (base32, base36, base58btc, base64, …). */
const anyBase = {
  decode(text: string): Uint8Array<ArrayBuffer> {
    const base = Object.values(bases).find((b) => text.startsWith(b.prefix));
    if (!base) throw new Error("unknown multibase prefix");
    return base.decode(text) as Uint8Array<ArrayBuffer>;
  },
};

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Parses the CID of a gateway request: CIDv0 or CIDv1 in any multibase, at most
 * {@link MAX_GATEWAY_CID_LENGTH} characters; an identity CID at most {@link MAX_IDENTITY_BYTES}
 * long. Throws a `TypeError` saying what is wrong.
 */
export function parseGatewayCid(text: string): CID {
  if (typeof text !== "string" || text.length === 0) throw new TypeError("Invalid CID: empty");
  if (text.length > MAX_GATEWAY_CID_LENGTH) {
    throw new TypeError(`Invalid CID: longer than ${MAX_GATEWAY_CID_LENGTH} characters`);
  }
  let cid: CID;
  try {
    cid = text.startsWith("Q") ? CID.parse(text) : CID.parse(text, anyBase);
  } catch (cause) {
    throw new TypeError(`Invalid CID ${show(text)}: ${(cause as Error).message}`, { cause });
  }
  if (cid.multihash.code === IDENTITY_CODE && cid.multihash.size > MAX_IDENTITY_BYTES) {
    throw new TypeError(
      `Invalid CID ${show(text)}: identity CIDs over ${MAX_IDENTITY_BYTES} bytes are not served`,
    );
  }
  return cid;
}

/** The header of a CARv1 (`{ roots, version: 1 }` in DAG-CBOR, after its length as a varint). */
export function encodeCarHeader(roots: CID[]): Uint8Array<ArrayBuffer> {
  const header = encodeCbor({ roots, version: 1 });
  return concat([
    varint.encodeTo(header.byteLength, new Uint8Array(varint.encodingLength(header.byteLength))),
    header,
  ]);
}

/** One block section of a CARv1: the length of CID and bytes as a varint, the CID, the bytes. */
export function encodeCarBlock(cid: CID, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = cid.bytes.byteLength + bytes.byteLength;
  const prefix = varint.encodeTo(length, new Uint8Array(varint.encodingLength(length)));
  return concat([prefix, cid.bytes, bytes]);
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Most links read from one block (a manifest lists at most its chunks). */
export const MAX_BLOCK_LINKS = 1_000_000;

/**
 * The CIDs a block links to, in the order a depth-first walk of its decoded form meets them: none
 * for raw blocks, the CID links (tag 42) of a DAG-CBOR block. Throws a `TypeError` for a DAG-CBOR
 * block that does not decode.
 */
export function getBlockLinks(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== DAG_CBOR_CODE) return [];
  let value: unknown;
  try {
    value = decodeCbor(bytes);
  } catch (cause) {
    throw new TypeError(`Cannot read the links of ${cid}: not DAG-CBOR`, { cause });
  }
  const links: CID[] = [];
  const walk = (node: unknown): void => {
    if (links.length > MAX_BLOCK_LINKS) throw new RangeError(`Cannot read the links of ${cid}: too many`);
    const link = CID.asCID(node);
    if (link) links.push(link);
    else if (Array.isArray(node)) { for (const item of node) walk(item); }
    else if (node !== null && typeof node === "object" && !(node instanceof Uint8Array)) {
      for (const item of Object.values(node)) walk(item);
    }
  };
  walk(value);
  return links;
}
