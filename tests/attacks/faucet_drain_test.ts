/**
 * Attack: drain a dev network's faucet. The faucet route is public (nodes
 * joining the network ask there without the owner's token), so an attacker
 * on the network asks it for a fresh address again and again, forging
 * `X-Forwarded-For` to look like many clients, and also calls the faucet
 * contract directly from an account of its own with a fresh address each
 * time. Test tokens are worthless, but the drain must stay bounded: the node
 * signs at most its per-caller burst of drips for one client, and the
 * contract gives at most its drips per period to everyone together.
 */
import assert from "node:assert/strict";
import { createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEV_ACCOUNT_KEYS } from "../../node/services/chain/anvil.ts";
import { getFaucetTerms, getTokenBalance } from "../../node/services/chain/mod.ts";
import { kosmosFaucetAbi } from "../../protocol/contracts_generated.ts";
import { startAppNode } from "../node_app.ts";

const victimAddress = (n: number) =>
  privateKeyToAccount(`0x${(0xd7a1000 + n).toString(16).padStart(64, "0")}`).address;

Deno.test("attack: a flood of faucet requests for fresh addresses gets one caller's burst over HTTP and one period's drips from the contract", async () => {
  await using started = await startAppNode("kosmos-attack-faucet-");
  const { node } = started;
  const client = node.components.chain.client;
  const { publicClient } = client;
  const nonceBefore = await publicClient.getTransactionCount({ address: node.address });

  // Over HTTP, as 30 "clients" (a forged X-Forwarded-For each), for 30 fresh addresses.
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await fetch(`${node.url}/api/v1/faucet`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${i}` },
      body: JSON.stringify({ address: victimAddress(i) }),
    });
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.deepEqual(statuses.filter((s) => s === 200).length, 5, `statuses ${statuses}`);
  assert.ok(statuses.slice(5).every((s) => s === 429), "everything after the burst is refused");
  assert.equal(
    await publicClient.getTransactionCount({ address: node.address }),
    nonceBefore + 5,
    "the node signed one transaction per drip it gave, and no more",
  );

  // Straight to the contract, paying its own gas: one period's drips in all, then FaucetBusy.
  const terms = await getFaucetTerms(client);
  // From the start of a fresh period, so the whole flood falls in one.
  const { timestamp } = await publicClient.getBlock();
  const toNextPeriod = terms.cooldown - Number(timestamp % BigInt(terms.cooldown));
  await publicClient.request({ method: "evm_increaseTime" as never, params: [toNextPeriod] as never });
  await publicClient.request({ method: "evm_mine" as never, params: [] as never });
  const attacker = createWalletClient({
    chain: client.walletClient.chain,
    transport: http(node.components.chain.rpcUrl),
    account: privateKeyToAccount(DEV_ACCOUNT_KEYS[3]),
  });
  let given = 0;
  let refusal = "";
  for (let i = 100; i < 100 + terms.maxDripsPerPeriod + 5 && !refusal; i++) {
    try {
      const { request } = await publicClient.simulateContract({
        address: client.contracts.faucet!,
        abi: kosmosFaucetAbi,
        functionName: "drip",
        args: [victimAddress(i)],
        account: attacker.account,
      });
      await publicClient.waitForTransactionReceipt({ hash: await attacker.writeContract(request) });
      given++;
    } catch (err) {
      refusal = (err as Error).message;
    }
  }
  assert.match(refusal, /FaucetBusy/);
  assert.equal(given, terms.maxDripsPerPeriod, "one period's drips, then none");
  const drained = (await getFaucetTerms(client)).tokens;
  assert.ok(
    terms.tokens - drained <= BigInt(terms.maxDripsPerPeriod) * terms.amount,
    "at most one period's drips left the faucet",
  );
  assert.equal(await getTokenBalance(client, { address: victimAddress(100 + given) }), 0n);
});
