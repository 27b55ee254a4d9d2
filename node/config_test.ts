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

Deno.test("loadConfig() takes --public-name and KOSMOS_PUBLIC_NAME as lists of host names, and rejects anything else", async () => {
  assert.deepEqual(defaultConfig().publicName, []);
  const fromFlags = await loadConfig({
    args: ["--public-name", "Kosmos.Example.org,192.168.1.5", "--public-name=[::1]"],
  });
  assert.deepEqual(fromFlags.publicName, ["kosmos.example.org", "192.168.1.5", "::1"]);
  const fromEnv = await loadConfig({ env: { KOSMOS_PUBLIC_NAME: "gw.example" } });
  assert.deepEqual(fromEnv.publicName, ["gw.example"]);
  const base = defaultConfig() as unknown as Record<string, unknown>;
  for (const bad of [["evil.example:80"], ["http://x.example"], ["a b"], ["-x.example"], [""], [7]]) {
    assert.throws(() => validateConfig({ ...base, publicName: bad }), {
      name: "ConfigError",
      message: /publicName must be a list of host names/,
    }, JSON.stringify(bad));
  }
  // The client commands' variables do not stop a node from starting.
  const withClientVars = await loadConfig({ env: { KOSMOS_TOKEN: "x", KOSMOS_URL: "http://127.0.0.1:1" } });
  assert.deepEqual(withClientVars.publicName, []);
});

Deno.test("loadConfig() takes the delivery allow-lists from flags and env, empty by default, and rejects bad entries", async () => {
  const defaults = await loadConfig({ args: ["--data-dir", "/nonexistent-kosmos"] });
  assert.deepEqual([defaults.deliveryWebhookAllow, defaults.deliveryDirectoryAllow], [[], []]);
  const config = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos", "--delivery-webhook-allow", "127.0.0.1,hooks.internal"],
    env: { KOSMOS_DELIVERY_DIRECTORY_ALLOW: "/srv/exports,/mnt/share" },
  });
  assert.deepEqual(config.deliveryWebhookAllow, ["127.0.0.1", "hooks.internal"]);
  assert.deepEqual(config.deliveryDirectoryAllow, ["/srv/exports", "/mnt/share"]);
  for (const deliveryWebhookAllow of [["10.0.0.0/33"], ["http://x"], ["*.example.com"], [7]]) {
    assert.throws(
      () =>
        validateConfig({ ...defaultConfig(), deliveryWebhookAllow } as unknown as Record<string, unknown>),
      /deliveryWebhookAllow must be/,
    );
  }
  assert.throws(
    () =>
      validateConfig(
        { ...defaultConfig(), deliveryDirectoryAllow: ["relative"] } as unknown as Record<string, unknown>,
      ),
    /deliveryDirectoryAllow must be a list of absolute/,
  );
});

Deno.test("validateConfig() takes loopback site proof origins and a whole proxy event quota, none and 1M by default", async () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  assert.deepEqual(validateConfig(base).siteProofOrigins, []);
  assert.equal(validateConfig(base).proxyEventQuota, 1_000_000);
  const ok = validateConfig({ ...base, siteProofOrigins: ["*=http://127.0.0.1:8080"], proxyEventQuota: 50 });
  assert.deepEqual([ok.siteProofOrigins, ok.proxyEventQuota], [["*=http://127.0.0.1:8080"], 50]);
  assert.throws(() => validateConfig({ ...base, siteProofOrigins: ["*=https://evil.example"] }), {
    name: "ConfigError",
    message: /loopback host/,
  });
  assert.throws(() => validateConfig({ ...base, proxyEventQuota: 0 }), { name: "ConfigError" });
  const flags = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos", "--site-proof-origins", "shop.example=http://localhost:9"],
    env: { KOSMOS_PROXY_EVENT_QUOTA: "7" },
  });
  assert.deepEqual([flags.siteProofOrigins, flags.proxyEventQuota], [["shop.example=http://localhost:9"], 7]);
});

Deno.test("loadConfig() takes --public-url, --announce and --relay from flags and env, and rejects bad values", async () => {
  const config = await loadConfig({
    args: ["--public-url", "https://Kosmos.Example.org/", "--announce", "/dns4/kosmos.example.org/tcp/4001"],
    env: { KOSMOS_RELAY: "on", KOSMOS_ANNOUNCE: "/ip4/203.0.113.7/tcp/4001" },
  });
  assert.equal(config.publicUrl, "https://kosmos.example.org");
  assert.deepEqual(config.announce, ["/dns4/kosmos.example.org/tcp/4001"]);
  assert.equal(config.relay, "on");
  const defaults = await loadConfig({ args: ["--data-dir", "/nonexistent-kosmos"] });
  assert.equal(defaults.publicUrl, undefined);
  assert.deepEqual(defaults.announce, []);
  assert.equal(defaults.relay, "auto");
  await assert.rejects(loadConfig({ args: ["--public-url", "ftp://x.example"] }), /publicUrl/);
  await assert.rejects(loadConfig({ args: ["--public-url", "https://x.example/?q=1"] }), /query/);
  await assert.rejects(loadConfig({ args: ["--announce", "/ip4/0.0.0.0/tcp/4001"] }), /wildcard/);
  await assert.rejects(loadConfig({ args: ["--announce", `${peer}`] }), /must not name a peer/);
  await assert.rejects(loadConfig({ env: { KOSMOS_RELAY: "sometimes" } }), /relay "sometimes"/);
});

Deno.test("loadConfig() takes --mqtt-url and --mqtt-topic from flags and env, none and kosmos/readings/# by default, and never echoes the password", async () => {
  const defaults = await loadConfig({ args: ["--data-dir", "/nonexistent-kosmos"] });
  assert.equal(defaults.mqttUrl, undefined);
  assert.equal(defaults.mqttTopic, "kosmos/readings/#");
  const config = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos", "--mqtt-url", "mqtt://gw:secret@127.0.0.1:1883"],
    env: { KOSMOS_MQTT_TOPIC: "site/+/readings" },
  });
  assert.equal(config.mqttUrl, "mqtt://gw:secret@127.0.0.1:1883");
  assert.equal(config.mqttTopic, "site/+/readings");
  assert.equal(
    (await loadConfig({ env: { KOSMOS_MQTT_URL: "mqtts://broker.example" } })).mqttUrl,
    "mqtts://broker.example",
  );
  await assert.rejects(
    loadConfig({ args: ["--mqtt-url", "http://gw:secret@broker"] }),
    (err: Error) =>
      err.name === "ConfigError" && /mqtt:\/\//.test(err.message) && !err.message.includes("secret"),
  );
  await assert.rejects(loadConfig({ args: ["--mqtt-topic", "a/#/b"] }), {
    name: "ConfigError",
    message: /"#"/,
  });
});

Deno.test("loadConfig() takes --analytics-retention-days from flags and env, 180 by default, and refuses 0, fractions and 'forever'", async () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  assert.equal(validateConfig(base).analyticsRetentionDays, 180);
  assert.equal(validateConfig({ ...base, analyticsRetentionDays: 1 }).analyticsRetentionDays, 1);
  for (const bad of [0, -1, 1.5, 36_501, "forever", null]) {
    assert.throws(() => validateConfig({ ...base, analyticsRetentionDays: bad }), {
      name: "ConfigError",
      message: /analyticsRetentionDays must be a whole number of days from 1 to 36500/,
    });
  }
  const flags = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos", "--analytics-retention-days", "30"],
  });
  assert.equal(flags.analyticsRetentionDays, 30);
  const env = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos"],
    env: { KOSMOS_ANALYTICS_RETENTION_DAYS: "400" },
  });
  assert.equal(env.analyticsRetentionDays, 400);
});

Deno.test("loadConfig() takes --privacy-release-cap from flags and env, ε = 1 by default, and refuses what is not an ε from 0.01 to 1000", async () => {
  const base = defaultConfig() as unknown as Record<string, unknown>;
  assert.equal(validateConfig(base).privacyReleaseCap, 1);
  assert.equal(validateConfig({ ...base, privacyReleaseCap: 0.5 }).privacyReleaseCap, 0.5);
  for (const bad of [0, 0.001, -1, 1001, Number.NaN, "1", null]) {
    assert.throws(() => validateConfig({ ...base, privacyReleaseCap: bad }), {
      name: "ConfigError",
      message: /privacyReleaseCap must be an ε from 0\.01 to 1000/,
    });
  }
  const flags = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos", "--privacy-release-cap", "0.5"],
  });
  assert.equal(flags.privacyReleaseCap, 0.5);
  const env = await loadConfig({
    args: ["--data-dir", "/nonexistent-kosmos"],
    env: { KOSMOS_PRIVACY_RELEASE_CAP: "2" },
  });
  assert.equal(env.privacyReleaseCap, 2);
});
