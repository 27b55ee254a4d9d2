/**
 * Anchor actions on `KosmosAnchor`: timestamp a Merkle root, read when a root was anchored, and check a
 * proof of a leaf against an anchored root (the contract's own `verify`, OZ `MerkleProof` semantics).
 *
 * ```ts
 * const { anchoredAt, blockNumber, txHash } = await anchorRoot(client, { root, label: "kosmos batch 3" });
 * const { ok } = await verifyAnchorProof(client, { root, leaf, proof });
 * ```
 */
import { type Hex, isHex, parseEventLogs, size } from "viem";
import { kosmosAnchorAbi } from "../../../../protocol/contracts_generated.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { type SentTransaction, sentTransaction } from "./sent.ts";

/** Longest label sent with a root (it is only in the event). */
export const MAX_ANCHOR_LABEL_LENGTH = 200;
/** Deepest proof accepted (a tree of 2^64 leaves). */
export const MAX_ANCHOR_PROOF_LENGTH = 64;

function checkHash(value: Hex, what: string): Hex {
  if (!isHex(value, { strict: true }) || size(value) !== 32) {
    throw new TypeError(`Invalid ${what}: expected 32 bytes of hex`);
  }
  return value.toLowerCase() as Hex;
}

export interface AnchorRootParameters extends ActionOptions {
  /** The Merkle root: 32 bytes, not zero. */
  root: Hex;
  /** A short description emitted in the `Anchored` event. */
  label: string;
}
export interface AnchorRootReturnType extends SentTransaction {
  /** Unix seconds the contract stamped. */
  anchoredAt: number;
}

/** The `anchor(root, label)` call, for a fee estimate or to send. */
export function getAnchorCall(
  client: KosmosClient,
  params: Omit<AnchorRootParameters, "signal">,
): ContractCall {
  const root = checkHash(params.root, "anchor root");
  if (BigInt(root) === 0n) throw new TypeError("Cannot anchor the zero root");
  if (typeof params.label !== "string" || params.label.length > MAX_ANCHOR_LABEL_LENGTH) {
    throw new TypeError(`Cannot anchor: the label must be at most ${MAX_ANCHOR_LABEL_LENGTH} characters`);
  }
  return {
    address: client.contracts.anchor,
    abi: kosmosAnchorAbi,
    functionName: "anchor",
    args: [root, params.label],
  };
}

/** Anchors `root` now; reverts `AlreadyAnchored` when it was (the first timestamp stands). */
export async function anchorRoot(
  client: KosmosClient,
  params: AnchorRootParameters,
): Promise<AnchorRootReturnType> {
  const receipt = await sendContractCall(client, getAnchorCall(client, params), {
    signal: params.signal,
    action: "anchor a Merkle root",
  });
  const [event] = parseEventLogs({ abi: kosmosAnchorAbi, eventName: "Anchored", logs: receipt.logs });
  return { anchoredAt: Number(event.args.anchoredAt), ...sentTransaction(receipt) };
}

/** Unix seconds `root` was anchored at; 0 when it never was. */
export async function getAnchoredAt(client: KosmosClient, root: Hex): Promise<number> {
  const stamped = await client.publicClient.readContract({
    address: client.contracts.anchor,
    abi: kosmosAnchorAbi,
    functionName: "anchoredAt",
    args: [checkHash(root, "anchor root")],
  });
  return Number(stamped);
}

export interface VerifyAnchorProofParameters {
  root: Hex;
  leaf: Hex;
  proof: readonly Hex[];
}

/** The chain's answer: `ok` when `root` is anchored and `proof` proves `leaf`; `anchoredAt` 0 when never. */
export async function verifyAnchorProof(
  client: KosmosClient,
  params: VerifyAnchorProofParameters,
): Promise<{ ok: boolean; anchoredAt: number }> {
  if (!Array.isArray(params.proof) || params.proof.length > MAX_ANCHOR_PROOF_LENGTH) {
    throw new TypeError(`Invalid anchor proof: at most ${MAX_ANCHOR_PROOF_LENGTH} hashes`);
  }
  const [ok, stamped] = await client.publicClient.readContract({
    address: client.contracts.anchor,
    abi: kosmosAnchorAbi,
    functionName: "verify",
    args: [
      checkHash(params.root, "anchor root"),
      checkHash(params.leaf, "anchor leaf"),
      params.proof.map((p, i) => checkHash(p, `anchor proof[${i}]`)),
    ],
  });
  return { ok, anchoredAt: Number(stamped) };
}
