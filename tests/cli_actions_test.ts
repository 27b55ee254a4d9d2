/**
 * The registry from the command line, against real nodes on one anvil with
 * our contracts: `kosmos publish --stake` lists in the same flow, `stake`
 * adds, `challenge`, `challenges` and `resolve` (by the arbiter's node) rule
 * on it, `withdraw-stake` requests and then withdraws, and `wallet` shows the
 * result. Every `--json` answer is checked against the contracts' state; a
 * signing command without a terminal and without `--yes` signs nothing and
 * exits with code 2, bad usage too, a refused action with code 1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import type { ChallengeView, WalletView } from "../protocol/api/mod.ts";
import { DEV_ACCOUNT_KEYS } from "../node/services/chain/anvil.ts";
import { makeCsv, tempDir } from "./helpers.ts";
import { kosmos, kosmosJson, readChainTime, readRegistryListing, readTokenBalance } from "./cli.ts";
import { startMarketCluster } from "./market_cluster.ts";

const ONE = 10n ** 18n;

Deno.test("kosmos publish --stake, stake, challenge, resolve, withdraw-stake and wallet act on the chain", async (t) => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-cli-actions-" });
  await using files = await tempDir("kosmos-cli-actions-files-");
  const seller = await cluster.start();
  // The arbiter's node: its wallet is the key the dev chain made arbiter.
  const arbiterKey = DEV_ACCOUNT_KEYS.find((key) => privateKeyToAccount(key).address === cluster.dev.arbiter);
  assert.ok(arbiterKey, "the dev chain's arbiter is an anvil account");
  const arbiterDir = await Deno.makeTempDir({ prefix: "kosmos-cli-actions-" });
  await Deno.mkdir(join(arbiterDir, "keys"), { mode: 0o700 });
  await Deno.writeTextFile(join(arbiterDir, "keys", "wallet.key"), arbiterKey, { mode: 0o600 });
  const arbiter = await cluster.start({ dataDir: arbiterDir });
  assert.equal(arbiter.address, cluster.dev.arbiter);

  const file = join(files.path, "readings.csv");
  await Deno.writeFile(file, makeCsv(300_000));
  const publish = ["publish", file, "--title", "Readings", "--category", "sensors", "--price", "5"];
  publish.push("--license", "CC-BY-4.0", "--stake", "100");
  let manifestCid = "";
  let listingId = 0n;
  const sellerTokens = await readTokenBalance(seller, seller.address);

  await t.step("publish --stake without --yes and without a terminal does nothing and exits 2", async () => {
    const run = await kosmos(seller, [...publish, "--json"]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /--yes/);
    assert.equal((await seller.facade.listListings()).total, 0, "nothing was published");
  });

  await t.step("publish --stake --yes publishes and lists in one flow", async () => {
    const out = await kosmosJson<{
      manifestCid: string;
      stake: { listingId: string; stake: string; created: boolean; txHash: string };
    }>(seller, [...publish, "--yes"]);
    manifestCid = out.manifestCid;
    listingId = BigInt(out.stake.listingId);
    assert.equal(out.stake.created, true);
    assert.match(out.stake.txHash, /^0x[0-9a-f]{64}$/);
    const onChain = await readRegistryListing(seller, listingId);
    assert.equal(onChain.stake, 100n * ONE);
    assert.equal(BigInt(out.stake.stake), onChain.stake);
    assert.equal(await readTokenBalance(seller, seller.address), sellerTokens - 100n * ONE);
  });

  await t.step("stake adds to the listing; without --yes it signs nothing", async () => {
    const refused = await kosmos(seller, ["stake", String(listingId), "--amount", "50"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Network fee: at most [\d.]+ ETH/);
    assert.equal((await readRegistryListing(seller, listingId)).stake, 100n * ONE);

    const out = await kosmosJson<{ listingId: string; stake: string; created: boolean }>(seller, [
      "stake",
      String(listingId),
      "--amount",
      "50",
      "--yes",
    ]);
    assert.equal(out.created, false);
    assert.equal(out.listingId, String(listingId));
    assert.equal((await readRegistryListing(seller, listingId)).stake, 150n * ONE);
    assert.equal(BigInt(out.stake), 150n * ONE);

    const bad = await kosmos(seller, ["stake", manifestCid, "--amount", "lots", "--yes"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^kosmos: stake: --amount "lots" is not a positive token amount/);
  });

  await t.step("challenge and challenges show the open challenge on the chain", async () => {
    const out = await kosmosJson<{ listingId: string; challengeCount: number }>(arbiter, [
      "challenge",
      String(listingId),
      "--amount",
      "10",
      "--yes",
    ]);
    assert.deepEqual([out.listingId, out.challengeCount], [String(listingId), 1]);
    const onChain = await readRegistryListing(seller, listingId);
    assert.deepEqual([onChain.challengeCount, onChain.challenged], [1, 10n * ONE]);

    const { challenges } = await kosmosJson<{ challenges: ChallengeView[] }>(arbiter, ["challenges"]);
    const open = challenges.find((c) => c.listingId === String(listingId));
    assert.ok(open, JSON.stringify(challenges));
    assert.equal(open.manifestCid, manifestCid);
    assert.equal(open.challenged, String(10n * ONE));
    assert.deepEqual(open.challenges, [{ challenger: arbiter.address, amount: String(10n * ONE) }]);
    // Past the review period the arbiter may rule, whatever the challenged amount.
    await cluster.increaseTime(Math.max(0, open.reviewableAt - await readChainTime(seller)) + 1);
  });

  await t.step(
    "resolve is refused to a node that is not the arbiter, and rules for the arbiter",
    async () => {
      const usage = await kosmos(arbiter, ["resolve", String(listingId), "--yes"]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /exactly one of --valid and --invalid/);
      const refused = await kosmos(seller, ["resolve", String(listingId), "--valid", "--yes"]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
      assert.match(refused.stderr, /^kosmos: resolve: .*\(403\)/);

      const ownerBefore = await readTokenBalance(seller, seller.address);
      const out = await kosmosJson<{ valid: boolean; toOwner: string; toChallengers: string }>(arbiter, [
        "resolve",
        manifestCid,
        "--valid",
        "--yes",
      ]);
      assert.equal(out.valid, true);
      assert.equal(out.toChallengers, "0");
      const onChain = await readRegistryListing(seller, listingId);
      assert.deepEqual([onChain.challengeCount, onChain.challenged, onChain.stake], [0, 0n, 150n * ONE]);
      assert.equal(await readTokenBalance(seller, seller.address), ownerBefore + BigInt(out.toOwner));
    },
  );

  await t.step("withdraw-stake requests, refuses before the delay, then withdraws", async () => {
    const requested = await kosmosJson<{ status: string; withdrawableAt: number }>(seller, [
      "withdraw-stake",
      String(listingId),
      "--yes",
    ]);
    assert.equal(requested.status, "requested");
    assert.equal((await readRegistryListing(seller, listingId)).withdrawableAt, requested.withdrawableAt);

    const early = await kosmos(seller, ["withdraw-stake", manifestCid, "--yes"]);
    assert.equal(early.code, 1);
    assert.equal(early.stderr.trim().split("\n").length, 1, early.stderr);
    assert.match(early.stderr, /^kosmos: withdraw-stake: .*WithdrawalTooEarly/);
    assert.equal((await readRegistryListing(seller, listingId)).stake, 150n * ONE);

    const before = await readTokenBalance(seller, seller.address);
    await cluster.increaseTime(requested.withdrawableAt - await readChainTime(seller) + 1);
    const withdrawn = await kosmosJson<{ status: string; amount: string }>(seller, [
      "withdraw-stake",
      manifestCid,
      "--yes",
    ]);
    assert.equal(withdrawn.status, "withdrawn");
    assert.equal(BigInt(withdrawn.amount), 150n * ONE);
    assert.equal((await readRegistryListing(seller, listingId)).stake, 0n);
    assert.equal(await readTokenBalance(seller, seller.address), before + 150n * ONE);
  });

  await t.step("wallet shows the chain's balances and no stakes left", async () => {
    const wallet = await kosmosJson<WalletView>(seller, ["wallet"]);
    assert.equal(wallet.address, seller.address);
    assert.equal(wallet.arbiter, false);
    assert.equal(wallet.balances.token, String(await readTokenBalance(seller, seller.address)));
    assert.deepEqual(wallet.stakes, []);
    assert.equal((await kosmosJson<WalletView>(arbiter, ["wallet"])).arbiter, true);
    const text = await kosmos(seller, ["wallet"]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`Wallet ${seller.address}`));
    assert.match(text.stdout, /Stakes {3}none/);
  });
});

Deno.test("kosmos help lists every client command, and an unknown one exits 2", async () => {
  await using cluster = await startMarketCluster({ prefix: "kosmos-cli-help-" });
  const node = await cluster.start();
  const help = await kosmos(node, ["help"]);
  assert.equal(help.code, 0);
  for (
    const name of [
      "publish",
      "stake",
      "withdraw-stake",
      "challenge",
      "challenges",
      "resolve",
      "delegates",
      "exports",
      "deliveries",
      "gateway",
      "wallet",
      "withdraw",
      "sites",
      "listings",
    ]
  ) assert.match(help.stdout, new RegExp(`kosmos ${name}\\b`));
  const unknown = await kosmos(node, ["stakes"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^kosmos: unknown command "stakes"/);
  const flag = await kosmos(node, ["wallet", "--colour"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^kosmos: wallet: unknown flag --colour/);
});
