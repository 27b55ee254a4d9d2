/**
 * Test fixture for the chain service: an anvil with the Kosmos contracts
 * deployed by anvil's first dev account (deployer, arbiter, treasury and
 * faucet), a {@link KosmosClient} per dev account funded with tokens, a
 * snapshot/revert pair, and a helper that completes a key sale so an account
 * has escrow payouts to withdraw. Test code only.
 *
 * ```ts
 * await using chain = await startTestChain();
 * await chain.isolate(async () => {
 *   await listDataset(chain.clients.alice, {
 *     manifestCid: await makeManifestCid("a"), dekCommit: makeDekCommit("a"), stake: 100n * ONE,
 *   });
 * });
 * ```
 */
import {
  type Address,
  bytesToHex,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  parseEventLogs,
  stringToHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil as anvilChain } from "viem/chains";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { kosmosEscrowAbi, kosmosRegistryAbi } from "../../../protocol/contracts_generated.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
  type Sale,
} from "../../../protocol/quote.ts";
import { type Anvil, DEV_ACCOUNT_KEYS, startAnvil } from "./anvil.ts";
import { deployContracts } from "./deploy.ts";
import {
  type ChainPublicClient,
  type ChainWalletClient,
  type ContractAddresses,
  type KosmosClient,
  sendContractCall,
} from "./client.ts";
import { transferToken } from "./actions/token.ts";
import { ensureAllowance } from "./actions/token.ts";

/** One token, in its smallest unit. */
export const ONE = 10n ** 18n;

/** Names of the fixture's accounts, in dev-account order; `deployer` is also arbiter, treasury and faucet. */
export const TEST_ACCOUNTS = ["deployer", "alice", "bob", "carol"] as const;
export type TestAccount = typeof TEST_ACCOUNTS[number];

export interface TestChain extends AsyncDisposable {
  anvil: Anvil;
  contracts: ContractAddresses;
  clients: Record<TestAccount, KosmosClient>;
  addresses: Record<TestAccount, Address>;
  /** Runs `fn` between an anvil snapshot and a revert to it. */
  isolate<T>(fn: () => Promise<T>): Promise<T>;
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
  /** Sells `listingId` from `seller` to `buyer` (open, reveal, confirm) so the seller has payouts. */
  completeSale(
    seller: TestAccount,
    buyer: TestAccount,
    listingId: bigint,
    price: bigint,
  ): Promise<CompletedSale>;
  stop(): Promise<void>;
}

/** The manifest CID (dag-cbor, sha2-256) of some bytes, for listings in tests. */
export async function makeManifestCid(seed: string): Promise<string> {
  const digest = await sha256.digest(new TextEncoder().encode(seed));
  return CID.create(1, 0x71, digest).toString();
}

/** A DEK derived from `seed`, for listings in tests whose key is never used to decrypt. */
export function makeTestDek(seed: string): Hex {
  return keccak256(stringToHex(`kosmos-test-dek:${seed}`));
}

/** The manifest-style commitment `keccak256(DEK)` of {@link makeTestDek}(`seed`). */
export function makeDekCommit(seed: string): Hex {
  return computeDekCommit([makeTestDek(seed)]);
}

/**
 * Starts the fixture chain. Every account but the deployer gets `funding`
 * tokens. @default funding 10,000 tokens
 */
export async function startTestChain(options: { funding?: bigint } = {}): Promise<TestChain> {
  const anvil = await startAnvil();
  try {
    const transport = http(anvil.rpcUrl);
    const publicClient = createPublicClient({ chain: anvilChain, transport, pollingInterval: 100 });
    const testClient = createTestClient({ chain: anvilChain, transport, mode: "anvil" });
    const wallets = Object.fromEntries(TEST_ACCOUNTS.map((name, i) => [
      name,
      createWalletClient({
        chain: anvilChain,
        transport,
        account: privateKeyToAccount(DEV_ACCOUNT_KEYS[i]),
        pollingInterval: 100,
      }),
    ])) as unknown as Record<TestAccount, ChainWalletClient>;
    const deployer = wallets.deployer.account.address;
    // A small registry: 30 tokens of challenges (3 × the minimum) let the arbiter resolve, and 3 is also
    // the most open challenges, so tests reach both limits with the fixture's four accounts.
    const contracts = await deployContracts(wallets.deployer, publicClient, {
      arbiter: deployer,
      treasury: deployer,
      rewardsReserve: deployer,
      faucet: deployer,
      challengeThreshold: 30n * ONE,
      maxChallenges: 3,
    });
    const clients = Object.fromEntries(
      TEST_ACCOUNTS.map((
        name,
      ) => [name, { publicClient, walletClient: wallets[name], contracts, timeout: 10_000 }]),
    ) as unknown as Record<TestAccount, KosmosClient>;
    const addresses = Object.fromEntries(
      TEST_ACCOUNTS.map((name) => [name, wallets[name].account.address]),
    ) as Record<TestAccount, Address>;
    for (const name of TEST_ACCOUNTS.slice(1)) {
      await transferToken(clients.deployer, {
        to: addresses[name],
        amount: options.funding ?? 10_000n * ONE,
      });
    }
    const stop = () => anvil.stop();
    return {
      anvil,
      contracts,
      clients,
      addresses,
      async isolate(fn) {
        const id = await testClient.snapshot();
        try {
          return await fn();
        } finally {
          await testClient.revert({ id });
        }
      },
      async increaseTime(seconds) {
        await testClient.increaseTime({ seconds });
        await testClient.mine({ blocks: 1 });
      },
      completeSale(seller, buyer, listingId, price) {
        return completeSale(clients[seller], clients[buyer], listingId, price);
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/** A sale {@link completeSale} completed: its id and the seller's share (`Completed.toSeller`). */
export interface CompletedSale {
  saleId: Hex;
  toSeller: bigint;
}

/**
 * Sells `listingId` from `seller` (its owner) to `buyer` for `price`: the
 * seller signs a quote carrying the listing's on-chain `dekCommit`, the buyer
 * opens the sale, the seller reveals the key and the buyer confirms, so the
 * escrow credits the seller's payouts. `Z` encodes a random key (the escrow
 * only checks the key on a complaint, and this buyer confirms).
 */
export async function completeSale(
  seller: KosmosClient,
  buyer: KosmosClient,
  listingId: bigint,
  price: bigint,
): Promise<CompletedSale> {
  const { quote, signature, kSale } = await signTestQuote(seller, buyer, listingId, price);
  const escrow = { address: seller.contracts.escrow, abi: kosmosEscrowAbi } as const;
  await ensureAllowance(buyer, { spender: escrow.address, amount: price });
  const opened = await sendContractCall(
    buyer,
    { ...escrow, functionName: "open", args: [quote, signature] },
    {
      action: "open the sale",
    },
  );
  const [{ args: { saleId, sale } }] = parseEventLogs({
    abi: kosmosEscrowAbi,
    eventName: "Opened",
    logs: opened.logs,
  });
  const revealed = await sendContractCall(seller, {
    ...escrow,
    functionName: "reveal",
    args: [saleId, sale, kSale],
  }, {
    action: "reveal the key",
  });
  const [{ args: { disputeDeadline } }] = parseEventLogs({
    abi: kosmosEscrowAbi,
    eventName: "Revealed",
    logs: revealed.logs,
  });
  const confirmed = await sendContractCall(buyer, {
    ...escrow,
    functionName: "confirm",
    args: [saleId, { ...(sale as Sale), disputeDeadline } as Sale],
  }, { action: "confirm the sale" });
  const [{ args: { toSeller } }] = parseEventLogs({
    abi: kosmosEscrowAbi,
    eventName: "Completed",
    logs: confirmed.logs,
  });
  return { saleId, toSeller };
}

/**
 * A quote for `listingId` (carrying its on-chain `dekCommit`) signed by its
 * owner `seller` for `buyer`, valid for an hour; `Z` encodes a random key.
 * @param options.gateway @default the zero address
 * @param options.nonce @default random
 */
export async function signTestQuote(
  seller: KosmosClient,
  buyer: KosmosClient,
  listingId: bigint,
  price: bigint,
  options: { gateway?: Address; nonce?: bigint } = {},
): Promise<{ quote: Quote; signature: Hex; kSale: Hex }> {
  const random = () => bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  const kSale = random();
  const z = encodeSaleKeys([random()], kSale);
  const block = await buyer.publicClient.getBlock();
  const dekCommit = await seller.publicClient.readContract({
    address: seller.contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "dekCommitOf",
    args: [listingId],
  });
  const quote: Quote = {
    listingId,
    buyer: buyer.walletClient.account.address,
    price,
    zHash: keccak256(z),
    kSaleHash: computeSaleKeyCommit(kSale),
    dekCommit,
    gateway: options.gateway ?? "0x0000000000000000000000000000000000000000",
    nonce: options.nonce ?? BigInt(random()) >> 8n,
    deadline: block.timestamp + 3600n,
  };
  const signature = await seller.walletClient.signTypedData({
    account: seller.walletClient.account,
    domain: getEscrowDomain(await seller.publicClient.getChainId(), seller.contracts.escrow),
    types: quoteTypes,
    primaryType: "Quote",
    message: quote,
  });
  return { quote, signature, kSale };
}

/** A client for anvil dev account `index` on `rpcUrl` with `contracts`. */
export function createDevClient(rpcUrl: string, contracts: ContractAddresses, index: number): KosmosClient {
  const transport = http(rpcUrl);
  return {
    publicClient: createPublicClient({
      chain: anvilChain,
      transport,
      pollingInterval: 100,
    }) as ChainPublicClient,
    walletClient: createWalletClient({
      chain: anvilChain,
      transport,
      account: privateKeyToAccount(DEV_ACCOUNT_KEYS[index]),
      pollingInterval: 100,
    }) as unknown as ChainWalletClient,
    contracts,
    timeout: 10_000,
  };
}
