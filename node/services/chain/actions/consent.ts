/**
 * Consent and ownership actions: grant consent directly or relay a contributor's signed `Grant`
 * (EIP-712, `grantBySig`), revoke it, read its record, validity and the contributor's nonce, find the
 * grants of one contributor in the logs, and record the ownership of a publication on
 * `KosmosOwnership`. Source and purpose are 32-byte ids: `keccak256` of `kosmos/source/<kind>` and of
 * the purpose text.
 *
 * ```ts
 * const { consentId } = await grantConsent(client, { source: toSourceId("spotify"), purpose: toPurposeId("music research"), expiry });
 * if (await isConsentValid(client, { consentId })) await recordOwnership(client, { manifestDigest, consentIds: [consentId] });
 * await revokeConsent(client, { consentId });
 * ```
 */
import { type Address, type Hex, keccak256, parseEventLogs, toBytes, zeroAddress } from "viem";
import { kosmosConsentAbi, kosmosOwnershipAbi } from "../../../../protocol/contracts_generated.ts";
import { sourceIdPreimage, type SourceKind } from "../../../../protocol/sources.ts";
import { type ActionOptions, type ContractCall, type KosmosClient, sendContractCall } from "../client.ts";
import { type SentTransaction, sentTransaction } from "./sent.ts";

/** Most consent ids one ownership record names (`KosmosOwnership.MAX_CONSENTS`). */
export const MAX_OWNERSHIP_CONSENTS = 64;

/** The consent contract's `source` of a kind of personal data: `keccak256("kosmos/source/<kind>")`. */
export function toSourceId(kind: SourceKind): Hex {
  return keccak256(toBytes(sourceIdPreimage(kind)));
}

/** The consent contract's `purpose` of a purpose text: `keccak256` of its UTF-8 bytes. */
export function toPurposeId(purpose: string): Hex {
  return keccak256(toBytes(purpose));
}

/** A consent record as the contract keeps it (kept after revocation). Times in unix seconds. */
export interface ConsentRecordOnChain {
  consentId: bigint;
  contributor: Address;
  source: Hex;
  purpose: Hex;
  expiry: number;
  /** 0 while not revoked. */
  revokedAt: number;
}

/** What a mined consent or ownership transaction cost and where it is. */

export interface GrantConsentParameters extends ActionOptions {
  source: Hex;
  purpose: Hex;
  /** Unix seconds, in the future. */
  expiry: bigint;
}
export interface GrantConsentReturnType extends SentTransaction {
  consentId: bigint;
}

/** The `grant(source, purpose, expiry)` call from the wallet, for a fee estimate or to send. */
export function getGrantConsentCall(client: KosmosClient, params: GrantConsentParameters): ContractCall {
  return {
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "grant",
    args: [params.source, params.purpose, params.expiry],
  };
}

/** Grants consent from the wallet itself; the record is the wallet's. */
export async function grantConsent(
  client: KosmosClient,
  params: GrantConsentParameters,
): Promise<GrantConsentReturnType> {
  const receipt = await sendContractCall(client, getGrantConsentCall(client, params), {
    signal: params.signal,
    action: "grant consent",
  });
  return { consentId: grantedId(receipt.logs), ...sentTransaction(receipt) };
}

export interface GrantConsentBySigParameters extends GrantConsentParameters {
  /** Who signed the `Grant` and will hold the record. */
  contributor: Address;
  /** Unix seconds after which the signature is void. */
  deadline: bigint;
  signature: Hex;
}

/** The `grantBySig(...)` call the wallet relays, for a fee estimate or to send. */
export function getGrantConsentBySigCall(
  client: KosmosClient,
  params: GrantConsentBySigParameters,
): ContractCall {
  return {
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "grantBySig",
    args: [
      params.contributor,
      params.source,
      params.purpose,
      params.expiry,
      params.deadline,
      params.signature,
    ],
  };
}

/** Relays a contributor's signed grant; the wallet pays, the contributor holds the record. */
export async function grantConsentBySig(
  client: KosmosClient,
  params: GrantConsentBySigParameters,
): Promise<GrantConsentReturnType> {
  const receipt = await sendContractCall(client, getGrantConsentBySigCall(client, params), {
    signal: params.signal,
    action: "relay the signed consent",
  });
  return { consentId: grantedId(receipt.logs), ...sentTransaction(receipt) };
}

export interface RevokeConsentParameters extends ActionOptions {
  consentId: bigint;
}
export interface RevokeConsentReturnType extends SentTransaction {
  /** Unix seconds of the revocation, from the `Revoked` receipt. */
  revokedAt: number;
}

/** The `revoke(consentId)` call from the wallet. */
export function getRevokeConsentCall(client: KosmosClient, params: { consentId: bigint }): ContractCall {
  return {
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "revoke",
    args: [params.consentId],
  };
}

/** Revokes the wallet's consent `consentId` (the contract refuses anyone else's). */
export async function revokeConsent(
  client: KosmosClient,
  params: RevokeConsentParameters,
): Promise<RevokeConsentReturnType> {
  const receipt = await sendContractCall(client, getRevokeConsentCall(client, params), {
    signal: params.signal,
    action: `revoke consent ${params.consentId}`,
  });
  const [event] = parseEventLogs({ abi: kosmosConsentAbi, logs: receipt.logs, eventName: "Revoked" });
  if (!event) {
    throw new Error(
      `Cannot revoke consent ${params.consentId}: no Revoked event in ${receipt.transactionHash}`,
    );
  }
  return { revokedAt: Number(event.args.revokedAt), ...sentTransaction(receipt) };
}

/** Whether consent `consentId` is neither revoked nor expired now (false for an unknown id). */
export async function isConsentValid(client: KosmosClient, params: { consentId: bigint }): Promise<boolean> {
  return await client.publicClient.readContract({
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "isValid",
    args: [params.consentId],
  });
}

/** The record of consent `consentId`; `undefined` when it was never granted. */
export async function getConsent(
  client: KosmosClient,
  params: { consentId: bigint },
): Promise<ConsentRecordOnChain | undefined> {
  const c = await client.publicClient.readContract({
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "getConsent",
    args: [params.consentId],
  });
  if (c.contributor === zeroAddress) return undefined;
  return {
    consentId: params.consentId,
    contributor: c.contributor,
    source: c.source,
    purpose: c.purpose,
    expiry: Number(c.expiry),
    revokedAt: Number(c.revokedAt),
  };
}

/** The nonce `contributor` must sign in their next `Grant`. */
export async function getConsentNonce(
  client: KosmosClient,
  params: { contributor: Address },
): Promise<bigint> {
  return await client.publicClient.readContract({
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    functionName: "nonces",
    args: [params.contributor],
  });
}

export interface GrantedConsentLog {
  consentId: bigint;
  contributor: Address;
  source: Hex;
  purpose: Hex;
  expiry: bigint;
  transactionHash: Hex;
  blockNumber: bigint;
}

/** The `Granted` events of `contributor` (indexed), from `fromBlock` (default 0) to the latest block. */
export async function getGrantedConsents(
  client: KosmosClient,
  params: { contributor: Address; fromBlock?: bigint },
): Promise<GrantedConsentLog[]> {
  const logs = await client.publicClient.getContractEvents({
    address: client.contracts.consent,
    abi: kosmosConsentAbi,
    eventName: "Granted",
    args: { contributor: params.contributor },
    fromBlock: params.fromBlock ?? 0n,
    toBlock: "latest",
  });
  return logs.map((log) => ({
    consentId: log.args.consentId!,
    contributor: log.args.contributor!,
    source: log.args.source!,
    purpose: log.args.purpose!,
    expiry: log.args.expiry!,
    transactionHash: log.transactionHash,
    blockNumber: log.blockNumber,
  }));
}

export interface RecordOwnershipParameters extends ActionOptions {
  /** The sha-256 digest of the manifest CID's multihash. */
  manifestDigest: Hex;
  /** 1 to 64 distinct consents, each valid now and held by the wallet. */
  consentIds: readonly bigint[];
}
export interface RecordOwnershipReturnType extends SentTransaction {
  tokenId: bigint;
}

/** The `record(manifestDigest, consentIds)` call from the wallet. */
export function getRecordOwnershipCall(
  client: KosmosClient,
  params: Pick<RecordOwnershipParameters, "manifestDigest" | "consentIds">,
): ContractCall {
  return {
    address: client.contracts.ownership,
    abi: kosmosOwnershipAbi,
    functionName: "record",
    args: [params.manifestDigest, params.consentIds],
  };
}

/** Records the wallet's ownership of a publication made under its consents. */
export async function recordOwnership(
  client: KosmosClient,
  params: RecordOwnershipParameters,
): Promise<RecordOwnershipReturnType> {
  const receipt = await sendContractCall(client, getRecordOwnershipCall(client, params), {
    signal: params.signal,
    action: "record the ownership of the publication",
  });
  const [event] = parseEventLogs({ abi: kosmosOwnershipAbi, logs: receipt.logs, eventName: "Recorded" });
  if (!event) throw new Error(`Cannot record ownership: no Recorded event in ${receipt.transactionHash}`);
  return { tokenId: event.args.tokenId, ...sentTransaction(receipt) };
}

export interface OwnershipRecordOnChain {
  tokenId: bigint;
  owner: Address;
  /** Unix seconds. */
  recordedAt: number;
  manifestDigest: Hex;
  consentIds: bigint[];
}

/** The ownership record `tokenId`; `undefined` when there is none. */
export async function getOwnershipRecord(
  client: KosmosClient,
  params: { tokenId: bigint },
): Promise<OwnershipRecordOnChain | undefined> {
  const count = await client.publicClient.readContract({
    address: client.contracts.ownership,
    abi: kosmosOwnershipAbi,
    functionName: "recordCount",
  });
  if (params.tokenId < 1n || params.tokenId > count) return undefined;
  const r = await client.publicClient.readContract({
    address: client.contracts.ownership,
    abi: kosmosOwnershipAbi,
    functionName: "getRecord",
    args: [params.tokenId],
  });
  return {
    tokenId: params.tokenId,
    owner: r.owner,
    recordedAt: Number(r.recordedAt),
    manifestDigest: r.manifestDigest,
    consentIds: [...r.consentIds],
  };
}

function grantedId(logs: Parameters<typeof parseEventLogs>[0]["logs"]): bigint {
  const [event] = parseEventLogs({ abi: kosmosConsentAbi, logs, eventName: "Granted" });
  if (!event) throw new Error("Cannot grant consent: no Granted event in the receipt");
  return event.args.consentId;
}
