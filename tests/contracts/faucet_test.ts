import assert from "node:assert/strict";
import fc from "fast-check";
import { type Address, parseEther, parseEventLogs, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { kosmosFaucetAbi, kosmosFaucetBytecode, kosmosTokenAbi } from "../../protocol/contracts_generated.ts";
import { type ContractAddresses, deployContracts, TOTAL_SUPPLY } from "../../node/services/chain/deploy.ts";
import { createChainTest, expectRevert, ONE, type TestChain, withSnapshot } from "./chain.ts";

const COOLDOWN = 3600;
const MAX_DRIPS = 3;
const DRIP = 100n * ONE;
const ETH = parseEther("1");

/** A dev network's deployment: the treasury's allocation goes to a faucet, which gets 10 ether. */
const chainTest = createChainTest(async (c) => {
  const addresses = await deployContracts(c.wallets.deployer, c.publicClient, {
    arbiter: c.accounts.arbiter,
    treasury: c.accounts.treasury,
    rewardsReserve: c.accounts.reserve,
    faucetContract: { amount: DRIP, ethAmount: ETH, cooldown: COOLDOWN, maxDripsPerPeriod: MAX_DRIPS },
    timeout: 10_000,
  });
  await c.testClient.setBalance({ address: addresses.faucet!, value: parseEther("10") });
  return addresses;
});

const balanceOf = (c: TestChain, a: ContractAddresses, address: Address) =>
  c.publicClient.readContract({
    address: a.token,
    abi: kosmosTokenAbi,
    functionName: "balanceOf",
    args: [address],
  });
const drip = (c: TestChain, a: ContractAddresses, to: Address, from = c.wallets.alice) =>
  c.send(from, { address: a.faucet!, abi: kosmosFaucetAbi, functionName: "drip", args: [to] });
const nextDripAt = (c: TestChain, a: ContractAddresses, to: Address) =>
  c.publicClient.readContract({
    address: a.faucet!,
    abi: kosmosFaucetAbi,
    functionName: "nextDripAt",
    args: [to],
  });
/** A fresh address with no ether and no tokens. */
const freshAddress = (seed: number) =>
  privateKeyToAccount(`0x${(seed + 1).toString(16).padStart(64, "0")}`).address;

/** Moves the clock to the start of the next faucet period. */
async function warpToNextPeriod(c: TestChain) {
  const now = await c.now();
  await c.warp(BigInt(COOLDOWN) - (now % BigInt(COOLDOWN)));
}

chainTest(
  "deployContracts() with a faucet mints the treasury's allocation to it and none to the treasury",
  async (c, a) => {
    assert.ok(a.faucet);
    assert.equal(await balanceOf(c, a, a.faucet), TOTAL_SUPPLY - 10_000_000n * ONE);
    assert.equal(await balanceOf(c, a, c.accounts.reserve), 5_000_000n * ONE);
    assert.equal(await balanceOf(c, a, a.mining), 5_000_000n * ONE);
    assert.equal(await balanceOf(c, a, c.accounts.treasury), 0n);
    assert.equal(await balanceOf(c, a, c.accounts.deployer), 0n, "the deployer keeps nothing");
    const read = (functionName: string) =>
      c.publicClient.readContract({ address: a.faucet!, abi: kosmosFaucetAbi, functionName } as never);
    assert.deepEqual(
      await Promise.all(["token", "amount", "ethAmount", "cooldown", "maxDripsPerPeriod"].map(read)),
      [a.token, DRIP, ETH, BigInt(COOLDOWN), BigInt(MAX_DRIPS)],
    );
  },
);

chainTest(
  "drip() sends tokens and tops ether up to its amount, once per cooldown per address",
  async (c, a) => {
    await warpToNextPeriod(c);
    const to = freshAddress(1);
    const { logs } = await drip(c, a, to);
    const [dripped] = parseEventLogs({ abi: kosmosFaucetAbi, logs, eventName: "Dripped" });
    assert.deepEqual(dripped.args, { to, tokens: DRIP, eth: ETH });
    assert.equal(await balanceOf(c, a, to), DRIP);
    assert.equal(await c.publicClient.getBalance({ address: to }), ETH);
    const availableAt = (await c.now()) + BigInt(COOLDOWN);
    assert.equal(await nextDripAt(c, a, to), availableAt);
    // Someone else asking for the same address changes nothing.
    await expectRevert(drip(c, a, to, c.wallets.bob), "FaucetCooldown", [to, availableAt]);
    await c.warp(COOLDOWN);
    const second = await drip(c, a, to);
    const [again] = parseEventLogs({ abi: kosmosFaucetAbi, logs: second.logs, eventName: "Dripped" });
    assert.equal(again.args.eth, 0n, "an address that still has its ether gets none");
    assert.equal(await balanceOf(c, a, to), 2n * DRIP);
    // An address with plenty of ether gets tokens only.
    const before = await c.publicClient.getBalance({ address: c.accounts.carol });
    await drip(c, a, c.accounts.carol);
    assert.equal(await c.publicClient.getBalance({ address: c.accounts.carol }), before);
  },
);

chainTest("drip() gives at most maxDripsPerPeriod drips a period, whatever the addresses", async (c, a) => {
  await warpToNextPeriod(c);
  for (let i = 0; i < MAX_DRIPS; i++) await drip(c, a, freshAddress(10 + i));
  const now = await c.now();
  const periodEnd = now - (now % BigInt(COOLDOWN)) + BigInt(COOLDOWN);
  await expectRevert(drip(c, a, freshAddress(99)), "FaucetBusy", [periodEnd]);
  assert.equal(await balanceOf(c, a, freshAddress(99)), 0n);
  await warpToNextPeriod(c);
  await drip(c, a, freshAddress(99));
  assert.equal(await balanceOf(c, a, freshAddress(99)), DRIP);
});

chainTest(
  "drip() refuses the zero address and an empty faucet; the constructor refuses zero terms",
  async (c) => {
    const small = await deployContracts(c.wallets.deployer, c.publicClient, {
      arbiter: c.accounts.arbiter,
      treasury: c.accounts.treasury,
      rewardsReserve: c.accounts.reserve,
      faucetContract: {
        supply: 150n * ONE,
        amount: DRIP,
        ethAmount: 0n,
        cooldown: COOLDOWN,
        maxDripsPerPeriod: 10,
      },
      timeout: 10_000,
    });
    assert.equal(
      await balanceOf(c, small, c.accounts.treasury),
      TOTAL_SUPPLY - 10_000_000n * ONE - 150n * ONE,
    );
    await expectRevert(drip(c, small, zeroAddress), "ZeroRecipient");
    await drip(c, small, freshAddress(1));
    assert.equal(
      await c.publicClient.getBalance({ address: freshAddress(1) }),
      0n,
      "no ether amount: no ether",
    );
    await expectRevert(drip(c, small, freshAddress(2)), "FaucetEmpty", [50n * ONE, DRIP]);
    const deploy = (amount: bigint, cooldown: bigint, max: bigint) =>
      c.wallets.deployer.deployContract({
        abi: kosmosFaucetAbi,
        bytecode: kosmosFaucetBytecode,
        args: [{ token: small.token, amount, ethAmount: 0n, cooldown, maxDripsPerPeriod: max }],
      });
    await expectRevert(deploy(0n, 1n, 1n), "InvalidFaucetConfig");
    await expectRevert(deploy(1n, 0n, 1n), "InvalidFaucetConfig");
    await expectRevert(deploy(1n, 1n, 0n), "InvalidFaucetConfig");
  },
);

chainTest(
  "whatever the order of drips and waits, no address gets two drips within a cooldown and no period more than its limit",
  async (c, a) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.nat({ max: 4 }).map((who) => ({ who })),
            fc.nat({ max: 2 * COOLDOWN }).map((wait) => ({ wait })),
          ),
          {
            maxLength: 12,
          },
        ),
        async (steps) => {
          await withSnapshot(c, async () => {
            const last = new Map<number, bigint>();
            const perPeriod = new Map<bigint, number>();
            for (const step of steps) {
              if ("wait" in step) {
                if (step.wait > 0) await c.warp(step.wait);
                continue;
              }
              const to = freshAddress(200 + step.who);
              if (!await drip(c, a, to).then(() => true, () => false)) continue;
              // Automining: the latest block is the drip's.
              const now = await c.now();
              const period = now - (now % BigInt(COOLDOWN));
              const prior = last.get(step.who);
              assert.ok(prior === undefined || now >= prior + BigInt(COOLDOWN), `two drips to ${step.who}`);
              assert.ok((perPeriod.get(period) ?? 0) < MAX_DRIPS, `too many drips in period ${period}`);
              last.set(step.who, now);
              perPeriod.set(period, (perPeriod.get(period) ?? 0) + 1);
            }
          });
        },
      ),
      { numRuns: 15 },
    );
  },
);
