/**
 * The faucet of a dev network over real HTTP, from a caller without the owner's token (a peer
 * joining the network): a node on its embedded `local` network gives test tokens and ether to
 * any address, once per address per cooldown and a few times per caller, and a node on a network
 * that is not a dev network has no faucet at all.
 */
import assert from "node:assert/strict";
import { createPublicClient, createWalletClient, http, parseEther, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createNode, type KosmosNode } from "../node/node.ts";
import { DEV_ACCOUNT_KEYS, startAnvil } from "../node/services/chain/anvil.ts";
import { toViemChain } from "../node/services/chain/viem_chain.ts";
import { deployContracts } from "../node/services/chain/deploy.ts";
import { getContractsPath, getTokenBalance, writeContractsFile } from "../node/services/chain/mod.ts";
import { tempDir, testLogger } from "./helpers.ts";
import { kosmos } from "./cli.ts";

const DRIP = 10_000n * 10n ** 18n;

async function startNode(dataDir: string, rpcUrl?: string): Promise<KosmosNode> {
  const node = await createNode(
    { dataDir, port: 0, listen: ["/ip4/127.0.0.1/tcp/0"], ...(rpcUrl && { rpcUrl }) },
    { logger: testLogger() },
  );
  await node.start();
  return node;
}

/** A POST to the node's faucet as a stranger: no token, no cookie. */
function askFaucet(node: KosmosNode, body?: unknown, query = "") {
  return fetch(`${node.url}/api/v1/faucet${query}`, {
    method: "POST",
    ...(body !== undefined &&
      { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
}

const fresh = (n: number) =>
  privateKeyToAccount(`0x${(0xfa0000 + n).toString(16).padStart(64, "0")}`).address;

Deno.test("POST /api/v1/faucet on the local network sends test tokens and ether to any address, once per address, and bounds each caller", async () => {
  await using dir = await tempDir("kosmos-faucet-");
  const node = await startNode(dir.path);
  try {
    const client = node.components.chain.client;
    const publicClient = client.publicClient;
    const info = await (await fetch(`${node.url}/api/v1/faucet`)).json();
    assert.equal(info.amount, DRIP.toString());
    assert.equal(info.address, node.address);
    assert.ok(info.nextDripAt > 0, "the node took its starting balance from the faucet");

    // 1: a stranger asks for a fresh address, which gets the tokens and an ether top-up for gas.
    const first = await askFaucet(node, { address: fresh(1).toLowerCase() });
    const drip = await first.json();
    assert.equal(first.status, 200, JSON.stringify(drip));
    assert.equal(drip.address, fresh(1));
    assert.equal(drip.tokens, DRIP.toString());
    assert.equal(drip.eth, parseEther("1").toString());
    assert.ok(BigInt(drip.gasUsed) > 0n && BigInt(drip.effectiveGasPrice) > 0n);
    assert.equal(await getTokenBalance(client, { address: fresh(1) }), DRIP);
    assert.equal(await publicClient.getBalance({ address: fresh(1) }), parseEther("1"));

    // 2: the same address again within the hour: 429 with Retry-After, nothing sent.
    const again = await askFaucet(node, { address: fresh(1) });
    assert.equal(again.status, 429);
    const retry = Number(again.headers.get("retry-after"));
    assert.ok(retry > 3500 && retry <= 3600, `Retry-After ${retry}`);
    assert.match((await again.json()).error.message, /less than a cooldown ago/);
    assert.equal(await getTokenBalance(client, { address: fresh(1) }), DRIP);

    // 3: no body means the node's own wallet, which had its drip at deployment.
    const self = await askFaucet(node);
    assert.equal(self.status, 429);
    await self.body?.cancel();
    assert.equal(await getTokenBalance(client), DRIP);

    // Bad input is refused before anything is counted or sent.
    for (const body of [{ address: "0x1234" }, { address: 7 }, { to: fresh(2) }, [fresh(2)]]) {
      const bad = await askFaucet(node, body);
      assert.equal(bad.status, 422, JSON.stringify(body));
      assert.equal((await bad.json()).error.code, "unprocessable");
    }

    // 4: a preview estimates the node's fee and sends nothing.
    const preview = await askFaucet(node, { address: fresh(2) }, "?preview=1");
    const p = await preview.json();
    assert.equal(preview.status, 200, JSON.stringify(p));
    assert.deepEqual([p.preview, p.paidBy, p.tokens], [true, "node", DRIP.toString()]);
    assert.ok(BigInt(p.fee.fee) > 0n);
    assert.equal(await getTokenBalance(client, { address: fresh(2) }), 0n);

    // 5: that address for real; the previewed gas is the drip's within 10 %.
    const second = await askFaucet(node, { address: fresh(2) });
    const sent = await second.json();
    assert.equal(second.status, 200, JSON.stringify(sent));
    const [estimated, used] = [Number(p.fee.gas), Number(sent.gasUsed)];
    assert.ok(Math.abs(estimated - used) <= used / 10, `previewed ${estimated} gas, used ${used}`);
    // 6: the caller has used its five requests.
    const flooded = await askFaucet(node, { address: fresh(3) });
    assert.equal(flooded.status, 429);
    assert.match((await flooded.json()).error.message, /Too many faucet requests from you/);
    assert.ok(Number(flooded.headers.get("retry-after")) > 0);
    assert.equal(await getTokenBalance(client, { address: fresh(3) }), 0n);
  } finally {
    await node.stop();
  }
});

Deno.test("a node on a network that is not a dev network has no faucet: 404 for GET and POST, and nothing sent", async () => {
  await using anvil = await startAnvil({ chainId: 1337 });
  await using dir = await tempDir("kosmos-faucet-");
  // The contracts, with a faucet, on a chain that is not a dev chain.
  const chain = toViemChain(1337, [anvil.rpcUrl], "not a dev chain");
  const account = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]);
  const transport = http(anvil.rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 });
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval: 100 });
  const contracts = await deployContracts(walletClient, publicClient as PublicClient, {
    arbiter: account.address,
    treasury: account.address,
    rewardsReserve: account.address,
    faucetContract: {},
  });
  await writeContractsFile(getContractsPath(dir.path), { chainId: 1337, contracts });
  const node = await startNode(dir.path, anvil.rpcUrl);
  try {
    assert.ok(node.components.chain.contracts?.faucet);
    for (
      const response of [
        await fetch(`${node.url}/api/v1/faucet`),
        await askFaucet(node, { address: fresh(9) }),
      ]
    ) {
      const body = await response.json();
      assert.equal(response.status, 404, JSON.stringify(body));
      assert.match(body.error.message, /not a dev network/);
    }
    assert.equal(
      await publicClient.getTransactionCount({ address: node.address }),
      0,
      "the node signed nothing",
    );
  } finally {
    await node.stop();
  }
});

Deno.test("kosmos faucet [ADDRESS] --json asks the node's faucet, and says why when it cannot", async () => {
  await using dir = await tempDir("kosmos-faucet-cli-");
  const node = await startNode(dir.path);
  try {
    const drip = await kosmos(node, ["faucet", fresh(20), "--json"]);
    assert.equal(drip.code, 0, drip.stderr);
    const body = drip.json<{ address: string; tokens: string; txHash: string }>();
    assert.deepEqual([body.address, body.tokens], [fresh(20), DRIP.toString()]);
    assert.equal(await getTokenBalance(node.components.chain.client, { address: fresh(20) }), DRIP);
    // The node's own wallet had its drip when it deployed the contracts.
    const self = await kosmos(node, ["faucet"]);
    assert.equal(self.code, 1);
    assert.equal(self.stdout, "");
    assert.match(self.stderr, /faucet: cannot get test tokens: .*less than a cooldown ago.*\(429\)/);
    const bad = await kosmos(node, ["faucet", "0x12", "--json"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not an address/);
  } finally {
    await node.stop();
  }
});
