/**
 * Helpers for the escrow tests: list a dataset, sign permits, make and sign quotes, open, reveal and
 * read sales.
 *
 * ```ts
 * const listingId = await listDataset(c, "seller");
 * const q = await makeQuote(c, { listingId });
 * const { saleId, sale } = await openSale(c, q);
 * ```
 */
import { type Address, bytesToHex, type Hex, keccak256, parseEventLogs, parseSignature } from "viem";
import { kosmosEscrowAbi, kosmosRegistryAbi, kosmosTokenAbi } from "../../protocol/contracts_generated.ts";
import {
  computeDekCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
  type Sale,
} from "../../protocol/quote.ts";
import { type AccountName, contractCalls, ONE, type TestChain } from "./chain.ts";
import { PERMIT_TYPES } from "../../node/services/chain/actions/token.ts";

export function randomBytes32(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

let cidCounter = 0;

/** Lists a dataset owned by `owner` with `stake` tokens; returns the listing id. */
export async function listDataset(
  c: TestChain,
  owner: AccountName,
  options: { stake?: bigint; kind?: number } = {},
): Promise<bigint> {
  const stake = options.stake ?? 100n * ONE;
  await approve(c, owner, c.addresses.registry, stake);
  const cid = `0x01711220${keccak256(`0x${(++cidCounter).toString(16).padStart(2, "0")}`).slice(2)}` as Hex;
  const { result } = await c.send(c.wallets[owner], {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "list",
    args: [options.kind ?? 0, cid, stake],
  });
  return result as bigint;
}

export async function approve(c: TestChain, owner: AccountName, spender: Address, amount: bigint) {
  await c.send(c.wallets[owner], {
    address: c.addresses.token,
    abi: kosmosTokenAbi,
    functionName: "approve",
    args: [spender, amount],
  });
}

/**
 * Signs an EIP-2612 permit from `owner` with the token's domain written out
 * ("Kosmos", version "1", chain 31337), so a wrong on-chain domain fails the test.
 */
export async function signPermit(
  c: TestChain,
  owner: AccountName,
  spender: Address,
  value: bigint,
  deadline: bigint,
) {
  const nonce = await c.publicClient.readContract({
    address: c.addresses.token,
    abi: kosmosTokenAbi,
    functionName: "nonces",
    args: [c.accounts[owner]],
  });
  return parseSignature(
    await c.wallets[owner].signTypedData({
      domain: { name: "Kosmos", version: "1", chainId: 31337, verifyingContract: c.addresses.token },
      types: PERMIT_TYPES,
      primaryType: "Permit",
      message: { owner: c.accounts[owner], spender, value, nonce, deadline },
    }),
  );
}

export async function balanceOf(c: TestChain, account: Address): Promise<bigint> {
  return await c.publicClient.readContract({
    address: c.addresses.token,
    abi: kosmosTokenAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

export async function escrowBalanceOf(c: TestChain, account: Address): Promise<bigint> {
  return await c.publicClient.readContract({
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** A signed quote with its secrets. */
export interface SignedQuote {
  quote: Quote;
  signature: Hex;
  kSale: Hex;
  deks: Hex[];
  z: Hex;
  buyer: AccountName;
}

export interface MakeQuoteOptions {
  listingId: bigint;
  /** @default "buyer" */
  buyer?: AccountName;
  /** @default "seller" */
  signer?: AccountName;
  /** @default 100 tokens */
  price?: bigint;
  /** @default 1 random key */
  deks?: Hex[];
  /** Keys Z actually encodes (a lying seller); @default deks */
  zDeks?: Hex[];
  /** @default the gateway account */
  gateway?: Address;
  /** @default random */
  nonce?: bigint;
  /** @default now + 1 hour */
  deadline?: bigint;
  /** @default 31337 */
  chainId?: number;
  /** @default the escrow */
  verifyingContract?: Address;
}

/** Makes a quote and signs it as the seller would. */
export async function makeQuote(c: TestChain, options: MakeQuoteOptions): Promise<SignedQuote> {
  const buyer = options.buyer ?? "buyer";
  const deks = options.deks ?? [randomBytes32()];
  const kSale = randomBytes32();
  const z = encodeSaleKeys(options.zDeks ?? deks, kSale);
  const quote: Quote = {
    listingId: options.listingId,
    buyer: c.accounts[buyer],
    price: options.price ?? 100n * ONE,
    zHash: keccak256(z),
    kSaleHash: keccak256(kSale),
    dekCommit: computeDekCommit(deks),
    gateway: options.gateway ?? c.accounts.gateway,
    nonce: options.nonce ?? BigInt(randomBytes32()) >> 8n,
    deadline: options.deadline ?? (await c.now()) + 3600n,
  };
  const signature = await c.wallets[options.signer ?? "seller"].signTypedData({
    domain: getEscrowDomain(options.chainId ?? 31337, options.verifyingContract ?? c.addresses.escrow),
    types: quoteTypes,
    primaryType: "Quote",
    message: quote,
  });
  return { quote, signature, kSale, deks, z, buyer };
}

/** Approves the price and opens the sale as the quote's buyer. */
export async function openSale(
  c: TestChain,
  q: SignedQuote,
): Promise<{ saleId: Hex; sale: Sale; gasUsed: bigint }> {
  await approve(c, q.buyer, c.addresses.escrow, q.quote.price);
  const { logs, result, gasUsed } = await c.send(c.wallets[q.buyer], {
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "open",
    args: [q.quote, q.signature],
  });
  const [opened] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Opened" });
  return { saleId: result as Hex, sale: opened.args.sale as Sale, gasUsed };
}

/** Reveals the key as `by`; returns the sale with its dispute deadline set. */
export async function revealSale(
  c: TestChain,
  saleId: Hex,
  sale: Sale,
  kSale: Hex,
  by: AccountName = "seller",
): Promise<{ sale: Sale; gasUsed: bigint }> {
  const { logs, gasUsed } = await c.send(c.wallets[by], {
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "reveal",
    args: [saleId, sale, kSale],
  });
  const [revealed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Revealed" });
  return { sale: { ...sale, disputeDeadline: revealed.args.disputeDeadline }, gasUsed };
}

/** Parameters of an escrow call, for `c.send` and `expectRevert(c.send(…))`. */
export const escrowTx = contractCalls("escrow", kosmosEscrowAbi).tx;
