/**
 * Escrow actions, viem-style over a {@link KosmosClient}. The key sale: open
 * (with an EIP-2612 permit: one transaction), reveal, confirm, complain,
 * refund, finalize, and reads of a sale's events (from the chain, or folded
 * from the indexer's) and the chain's time. The bad-data dispute: raise, rule
 * as the arbiter, expire. The wallet: the withdrawable balance that completed
 * key sales credited (pull payments) and withdrawing it, and per-listing sale
 * delegates.
 *
 * ```ts
 * const { saleId, sale } = await openSale(buyer, { quote, signature });
 * await revealKey(seller, { saleId, sale, kSale });
 * if (await getPayoutBalance(client) > 0n) await withdrawPayouts(client);
 * await setSaleDelegate(client, { listingId, delegate });
 * ```
 */
import {
  type Address,
  getAddress,
  hashTypedData,
  type Hex,
  isHex,
  type Log,
  numberToHex,
  parseEventLogs,
  recoverTypedDataAddress,
  type RpcLog,
  size,
} from "viem";
import { kosmosEscrowAbi } from "../../../../protocol/contracts_generated.ts";
import { getEscrowDomain, type Quote, quoteTypes, type Sale } from "../../../../protocol/quote.ts";
import { type ActionOptions, type KosmosClient, sendContractCall } from "../client.ts";
import { signPermit } from "./token.ts";

export interface GetPayoutBalanceParameters {
  /** @default the wallet's address */
  address?: Address;
}
export type GetPayoutBalanceReturnType = bigint;

/** Tokens the escrow holds for `address`, withdrawable now. */
export async function getPayoutBalance(
  client: KosmosClient,
  params: GetPayoutBalanceParameters = {},
): Promise<GetPayoutBalanceReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "balanceOf",
    args: [params.address ?? client.walletClient.account.address],
  });
}

export type WithdrawPayoutsParameters = ActionOptions;
export interface WithdrawPayoutsReturnType {
  amount: bigint;
  hash: Hex;
}

/** Withdraws the wallet's whole escrow balance. Reverts `NothingToWithdraw` when it is zero. */
export async function withdrawPayouts(
  client: KosmosClient,
  params: WithdrawPayoutsParameters = {},
): Promise<WithdrawPayoutsReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "withdraw",
    args: [],
  }, { signal: params.signal, action: "withdraw payouts" });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Withdrawn", logs: receipt.logs });
  return { amount: event?.args.amount ?? 0n, hash: receipt.transactionHash };
}

export interface SetSaleDelegateParameters extends ActionOptions {
  /** The wallet's listing the delegate may sell. */
  listingId: bigint;
  /** The wallet that may sign quotes and reveal keys for that listing. */
  delegate: Address;
  /** @default true */
  approved?: boolean;
}
export interface SetSaleDelegateReturnType {
  hash: Hex;
}

/**
 * Approves (or removes) a delegate that sells one of this wallet's listings on the escrow. Reverts
 * `NotListingOwner` unless the wallet owns the listing; a transfer of the listing drops the approval.
 */
export async function setSaleDelegate(
  client: KosmosClient,
  params: SetSaleDelegateParameters,
): Promise<SetSaleDelegateReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "setDelegate",
    args: [params.listingId, params.delegate, params.approved ?? true],
  }, { signal: params.signal, action: `set a sale delegate of listing ${params.listingId}` });
  return { hash: receipt.transactionHash };
}

export interface IsSaleDelegateParameters {
  listingId: bigint;
  delegate: Address;
}
export type IsSaleDelegateReturnType = boolean;

/**
 * Whether `delegate` may sign quotes and reveal keys for listing `listingId` on behalf of its current
 * owner (false for a listing that does not exist).
 */
export async function isSaleDelegate(
  client: KosmosClient,
  params: IsSaleDelegateParameters,
): Promise<IsSaleDelegateReturnType> {
  return await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [params.listingId, params.delegate],
  });
}

export interface VerifyQuoteSignerParameters {
  chainId: number;
  quote: Quote;
  signature: Hex;
  /** The listing's current owner (from the registry). */
  owner: Address;
}
/** The sale id the quote opens under, or why its signature is not the owner's or a delegate's. */
export type VerifyQuoteSignerReturnType =
  | { saleId: Hex; problem?: undefined }
  | { saleId?: undefined; problem: string };

/**
 * Checks that `signature` over the escrow's typed `quote` comes from the listing's `owner` or one of its sale
 * delegates (what the escrow's `open` checks), and answers the sale id (the typed data's hash).
 */
export async function verifyQuoteSigner(
  client: KosmosClient,
  params: VerifyQuoteSignerParameters,
): Promise<VerifyQuoteSignerReturnType> {
  const { quote, signature, owner } = params;
  const typed = {
    domain: getEscrowDomain(params.chainId, client.contracts.escrow),
    types: quoteTypes,
    primaryType: "Quote" as const,
    message: quote,
  };
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({ ...typed, signature });
  } catch {
    return { problem: "bad signature" };
  }
  if (getAddress(signer) !== getAddress(owner)) {
    if (!(await isSaleDelegate(client, { listingId: quote.listingId, delegate: signer }))) {
      return { problem: "bad signature: not signed by the listing's owner or its delegate" };
    }
  }
  return { saleId: hashTypedData(typed) };
}

export interface DisputeSaleParameters extends ActionOptions {
  saleId: Hex;
  /** The sale as last seen (from `Opened`, with `Revealed`'s `disputeDeadline`). */
  sale: Sale;
  /** keccak256 of the evidence the buyer hands the arbiter. */
  evidenceHash: Hex;
}
export interface DisputeSaleReturnType {
  /** The sale with `disputedAt` set, for the later calls. */
  sale: Sale;
  hash: Hex;
}

/** The buyer disputes a revealed sale as bad data inside the dispute window; freezes it for the arbiter. */
export async function disputeSale(
  client: KosmosClient,
  params: DisputeSaleParameters,
): Promise<DisputeSaleReturnType> {
  if (!isHex(params.evidenceHash, { strict: true }) || size(params.evidenceHash) !== 32) {
    throw new TypeError(
      `Cannot dispute sale "${params.saleId.slice(0, 10)}…": evidenceHash must be 32 bytes`,
    );
  }
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "dispute",
    args: [params.saleId, params.sale, params.evidenceHash],
  }, { signal: params.signal, action: `dispute sale ${params.saleId.slice(0, 10)}…` });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Disputed", logs: receipt.logs });
  return {
    sale: { ...params.sale, disputedAt: Number(event.args.disputedAt) },
    hash: receipt.transactionHash,
  };
}

export interface ResolveSaleDisputeParameters extends ActionOptions {
  saleId: Hex;
  /** The disputed sale (with `disputedAt`). */
  sale: Sale;
  /** True refunds the buyer; false completes the sale. */
  bad: boolean;
}
export interface ResolveSaleDisputeReturnType {
  bad: boolean;
  hash: Hex;
}

/** The arbiter's ruling on a disputed sale (the registry's arbiter wallet only). */
export async function resolveSaleDispute(
  client: KosmosClient,
  params: ResolveSaleDisputeParameters,
): Promise<ResolveSaleDisputeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "resolveDispute",
    args: [params.saleId, params.sale, params.bad],
  }, { signal: params.signal, action: `rule on sale ${params.saleId.slice(0, 10)}…` });
  return { bad: params.bad, hash: receipt.transactionHash };
}

export interface ExpireSaleDisputeParameters extends ActionOptions {
  saleId: Hex;
  /** The disputed sale (with `disputedAt`). */
  sale: Sale;
}
export interface ExpireSaleDisputeReturnType {
  hash: Hex;
}

/** Completes a disputed sale for the seller after the arbitration window passed without a ruling. */
export async function expireSaleDispute(
  client: KosmosClient,
  params: ExpireSaleDisputeParameters,
): Promise<ExpireSaleDisputeReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "expireDispute",
    args: [params.saleId, params.sale],
  }, { signal: params.signal, action: `expire the dispute of sale ${params.saleId.slice(0, 10)}…` });
  return { hash: receipt.transactionHash };
}

// ---------------------------------------------------------------- the key sale

export interface OpenSaleParameters extends ActionOptions {
  quote: Quote;
  signature: Hex;
}
export interface OpenSaleReturnType {
  saleId: Hex;
  sale: Sale;
  hash: Hex;
  blockNumber: bigint;
}

/** Locks the price and opens the sale, with a permit for the price in the same transaction. */
export async function openSale(
  client: KosmosClient,
  params: OpenSaleParameters,
): Promise<OpenSaleReturnType> {
  // The permit's deadline is measured by chain time, which may run ahead of the wall clock.
  const deadline = (await getChainTime(client)) + 3600n;
  const permit = await signPermit(client, {
    spender: client.contracts.escrow,
    value: params.quote.price,
    deadline,
  });
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "openWithPermit",
    args: [params.quote, params.signature, permit.deadline, permit.v, permit.r, permit.s],
  }, { signal: params.signal, action: `open the sale of listing ${params.quote.listingId}` });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Opened", logs: receipt.logs });
  return {
    saleId: event.args.saleId,
    sale: event.args.sale as Sale,
    hash: receipt.transactionHash,
    blockNumber: receipt.blockNumber,
  };
}

interface SaleParameters extends ActionOptions {
  saleId: Hex;
  sale: Sale;
}

export interface RevealKeyParameters extends SaleParameters {
  /** Never log it. */
  kSale: Hex;
}
export interface RevealKeyReturnType {
  /** The sale with its dispute deadline set. */
  sale: Sale;
  hash: Hex;
}

/** Reveals `kSale` as the seller (or its delegate); starts the dispute window. */
export async function revealKey(
  client: KosmosClient,
  params: RevealKeyParameters,
): Promise<RevealKeyReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "reveal",
    args: [params.saleId, params.sale, params.kSale],
  }, { signal: params.signal, action: `reveal the key of sale ${params.saleId.slice(0, 10)}` });
  const [event] = parseEventLogs({ abi: kosmosEscrowAbi, eventName: "Revealed", logs: receipt.logs });
  return {
    sale: { ...params.sale, disputeDeadline: event.args.disputeDeadline },
    hash: receipt.transactionHash,
  };
}

export type ConfirmSaleParameters = SaleParameters;
export interface SaleWriteReturnType {
  hash: Hex;
}

/** The buyer accepts the revealed key; pays out 80/10/10. */
export async function confirmSale(
  client: KosmosClient,
  params: ConfirmSaleParameters,
): Promise<SaleWriteReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "confirm",
    args: [params.saleId, params.sale],
  }, { signal: params.signal, action: `confirm sale ${params.saleId.slice(0, 10)}` });
  return { hash: receipt.transactionHash };
}

export interface ComplainSaleParameters extends SaleParameters {
  kSale: Hex;
  z: Hex;
}

/** The buyer proves the revealed key wrong with `z`; refunds the buyer. */
export async function complainSale(
  client: KosmosClient,
  params: ComplainSaleParameters,
): Promise<SaleWriteReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "complain",
    args: [params.saleId, params.sale, params.kSale, params.z],
  }, { signal: params.signal, action: `complain about sale ${params.saleId.slice(0, 10)}` });
  return { hash: receipt.transactionHash };
}

/** Refunds the buyer after a missed reveal deadline (anyone may call). */
export async function refundSale(client: KosmosClient, params: SaleParameters): Promise<SaleWriteReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "refund",
    args: [params.saleId, params.sale],
  }, { signal: params.signal, action: `refund sale ${params.saleId.slice(0, 10)}` });
  return { hash: receipt.transactionHash };
}

/** Pays out after the dispute window without complaint (anyone may call). */
export async function finalizeSale(
  client: KosmosClient,
  params: SaleParameters,
): Promise<SaleWriteReturnType> {
  const receipt = await sendContractCall(client, {
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "finalize",
    args: [params.saleId, params.sale],
  }, { signal: params.signal, action: `finalize sale ${params.saleId.slice(0, 10)}` });
  return { hash: receipt.transactionHash };
}

/** Why the escrow refunded a sale (its `RefundReason`). */
export type RefundReason = "not-revealed" | "wrong-key" | "bad-data";
const REFUND_REASONS: readonly RefundReason[] = ["not-revealed", "wrong-key", "bad-data"];

/** What the chain says happened to a sale so far. */
export interface SaleEvents {
  opened?: { sale: Sale; blockNumber: bigint; hash: Hex };
  revealed?: { kSale: Hex; disputeDeadline: number; hash: Hex };
  disputed?: { evidenceHash: Hex; disputedAt: number; hash: Hex };
  disputeResolved?: { bad: boolean; expired: boolean; hash: Hex };
  completed?: { confirmed: boolean; hash: Hex };
  refunded?: { reason: RefundReason; hash: Hex };
}

/**
 * Folds a sale's escrow events (decoded `{ eventName, args }`, oldest first;
 * amounts as bigints or decimal strings) into {@link SaleEvents}.
 */
export function foldSaleEvents(
  saleId: Hex,
  logs: readonly { eventName: string; args: Record<string, unknown>; hash: Hex; blockNumber: bigint }[],
): SaleEvents {
  const out: SaleEvents = {};
  for (const { eventName, args, hash, blockNumber } of logs) {
    if (String(args.saleId).toLowerCase() !== saleId.toLowerCase()) continue;
    if (eventName === "Opened") {
      out.opened = { sale: saleFromJson(args.sale as Record<string, unknown>), blockNumber, hash };
    } else if (eventName === "Revealed") {
      out.revealed = { kSale: args.kSale as Hex, disputeDeadline: Number(args.disputeDeadline), hash };
    } else if (eventName === "Disputed") {
      out.disputed = {
        evidenceHash: args.evidenceHash as Hex,
        disputedAt: Number(args.disputedAt),
        hash,
      };
    } else if (eventName === "DisputeResolved") {
      out.disputeResolved = { bad: args.bad as boolean, expired: args.expired as boolean, hash };
    } else if (eventName === "Completed") {
      out.completed = { confirmed: args.confirmed as boolean, hash };
    } else if (eventName === "Refunded") {
      out.refunded = { reason: REFUND_REASONS[Number(args.reason)] ?? "not-revealed", hash };
    }
  }
  return out;
}

export interface GetSaleEventsParameters {
  saleId: Hex;
  /** @default 0n */
  fromBlock?: bigint;
}

/** Reads the escrow events of one sale (by its indexed sale id). */
export async function getSaleEvents(
  client: KosmosClient,
  params: GetSaleEventsParameters,
): Promise<SaleEvents> {
  const raw = await client.publicClient.request({
    method: "eth_getLogs",
    params: [{
      address: client.contracts.escrow,
      fromBlock: numberToHex(params.fromBlock ?? 0n),
      toBlock: "latest",
      topics: [null, params.saleId],
    }],
  } as never) as (RpcLog & { blockNumber: Hex; transactionHash: Hex })[];
  const logs = raw.map((l) => ({ ...l, blockNumber: BigInt(l.blockNumber) })) as unknown as Log[];
  const parsed = parseEventLogs({ abi: kosmosEscrowAbi, logs, strict: false });
  return foldSaleEvents(
    params.saleId,
    parsed.map((log) => ({
      eventName: log.eventName,
      args: log.args as Record<string, unknown>,
      hash: log.transactionHash!,
      blockNumber: log.blockNumber!,
    })),
  );
}

/** The latest block's timestamp in seconds: the clock every deadline is measured by. */
export async function getChainTime(client: KosmosClient): Promise<bigint> {
  const block = await client.publicClient.getBlock({ blockTag: "latest" });
  return block.timestamp;
}

/** The bigint fields of {@link Sale}; the others are numbers, addresses and hashes. */
const SALE_BIGINTS = ["price", "listingId"] as const;

/** A {@link Sale} from its JSON form (ours, or an indexed event's), bigints from decimal strings. */
export function saleFromJson(value: string | Record<string, unknown>): Sale {
  const s = typeof value === "string" ? JSON.parse(value) : { ...value };
  for (const key of SALE_BIGINTS) if (s[key] !== undefined) s[key] = BigInt(s[key]);
  for (const key of ["revealDeadline", "disputeDeadline", "disputedAt"]) {
    if (s[key] !== undefined) s[key] = Number(s[key]);
  }
  return s as Sale;
}
