/**
 * A home node behind NAT sells to a buyer on the internet, in Linux network
 * namespaces (`netns.ts`): a router that masquerades, a public relay node
 * (which also runs the chain), the home node on the LAN behind the router, and
 * a buyer outside. The home node reserves a slot on the relay, the buyer buys
 * its dataset and downloads it, and the test prints whether the two ended up
 * with a direct connection (DCUtR, or the home node dialling out) or stayed
 * relayed. Needs root, `ip` and `nft`; skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { anvilBinary } from "../node/services/chain/anvil.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/contracts.ts";
import type { NodeInfo } from "../protocol/api/mod.ts";
import { asOwner, makeCsv, waitFor } from "./helpers.ts";
import {
  createNatLab,
  HOME_API_PORT,
  HOME_LAN,
  INTERNET,
  type Namespace,
  type NatLab,
  netnsUnavailable,
} from "./netns.ts";

const main = new URL("../node/main.ts", import.meta.url).pathname;
// Runs where network namespaces can be made: as root, with `ip` (iproute2) and `nft` (nftables).
const skip = await netnsUnavailable();
if (skip) console.log(`nat_test: skipped: ${skip}`);

interface LabNode {
  peerId: string;
  address: `0x${string}`;
  api: string;
  token: string;
  child: Deno.ChildProcess;
}

const bracket = (ip: string) => `[${ip}]`;

/** Starts `node/main.ts` inside `ns`, listening for libp2p and HTTP on `ip`. */
async function startNode(
  lab: NatLab,
  ns: Namespace,
  ip: string,
  options: { rpcUrl: string; contracts: Parameters<typeof writeContractsFile>[1]; args?: string[] },
  dirs: string[],
): Promise<LabNode> {
  const dataDir = await Deno.makeTempDir({ prefix: `kosmos-nat-${ns}-` });
  dirs.push(dataDir);
  await writeContractsFile(getContractsPath(dataDir), options.contracts);
  const child = lab.spawn(ns, [
    Deno.execPath(),
    "run",
    "-A",
    main,
    ...["--data-dir", dataDir, "--host", ip, "--port", String(HOME_API_PORT)],
    ...["--listen", `/ip6/${ip}/tcp/4001`, "--rpc-url", options.rpcUrl, "--log-level", "warn"],
    ...(options.args ?? []),
  ], { stdout: "piped", stderr: "inherit", stdin: "null", env: { NO_COLOR: "1" } });
  const reader = child.stdout!.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/Kosmos UI: (\S+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the ${ns} node exited before it was up:\n${out}`);
    out += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  const [, peerId, address] = out.match(/Kosmos node (\S+) · wallet (0x[0-9a-fA-F]{40})/)!;
  return {
    peerId,
    address: address as `0x${string}`,
    api: `http://${bracket(ip)}:${HOME_API_PORT}`,
    token: (await Deno.readTextFile(`${dataDir}/api-token`)).trim(),
    child,
  };
}

async function call<T>(node: LabNode, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(
    `${node.api}${path}`,
    asOwner(node.token, { signal: AbortSignal.timeout(60_000), ...init }),
  );
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

const postJson = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

Deno.test({
  name: "a home node behind NAT is reached through a relay and sells a dataset to a buyer on the internet",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const lab = await createNatLab();
  const children: Deno.ChildProcess[] = [];
  const dirs: string[] = [];
  try {
    const anvil = lab.spawn("kz-relay", [
      anvilBinary(),
      ...["--host", INTERNET.relay, "--port", "8545", "--chain-id", "31337", "--no-request-size-limit"],
    ], { stdout: "null", stderr: "null", stdin: "null" });
    children.push(anvil);
    const rpcUrl = `http://${bracket(INTERNET.relay)}:8545`;
    await waitFor("anvil in the relay's namespace", async () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
      return await fetch(rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then((r) => r.ok ? r.body?.cancel().then(() => true) : false, () => false);
    }, { timeout: 30_000 });
    const dev = await setUpDevChain(rpcUrl);
    const contracts = { chainId: 31337, contracts: dev.contracts };

    // The relay listens on a public address, so it relays for others without being told.
    const relay = await startNode(lab, "kz-relay", INTERNET.relay, { rpcUrl, contracts }, dirs);
    children.push(relay.child);
    const bootstrap = `/ip6/${INTERNET.relay}/tcp/4001/p2p/${relay.peerId}`;
    const home = await startNode(lab, "kz-home", HOME_LAN.home, {
      rpcUrl,
      contracts,
      args: ["--bootstrap", bootstrap],
    }, dirs);
    children.push(home.child);
    const buyer = await startNode(lab, "kz-buyer", INTERNET.buyer, {
      rpcUrl,
      contracts,
      args: ["--bootstrap", bootstrap, "--relay", "off"],
    }, dirs);
    children.push(buyer.child);
    await dev.fund(home.address);
    await dev.fund(buyer.address);

    const relayInfo = await call<NodeInfo>(relay, "/api/v1/node");
    assert.equal(relayInfo.reachability.relaying, true, "a node listening on a public address relays");

    // The home node holds a reservation on the relay and says it is private.
    const homeInfo = await waitFor("the home node's relay reservation", async () => {
      const info = await call<NodeInfo>(home, "/api/v1/node");
      return info.reachability.relayAddresses.some((a) => a.includes(`/p2p/${relay.peerId}/p2p-circuit`))
        ? info
        : undefined;
    }, { timeout: 30_000 });
    console.log(`nat_test: the home node holds a relay slot: ${homeInfo.reachability.relayAddresses[0]}`);
    assert.notEqual(homeInfo.reachability.status, "public");
    assert.equal(homeInfo.reachability.relaying, false);

    // The home node publishes and lists a dataset; the buyer buys it and downloads it.
    const data = makeCsv(256 * 1024);
    const form = new FormData();
    for (
      const [k, v] of Object.entries({
        title: "Home readings",
        category: "sensors",
        price: "1",
        license: "CC-BY-4.0",
      })
    ) {
      form.set(k, v);
    }
    form.set("file", new Blob([data]), "readings.csv");
    const { manifestCid } = await call<{ manifestCid: string }>(home, "/api/v1/datasets", {
      method: "POST",
      body: form,
    });
    console.log(`nat_test: the home node published ${manifestCid}; staking`);
    await call(home, "/api/v1/stakes", postJson({ manifestCid, amount: "100" }));
    console.log("nat_test: staked");
    for (const [name, node] of [["relay", relay], ["buyer", buyer]] as const) {
      await waitFor(`the listing on the ${name}`, async () => {
        const r = await fetch(`${node.api}/api/v1/listings/${manifestCid}`, asOwner(node.token));
        await r.body?.cancel();
        return r.ok;
      }, { timeout: 60_000, interval: 250 }).catch(async (err) => {
        const info = await call<NodeInfo>(node, "/api/v1/node");
        console.log(`nat_test: the ${name} node: ${JSON.stringify({ ...info, listen: undefined })}`);
        throw err;
      });
    }
    console.log("nat_test: the buyer sees the home node's listing; buying");
    const purchase = await call<{ id: string }>(
      buyer,
      "/api/v1/purchases",
      postJson({ listingId: manifestCid }),
    );
    let last = "";
    const done = await waitFor("the purchase to complete", async () => {
      const p = await call<{ status: string }>(buyer, `/api/v1/purchases/${purchase.id}`);
      if (p.status !== last) console.log(`nat_test: purchase ${(last = p.status)}`);
      if (p.status === "failed" || p.status === "refunded") throw new Error(`the purchase ${p.status}`);
      return p.status === "complete" ? p : undefined;
    }, { timeout: 120_000, interval: 500 });
    assert.equal(done.status, "complete");
    const bytes = new Uint8Array(
      await (await fetch(`${buyer.api}/api/v1/purchases/${purchase.id}/data`, asOwner(buyer.token)))
        .arrayBuffer(),
    );
    assert.deepEqual(bytes, data);

    const buyerInfo = await call<NodeInfo>(buyer, "/api/v1/node");
    const link = buyerInfo.connections.find((c) => c.peerId === home.peerId);
    console.log(
      `nat_test: buyer ↔ home node: ${
        link === undefined
          ? "not connected now"
          : link.direct
          ? "direct connection (DCUtR replaced the relayed one: a hole punch, or the home node dialling out)"
          : "relayed"
      }; home reachability ${homeInfo.reachability.status}, relay addresses ${homeInfo.reachability.relayAddresses.length}`,
    );
  } finally {
    for (const child of children.reverse()) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await Promise.race([child.status, new Promise((r) => setTimeout(r, 5000))]);
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await lab.destroy();
    await Promise.all(dirs.map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  }
});
