import assert from "node:assert/strict";
import fc from "fast-check";
import { zeroAddress } from "viem";
import { kosmosTokenAbi, kosmosTokenBytecode } from "../../protocol/contracts_generated.ts";
import { TOTAL_SUPPLY } from "../../node/services/chain/deploy.ts";
import { ACCOUNT_NAMES, contractCalls, createChainTest, expectRevert, ONE, withSnapshot } from "./chain.ts";
import { balanceOf, signPermit } from "./sale.ts";

const chainTest = createChainTest();

const { tx: tokenTx, read } = contractCalls("token", kosmosTokenAbi);

chainTest(
  "KosmosToken mints exactly 21,000,000 tokens with 18 decimals to the given recipients",
  async (c) => {
    assert.equal(await read(c, "totalSupply"), 21_000_000n * ONE);
    assert.equal(await read(c, "TOTAL_SUPPLY"), TOTAL_SUPPLY);
    assert.equal(await read(c, "decimals"), 18);
    assert.equal(await read(c, "name"), "Kosmos");
    assert.equal(await read(c, "symbol"), "KOS");
    // The rewards allocation (10,000,000) is split between the reserve and the mining contract.
    assert.equal(await balanceOf(c, c.accounts.reserve), 5_000_000n * ONE);
    assert.equal(await balanceOf(c, c.addresses.mining), 5_000_000n * ONE);
    assert.equal(await balanceOf(c, c.accounts.treasury), 10_000_000n * ONE);
    assert.equal(
      kosmosTokenAbi.some((item) => item.type === "function" && /mint/i.test(item.name)),
      false,
      "no mint function",
    );
  },
);

chainTest("the constructor rejects allocations that do not add up to the supply", async (c) => {
  const deploy = (recipients: `0x${string}`[], amounts: bigint[]) =>
    c.wallets.deployer.deployContract({
      abi: kosmosTokenAbi,
      bytecode: kosmosTokenBytecode,
      args: [recipients, amounts],
    });
  await expectRevert(deploy([c.accounts.alice], [TOTAL_SUPPLY - 1n]), "SupplyMismatch", [
    TOTAL_SUPPLY - 1n,
    TOTAL_SUPPLY,
  ]);
  await expectRevert(deploy([c.accounts.alice], [TOTAL_SUPPLY, 0n]), "AllocationLengthMismatch", [1n, 2n]);
  await expectRevert(deploy([zeroAddress], [TOTAL_SUPPLY]), "ERC20InvalidReceiver", [zeroAddress]);
});

chainTest("transfer() and transferFrom() revert with ERC-6093 errors", async (c) => {
  const balance = await balanceOf(c, c.accounts.alice);
  await expectRevert(
    c.send(c.wallets.alice, tokenTx(c, "transfer", [c.accounts.bob, balance + 1n])),
    "ERC20InsufficientBalance",
    [c.accounts.alice, balance, balance + 1n],
  );
  await expectRevert(
    c.send(c.wallets.alice, tokenTx(c, "transfer", [zeroAddress, 1n])),
    "ERC20InvalidReceiver",
  );
  await expectRevert(
    c.send(c.wallets.bob, tokenTx(c, "transferFrom", [c.accounts.alice, c.accounts.bob, 1n])),
    "ERC20InsufficientAllowance",
    [c.accounts.bob, 0n, 1n],
  );
  await c.send(c.wallets.alice, tokenTx(c, "approve", [c.accounts.bob, 5n]));
  await c.send(c.wallets.bob, tokenTx(c, "transferFrom", [c.accounts.alice, c.accounts.carol, 5n]));
  assert.equal(await balanceOf(c, c.accounts.alice), balance - 5n);
});

chainTest("permit() sets an allowance from a signature, once, before its deadline", async (c) => {
  const deadline = (await c.now()) + 600n;
  const sig = await signPermit(c, "alice", c.accounts.bob, 42n, deadline);
  const args = [c.accounts.alice, c.accounts.bob, 42n, deadline, Number(sig.v), sig.r, sig.s];
  await c.send(c.wallets.carol, tokenTx(c, "permit", args));
  assert.equal(await read(c, "allowance", [c.accounts.alice, c.accounts.bob]), 42n);
  await expectRevert(c.send(c.wallets.carol, tokenTx(c, "permit", args)), "ERC2612InvalidSigner");
  const late = await signPermit(c, "alice", c.accounts.bob, 1n, (await c.now()) + 5n);
  await c.warp(10);
  await expectRevert(
    c.send(
      c.wallets.carol,
      tokenTx(c, "permit", [
        c.accounts.alice,
        c.accounts.bob,
        1n,
        (await c.now()) - 5n,
        Number(late.v),
        late.r,
        late.s,
      ]),
    ),
    "ERC2612ExpiredSignature",
  );
});

chainTest(
  "property: the total supply and the sum of balances stay constant under random transfers",
  async (c) => {
    const users = ACCOUNT_NAMES.filter((n) => !["deployer", "treasury", "reserve", "arbiter"].includes(n));
    const transferArb = fc.record({
      from: fc.constantFrom(...users),
      to: fc.constantFrom(...users),
      amount: fc.bigInt({ min: 0n, max: 150_000n * ONE }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(transferArb, { minLength: 1, maxLength: 6 }), async (transfers) => {
        await withSnapshot(c, async () => {
          const sum = async () => {
            let total = 0n;
            for (const u of users) total += await balanceOf(c, c.accounts[u]);
            return total;
          };
          const before = await sum();
          for (const t of transfers) {
            const balance = await balanceOf(c, c.accounts[t.from]);
            const tx = c.send(c.wallets[t.from], tokenTx(c, "transfer", [c.accounts[t.to], t.amount]));
            if (t.amount > balance) await expectRevert(tx, "ERC20InsufficientBalance");
            else await tx;
          }
          assert.equal(await sum(), before);
          assert.equal(await read(c, "totalSupply"), TOTAL_SUPPLY);
        });
      }),
      { numRuns: 15 },
    );
  },
);
