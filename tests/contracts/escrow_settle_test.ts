/** The escrow after open(): reveal, confirm, complain, refund, finalize and withdraw. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Hex, parseEventLogs, zeroAddress } from "viem";
import {
  kosmosEscrowAbi,
  kosmosEscrowBytecode,
  kosmosRegistryAbi,
} from "../../protocol/contracts_generated.ts";
import { decodeSaleKeys, type Sale } from "../../protocol/quote.ts";
import { expectRevert, ONE, withSnapshot } from "./chain.ts";
import {
  balanceOf,
  chainTest,
  DAY,
  escrowBalanceOf,
  escrowTx,
  listDataset,
  makeQuote,
  openSale,
  randomBytes32,
  REFUND_NOT_REVEALED,
  REFUND_WRONG_KEY,
  revealSale,
} from "./sale.ts";

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
