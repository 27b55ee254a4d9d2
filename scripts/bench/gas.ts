/**
 * `deno task bench gas`: deploys the contracts to a fresh anvil, runs every contract operation once
 * and prints one JSON line with the gas each used. `honestSale` is open + reveal + confirm of a sale
 * between accounts that already hold balances (the steady state; `honestSaleFirst` is the very first
 * sale, which pays for fresh storage slots); the reference is a plain ERC-20 transfer of our token.
 * `budget` is the honest-sale limit the key-sale changes must stay under (10 % over the 171,997 gas
 * measured before the tagged hashes, listing-bound key commitments and disputes).
 *
 *     deno task bench gas
 *     {"bench":"gas","gas":{"list":…,"open":…},"honestSale":…,"budget":189196,"target":250000,"reference":{…}}
 */
import {
  type Account,
  type Address,
  bytesToHex,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  encodeAbiParameters,
  type Hex,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  type PublicClient,
  toHex,
  type Transport,
  type WalletClient,
  type WriteContractParameters,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil as anvilChain } from "viem/chains";
import { DEV_ACCOUNT_KEYS, startAnvil } from "../../node/services/chain/anvil.ts";
import { deployContracts } from "../../node/services/chain/deploy.ts";
import {
  kosmosAnchorAbi,
  kosmosConsentAbi,
  kosmosEscrowAbi,
  kosmosRegistryAbi,
  kosmosRewardsAbi,
  kosmosTokenAbi,
} from "../../protocol/contracts_generated.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  encodeSaleKeys,
  getEscrowDomain,
  type Quote,
  quoteTypes,
} from "../../protocol/quote.ts";

type Wallet = WalletClient<Transport, Chain, Account>;
const ONE = 10n ** 18n;
const DAY = 86_400;

const anvil = await startAnvil();
try {
  const transport = http(anvil.rpcUrl);
  const chain = { ...anvilChain, rpcUrls: { default: { http: [anvil.rpcUrl] } } };
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 20 }) as PublicClient;
  const testClient = createTestClient({ chain, transport, mode: "anvil" });
  const names = [
    "deployer",
    "arbiter",
    "treasury",
    "reserve",
    "seller",
    "buyer",
    "gateway",
    "c1",
    "c2",
    "c3",
  ];
  const w = {} as Record<string, Wallet>;
  for (const [i, name] of names.entries()) {
    const key = i === 0 ? DEV_ACCOUNT_KEYS[0] : keccak256(toHex(`kosmos-bench-${name}`));
    w[name] = createWalletClient({ account: privateKeyToAccount(key), chain, transport });
    if (i) await testClient.setBalance({ address: w[name].account.address, value: parseEther("100") });
  }
  const a = (name: string) => w[name].account.address;
  const addr = await deployContracts(w.deployer, publicClient, {
    arbiter: a("arbiter"),
    treasury: a("treasury"),
    rewardsReserve: a("reserve"),
    faucet: a("deployer"),
    timeout: 10_000,
  });
  const send = async (
    wallet: Wallet,
    address: Address,
    abi: readonly unknown[],
    functionName: string,
    args: readonly unknown[],
  ) => {
    const { request, result } = await publicClient.simulateContract(
      { address, abi, functionName, args, account: wallet.account } as unknown as Parameters<
        PublicClient["simulateContract"]
      >[0],
    );
    const hash = await wallet.writeContract(request as unknown as WriteContractParameters);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 10_000 });
    if (receipt.status !== "success") throw new Error(`${functionName} reverted`);
    return { gas: Number(receipt.gasUsed), logs: receipt.logs, result };
  };
  const token = (wallet: Wallet, fn: string, args: readonly unknown[]) =>
    send(wallet, addr.token, kosmosTokenAbi, fn, args);
  const registry = (wallet: Wallet, fn: string, args: readonly unknown[]) =>
    send(wallet, addr.registry, kosmosRegistryAbi, fn, args);
  const escrow = (wallet: Wallet, fn: string, args: readonly unknown[]) =>
    send(wallet, addr.escrow, kosmosEscrowAbi, fn, args);
  const gas: Record<string, number> = {};

  for (const name of ["seller", "buyer", "c1", "c2", "c3"]) {
    await token(w.deployer, "transfer", [a(name), 10_000n * ONE]);
  }
  const erc20Transfer = (await token(w.seller, "transfer", [a("c1"), ONE])).gas;
  const max = 2n ** 255n;
  for (const name of ["seller", "c1", "c2", "c3"]) await token(w[name], "approve", [addr.registry, max]);
  await token(w.buyer, "approve", [addr.escrow, max]);
  await token(w.reserve, "approve", [addr.rewards, max]);

  const randomKey = () => bytesToHex(crypto.getRandomValues(new Uint8Array(32)));
  // Registry. The listing binds the DEK's commitment; every sale of it must deliver that DEK.
  const dek = randomKey();
  const dekCommit = computeDekCommit([dek]);
  const cid = `0x01711220${keccak256("0x01").slice(2)}` as Hex;
  const listed = await registry(w.seller, "list", [0, cid, dekCommit, 100n * ONE]);
  gas.list = listed.gas;
  const listingId = listed.result as bigint;
  gas.stake = (await registry(w.seller, "addStake", [listingId, 50n * ONE])).gas;
  const other = (await registry(w.seller, "list", [1, cid, dekCommit, 100n * ONE])).result as bigint;
  gas.challenge = (await registry(w.c1, "challenge", [other, 10n * ONE])).gas;
  await registry(w.c2, "challenge", [other, 20n * ONE]);
  await registry(w.c3, "challenge", [other, 70n * ONE]); // 100 tokens: the default threshold
  gas.resolve = (await registry(w.arbiter, "resolve", [other, true])).gas;
  gas.setDelegate = (await escrow(w.seller, "setDelegate", [listingId, a("gateway"), true])).gas;

  // Escrow: a first sale (fresh storage everywhere), then a steady-state sale. Sellers number their
  // quotes sequentially, so 256 nonces share one storage word.
  let nonce = 0n;
  /** Signs a quote to the buyer for `keys`, opens the sale as the buyer and reveals `kSale` as the seller. */
  const openAndReveal = async (
    keys: { dekCommit: Hex; kSale: Hex; z: Hex },
    gateway: Address,
    quoteNonce: bigint,
  ) => {
    const quote: Quote = {
      listingId,
      buyer: a("buyer"),
      price: 100n * ONE,
      zHash: keccak256(keys.z),
      kSaleHash: computeSaleKeyCommit(keys.kSale),
      dekCommit: keys.dekCommit,
      gateway,
      nonce: quoteNonce,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
    };
    const signature = await w.seller.signTypedData({
      domain: getEscrowDomain(chain.id, addr.escrow),
      types: quoteTypes,
      primaryType: "Quote",
      message: quote,
    });
    const opened = await escrow(w.buyer, "open", [quote, signature]);
    const saleId = opened.result as Hex;
    const s = parseEventLogs({ abi: kosmosEscrowAbi, logs: opened.logs, eventName: "Opened" })[0].args.sale;
    const revealed = await escrow(w.seller, "reveal", [saleId, s, keys.kSale]);
    const disputeDeadline =
      parseEventLogs({ abi: kosmosEscrowAbi, logs: revealed.logs, eventName: "Revealed" })[0].args
        .disputeDeadline;
    return {
      saleId,
      sale: { ...s, disputeDeadline },
      kSale: keys.kSale,
      z: keys.z,
      open: opened.gas,
      reveal: revealed.gas,
    };
  };
  const sale = (gateway: Address) => {
    const kSale = randomKey();
    return openAndReveal(
      { dekCommit, kSale, z: encodeSaleKeys([dek], kSale) },
      gateway,
      nonce++,
    );
  };
  const first = await sale(a("gateway"));
  const firstConfirm = (await escrow(w.buyer, "confirm", [first.saleId, first.sale])).gas;
  const steady = await sale(a("gateway"));
  gas.open = steady.open;
  gas.reveal = steady.reveal;
  gas.confirm = (await escrow(w.buyer, "confirm", [steady.saleId, steady.sale])).gas;
  const finalized = await sale(a("gateway"));
  // A complaint needs a wrong key: a sale whose Z encodes another DEK than the committed one.
  const lying = await (() => {
    const kSale = randomKey();
    const z = encodeSaleKeys([keccak256(dek)], kSale);
    return openAndReveal({ dekCommit, kSale, z }, zeroAddress, 2n ** 100n);
  })();
  gas.complain = (await escrow(w.buyer, "complain", [lying.saleId, lying.sale, lying.kSale, lying.z])).gas;
  // Bad-data disputes: one the arbiter rules bad (refund), one it leaves to expire (seller paid).
  const disputeOf = async (s: Awaited<ReturnType<typeof sale>>) => {
    const sent = await escrow(w.buyer, "dispute", [s.saleId, s.sale, keccak256(toHex("evidence"))]);
    const { disputedAt } =
      parseEventLogs({ abi: kosmosEscrowAbi, logs: sent.logs, eventName: "Disputed" })[0].args;
    return { gas: sent.gas, sale: { ...s.sale, disputedAt } };
  };
  const refuted = await sale(a("gateway"));
  const refutedDispute = await disputeOf(refuted);
  gas.dispute = refutedDispute.gas;
  gas.resolveDispute =
    (await escrow(w.arbiter, "resolveDispute", [refuted.saleId, refutedDispute.sale, true])).gas;
  const ignored = await sale(a("gateway"));
  const ignoredDispute = await disputeOf(ignored);
  await testClient.increaseTime({ seconds: 8 * DAY });
  await testClient.mine({ blocks: 1 });
  gas.finalize = (await escrow(w.c1, "finalize", [finalized.saleId, finalized.sale])).gas;
  gas.expireDispute = (await escrow(w.c1, "expireDispute", [ignored.saleId, ignoredDispute.sale])).gas;
  gas.withdraw = (await escrow(w.seller, "withdraw", [])).gas;

  // Consent.
  const granted = await send(w.c1, addr.consent, kosmosConsentAbi, "grant", [
    keccak256(toHex("example.com")),
    keccak256(toHex("analytics")),
    BigInt(Math.floor(Date.now() / 1000) + 365 * DAY),
  ]);
  gas.consentGrant = granted.gas;
  gas.consentRevoke = (await send(w.c1, addr.consent, kosmosConsentAbi, "revoke", [granted.result])).gas;

  // Rewards: a two-leaf tree.
  const leaf = (index: bigint, account: Address, amount: bigint) =>
    keccak256(
      keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "address" }, { type: "uint256" }], [
        index,
        account,
        amount,
      ])),
    );
  const l0 = leaf(0n, a("c1"), 5n * ONE);
  const l1 = leaf(1n, a("c2"), 7n * ONE);
  const [lo, hi] = BigInt(l0) < BigInt(l1) ? [l0, l1] : [l1, l0];
  const root = keccak256(`0x${lo.slice(2)}${hi.slice(2)}`);
  const rewards = (wallet: Wallet, fn: string, args: readonly unknown[]) =>
    send(wallet, addr.rewards, kosmosRewardsAbi, fn, args);
  gas.createDistribution = (await rewards(w.reserve, "createDistribution", [root, 12n * ONE])).gas;
  gas.claim = (await rewards(w.c3, "claim", [1n, 0n, a("c1"), 5n * ONE, [l1]])).gas;

  // Anchor.
  gas.anchor = (await send(w.c1, addr.anchor, kosmosAnchorAbi, "anchor", [root, "bench"])).gas;

  console.log(JSON.stringify({
    bench: "gas",
    gas,
    honestSale: gas.open + gas.reveal + gas.confirm,
    honestSaleFirst: first.open + first.reveal + firstConfirm,
    budget: Math.floor(171_997 * 1.1),
    target: 250_000,
    reference: { erc20Transfer },
  }));
} finally {
  await anvil.stop();
}
