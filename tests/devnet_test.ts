import assert from "node:assert/strict";
import { devnetNodes, startDevnet } from "./devnet.ts";
import { tempDir, waitFor } from "./helpers.ts";

Deno.test("deno task devnet: three nodes on one anvil and one deployment, funded with tokens, list each other as peers within 10 s and stop on Ctrl-C", async () => {
  const devnet = await startDevnet(["--nodes", "3", "--base-port", "0"], /3 nodes up/);
  try {
    const { out } = devnet;
    const nodes = await devnetNodes(out);
    const urls = nodes.map((n) => n.url);
    assert.equal(
      [...out.matchAll(/node \d UI \S+ \(data dir \S+\) · log in: http:\/\/127\.0\.0\.1:\d+\/login\?code=/g)]
        .length,
      3,
      "devnet prints every node's data dir and login link",
    );
    const tokens = new Map(nodes.map((n) => [n.url, n.token]));
    const owner = (u: string) => ({ headers: { Authorization: `Bearer ${tokens.get(u)}` } });
    const rpcUrl = out.match(/anvil at (\S+)/)![1];
    assert.equal(urls.length, 3);
    const infos = await waitFor("every node to list the two others", async () => {
      const infos = await Promise.all(
        urls.map(async (u) => await (await fetch(`${u}/api/v1/node`, owner(u))).json()),
      );
      return infos.every((i) => i.peers.length === 2) ? infos : undefined;
    }, { timeout: 10_000 });
    for (const info of infos) {
      const others = infos.filter((o) => o !== info).map((o) => o.peerId).sort();
      assert.deepEqual(info.peers, others);
      assert.equal(info.chain.rpcUrl, rpcUrl);
      assert.ok(BigInt(info.chain.balance) > 0n, "every wallet is funded");
    }
    const contracts = await Promise.all(
      urls.map(async (u) => (await (await fetch(`${u}/api/v1/chain`, owner(u))).json()).contracts),
    );
    assert.ok(contracts[0]?.registry, "the contracts are deployed");
    for (const c of contracts) assert.deepEqual(c, contracts[0], "every node uses the one deployment");
    for (const u of urls) {
      const wallet = await (await fetch(`${u}/api/v1/wallet`, owner(u))).json();
      assert.equal(wallet.balances.token, String(10_000n * 10n ** 18n), "every wallet holds devnet tokens");
    }
    assert.equal(await devnet.stop(), 0);
    for (const url of [...urls, rpcUrl]) {
      await assert.rejects(fetch(url), TypeError, `${url} still answers after devnet stopped`);
    }
  } finally {
    await devnet.stop();
  }
});

Deno.test("deno task devnet starts when port 7464 is busy: the node takes a free port and the devnet says so", async () => {
  let blocker: Deno.Listener | undefined;
  try {
    blocker = Deno.listen({ hostname: "127.0.0.1", port: 7464 });
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err; // busy already: just as good
  }
  try {
    const devnet = await startDevnet(["--nodes", "1"], /1 nodes up/);
    try {
      assert.match(devnet.out, /port 7464 is busy; node 0 takes a free port/);
      const url = devnet.out.match(/node 0 UI (http:\/\/127\.0\.0\.1:(\d+))/)!;
      assert.notEqual(url[2], "7464");
      const [{ token }] = await devnetNodes(devnet.out);
      const info =
        await (await fetch(`${url[1]}/api/v1/node`, { headers: { Authorization: `Bearer ${token}` } }))
          .json();
      assert.equal(info.network.name, "devnet", "the node runs on the devnet's profile");
    } finally {
      assert.equal(await devnet.stop(), 0);
    }
  } finally {
    blocker?.close();
  }
});

Deno.test("deno task devnet --data-dir keeps the chain, the profile and the nodes for a restart", async () => {
  await using dir = await tempDir("kosmos-devnet-kept-");
  const args = ["--nodes", "1", "--base-port", "0", "--data-dir", dir.path];
  const first = await startDevnet(args, /1 nodes up/);
  let registry: string;
  try {
    assert.match(first.out, /contracts deployed \(registry (0x[0-9a-fA-F]{40})/);
    registry = first.out.match(/registry (0x[0-9a-fA-F]{40})/)![1];
  } finally {
    assert.equal(await first.stop(), 0);
  }
  const profile = JSON.parse(await Deno.readTextFile(`${dir.path}/network.json`));
  assert.equal(profile.name, "devnet");
  assert.equal(profile.contracts.registry, registry);
  assert.ok((await Deno.stat(`${dir.path}/anvil-state.json`)).isFile, "anvil's state is kept");
  assert.ok((await Deno.stat(`${dir.path}/node-0/keys/node.key`)).isFile, "the node's data dir is kept");

  const second = await startDevnet(args, /1 nodes up/);
  try {
    assert.match(second.out, new RegExp(`contracts kept \\(registry ${registry}`));
    const url = second.out.match(/node 0 UI (http:\/\/127\.0\.0\.1:\d+)/)![1];
    const token = (await Deno.readTextFile(`${dir.path}/node-0/api-token`)).trim();
    const owner = { headers: { Authorization: `Bearer ${token}` } };
    const wallet = await (await fetch(`${url}/api/v1/wallet`, owner)).json();
    assert.equal(
      wallet.balances.token,
      String(10_000n * 10n ** 18n),
      "the wallet keeps its tokens, dripped once",
    );
    const chain = await (await fetch(`${url}/api/v1/chain`, owner)).json();
    assert.equal(chain.contracts.registry, registry);
  } finally {
    assert.equal(await second.stop(), 0);
  }
});
