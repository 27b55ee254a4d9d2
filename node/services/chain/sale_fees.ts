/**
 * The fee of buying through the key sale, estimated on the chain before
 * anything is sent: `openWithPermit` on the real quote with a real permit
 * (signed off chain and dropped; its nonce stays unused), plus the buyer's
 * `confirm` after the seller's reveal. Both are simulated on the chain
 * (`eth_simulateV1`): the open in one block, then, in the next, the sale's
 * stored hash set to that of the sale as the reveal (which needs the seller's
 * secret) leaves it, and the confirm. Where the chain does not simulate, the
 * open is `eth_estimateGas` (which counts the permit's allowance before its
 * refund) and `confirm` the figure measured on our contracts
 * ({@link MEASURED_CONFIRM_GAS}).
 *
 * ```ts
 * const { fee, open, confirm } = await estimateSaleFee(client, { quote, signature });
 * ```
 */
import { encodeAbiParameters, type Hex, keccak256, numberToHex, pad, parseEventLogs } from "viem";
import { kosmosEscrowAbi } from "../../../protocol/contracts_generated.ts";
import type { Quote, Sale } from "../../../protocol/quote.ts";
import { getChainTime, signPermit } from "./actions/mod.ts";
import { type ContractCall, ContractRevertError, type KosmosClient, toChainError } from "./client.ts";
import { estimateCallGas, estimateFeesPerGas, type FeeEstimate, toFeeEstimate } from "./fees.ts";

/**
 * Gas of `confirm` as measured on our contracts (41,454 to 41,464 in
 * `fees_test.ts`, which fails when the simulated figure drifts more than 10 %
 * from it), for chains without `eth_simulateV1`.
 */
export const MEASURED_CONFIRM_GAS = 41_500n;

/**
 * Gas of a seller's first `openWithPermit` as measured on our contracts
 * (156,623 in `fees_test.ts`, checked there within 10 %; a later sale of the
 * same seller opens for about 105,400), for chains without `eth_simulateV1`
 * and previews made before any quote.
 */
export const MEASURED_OPEN_GAS = 156_700n;

export interface EstimateSaleFeeParameters {
  quote: Quote;
  /** The seller's (or delegate's) signature of the quote. */
  signature: Hex;
}
export interface EstimateSaleFeeReturnType {
  /** Both transactions together. */
  fee: FeeEstimate;
  /** Gas of `openWithPermit` (simulated; `eth_estimateGas` where the chain does not simulate). */
  open: bigint;
  /** Gas of `confirm`, and where the figure comes from. */
  confirm: { gas: bigint; source: "simulated" | "measured" };
}

/** Estimates the buyer's transactions of a sale of `quote` (see the module doc); sends nothing. */
export async function estimateSaleFee(
  client: KosmosClient,
  params: EstimateSaleFeeParameters,
): Promise<EstimateSaleFeeReturnType> {
  const action = `estimate the sale of listing ${params.quote.listingId}`;
  const escrow = client.contracts.escrow;
  const deadline = (await getChainTime(client)) + 3600n;
  const permit = await signPermit(client, { spender: escrow, value: params.quote.price, deadline });
  const openCall: ContractCall = {
    address: escrow,
    abi: kosmosEscrowAbi,
    functionName: "openWithPermit",
    args: [params.quote, params.signature, permit.deadline, permit.v, permit.r, permit.s],
  };
  const [fees, simulated] = await Promise.all([
    estimateFeesPerGas(client, action),
    simulateSaleGas(client, openCall, action).catch((err) => {
      if (err instanceof ContractRevertError) throw err;
      return undefined; // the chain does not simulate
    }),
  ]);
  if (simulated) {
    return {
      fee: toFeeEstimate(simulated.open + simulated.confirm, fees),
      open: simulated.open,
      confirm: { gas: simulated.confirm, source: "simulated" },
    };
  }
  const open = await estimateCallGas(client, openCall, action);
  return {
    fee: toFeeEstimate(open + MEASURED_CONFIRM_GAS, fees),
    open,
    confirm: { gas: MEASURED_CONFIRM_GAS, source: "measured" },
  };
}

/** The `Sale` tuple type as the escrow encodes it. */
const saleParameter = (() => {
  const confirm = kosmosEscrowAbi.find((item) => item.type === "function" && item.name === "confirm");
  if (!confirm || confirm.type !== "function") throw new Error("The escrow ABI has no confirm()");
  return confirm.inputs[1];
})();

/**
 * The storage slot of the escrow's `saleId => hash` mapping, found on the
 * chain: `saleHash(probe)` is read with candidate slots overridden to
 * distinct values, so a change of the contract's layout cannot mislead it.
 */
async function findSalesSlot(client: KosmosClient): Promise<bigint> {
  const probe = keccak256(new TextEncoder().encode("kosmos.fees.sales-slot-probe"));
  const candidates = Array.from({ length: 32 }, (_, i) => BigInt(i));
  const stateDiff = candidates.map((p) => ({
    slot: mappingSlot(probe, p),
    value: pad(numberToHex(p + 1n), { size: 32 }),
  }));
  const stored = await client.publicClient.readContract({
    address: client.contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "saleHash",
    args: [probe],
    stateOverride: [{ address: client.contracts.escrow, stateDiff }],
  } as never) as Hex;
  const found = BigInt(stored);
  if (found === 0n || found > 32n) throw new Error("Cannot find the escrow's sales mapping");
  return found - 1n;
}

function mappingSlot(key: Hex, slot: bigint): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint256" }], [key, slot]));
}

/** Gas `openCall` and then `confirm` (after a reveal) use, simulated on the chain (`eth_simulateV1`). */
async function simulateSaleGas(
  client: KosmosClient,
  openCall: ContractCall,
  action: string,
): Promise<{ open: bigint; confirm: bigint }> {
  const account = client.walletClient.account.address;
  const escrow = client.contracts.escrow;
  const call = (c: ContractCall) => ({
    to: c.address,
    abi: c.abi,
    functionName: c.functionName,
    args: c.args,
  });
  const simulate = async (blocks: unknown[]) => {
    try {
      return await client.publicClient.simulateBlocks({ blocks } as never) as unknown as {
        calls: { status: string; gasUsed: bigint; logs?: unknown[]; error?: unknown }[];
      }[];
    } catch (err) {
      throw toChainError(err, action);
    }
  };
  const openBlock = { calls: [{ ...call(openCall), from: account }] };
  const [opened] = await simulate([openBlock]);
  if (opened.calls[0].status !== "success") throw toChainError(opened.calls[0].error, action);
  const [event] = parseEventLogs({
    abi: kosmosEscrowAbi,
    eventName: "Opened",
    logs: (opened.calls[0].logs ?? []) as never,
  });
  const { saleId } = event.args;
  const sale = event.args.sale as Sale;
  // What a reveal stores: the hash of the sale with its dispute deadline set.
  const revealed: Sale = { ...sale, disputeDeadline: sale.revealDeadline + 1 } as Sale;
  const revealedHash = keccak256(encodeAbiParameters([saleParameter], [revealed] as never));
  const slot = mappingSlot(saleId, await findSalesSlot(client));
  const [open, confirmed] = await simulate([
    openBlock,
    {
      stateOverrides: [{ address: escrow, stateDiff: [{ slot, value: revealedHash }] }],
      calls: [{
        ...call({ address: escrow, abi: kosmosEscrowAbi, functionName: "confirm", args: [saleId, revealed] }),
        from: account,
      }],
    },
  ]);
  if (confirmed.calls[0].status !== "success") throw toChainError(confirmed.calls[0].error, action);
  return { open: open.calls[0].gasUsed, confirm: confirmed.calls[0].gasUsed };
}
