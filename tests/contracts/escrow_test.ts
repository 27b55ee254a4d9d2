import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bytesToHex,
  hashDomain,
  type Hex,
  hexToBigInt,
  keccak256,
  numberToHex,
  parseEventLogs,
  parseSignature,
  toHex,
  zeroAddress,
} from "viem";
import {
  kosmosEscrowAbi,
  kosmosEscrowBytecode,
  kosmosRegistryAbi,
} from "../../protocol/contracts_generated.ts";
import {
  computeDekCommit,
  computeSaleKeyCommit,
  decodeSaleKeys,
  getEscrowDomain,
  quoteTypes,
  type Sale,
} from "../../protocol/quote.ts";
import {
  type AccountName,
  createChainTest,
  expectRevert,
  ONE,
  type ReadParams,
  type TestChain,
  withSnapshot,
} from "./chain.ts";
import {
  approve,
  balanceOf,
  disputeSale,
  escrowBalanceOf,
  escrowTx,
  listDataset,
  listedDeksOf,
  makeQuote,
  openSale,
  randomBytes32,
  revealSale,
  signPermit,
} from "./sale.ts";

const DAY = 24n * 3600n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const chainTest = createChainTest(async (c) => ({ listingId: await listDataset(c, "seller") }));

/** `IKosmosEscrow.RefundReason` values. */
const REFUND_NOT_REVEALED = 0;
const REFUND_WRONG_KEY = 1;
const REFUND_BAD_DATA = 2;

async function isDelegate(c: TestChain, listingId: bigint, who: AccountName): Promise<boolean> {
  return await c.publicClient.readContract({
    address: c.addresses.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [listingId, c.accounts[who]],
  });
}

chainTest("open() locks the price, records the sale by hash and uses the nonce", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, price: 250n * ONE });
  const before = await balanceOf(c, c.accounts.buyer);
  const { saleId, sale } = await openSale(c, q);
  assert.equal(await balanceOf(c, c.accounts.buyer), before - 250n * ONE);
  assert.equal(await balanceOf(c, c.addresses.escrow), 250n * ONE);
  const read = (functionName: string, args: readonly unknown[]) =>
    c.publicClient.readContract(
      { address: c.addresses.escrow, abi: kosmosEscrowAbi, functionName, args } as unknown as ReadParams,
    );
  assert.equal(saleId, await read("hashQuote", [q.quote]));
  assert.equal(
    await read("DOMAIN_SEPARATOR", []),
    hashDomain({
      domain: { ...getEscrowDomain(31337, c.addresses.escrow), chainId: 31337n },
      types: {
        EIP712Domain: [
          { name: "name", type: "string" },
          { name: "version", type: "string" },
          { name: "chainId", type: "uint256" },
          { name: "verifyingContract", type: "address" },
        ],
      },
    }),
  );
  assert.notEqual(await read("saleHash", [saleId]), `0x${"0".repeat(64)}`);
  assert.equal(await read("isNonceUsed", [c.accounts.seller, q.quote.nonce]), true);
  assert.equal(sale.buyer, c.accounts.buyer);
  assert.equal(sale.seller, c.accounts.seller);
  assert.equal(sale.gateway, c.accounts.gateway);
  assert.equal(sale.price, 250n * ONE);
  assert.equal(BigInt(sale.revealDeadline), (await c.now()) + DAY);
  assert.equal(sale.disputeDeadline, 0);
  assert.equal(sale.zHash, q.quote.zHash);
});

chainTest("openWithPermit() permits and opens in one transaction", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const deadline = (await c.now()) + 3600n;
  const permit = await signPermit(c, "buyer", c.addresses.escrow, q.quote.price, deadline);
  const args = [q.quote, q.signature, deadline, Number(permit.v), permit.r, permit.s];
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "openWithPermit", args));
  assert.equal(parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Opened" }).length, 1);
  assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
});

chainTest(
  "openWithPermit() opens with an existing allowance when the permit is invalid",
  async (c, { listingId }) => {
    const q = await makeQuote(c, { listingId });
    await approve(c, "buyer", c.addresses.escrow, q.quote.price);
    const args = [q.quote, q.signature, 0n, 27, randomBytes32(), randomBytes32()];
    await c.send(c.wallets.buyer, escrowTx(c, "openWithPermit", args));
    assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
  },
);

chainTest("open() without allowance reverts with ERC20InsufficientAllowance", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "ERC20InsufficientAllowance",
  );
});

chainTest("open() rejects an expired quote", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, deadline: (await c.now()) + 10n });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await c.warp(11);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "QuoteExpired", [
    q.quote.deadline,
  ]);
});

chainTest("open() rejects a caller other than the quote's buyer", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await approve(c, "alice", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "open", [q.quote, q.signature])), "WrongBuyer", [
    c.accounts.buyer,
    c.accounts.alice,
  ]);
});

chainTest("open() rejects a replayed quote: SaleExists while open, NonceUsed once settled", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "SaleExists", [
    saleId,
  ]);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "NonceUsed", [
    c.accounts.seller,
    q.quote.nonce,
  ]);
});

chainTest("open() rejects a quote whose nonce the seller invalidated", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [q.quote.nonce]));
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "invalidateNonce", [q.quote.nonce])), "NonceUsed");
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])), "NonceUsed");
});

chainTest("open() rejects a quote signed for another chain id", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, chainId: 1 });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
  );
});

chainTest("open() rejects a quote signed for another escrow contract", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, verifyingContract: c.addresses.registry });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
  );
});

chainTest("open() rejects a malleable (high-s) signature and a malformed one", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  const { r, s, yParity } = parseSignature(q.signature);
  const highS = numberToHex(SECP256K1_N - hexToBigInt(s), { size: 32 });
  const flipped = `${r}${highS.slice(2)}${yParity === 0 ? "1c" : "1b"}` as Hex;
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, flipped])), "InvalidSignature");
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature.slice(0, 130) as Hex])),
    "InvalidSignature",
  );
  // The original still works.
  await c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature]));
});

chainTest("open() rejects a signer that is neither the owner nor a delegate", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, signer: "alice" });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "UnauthorizedSigner",
    [
      c.accounts.alice,
      c.accounts.seller,
    ],
  );
});

chainTest("open() rejects a price above 96 bits and an unknown listing", async (c, { listingId }) => {
  const big = await makeQuote(c, { listingId, price: 2n ** 96n });
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [big.quote, big.signature])),
    "PriceTooLarge",
  );
  const unknown = await makeQuote(c, { listingId: 999n });
  await approve(c, "buyer", c.addresses.escrow, unknown.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [unknown.quote, unknown.signature])),
    "ERC721NonexistentToken",
  );
});

chainTest(
  "a delegate signs quotes and reveals keys for the owner's listing, until removed",
  async (c, { listingId }) => {
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
    assert.equal(await isDelegate(c, listingId, "delegate"), true);
    const q = await makeQuote(c, { listingId, signer: "delegate" });
    const { saleId, sale } = await openSale(c, q);
    assert.equal(sale.seller, c.accounts.seller);
    await revealSale(c, saleId, sale, q.kSale, "delegate");
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, false]));
    assert.equal(await isDelegate(c, listingId, "delegate"), false);
    const q2 = await makeQuote(c, { listingId, signer: "delegate" });
    await approve(c, "buyer", c.addresses.escrow, q2.quote.price);
    await expectRevert(
      c.send(c.wallets.buyer, escrowTx(c, "open", [q2.quote, q2.signature])),
      "UnauthorizedSigner",
    );
  },
);

chainTest("reveal() checks the caller, the key, the deadline and the sale", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "reveal", [saleId, sale, q.kSale])), "NotSeller");
  await expectRevert(
    c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, sale, randomBytes32()])),
    "WrongSaleKey",
  );
  await expectRevert(
    c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, { ...sale, price: 1n }, q.kSale])),
    "UnknownSale",
  );
  await expectRevert(
    c.send(c.wallets.seller, escrowTx(c, "reveal", [randomBytes32(), sale, q.kSale])),
    "UnknownSale",
  );
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  assert.equal(BigInt(revealed.disputeDeadline), (await c.now()) + 2n * DAY);
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, sale, q.kSale])), "UnknownSale");
  await expectRevert(
    c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, revealed, q.kSale])),
    "AlreadyRevealed",
  );
});

chainTest("reveal() after the reveal deadline reverts", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await c.warp(DAY + 1n);
  await expectRevert(
    c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, sale, q.kSale])),
    "RevealDeadlinePassed",
    [saleId, sale.revealDeadline],
  );
});

chainTest("confirm() pays 80/10/10, deletes the sale, and withdraw() pays out", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, price: 1000n * ONE + 7n });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, sale])), "NotRevealed");
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  assert.deepEqual(decodeSaleKeys(q.z, q.kSale), q.deks);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "confirm", [saleId, revealed])), "NotBuyer");
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
  assert.equal(completed.args.confirmed, true);
  const price = 1000n * ONE + 7n;
  const toSeller = price * 8000n / 10000n;
  const toGateway = price * 1000n / 10000n;
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), toSeller);
  assert.equal(await escrowBalanceOf(c, c.accounts.gateway), toGateway);
  assert.equal(await escrowBalanceOf(c, c.accounts.treasury), price - toSeller - toGateway);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed])), "UnknownSale");
  const before = await balanceOf(c, c.accounts.seller);
  await c.send(c.wallets.seller, escrowTx(c, "withdraw", []));
  assert.equal(await balanceOf(c, c.accounts.seller), before + toSeller);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 0n);
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "withdraw", [])), "NothingToWithdraw", [
    c.accounts.seller,
  ]);
});

chainTest("a sale without gateway pays the gateway's share to the treasury", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, gateway: zeroAddress, price: 100n * ONE });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
  assert.equal(await escrowBalanceOf(c, c.accounts.treasury), 20n * ONE);
  assert.equal(await escrowBalanceOf(c, zeroAddress), 0n);
});

chainTest(
  "complain() refunds the buyer when Z does not yield the committed key",
  async (c, { listingId }) => {
    const q = await makeQuote(c, { listingId, zDeks: [randomBytes32()] });
    const { saleId, sale } = await openSale(c, q);
    const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
    const before = await balanceOf(c, c.accounts.buyer);
    const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, revealed, q.kSale, q.z]));
    const [refunded] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Refunded" });
    assert.equal(refunded.args.reason, REFUND_WRONG_KEY);
    assert.equal(await balanceOf(c, c.accounts.buyer), before + q.quote.price);
    assert.equal(await balanceOf(c, c.addresses.escrow), 0n);
    await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed])), "UnknownSale");
  },
);

chainTest("complain() reverts KeyIsValid for the right key, and checks Z, kSale, caller and window", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, sale, q.kSale, q.z])),
    "NotRevealed",
  );
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  const complain = (args: unknown[], by = c.wallets.buyer) => c.send(by, escrowTx(c, "complain", args));
  await expectRevert(complain([saleId, revealed, q.kSale, q.z]), "KeyIsValid", [saleId]);
  await expectRevert(complain([saleId, revealed, q.kSale, q.z], c.wallets.alice), "NotBuyer");
  await expectRevert(complain([saleId, revealed, randomBytes32(), q.z]), "WrongSaleKey");
  await expectRevert(complain([saleId, revealed, q.kSale, randomBytes32()]), "WrongZ");
  await expectRevert(complain([saleId, revealed, q.kSale, "0x"]), "InvalidZLength", [0n]);
  await expectRevert(complain([saleId, revealed, q.kSale, `${q.z}00`]), "InvalidZLength", [33n]);
  await c.warp(2n * DAY + 1n);
  await expectRevert(complain([saleId, revealed, q.kSale, q.z]), "DisputeWindowClosed");
});

chainTest(
  "a batch sale of 3 keys decodes, and complain() refunds when one word is wrong",
  async (c) => {
    const deks = [randomBytes32(), randomBytes32(), randomBytes32()];
    const listingId = await listDataset(c, "seller", { deks });
    const good = await makeQuote(c, { listingId, deks });
    assert.deepEqual(decodeSaleKeys(good.z, good.kSale), deks);
    const opened = await openSale(c, good);
    const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, good.kSale);
    await expectRevert(
      c.send(c.wallets.buyer, escrowTx(c, "complain", [opened.saleId, revealed, good.kSale, good.z])),
      "KeyIsValid",
    );
    const bad = await makeQuote(c, { listingId, deks, zDeks: [deks[0], randomBytes32(), deks[2]] });
    const badSale = await openSale(c, bad);
    const { sale: badRevealed } = await revealSale(c, badSale.saleId, badSale.sale, bad.kSale);
    await c.send(c.wallets.buyer, escrowTx(c, "complain", [badSale.saleId, badRevealed, bad.kSale, bad.z]));
    assert.equal(await balanceOf(c, c.addresses.escrow), good.quote.price);
  },
);

chainTest("refund() returns the price after the reveal deadline when the key was not revealed", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(
    c.send(c.wallets.alice, escrowTx(c, "refund", [saleId, sale])),
    "RevealDeadlineNotPassed",
  );
  await c.warp(DAY + 1n);
  const before = await balanceOf(c, c.accounts.buyer);
  const { logs } = await c.send(c.wallets.alice, escrowTx(c, "refund", [saleId, sale]));
  const [refunded] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Refunded" });
  assert.equal(refunded.args.reason, REFUND_NOT_REVEALED);
  assert.equal(await balanceOf(c, c.accounts.buyer), before + q.quote.price);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "refund", [saleId, sale])), "UnknownSale");
});

chainTest("refund() reverts once the key is revealed", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.warp(DAY + 1n);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "refund", [saleId, revealed])), "AlreadyRevealed");
});

chainTest(
  "finalize() pays out after the dispute window, not before, not unrevealed",
  async (c, { listingId }) => {
    const q = await makeQuote(c, { listingId, price: 10n * ONE });
    const { saleId, sale } = await openSale(c, q);
    await expectRevert(c.send(c.wallets.alice, escrowTx(c, "finalize", [saleId, sale])), "NotRevealed");
    const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
    await expectRevert(
      c.send(c.wallets.alice, escrowTx(c, "finalize", [saleId, revealed])),
      "DisputeWindowOpen",
      [
        saleId,
        revealed.disputeDeadline,
      ],
    );
    await c.warp(2n * DAY + 1n);
    const { logs } = await c.send(c.wallets.alice, escrowTx(c, "finalize", [saleId, revealed]));
    const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
    assert.equal(completed.args.confirmed, false);
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 8n * ONE);
  },
);

chainTest(
  "the seller recorded at open is paid even if the listing changes hands",
  async (c, { listingId }) => {
    const q = await makeQuote(c, { listingId });
    const { saleId, sale } = await openSale(c, q);
    await c.send(c.wallets.seller, {
      address: c.addresses.registry,
      abi: kosmosRegistryAbi,
      functionName: "transferFrom",
      args: [c.accounts.seller, c.accounts.carol, listingId],
    });
    const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
    await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
    assert.equal(await escrowBalanceOf(c, c.accounts.carol), 0n);
  },
);

chainTest(
  "the constructor rejects splits that do not add up to 10,000 basis points and no arbitration window",
  async (c) => {
    const config = {
      token: c.addresses.token,
      registry: c.addresses.registry,
      treasury: c.accounts.treasury,
      revealWindow: 1,
      disputeWindow: 1,
      arbitrationWindow: 1,
      sellerBps: 8000n,
      gatewayBps: 1000n,
      treasuryBps: 1000n,
    };
    for (const bad of [{ treasuryBps: 999n }, { arbitrationWindow: 0 }]) {
      await expectRevert(
        c.wallets.deployer.deployContract({
          abi: kosmosEscrowAbi,
          bytecode: kosmosEscrowBytecode,
          args: [{ ...config, ...bad }],
        }),
        "InvalidConfig",
      );
    }
    // The same config without the flaw deploys.
    await c.wallets.deployer.deployContract({
      abi: kosmosEscrowAbi,
      bytecode: kosmosEscrowBytecode,
      args: [config],
    });
  },
);

type Path = "confirm" | "finalize" | "complain" | "refund";

chainTest(
  "property: refunds plus payouts equal what was locked; complain succeeds iff the key is wrong",
  async (c) => {
    const saleArb = fc.record({
      price: fc.bigInt({ min: 0n, max: 10_000n * ONE }),
      keys: fc.integer({ min: 1, max: 3 }),
      wrongWord: fc.option(fc.nat({ max: 2 }), { nil: undefined }),
      gateway: fc.boolean(),
      path: fc.constantFrom<Path>("confirm", "finalize", "complain", "refund"),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(saleArb, { minLength: 1, maxLength: 4 }), async (specs) => {
        await withSnapshot(c, async () => {
          const opened: {
            saleId: Hex;
            sale: Sale;
            kSale: Hex;
            z: Hex;
            spec: typeof specs[number];
            wrong: boolean;
          }[] = [];
          for (const spec of specs) {
            const deks = Array.from({ length: spec.keys }, () => randomBytes32());
            const wrong = spec.wrongWord !== undefined && spec.wrongWord < spec.keys;
            const zDeks = deks.map((d, i) => (wrong && i === spec.wrongWord ? randomBytes32() : d));
            const listingId = await listDataset(c, "seller", { deks });
            const q = await makeQuote(c, {
              listingId,
              price: spec.price,
              deks,
              zDeks,
              gateway: spec.gateway ? c.accounts.gateway : zeroAddress,
            });
            const { saleId, sale } = await openSale(c, q);
            opened.push({ saleId, sale, kSale: q.kSale, z: q.z, spec, wrong });
          }
          const locked = specs.reduce((sum, s) => sum + s.price, 0n);
          assert.equal(await balanceOf(c, c.addresses.escrow), locked);
          let refunded = 0n;
          const buyerBefore = await balanceOf(c, c.accounts.buyer);
          for (const o of opened) {
            if (o.spec.path === "refund") continue;
            o.sale = (await revealSale(c, o.saleId, o.sale, o.kSale)).sale;
            if (o.spec.path === "confirm") {
              await c.send(c.wallets.buyer, escrowTx(c, "confirm", [o.saleId, o.sale]));
            } else if (o.spec.path === "complain") {
              const complaint = c.send(
                c.wallets.buyer,
                escrowTx(c, "complain", [o.saleId, o.sale, o.kSale, o.z]),
              );
              if (o.wrong) {
                await complaint;
                refunded += o.spec.price;
              } else {
                await expectRevert(complaint, "KeyIsValid");
              }
            }
          }
          await c.warp(3n * DAY);
          for (const o of opened) {
            if (o.spec.path === "refund") {
              await c.send(c.wallets.alice, escrowTx(c, "refund", [o.saleId, o.sale]));
              refunded += o.spec.price;
            } else if (o.spec.path === "finalize" || (o.spec.path === "complain" && !o.wrong)) {
              await c.send(c.wallets.alice, escrowTx(c, "finalize", [o.saleId, o.sale]));
            }
          }
          assert.equal(await balanceOf(c, c.accounts.buyer), buyerBefore + refunded);
          let owed = 0n;
          for (const who of [c.accounts.seller, c.accounts.gateway, c.accounts.treasury]) {
            owed += await escrowBalanceOf(c, who);
          }
          assert.equal(owed + refunded, locked);
          assert.equal(await balanceOf(c, c.addresses.escrow), owed);
          for (const o of opened) {
            assert.equal(
              await c.publicClient.readContract({
                address: c.addresses.escrow,
                abi: kosmosEscrowAbi,
                functionName: "saleHash",
                args: [o.saleId],
              }),
              `0x${"0".repeat(64)}`,
            );
          }
        });
      }),
      { numRuns: 12 },
    );
  },
);

// --- The key sale's commitments, the listing binding, disputes, delegates and nonces. ---

chainTest("open() rejects a quote whose dekCommit is not the listing's (DekCommitMismatch)", async (
  c,
  { listingId },
) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (bytes) => {
      const dekCommit = bytesToHex(bytes);
      fc.pre(dekCommit !== computeDekCommit(listedDeksOf(listingId)!));
      const q = await makeQuote(c, { listingId, dekCommit });
      await approve(c, "buyer", c.addresses.escrow, q.quote.price);
      await expectRevert(
        c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
        "DekCommitMismatch",
        [listingId],
      );
    }),
    { numRuns: 5 },
  );
  // A right key for another listing of the same seller does not open this one either.
  const other = await listDataset(c, "seller");
  const q = await makeQuote(c, { listingId, deks: listedDeksOf(other) });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, q.signature])),
    "DekCommitMismatch",
  );
  // The listing's own commitment opens.
  await openSale(c, await makeQuote(c, { listingId }));
});

chainTest("reveal() checks the tagged commitment: the old keccak256(kSale) commitment is refused", async (
  c,
  { listingId },
) => {
  const kSale = randomBytes32();
  const q = await makeQuote(c, { listingId, kSaleHash: keccak256(kSale) });
  const { saleId, sale } = await openSale(c, q);
  await expectRevert(c.send(c.wallets.seller, escrowTx(c, "reveal", [saleId, sale, kSale])), "WrongSaleKey", [
    saleId,
  ]);
  assert.equal(computeSaleKeyCommit(kSale) === keccak256(kSale), false);
});

chainTest("dispute() is the buyer's, after the reveal and inside the window, and freezes the sale", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId });
  const { saleId, sale } = await openSale(c, q);
  const dispute = (s: Sale, by: AccountName = "buyer") =>
    c.send(c.wallets[by], escrowTx(c, "dispute", [saleId, s, randomBytes32()]));
  await expectRevert(dispute(sale), "NotRevealed", [saleId]);
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await expectRevert(dispute(revealed, "seller"), "NotBuyer", [saleId, c.accounts.seller]);
  await expectRevert(dispute(revealed, "alice"), "NotBuyer");
  const evidenceHash = keccak256(toHex("chunk 3 does not decrypt to its Merkle leaf"));
  const { logs } = await c.send(c.wallets.buyer, escrowTx(c, "dispute", [saleId, revealed, evidenceHash]));
  const [disputed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Disputed" });
  assert.deepEqual(
    [disputed.args.saleId, disputed.args.buyer, disputed.args.evidenceHash, BigInt(disputed.args.disputedAt)],
    [saleId, c.accounts.buyer, evidenceHash, await c.now()],
  );
  const frozen = { ...revealed, disputedAt: disputed.args.disputedAt };
  // The old sale no longer matches; the disputed one refuses every path but the arbiter's.
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed])), "UnknownSale");
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, frozen])), "SaleDisputed", [
    saleId,
  ]);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "complain", [saleId, frozen, q.kSale, q.z])),
    "SaleDisputed",
  );
  await expectRevert(dispute(frozen), "SaleDisputed");
  await c.warp(3n * DAY);
  await expectRevert(c.send(c.wallets.alice, escrowTx(c, "finalize", [saleId, frozen])), "SaleDisputed");
  assert.equal(await balanceOf(c, c.addresses.escrow), q.quote.price);
});

chainTest("dispute() after the dispute window reverts DisputeWindowClosed", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId });
  const opened = await openSale(c, q);
  const { sale } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  await c.warp(2n * DAY + 1n);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "dispute", [opened.saleId, sale, randomBytes32()])),
    "DisputeWindowClosed",
    [opened.saleId, sale.disputeDeadline],
  );
});

chainTest(
  "resolveDispute(bad) refunds the buyer with reason BadData; only the registry's arbiter rules",
  async (
    c,
    { listingId },
  ) => {
    const q = await makeQuote(c, { listingId, price: 70n * ONE });
    const opened = await openSale(c, q);
    const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
    const rule = (s: Sale, bad: boolean, by: AccountName = "arbiter") =>
      c.send(c.wallets[by], escrowTx(c, "resolveDispute", [opened.saleId, s, bad]));
    await expectRevert(rule(revealed, true), "NotDisputed", [opened.saleId]);
    const { sale } = await disputeSale(c, opened.saleId, revealed);
    for (const who of ["buyer", "seller", "treasury", "deployer"] as const) {
      await expectRevert(rule(sale, true, who), "NotArbiter", [c.accounts[who]]);
    }
    const before = await balanceOf(c, c.accounts.buyer);
    const { logs } = await rule(sale, true);
    const [refunded] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Refunded" });
    assert.equal(refunded.args.reason, REFUND_BAD_DATA);
    assert.equal(refunded.args.amount, 70n * ONE);
    const [resolved] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DisputeResolved" });
    assert.deepEqual([resolved.args.bad, resolved.args.expired], [true, false]);
    assert.equal(await balanceOf(c, c.accounts.buyer), before + 70n * ONE);
    assert.equal(await balanceOf(c, c.addresses.escrow), 0n);
    assert.equal(await escrowBalanceOf(c, c.accounts.seller), 0n);
    await expectRevert(rule(sale, false), "UnknownSale");
  },
);

chainTest("resolveDispute(good) completes the sale with the usual split", async (c, { listingId }) => {
  const q = await makeQuote(c, { listingId, price: 100n * ONE });
  const opened = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  const { sale } = await disputeSale(c, opened.saleId, revealed);
  const { logs } = await c.send(
    c.wallets.arbiter,
    escrowTx(c, "resolveDispute", [opened.saleId, sale, false]),
  );
  const [completed] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "Completed" });
  assert.equal(completed.args.confirmed, false);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
  assert.equal(await escrowBalanceOf(c, c.accounts.gateway), 10n * ONE);
  assert.equal(await escrowBalanceOf(c, c.accounts.treasury), 10n * ONE);
});

chainTest("expireDispute() completes for the seller once the arbitration window passed, not before", async (
  c,
  { listingId },
) => {
  const q = await makeQuote(c, { listingId, price: 100n * ONE });
  const opened = await openSale(c, q);
  const { sale: revealed } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
  const expire = (s: Sale) => c.send(c.wallets.alice, escrowTx(c, "expireDispute", [opened.saleId, s]));
  await expectRevert(expire(revealed), "NotDisputed", [opened.saleId]);
  const { sale } = await disputeSale(c, opened.saleId, revealed);
  const deadline = BigInt(sale.disputedAt) + 7n * DAY;
  await expectRevert(expire(sale), "ArbitrationWindowOpen", [opened.saleId, deadline]);
  await c.warp(7n * DAY - 5n);
  await expectRevert(expire(sale), "ArbitrationWindowOpen");
  await c.warp(10n);
  const buyerBefore = await balanceOf(c, c.accounts.buyer);
  const { logs } = await expire(sale);
  const [resolved] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DisputeResolved" });
  assert.deepEqual([resolved.args.bad, resolved.args.expired], [false, true]);
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 80n * ONE);
  assert.equal(await balanceOf(c, c.accounts.buyer), buyerBefore);
  await expectRevert(
    c.send(c.wallets.arbiter, escrowTx(c, "resolveDispute", [opened.saleId, sale, true])),
    "UnknownSale",
  );
});

chainTest("setDelegate() is per listing, only by its owner, and a transfer of the listing drops it", async (
  c,
  { listingId },
) => {
  const other = await listDataset(c, "seller");
  await expectRevert(
    c.send(c.wallets.alice, escrowTx(c, "setDelegate", [listingId, c.accounts.alice, true])),
    "NotListingOwner",
    [listingId, c.accounts.alice],
  );
  await expectRevert(
    c.send(c.wallets.delegate, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true])),
    "NotListingOwner",
  );
  const { logs } = await c.send(
    c.wallets.seller,
    escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]),
  );
  const [set] = parseEventLogs({ abi: kosmosEscrowAbi, logs, eventName: "DelegateSet" });
  assert.deepEqual(
    [set.args.owner, set.args.listingId, set.args.delegate, set.args.approved],
    [c.accounts.seller, listingId, c.accounts.delegate, true],
  );
  assert.equal(await isDelegate(c, listingId, "delegate"), true);
  assert.equal(await isDelegate(c, other, "delegate"), false);
  assert.equal(await isDelegate(c, 999n, "delegate"), false);
  // The delegate of one listing cannot quote another listing of the same owner.
  const elsewhere = await makeQuote(c, { listingId: other, signer: "delegate" });
  await approve(c, "buyer", c.addresses.escrow, elsewhere.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [elsewhere.quote, elsewhere.signature])),
    "UnauthorizedSigner",
    [c.accounts.delegate, c.accounts.seller],
  );
  // Nor reveal a sale of it.
  const owned = await makeQuote(c, { listingId: other });
  const otherSale = await openSale(c, owned);
  await expectRevert(
    c.send(c.wallets.delegate, escrowTx(c, "reveal", [otherSale.saleId, otherSale.sale, owned.kSale])),
    "NotSeller",
  );
  // After a transfer the new owner's listing has no delegate, and the old approval does not sign for it.
  await c.send(c.wallets.seller, {
    address: c.addresses.registry,
    abi: kosmosRegistryAbi,
    functionName: "transferFrom",
    args: [c.accounts.seller, c.accounts.carol, listingId],
  });
  assert.equal(await isDelegate(c, listingId, "delegate"), false);
  const stale = await makeQuote(c, { listingId, signer: "delegate" });
  await approve(c, "buyer", c.addresses.escrow, stale.quote.price);
  await expectRevert(
    c.send(c.wallets.buyer, escrowTx(c, "open", [stale.quote, stale.signature])),
    "UnauthorizedSigner",
    [c.accounts.delegate, c.accounts.carol],
  );
  await openSale(c, await makeQuote(c, { listingId, signer: "carol" }));
});

chainTest(
  "quote nonces are per signer: a delegate's nonces never burn the owner's",
  async (c, { listingId }) => {
    await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
    const used = (who: AccountName, nonce: bigint) =>
      c.publicClient.readContract({
        address: c.addresses.escrow,
        abi: kosmosEscrowAbi,
        functionName: "isNonceUsed",
        args: [c.accounts[who], nonce],
      });
    for (const nonce of [0n, 1n, 255n, 256n]) {
      await openSale(c, await makeQuote(c, { listingId, signer: "delegate", nonce }));
      assert.equal(await used("delegate", nonce), true);
      assert.equal(await used("seller", nonce), false);
      await openSale(c, await makeQuote(c, { listingId, signer: "seller", nonce }));
      assert.equal(await used("seller", nonce), true);
    }
    // A delegate cancels its own nonce, not the owner's.
    await c.send(c.wallets.delegate, escrowTx(c, "invalidateNonce", [7n]));
    assert.equal(await used("delegate", 7n), true);
    assert.equal(await used("seller", 7n), false);
  },
);

chainTest("open() refuses a second open of a sale id signed again by a delegate (SaleExists)", async (
  c,
  { listingId },
) => {
  await c.send(c.wallets.seller, escrowTx(c, "setDelegate", [listingId, c.accounts.delegate, true]));
  const q = await makeQuote(c, { listingId, price: 40n * ONE });
  const { saleId, sale } = await openSale(c, q);
  // The same quote signed by the delegate has the same digest (the sale id) and an unused nonce.
  const again = await c.wallets.delegate.signTypedData({
    domain: getEscrowDomain(31337, c.addresses.escrow),
    types: quoteTypes,
    primaryType: "Quote",
    message: q.quote,
  });
  await approve(c, "buyer", c.addresses.escrow, q.quote.price);
  await expectRevert(c.send(c.wallets.buyer, escrowTx(c, "open", [q.quote, again])), "SaleExists", [saleId]);
  // The first sale is intact: it still reveals and confirms with the stored state.
  const { sale: revealed } = await revealSale(c, saleId, sale, q.kSale);
  await c.send(c.wallets.buyer, escrowTx(c, "confirm", [saleId, revealed]));
  assert.equal(await escrowBalanceOf(c, c.accounts.seller), 32n * ONE);
});

chainTest("property: complain() refunds iff a DEK word Z yields is wrong, for random DEKs and kSales", async (
  c,
) => {
  const deksArb = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 3 });
  await fc.assert(
    fc.asyncProperty(
      deksArb,
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.option(fc.nat({ max: 2 })),
      async (
        rawDeks,
        rawFlip,
        flipWord,
      ) => {
        await withSnapshot(c, async () => {
          const deks = rawDeks.map((d) => bytesToHex(d));
          const wrong = flipWord !== null && flipWord < deks.length && rawFlip.some((b) => b !== 0);
          const zDeks = deks.map((d, i) =>
            wrong && i === flipWord
              ? numberToHex(hexToBigInt(d) ^ hexToBigInt(bytesToHex(rawFlip)), { size: 32 })
              : d
          );
          const listingId = await listDataset(c, "seller", { deks });
          const q = await makeQuote(c, { listingId, deks, zDeks, price: 5n * ONE });
          const opened = await openSale(c, q);
          const { sale } = await revealSale(c, opened.saleId, opened.sale, q.kSale);
          assert.deepEqual(decodeSaleKeys(q.z, q.kSale), zDeks);
          const complaint = c.send(
            c.wallets.buyer,
            escrowTx(c, "complain", [opened.saleId, sale, q.kSale, q.z]),
          );
          if (wrong) {
            const before = await balanceOf(c, c.accounts.buyer);
            await complaint;
            assert.equal(await balanceOf(c, c.accounts.buyer), before + 5n * ONE);
          } else {
            await expectRevert(complaint, "KeyIsValid");
          }
        });
      },
    ),
    { numRuns: 10 },
  );
});
