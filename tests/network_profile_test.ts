import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  decodeNetworkHello,
  DEFAULT_PROTOCOL_PREFIX,
  encodeNetworkHello,
  MAX_NETWORK_HELLO_BYTES,
  type NetworkHello,
  networkPrefix,
  type NetworkProfile,
  parseNetworkProfile,
  prefixProtocol,
  unprefixProtocol,
} from "../protocol/network.ts";
import { CHUNKS_PROTOCOL, SALE_PROTOCOL } from "../protocol/topics.ts";
import { loadNetwork, writeNetworkProfile } from "../node/network.ts";
import { loadConfig } from "../node/config.ts";
import { createNode } from "../node/node.ts";
import { DEV_ACCOUNT_KEYS, startAnvil } from "../node/services/chain/anvil.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { tempDir, testLogger } from "./helpers.ts";

const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const valid: NetworkProfile = {
  name: "devnet",
  chainId: 31337,
  rpcUrls: ["http://127.0.0.1:8545"],
  contracts: {
    token: "0x0000000000000000000000000000000000000001",
    registry: REGISTRY,
    escrow: "0x0000000000000000000000000000000000000003",
    consent: "0x0000000000000000000000000000000000000004",
    ownership: "0x0000000000000000000000000000000000000008",
    rewards: "0x0000000000000000000000000000000000000005",
    anchor: "0x0000000000000000000000000000000000000006",
    pools: "0x0000000000000000000000000000000000000010",
    mining: "0x0000000000000000000000000000000000000011",
  },
  bootstrap: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzh9MtbnXHjxiZdDoN2J4Mq3hpJAj1hzhyJD3gW5KLbd"],
  protocolPrefix: "/kosmos/devnet-5fbdb231",
  dev: true,
};

Deno.test("parseNetworkProfile() accepts a valid profile and checksums its addresses", () => {
  const lower = { ...valid, contracts: { ...valid.contracts, registry: REGISTRY.toLowerCase() } };
  const parsed = parseNetworkProfile(JSON.parse(JSON.stringify(lower)));
  assert.equal(parsed.contracts.registry, REGISTRY);
  assert.deepEqual(parsed, valid);
});

Deno.test("parseNetworkProfile() rejects each bad field with a message naming that field", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["missing chainId", { chainId: undefined }, /"chainId" is missing/],
    ["chainId as text", { chainId: "31337" }, /"chainId" must be a positive whole number/],
    ["no rpc URL", { rpcUrls: [] }, /"rpcUrls" must list at least one URL/],
    ["rpc URL of another scheme", { rpcUrls: ["ftp://x"] }, /"rpcUrls\[0\]" must be http\(s\) or ws\(s\)/],
    ["rpc URL that is no URL", { rpcUrls: ["not a url"] }, /"rpcUrls\[0\]" is not a URL/],
    [
      "registry not an address",
      { contracts: { ...valid.contracts, registry: "0x12" } },
      /"contracts.registry"/,
    ],
    ["an unknown contract", { contracts: { ...valid.contracts, bank: REGISTRY } }, /"contracts.bank"/],
    ["bootstrap without peer id", { bootstrap: ["/ip4/127.0.0.1/tcp/1"] }, /"bootstrap\[0\]"/],
    ["prefix outside /kosmos", { protocolPrefix: "/ipfs/x" }, /"protocolPrefix" must look like/],
    ["dev as text", { dev: "yes" }, /"dev" must be true or false/],
    ["name with capitals", { name: "DevNet" }, /"name" must be/],
    ["an unknown key", { extra: 1 }, /"extra" is not a profile field/],
  ];
  for (const [what, patch, message] of cases) {
    const bad = JSON.parse(JSON.stringify({ ...valid, ...patch }));
    assert.throws(() => parseNetworkProfile(bad, "devnet.json"), (err: Error) => {
      assert.ok(err instanceof TypeError, what);
      assert.match(err.message, /^Invalid devnet\.json: /, what);
      assert.match(err.message, message, what);
      return true;
    });
  }
});

Deno.test("prefixProtocol() puts every /kosmos id under the prefix and unprefixProtocol() takes it back", () => {
  assert.equal(
    prefixProtocol("/kosmos/devnet-5fbdb231", SALE_PROTOCOL),
    "/kosmos/devnet-5fbdb231/sale/1.0.0",
  );
  assert.equal(prefixProtocol(DEFAULT_PROTOCOL_PREFIX, SALE_PROTOCOL), SALE_PROTOCOL);
  assert.equal(prefixProtocol("/kosmos/x", "/ipfs/id/1.0.0"), "/ipfs/id/1.0.0");
  assert.equal(networkPrefix("local", REGISTRY), "/kosmos/local-5fbdb231");
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
      fc.stringMatching(/^[a-z0-9/._-]{1,30}$/),
      (name, rest) => {
        const prefix = `/kosmos/${name}`;
        const id = `/kosmos/${rest}`;
        const wire = prefixProtocol(prefix, id);
        assert.ok(wire.startsWith(`${prefix}/`));
        assert.equal(unprefixProtocol(prefix, wire), id);
        assert.equal(unprefixProtocol("/kosmos/other-network", wire), undefined);
      },
    ),
  );
});

Deno.test("loadNetwork() resolves a NAME in <dataDir>/networks, a FILE, and the built-in local", async () => {
  await using dir = await tempDir();
  await writeNetworkProfile(join(dir.path, "networks", "devnet.json"), valid);
  const byName = await loadNetwork("devnet", { dataDir: dir.path });
  assert.equal(byName.kind, "profile");
  assert.deepEqual(byName.kind === "profile" && byName.profile, valid);
  const file = join(dir.path, "elsewhere.json");
  await Deno.writeTextFile(file, JSON.stringify({ ...valid, name: "elsewhere" }));
  const byFile = await loadNetwork(file, { dataDir: dir.path });
  assert.equal(byFile.kind === "profile" && byFile.profile.name, "elsewhere");
  assert.deepEqual(await loadNetwork("local", { dataDir: dir.path }), { kind: "local" });
  await assert.rejects(loadNetwork("nowhere", { dataDir: dir.path }), (err: Error) => {
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /unknown network "nowhere": no .*networks\/nowhere\.json/);
    return true;
  });
  await Deno.writeTextFile(file, "{ not json");
  await assert.rejects(loadNetwork(file, { dataDir: dir.path }), /is not valid JSON/);
  await Deno.writeTextFile(file, JSON.stringify({ ...valid, chainId: -1 }));
  await assert.rejects(loadNetwork(file, { dataDir: dir.path }), /"chainId" must be a positive whole number/);
});

Deno.test("--network and KOSMOS_NETWORK reach the config", async () => {
  await using dir = await tempDir();
  const fromFlag = await loadConfig({ args: ["--data-dir", dir.path, "--network", "devnet"] });
  assert.equal(fromFlag.network, "devnet");
  const fromEnv = await loadConfig({ args: ["--data-dir", dir.path], env: { KOSMOS_NETWORK: "./x.json" } });
  assert.equal(fromEnv.network, "./x.json");
});

Deno.test("deno task contracts deploy --out writes a profile, and a node started with --network NAME uses its chain, contracts and prefix", async () => {
  await using anvil = await startAnvil();
  await using dir = await tempDir();
  const keyFile = join(dir.path, "deployer.key");
  await Deno.writeTextFile(keyFile, DEV_ACCOUNT_KEYS[1], { mode: 0o600 });
  const profilePath = join(dir.path, "networks", "testnet.json");
  const deploy = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../scripts/contracts.ts", import.meta.url).pathname,
      "deploy",
      "--rpc-url",
      anvil.rpcUrl,
      "--key-file",
      keyFile,
      "--out",
      profilePath,
      "--name",
      "testnet",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(deploy.stderr);
  assert.equal(deploy.code, 0, stderr);
  assert.ok(!stderr.includes(DEV_ACCOUNT_KEYS[1].slice(2)), "the key is never printed");
  const printed = JSON.parse(new TextDecoder().decode(deploy.stdout));
  const profile = parseNetworkProfile(JSON.parse(await Deno.readTextFile(profilePath)));
  assert.equal(profile.name, "testnet");
  assert.equal(profile.contracts.registry, printed.registry);
  assert.deepEqual(profile.rpcUrls, [anvil.rpcUrl]);
  assert.equal(profile.protocolPrefix, networkPrefix("testnet", printed.registry));

  const node = await createNode({ dataDir: dir.path, port: 0, network: "testnet" }, { logger: testLogger() });
  try {
    await node.start();
    assert.equal(node.components.chain.rpcUrl, anvil.rpcUrl);
    assert.equal(node.components.chain.contracts?.registry, profile.contracts.registry);
    const info = await node.facade.getNodeInfo();
    assert.equal(info.network?.name, "testnet");
    assert.equal(info.network?.protocolPrefix, profile.protocolPrefix);
    const protocols = node.components.p2p.libp2p.getProtocols();
    assert.ok(protocols.includes(`${profile.protocolPrefix}/chunks/1.0.0`), protocols.join(", "));
    assert.ok(!protocols.includes(CHUNKS_PROTOCOL), "no id outside the network's prefix");
    assert.ok(protocols.includes("/kosmos/network/1.0.0"), "the handshake has no prefix");
  } finally {
    await node.stop();
  }
});

Deno.test("a node refuses to start on a profile whose chain id or contracts are not the chain's", async () => {
  await using anvil = await startAnvil();
  const dev = await setUpDevChain(anvil.rpcUrl);
  await using dir = await tempDir();
  const base: NetworkProfile = {
    name: "devnet",
    chainId: 31337,
    rpcUrls: [anvil.rpcUrl],
    contracts: { ...dev.contracts },
    bootstrap: [],
    protocolPrefix: networkPrefix("devnet", dev.contracts.registry),
    dev: true,
  };
  const cases: [NetworkProfile, RegExp][] = [
    [{ ...base, chainId: 1 }, /network "devnet" is chain 1, but http:\/\/127\.0\.0\.1:\d+ is chain 31337/],
    [
      { ...base, contracts: { ...base.contracts, registry: "0x000000000000000000000000000000000000dEaD" } },
      /no code at registry 0x000000000000000000000000000000000000dEaD/,
    ],
    [
      { ...base, contracts: { ...base.contracts, token: base.contracts.anchor } },
      /registry\.token\(\) is 0x[0-9a-fA-F]{40}, the profile says/,
    ],
    [
      { ...base, contracts: { ...base.contracts, consent: base.contracts.anchor } },
      /ownership\.consent\(\) is 0x[0-9a-fA-F]{40}, the profile says/,
    ],
    [
      { ...base, contracts: { ...base.contracts, mining: base.contracts.ownership } },
      /mining\.token\(\) is 0x[0-9a-fA-F]{40}, the profile says|do not answer mining\.token\(\)/,
    ],
    [
      { ...base, contracts: { ...base.contracts, pools: base.contracts.rewards } },
      /do not answer pools\.registry\(\)/,
    ],
  ];
  for (const [profile, message] of cases) {
    const file = join(dir.path, "bad.json");
    await writeNetworkProfile(file, profile);
    const node = await createNode({ dataDir: join(dir.path, "node"), port: 0, network: file }, {
      logger: testLogger(),
    });
    await assert.rejects(node.start(), (err: Error) => {
      assert.equal(err.name, "StartError");
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("decodeNetworkHello() round-trips a hello and refuses any other bytes with a TypeError", () => {
  const hello: NetworkHello = {
    v: 1,
    name: "local",
    chainId: 31337,
    protocolPrefix: "/kosmos/local-5fbdb231",
    dev: true,
    contracts: { ...valid.contracts, faucet: "0x0000000000000000000000000000000000000007" },
    rpcUrls: ["http://127.0.0.1:8545"],
  };
  assert.deepEqual(decodeNetworkHello(encodeNetworkHello(hello)), hello);
  assert.deepEqual(decodeNetworkHello(encodeNetworkHello({ ...hello, contracts: null, rpcUrls: [] })), {
    ...hello,
    contracts: null,
    rpcUrls: [],
  });
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const bad = [
    json({ ...hello, v: 2 }),
    json({ ...hello, chainId: 0 }),
    json({ ...hello, protocolPrefix: "/other" }),
    json({ ...hello, rpcUrls: ["file:///etc/passwd"] }),
    json({ ...hello, rpcUrls: Array(5).fill("http://127.0.0.1:1") }),
    json({ ...hello, extra: true }),
    new Uint8Array(MAX_NETWORK_HELLO_BYTES + 1).fill(0x20),
  ];
  for (const bytes of bad) assert.throws(() => decodeNetworkHello(bytes), TypeError);
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.json().map((j) => new TextEncoder().encode(j))),
      (b) => {
        try {
          decodeNetworkHello(b);
        } catch (err) {
          assert.ok(err instanceof TypeError, String(err));
        }
      },
    ),
    { numRuns: 2000 },
  );
});
