import assert from "node:assert/strict";
import { defaultConfig, loadConfig, validateConfig } from "./config.ts";

const peer = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

Deno.test("loadConfig() layers defaults < file < env < flags", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ port: 9000, logLevel: "warn", storage: { quotaGB: 5 } }),
    );
    const config = await loadConfig({
      args: ["--data-dir", dir, "--port=9100", "--bootstrap", peer],
      env: { KOSMOS_LOG_LEVEL: "debug", HOME_UNRELATED: "x" },
    });
    assert.equal(config.dataDir, dir);
    assert.equal(config.port, 9100);
    assert.equal(config.logLevel, "debug");
    assert.equal(config.storage.quotaGB, 5);
    assert.deepEqual(config.bootstrap, [peer]);
    assert.deepEqual(config.listen, defaultConfig().listen);
    assert.equal(config.rpcUrl, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() defaults to ~/.kosmos, 127.0.0.1:7464 and an embedded chain", async () => {
  const config = await loadConfig({ args: [], env: {} });
  assert.match(config.dataDir, /\.kosmos$/);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 7464);
  assert.equal(config.rpcUrl, undefined);
});

Deno.test("loadConfig() rejects unknown flags, env vars and file keys with a message naming them", async () => {
  await assert.rejects(loadConfig({ args: ["--prot", "1"] }), {
    name: "ConfigError",
    message: "unknown flag --prot",
  });
  await assert.rejects(loadConfig({ env: { KOSMOS_PROT: "1" } }), {
    message: "unknown environment variable KOSMOS_PROT",
  });
  await assert.rejects(loadConfig({ args: ["--port"] }), { message: "flag --port needs a value" });
  await assert.rejects(loadConfig({ args: ["--port", "abc"] }), { message: /--port must be a number/ });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ storage: { quota: 1 } }));
    await assert.rejects(loadConfig({ args: ["--data-dir", dir] }), {
      message: 'unknown config key "storage.quota"',
    });
    await Deno.writeTextFile(`${dir}/bad.json`, "{ nope");
    await assert.rejects(loadConfig({ args: ["--config", `${dir}/bad.json`] }), {
      message: /is not valid JSON/,
    });
    await assert.rejects(loadConfig({ args: ["--config", `${dir}/missing.json`] }), {
      message: /cannot read config file/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validateConfig() rejects bad ports, multiaddrs and rpc urls", () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  assert.throws(() => validateConfig({ ...base, port: 70000 }), {
    message: /port 70000 is not a valid port/,
  });
  assert.throws(() => validateConfig({ ...base, bootstrap: ["/ip4/1.2.3/tcp/1"] }), {
    message: /bootstrap address "\/ip4\/1.2.3\/tcp\/1" is not a valid multiaddr/,
  });
  assert.throws(() => validateConfig({ ...base, bootstrap: ["/ip4/127.0.0.1/tcp/1"] }), {
    message: /no \/p2p\/<peerId>/,
  });
  assert.throws(() => validateConfig({ ...base, rpcUrl: "not a url" }), {
    message: /rpcUrl "not a url" is not a valid URL/,
  });
  assert.throws(() => validateConfig({ ...base, rpcUrl: "ftp://x" }), {
    message: /must be http\(s\) or ws\(s\)/,
  });
  assert.throws(() => validateConfig({ ...base, logLevel: "loud" }), { message: /logLevel "loud"/ });
  assert.equal(validateConfig({ ...base, bootstrap: [peer] }).bootstrap[0], peer);
});

Deno.test("validateConfig() accepts trusted proxy IPs and CIDR ranges, defaulting to none", async () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  assert.deepEqual(defaultConfig().trustedProxies, []);
  assert.deepEqual(validateConfig({ ...base, trustedProxies: ["10.0.0.0/8", "::1"] }).trustedProxies, [
    "10.0.0.0/8",
    "::1",
  ]);
  assert.throws(() => validateConfig({ ...base, trustedProxies: ["proxy.local"] }), {
    name: "ConfigError",
    message: /trustedProxies must be a list of IP addresses/,
  });
  const config = await loadConfig({ args: ["--trusted-proxies", "127.0.0.1,10.1.0.0/16"] });
  assert.deepEqual(config.trustedProxies, ["127.0.0.1", "10.1.0.0/16"]);
});
