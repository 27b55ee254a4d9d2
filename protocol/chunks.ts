/**
 * Wire format of the chunk protocol (`/kosmos/chunks/1.0.0`). A stream
 * carries any number of request/response pairs, one after the other, each
 * frame prefixed by its unsigned-varint length:
 *
 *     request:  [op u8][CID bytes]            (≤ MAX_REQUEST_BYTES)
 *     response: [status u8]  then, for a `get` answered "ok", [block bytes]
 *
 * `op` is {@link OP_GET} (send the block) or {@link OP_HAS} (answer only
 * whether it is stored: a cheap liveness and possession probe).
 *
 * A client may send further requests before the earlier ones are answered
 * (pipelining); the server answers every request in the order received.
 */
import { CID } from "multiformats/cid";
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from "./ids.ts";

export const OP_GET = 0;
export const OP_HAS = 1;
export type Op = typeof OP_GET | typeof OP_HAS;

/** Response status codes. */
export const Status = {
  ok: 0,
  notFound: 1,
  badRequest: 2,
  busy: 3,
  error: 4,
} as const;
export type StatusCode = typeof Status[keyof typeof Status];
const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;

/** Largest request frame accepted (an op byte and a CIDv1 sha2-256 is 37 bytes). */
export const MAX_REQUEST_BYTES = 128;

export interface ChunkRequest {
  op: Op;
  cid: CID;
}

export function encodeRequest(op: Op, cid: CID): Uint8Array {
  const out = new Uint8Array(1 + cid.bytes.byteLength);
  out[0] = op;
  out.set(cid.bytes, 1);
  return out;
}

/** Parses a request frame; throws a `TypeError` for anything but a stored CID kind (v1, raw or dag-cbor, sha2-256). */
export function decodeRequest(bytes: Uint8Array): ChunkRequest {
  if (bytes.byteLength < 2 || bytes.byteLength > MAX_REQUEST_BYTES) {
    throw new TypeError(`Invalid chunk request: ${bytes.byteLength} bytes`);
  }
  const op = bytes[0];
  if (op !== OP_GET && op !== OP_HAS) throw new TypeError(`Invalid chunk request: unknown op ${op}`);
  let cid: CID;
  try {
    cid = CID.decode(bytes.subarray(1));
  } catch (cause) {
    throw new TypeError("Invalid chunk request: not a CID", { cause });
  }
  if (
    cid.version !== 1 || (cid.code !== RAW_CODE && cid.code !== DAG_CBOR_CODE) ||
    cid.multihash.code !== SHA2_256_CODE || cid.multihash.size !== 32
  ) {
    throw new TypeError(`Invalid chunk request: "${cid}" is not a CIDv1 raw or dag-cbor sha2-256`);
  }
  return { op, cid };
}

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `unknown(${code})`;
}
