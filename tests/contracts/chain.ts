/**
 * Fixture for the contract tests: one anvil per test file with our contracts deployed once, a
 * snapshot/revert around every test, funded accounts, and helpers to send transactions and to
 * assert custom-error reverts.
 *
 * ```ts
 * const chainTest = createChainTest();
 * chainTest("anchor() stores the timestamp", async (c) => {
 *   await c.send(c.accounts.alice, { address: c.addresses.anchor, abi: kosmosAnchorAbi, functionName: "anchor", args: [root, ""] });
 * });
 * ```
 */
import assert from "node:assert/strict";
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  decodeErrorResult,
  hashDomain,
  type Hex,
  http,
  keccak256,
  type Log,
  parseEther,
  type PublicClient,
  type TestClient,
  toHex,
  type Transport,
  type WalletClient,
  type WriteContractParameters,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil as anvilChain } from "viem/chains";
import { type Anvil, DEV_ACCOUNT_KEYS, startAnvil } from "../../node/services/chain/anvil.ts";
import { type ContractAddresses, deployContracts } from "../../node/services/chain/deploy.ts";
import {
  kosmosAnchorAbi,
  kosmosConsentAbi,
  kosmosEscrowAbi,
  kosmosFaucetAbi,
  kosmosMiningAbi,
  kosmosOwnershipAbi,
  kosmosPoolsAbi,
  kosmosRegistryAbi,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../../protocol/contracts_generated.ts";
import type { TypedDataDomain } from "../../protocol/quote.ts";

export type Wallet = WalletClient<Transport, Chain, Account>;
/** Untyped contract-call parameters: the tests pick function names at run time. */
type SimulateParams = Parameters<PublicClient["simulateContract"]>[0];
/** Untyped `readContract` parameters, for the tests' small `read` helpers. */
export type ReadParams = Parameters<PublicClient["readContract"]>[0];

/** Names of the test accounts; `deployer` holds the faucet allocation. */
export const ACCOUNT_NAMES = [
  "deployer",
  "arbiter",
  "treasury",
  "reserve",
  "seller",
  "buyer",
  "gateway",
  "delegate",
  "alice",
  "bob",
  "carol",
  "dave",
] as const;
export type AccountName = typeof ACCOUNT_NAMES[number];

/** Every error any of our contracts can return, to decode errors bubbled up from another contract. */
export const errorsAbi = dedupeErrors([
  ...kosmosTokenAbi,
  ...kosmosRegistryAbi,
  ...kosmosEscrowAbi,
  ...kosmosConsentAbi,
  ...kosmosOwnershipAbi,
  ...kosmosRewardsAbi,
  ...kosmosAnchorAbi,
  ...kosmosFaucetAbi,
  ...kosmosPoolsAbi,
  ...kosmosMiningAbi,
]);

export const ONE = 10n ** 18n;

/**
 * The EIP-712 domain separator a contract on the test chain (31337) must report for `domain`
 * (name, version, chain id, verifying contract), computed off chain.
 */
export function expectedDomainSeparator(domain: TypedDataDomain): Hex {
  return hashDomain({
    domain: { ...domain, chainId: 31337n },
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
    },
  });
}

export interface TestChain {
  anvil: Anvil;
  publicClient: PublicClient;
  testClient: TestClient;
  wallets: Record<AccountName, Wallet>;
  accounts: Record<AccountName, Address>;
  addresses: ContractAddresses;
  /** Simulates, sends and waits for `params` from `wallet`; returns the receipt. */
  send(wallet: Wallet, params: WriteParams): Promise<Sent>;
  /** Seconds since the epoch of the latest block. */
  now(): Promise<bigint>;
  /** Moves the chain's clock forward by `seconds` (the next block's timestamp). */
  warp(seconds: number | bigint): Promise<void>;
}

/** A mined successful transaction: its receipt's gas and logs and the simulated return value. */
export interface Sent {
  gasUsed: bigint;
  logs: Log[];
  result: unknown;
}

export interface WriteParams {
  address: Address;
  abi: Abi | readonly unknown[];
  functionName: string;
  args?: readonly unknown[];
}

/**
 * Untyped call helpers for one of our contracts (the tests pick function names at run time): `tx`
 * builds the parameters for `c.send` and `expectRevert(c.send(…))`, `read` calls a view function.
 *
 * ```ts
 * const { tx: tokenTx, read } = contractCalls("token", kosmosTokenAbi);
 * assert.equal(await read(c, "decimals"), 18);
 * ```
 */
export function contractCalls(contract: Exclude<keyof ContractAddresses, "faucet">, abi: Abi) {
  const tx = (c: TestChain, functionName: string, args: readonly unknown[]) => ({
    address: c.addresses[contract],
    abi,
    functionName,
    args,
  });
  const read = async <T>(c: TestChain, functionName: string, args: readonly unknown[] = []): Promise<T> =>
    await c.publicClient.readContract({ ...tx(c, functionName, args) } as unknown as ReadParams) as T;
  return { tx, read };
}

/** Starts anvil, funds the accounts with ether, deploys the contracts and hands out test tokens. */
export async function startChain(): Promise<TestChain> {
  const anvil = await startAnvil();
  addEventListener("unload", () => void anvil.stop());
  const transport = http(anvil.rpcUrl, { retryCount: 0 });
  const chain = { ...anvilChain, rpcUrls: { default: { http: [anvil.rpcUrl] } } };
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 20 }) as PublicClient;
  const testClient = createTestClient({ chain, transport, mode: "anvil" });
  const keys = ACCOUNT_NAMES.map((name, i) =>
    i === 0 ? DEV_ACCOUNT_KEYS[0] : keccak256(toHex(`kosmos-test-${name}`))
  );
  const wallets = {} as Record<AccountName, Wallet>;
  const accounts = {} as Record<AccountName, Address>;
  for (const [i, name] of ACCOUNT_NAMES.entries()) {
    const account = privateKeyToAccount(keys[i]);
    wallets[name] = createWalletClient({ account, chain, transport, pollingInterval: 20 });
    accounts[name] = account.address;
    if (i !== 0) await testClient.setBalance({ address: account.address, value: parseEther("1000") });
  }
  const addresses = await deployContracts(wallets.deployer, publicClient, {
    arbiter: accounts.arbiter,
    treasury: accounts.treasury,
    rewardsReserve: accounts.reserve,
    faucet: accounts.deployer,
    timeout: 10_000,
  });
  const send = async (wallet: Wallet, params: WriteParams) => {
    const { request, result } = await publicClient.simulateContract(
      { ...params, account: wallet.account } as unknown as SimulateParams,
    );
    const hash = await wallet.writeContract(request as unknown as WriteContractParameters);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 10_000 });
    assert.equal(receipt.status, "success");
    return { gasUsed: receipt.gasUsed, logs: receipt.logs, result };
  };
  // Give every user account 100,000 tokens from the faucet allocation.
  for (const name of ["seller", "buyer", "gateway", "delegate", "alice", "bob", "carol", "dave"] as const) {
    await send(wallets.deployer, {
      address: addresses.token,
      abi: kosmosTokenAbi,
      functionName: "transfer",
      args: [accounts[name], 100_000n * ONE],
    });
  }
  const now = async () => (await publicClient.getBlock()).timestamp;
  const warp = async (seconds: number | bigint) => {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  };
  return { anvil, publicClient, testClient, wallets, accounts, addresses, send, now, warp };
}

/**
 * Returns a `Deno.test` wrapper whose tests share one chain (started by the first test) and each run
 * between `evm_snapshot` and `evm_revert`. `setup` runs once after deployment, inside the base state.
 */
export function createChainTest<T = void>(setup?: (c: TestChain) => T | Promise<T>) {
  let ready: Promise<[TestChain, T]> | undefined;
  const init = async (): Promise<[TestChain, T]> => {
    const c = await startChain();
    return [c, setup ? await setup(c) : undefined as T];
  };
  return (name: string, fn: (c: TestChain, fixture: T) => Promise<void>) =>
    Deno.test({
      name,
      // anvil is shared by the file's tests: its output reader and HTTP keep-alive outlive each test.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const [c, fixture] = await (ready ??= init());
        await withSnapshot(c, () => fn(c, fixture));
      },
    });
}

/** Runs `fn` and reverts the chain to the state before it. */
export async function withSnapshot<R>(c: TestChain, fn: () => Promise<R>): Promise<R> {
  const id = await c.testClient.snapshot();
  try {
    return await fn();
  } finally {
    await c.testClient.revert({ id });
  }
}

/** Asserts that `promise` rejects with our custom error `errorName` (and `args` when given). */
export async function expectRevert(promise: Promise<unknown>, errorName: string, args?: readonly unknown[]) {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error, `expected a revert with ${errorName}, but the call succeeded`);
  const data = findRevertData(error);
  assert.ok(data, `expected a revert with ${errorName}, got: ${(error as Error).message.split("\n")[0]}`);
  const decoded = decodeErrorResult({ abi: errorsAbi, data });
  assert.equal(decoded.errorName, errorName);
  if (args) assert.deepEqual(decoded.args, args);
}

function findRevertData(error: unknown): Hex | undefined {
  if (!(error instanceof BaseError)) return undefined;
  let found: Hex | undefined;
  error.walk((e) => {
    const raw = (e as { raw?: Hex }).raw ?? (e as { data?: Hex }).data;
    if (typeof raw === "string" && raw.startsWith("0x") && raw.length >= 10) found ??= raw;
    return false;
  });
  return found;
}

function dedupeErrors(
  abi: readonly { type: string; name?: string; inputs?: readonly { type: string }[] }[],
): Abi {
  const seen = new Map<string, unknown>();
  for (const item of abi) {
    if (item.type !== "error") continue;
    seen.set(`${item.name}(${item.inputs?.map((i) => i.type).join(",")})`, item);
  }
  return [...seen.values()] as Abi;
}
