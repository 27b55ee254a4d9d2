/**
 * Escrow actions of the key sale, viem-style over a {@link KosmosClient}:
 * open (with an EIP-2612 permit: one transaction), reveal, confirm, complain,
 * refund, finalize, and reads of a sale's events and the chain's time.
 *
 * ```ts
 * const { saleId, sale } = await openSale(buyer, { quote, signature });
 * await revealKey(seller, { saleId, sale, kSale });
 * ```
 */
import { type Hex, type Log, numberToHex, parseEventLogs, type RpcLog } from "viem";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import type { Quote, Sale } from "../../../protocol/quote.ts";
import { type ActionOptions, type KosmosClient, sendContractCall } from "../chain/client.ts";
import { signPermit } from "../chain/actions/token.ts";

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

/** What the chain says happened to a sale so far. */
export interface SaleEvents {
  opened?: { sale: Sale; blockNumber: bigint; hash: Hex };
  revealed?: { kSale: Hex; disputeDeadline: number; hash: Hex };
  completed?: { confirmed: boolean; hash: Hex };
  refunded?: { complained: boolean; hash: Hex };
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
  const out: SaleEvents = {};
  for (const log of parsed) {
    const args = log.args as Record<string, unknown>;
    if (args.saleId !== params.saleId) continue;
    const hash = log.transactionHash!;
    if (log.eventName === "Opened") {
      out.opened = { sale: args.sale as Sale, blockNumber: log.blockNumber!, hash };
    } else if (log.eventName === "Revealed") {
      out.revealed = { kSale: args.kSale as Hex, disputeDeadline: Number(args.disputeDeadline), hash };
    } else if (log.eventName === "Completed") {
      out.completed = { confirmed: args.confirmed as boolean, hash };
    } else if (log.eventName === "Refunded") {
      out.refunded = { complained: args.complained as boolean, hash };
    }
  }
  return out;
}

/** The latest block's timestamp in seconds: the clock every deadline is measured by. */
export async function getChainTime(client: KosmosClient): Promise<bigint> {
  const block = await client.publicClient.getBlock({ blockTag: "latest" });
  return block.timestamp;
}
