import assert from "node:assert/strict";
import { waitFor } from "./helpers.ts";

Deno.test("deno task devnet: three nodes on one anvil and one deployment, funded with tokens, list each other as peers within 10 s and stop on Ctrl-C", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../scripts/devnet.ts", import.meta.url).pathname,
      "--nodes",
      "3",
      "--base-port",
      "0",
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!out.includes("3 nodes up")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`devnet exited early:\n${out}`);
      out += value;
    }
    const urls = [...out.matchAll(/node \d UI (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]);
    const dirs = [
      ...out.matchAll(/node \d UI \S+ \(data dir (\S+)\) · log in: http:\/\/127\.0\.0\.1:\d+\/login\?code=/g),
    ]
      .map((m) => m[1]);
    assert.equal(dirs.length, 3, "devnet prints every node's data dir and login link");
    const tokens = new Map(
      await Promise.all(
        urls.map(async (u, i) => [u, (await Deno.readTextFile(`${dirs[i]}/api-token`)).trim()] as const),
      ),
    );
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
    child.kill("SIGINT");
    assert.equal((await child.status).code, 0);
    for (const url of [...urls, rpcUrl]) {
      await assert.rejects(fetch(url), TypeError, `${url} still answers after devnet stopped`);
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await reader.cancel().catch(() => {});
    await child.status;
  }
});
