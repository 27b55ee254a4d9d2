/**
 * Helpers for the escrow tests: list a dataset (bound to the commitment of its DEKs), sign permits,
 * make and sign quotes, open, reveal, dispute and read sales.
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
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
  type Sale,
} from "../../protocol/quote.ts";
import { type AccountName, contractCalls, createChainTest, ONE, type TestChain } from "./chain.ts";
import { PERMIT_TYPES } from "../../node/services/chain/actions/token.ts";

export function randomBytes32(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
}

let cidCounter = 0;

/**
 * The DEKs each listing id was last listed with in this process (ids repeat after a snapshot revert;
 * the latest listing wins), so {@link makeQuote} sells the listed key by default.
 */
const listedDeks = new Map<bigint, Hex[]>();

/** The DEKs `listingId` was listed with by {@link listDataset}. */
export function listedDeksOf(listingId: bigint): Hex[] | undefined {
  return listedDeks.get(listingId);
}

/**
 * Lists a dataset owned by `owner` with `stake` tokens, bound to `computeDekCommit(deks)`; returns the
 * listing id.
 */
export async function listDataset(
  c: TestChain,
  owner: AccountName,
  options: { stake?: bigint; kind?: number; /** @default 1 random key */ deks?: Hex[] } = {},
): Promise<bigint> {
  const stake = options.stake ?? 100n * ONE;
  const deks = options.deks ?? [randomBytes32()];
  await approve(c, owner, c.addresses.registry, stake);
  const cid = `0x01711220${keccak256(`0x${(++cidCounter).toString(16).padStart(4, "0")}`).slice(2)}` as Hex;
  const { result } = await c.send(c.wallets[owner], {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "list",
    args: [options.kind ?? 0, cid, computeDekCommit(deks), stake],
  });
  listedDeks.set(result as bigint, deks);
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
  /** @default the keys the listing was listed with ({@link listDataset}), else 1 random key */
  deks?: Hex[];
  /** The quote's key commitment; @default computeDekCommit(deks) */
  dekCommit?: Hex;
  /** The quote's commitment to kSale; @default computeSaleKeyCommit(kSale) */
  kSaleHash?: Hex;
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
  const deks = options.deks ?? listedDeks.get(options.listingId) ?? [randomBytes32()];
  const kSale = randomBytes32();
  const z = encodeSaleKeys(options.zDeks ?? deks, kSale);
  const quote: Quote = {
    listingId: options.listingId,
    buyer: c.accounts[buyer],
    price: options.price ?? 100n * ONE,
    zHash: keccak256(z),
    kSaleHash: options.kSaleHash ?? computeSaleKeyCommit(kSale),
    dekCommit: options.dekCommit ?? computeDekCommit(deks),
    gateway: options.gateway ?? c.accounts.gateway,
    nonce: options.nonce ?? BigInt(randomBytes32()) >> 8n,
    deadline: options.deadline ?? (await c.now()) + 3600n,
  };
  const signature = await signQuote(c, options.signer ?? "seller", quote, options);
  return { quote, signature, kSale, deks, z, buyer };
}

/** Signs `quote` as `signer` on the escrow's EIP-712 domain (by default the escrow of chain 31337). */
export function signQuote(
  c: TestChain,
  signer: AccountName,
  quote: Quote,
  options: Pick<MakeQuoteOptions, "chainId" | "verifyingContract"> = {},
): Promise<Hex> {
  return c.wallets[signer].signTypedData({
    domain: getEscrowDomain(options.chainId ?? 31337, options.verifyingContract ?? c.addresses.escrow),
    types: quoteTypes,
    primaryType: "Quote",
    message: quote,
  });
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

/** Disputes the sale as its buyer with `evidenceHash`; returns the sale with `disputedAt` set. */
export async function disputeSale(
  c: TestChain,
  saleId: Hex,
  sale: Sale,
  evidenceHash: Hex = randomBytes32(),
  by: AccountName = "buyer",
): Promise<{ sale: Sale; gasUsed: bigint; evidenceHash: Hex }> {
  const { logs, gasUsed } = await c.send(c.wallets[by], {
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "dispute",
    args: [saleId, sale, evidenceHash],
  });
  const [disputed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Disputed" });
  return { sale: { ...sale, disputedAt: disputed.args.disputedAt }, gasUsed, evidenceHash };
}

/** Parameters of an escrow call, for `c.send` and `expectRevert(c.send(…))`. */
export const escrowTx = contractCalls("escrow", kosmosEscrowAbi).tx;

// ---------------------------------------------------------------- shared by the escrow_*_test.ts files

export const DAY = 24n * 3600n;
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** One chain per test process, a listed dataset as the fixture, a snapshot per test. */
export const chainTest = createChainTest(async (c) => ({ listingId: await listDataset(c, "seller") }));

/** `IKosmosEscrow.RefundReason` values. */
export const REFUND_NOT_REVEALED = 0;
export const REFUND_WRONG_KEY = 1;
export const REFUND_BAD_DATA = 2;

export async function isDelegate(c: TestChain, listingId: bigint, who: AccountName): Promise<boolean> {
  return await c.publicClient.readContract({
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [listingId, c.accounts[who]],
  });
}
