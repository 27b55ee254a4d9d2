/**
 * The node's configuration: one typed {@link NodeConfig}, read once at start
 * from defaults < config file < `KOSMOS_*` environment < command-line flags,
 * validated, with unknown keys rejected.
 *
 * ```ts
 * const config = await loadConfig({ args: Deno.args, env: Deno.env.toObject() });
 * ```
 */
import { multiaddr } from "@multiformats/multiaddr";
import { isAbsolute, join } from "node:path";
import { homedir } from "node:os";
import { ConfigError } from "./errors.ts";
import { DEFAULT_HTTP_PORT } from "./constants.ts";
import type { LogLevel } from "./log.ts";
import { isProxyAddress } from "./services/ingest/client_ip.ts";
import { parseProofOrigins } from "./services/sites/proof_fetcher.ts";
import { isWebhookAllowEntry } from "./services/connectors/targets.ts";
import { checkAnnounceAddress, normalizePublicUrl } from "./services/p2p/addresses.ts";
import { checkMqttTopic, DEFAULT_MQTT_TOPIC, parseMqttUrl } from "./services/streams/mqtt_url.ts";

export interface NodeConfig {
  /** Where keys, the database, blocks and chain state live. @default "~/.kosmos" */
  dataDir: string;
  /** HTTP (API and web UI) bind address. @default "127.0.0.1" */
  host: string;
  /** HTTP port; 0 lets the OS choose. @default 7464 */
  port: number;
  /**
   * Host names (or IP addresses) this node's HTTP API answers to besides its
   * loopback names (`127.0.0.1`, `localhost`, `::1`): the names a LAN, proxy
   * or gateway reaches it by, e.g. `["kosmos.example.org"]`. Requests naming
   * any other host get 403 (no DNS rebinding), whatever `host` it listens on.
   * @default []
   */
  publicName: string[];
  /** libp2p listen multiaddrs. @default TCP and WebSocket on 127.0.0.1, OS-chosen ports */
  listen: string[];
  /** Multiaddrs (with `/p2p/<peerId>`) of peers to join through. @default [] */
  bootstrap: string[];
  /**
   * The URL others reach this node's HTTP API by (`https://kosmos.example.org`): what
   * analytics snippets point at instead of the address the page was opened on. Its host is
   * also a name the API answers to. @default undefined: the request's own origin
   */
  publicUrl?: string;
  /**
   * Multiaddrs this node advertises instead of its listen addresses (`/dns4/kosmos.example.org/tcp/4001`,
   * `/ip4/203.0.113.7/tcp/4001`), for a node behind a port forward or a proxy. Setting any makes
   * it a public node. @default []
   */
  announce: string[];
  /**
   * Serve as a circuit relay v2 for nodes behind NAT: `on`, `off`, or `auto`: on for a public
   * node (one with `announce` addresses or a public IP listen address). @default "auto"
   */
  relay: "auto" | "on" | "off";
  /**
   * Connections the node dials discovered peers up to, and trims back down to once it nears
   * `maxConnections` (lowest-value peers first). @default undefined: 16, or 32 on a public node
   */
  targetPeers?: number;
  /**
   * The most peer connections; an eighth of them is kept free so newcomers are always let in.
   * @default undefined: 64, or 256 on a public node
   */
  maxConnections?: number;
  /**
   * EVM JSON-RPC URL; with `network`, it replaces the profile's RPC URLs.
   * @default undefined: start an embedded anvil on a free loopback port
   */
  rpcUrl?: string;
  /**
   * The network: a profile file (`./devnet.json`) or a name, looked up in
   * `<dataDir>/networks/NAME.json`; `local` is the embedded chain. Without it,
   * `rpcUrl` is used, or the network of a local bootstrap peer, or `local`.
   * @default undefined
   */
  network?: string;
  /** @default "info" */
  logLevel: LogLevel;
  storage: {
    /** Disk the node offers for replicas of other nodes' datasets, in GB. @default 1 */
    quotaGB: number;
  };
  /**
   * Reverse proxies in front of the HTTP API (IPs or IPv4 CIDR ranges such as
   * `"10.0.0.0/8"`). Only requests from these may set the client IP with
   * `X-Forwarded-For` (used for analytics rate limits and visitor hashes);
   * from anyone else the header is ignored. @default []
   */
  trustedProxies: string[];
  /**
   * Where to fetch some domains' site proofs instead of
   * `https://DOMAIN/.well-known/kosmos-site.json`: `DOMAIN=URL` or `*=URL`
   * entries, URL an http(s) URL on a loopback host (the proof is fetched from
   * `URL/DOMAIN/.well-known/kosmos-site.json`). For tests and local setups
   * only: it changes nothing but this node's own view, and only towards the
   * machine it runs on. @default []
   */
  siteProofOrigins: string[];
  /**
   * Events one analytics proxy may deliver for one site per UTC day; beyond
   * it the owner refuses that proxy's batches until the next day. @default 1_000_000
   */
  proxyEventQuota: number;
  /**
   * UTC days of raw analytics events (visitor ids, paths, props) this node
   * keeps for its own sites, today included; older ones are deleted (from the
   * files too) each day, while the dashboard's daily rollups stay. A whole
   * number from 1 to 36500; there is no "forever". @default 180
   */
  analyticsRetentionDays: number;
  /**
   * Most ε one release of a site's statistics may spend, per person (anyone
   * in the data over the whole range, `docs/privacy.md`); a release asking
   * more is refused before anything is read or charged. From 0.01 to 1000.
   * @default 1
   */
  privacyReleaseCap: number;
  /**
   * Webhook delivery targets allowed although they are not public: host
   * names (`"hooks.internal"`), IP addresses (`"127.0.0.1"`, `"::1"`) and CIDR
   * ranges (`"10.0.0.0/8"`, `"fd00::/8"`). Without an entry here, a webhook
   * whose host resolves to a loopback, private, link-local, CGNAT,
   * multicast or unspecified address is refused. @default []
   */
  deliveryWebhookAllow: string[];
  /**
   * Absolute directories directory deliveries may write under, besides
   * `<dataDir>/deliveries`, which is always allowed. @default []
   */
  deliveryDirectoryAllow: string[];
  /**
   * The operator's MQTT broker this gateway node subscribes to for sensor readings
   * (`mqtt://user:pass@host:port` or `mqtts://…`); never logged with its password.
   * @default undefined: no MQTT ingest
   */
  mqttUrl?: string;
  /** The topic filter read from `mqttUrl` (QoS 1). @default "kosmos/readings/#" */
  mqttTopic: string;
}

export const defaultConfig = (): NodeConfig => ({
  dataDir: join(homedir(), ".kosmos"),
  host: "127.0.0.1",
  port: DEFAULT_HTTP_PORT,
  publicName: [],
  listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
  bootstrap: [],
  publicUrl: undefined,
  announce: [],
  relay: "auto",
  rpcUrl: undefined,
  logLevel: "info",
  storage: { quotaGB: 1 },
  trustedProxies: [],
  siteProofOrigins: [],
  proxyEventQuota: 1_000_000,
  analyticsRetentionDays: 180,
  privacyReleaseCap: 1,
  deliveryWebhookAllow: [],
  deliveryDirectoryAllow: [],
  mqttUrl: undefined,
  mqttTopic: DEFAULT_MQTT_TOPIC,
});

/** Flag name → config key; flags take `--name value` or `--name=value`. */
const flags: Record<string, { key: string; kind: "string" | "number" | "list" }> = {
  "data-dir": { key: "dataDir", kind: "string" },
  host: { key: "host", kind: "string" },
  port: { key: "port", kind: "number" },
  "public-name": { key: "publicName", kind: "list" },
  listen: { key: "listen", kind: "list" },
  bootstrap: { key: "bootstrap", kind: "list" },
  "public-url": { key: "publicUrl", kind: "string" },
  announce: { key: "announce", kind: "list" },
  relay: { key: "relay", kind: "string" },
  "target-peers": { key: "targetPeers", kind: "number" },
  "max-connections": { key: "maxConnections", kind: "number" },
  "rpc-url": { key: "rpcUrl", kind: "string" },
  network: { key: "network", kind: "string" },
  "log-level": { key: "logLevel", kind: "string" },
  "storage-quota-gb": { key: "storage.quotaGB", kind: "number" },
  "trusted-proxies": { key: "trustedProxies", kind: "list" },
  "site-proof-origins": { key: "siteProofOrigins", kind: "list" },
  "proxy-event-quota": { key: "proxyEventQuota", kind: "number" },
  "analytics-retention-days": { key: "analyticsRetentionDays", kind: "number" },
  "privacy-release-cap": { key: "privacyReleaseCap", kind: "number" },
  "delivery-webhook-allow": { key: "deliveryWebhookAllow", kind: "list" },
  "delivery-directory-allow": { key: "deliveryDirectoryAllow", kind: "list" },
  "mqtt-url": { key: "mqttUrl", kind: "string" },
  "mqtt-topic": { key: "mqttTopic", kind: "string" },
};

const envVars: Record<string, { key: string; kind: "string" | "number" | "list" }> = {
  KOSMOS_DATA_DIR: flags["data-dir"],
  KOSMOS_HOST: flags.host,
  KOSMOS_PORT: flags.port,
  KOSMOS_PUBLIC_NAME: flags["public-name"],
  KOSMOS_LISTEN: flags.listen,
  KOSMOS_BOOTSTRAP: flags.bootstrap,
  KOSMOS_PUBLIC_URL: flags["public-url"],
  KOSMOS_ANNOUNCE: flags.announce,
  KOSMOS_RELAY: flags.relay,
  KOSMOS_TARGET_PEERS: flags["target-peers"],
  KOSMOS_MAX_CONNECTIONS: flags["max-connections"],
  KOSMOS_RPC_URL: flags["rpc-url"],
  KOSMOS_NETWORK: flags.network,
  KOSMOS_LOG_LEVEL: flags["log-level"],
  KOSMOS_STORAGE_QUOTA_GB: flags["storage-quota-gb"],
  KOSMOS_TRUSTED_PROXIES: flags["trusted-proxies"],
  KOSMOS_SITE_PROOF_ORIGINS: flags["site-proof-origins"],
  KOSMOS_PROXY_EVENT_QUOTA: flags["proxy-event-quota"],
  KOSMOS_ANALYTICS_RETENTION_DAYS: flags["analytics-retention-days"],
  KOSMOS_PRIVACY_RELEASE_CAP: flags["privacy-release-cap"],
  KOSMOS_DELIVERY_WEBHOOK_ALLOW: flags["delivery-webhook-allow"],
  KOSMOS_DELIVERY_DIRECTORY_ALLOW: flags["delivery-directory-allow"],
  KOSMOS_MQTT_URL: flags["mqtt-url"],
  KOSMOS_MQTT_TOPIC: flags["mqtt-topic"],
  KOSMOS_CONFIG: { key: "$config", kind: "string" },
};

/** Variables of the client commands (`kosmos buy`, `kosmos login`, …), not of the node. */
const CLIENT_ENV_VARS = new Set(["KOSMOS_URL", "KOSMOS_TOKEN"]);

export interface LoadConfigOptions {
  /** Command-line arguments (flags only; subcommands already removed). @default [] */
  args?: string[];
  /** Environment; only `KOSMOS_*` variables are read. @default {} */
  env?: Record<string, string>;
}

/**
 * Builds and validates the config. A config file is read from `--config FILE`
 * (or `KOSMOS_CONFIG`), else `<dataDir>/config.json` when it exists.
 * Throws {@link ConfigError} naming the problem.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<NodeConfig> {
  const fromEnv: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!name.startsWith("KOSMOS_") || CLIENT_ENV_VARS.has(name)) continue;
    const spec = envVars[name];
    if (!spec) throw new ConfigError(`unknown environment variable ${name}`);
    setPath(fromEnv, spec.key, parseValue(value, spec.kind, name));
  }
  const fromFlags = parseFlags(options.args ?? []);
  const configPath = (fromFlags.$config ?? fromEnv.$config) as string | undefined;
  delete fromFlags.$config;
  delete fromEnv.$config;

  const dataDirHint = (fromFlags.dataDir ?? fromEnv.dataDir ?? defaultConfig().dataDir) as string;
  const fromFile = await readConfigFile(configPath ?? join(dataDirHint, "config.json"), !!configPath);
  const merged = deepMerge(
    deepMerge(deepMerge(defaultConfig(), fromFile, "config file"), fromEnv, "env"),
    fromFlags,
    "flags",
  );
  return validateConfig(merged);
}

function parseFlags(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}" (flags start with --)`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = name === "config" ? { key: "$config", kind: "string" as const } : flags[name];
    if (!spec) throw new ConfigError(`unknown flag --${name}`);
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new ConfigError(`flag --${name} needs a value`);
      }
    }
    const parsed = parseValue(value, spec.kind, `--${name}`);
    if (spec.kind === "list") {
      const prev = (getPath(out, spec.key) as string[] | undefined) ?? [];
      setPath(out, spec.key, [...prev, ...(parsed as string[])]);
    } else setPath(out, spec.key, parsed);
  }
  return out;
}

function parseValue(value: string, kind: "string" | "number" | "list", source: string): unknown {
  if (kind === "string") return value;
  if (kind === "list") return value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!/^\d+(\.\d+)?$/.test(value.trim())) {
    throw new ConfigError(`${source} must be a number, got "${value}"`);
  }
  return Number(value);
}

async function readConfigFile(path: string, required: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!required && (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
      return {};
    }
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error("not a JSON object");
    return parsed;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Validates a complete config object; rejects unknown keys and wrong types. */
export function validateConfig(input: Record<string, unknown>): NodeConfig {
  const known = defaultConfig() as unknown as Record<string, unknown>;
  checkKeys(
    input,
    { ...known, rpcUrl: "", network: "", publicUrl: "", targetPeers: 0, maxConnections: 0 },
    "",
  );
  const c = input as unknown as NodeConfig;
  if (typeof c.dataDir !== "string" || c.dataDir === "") {
    throw new ConfigError("dataDir must be a non-empty path");
  }
  if (typeof c.host !== "string" || !/^[\w.:-]+$/.test(c.host)) {
    throw new ConfigError(`host "${c.host}" is not a valid address`);
  }
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) {
    throw new ConfigError(`port ${c.port} is not a valid port (0-65535)`);
  }
  if (!Array.isArray(c.publicName) || c.publicName.some((name) => !isHostName(name))) {
    throw new ConfigError(
      `publicName must be a list of host names or IP addresses without port, such as ["kosmos.example.org"]`,
    );
  }
  c.publicName = c.publicName.map((name) => name.toLowerCase().replace(/^\[(.*)\]$/, "$1"));
  for (const key of ["listen", "bootstrap"] as const) {
    if (!Array.isArray(c[key]) || c[key].some((s) => typeof s !== "string")) {
      throw new ConfigError(`${key} must be a list of multiaddrs`);
    }
    for (const addr of c[key]) {
      try {
        const ma = multiaddr(addr);
        if (key === "bootstrap" && !ma.getComponents().some((p) => p.name === "p2p")) {
          throw new Error("it has no /p2p/<peerId> part");
        }
      } catch (err) {
        throw new ConfigError(`${key} address "${addr}" is not a valid multiaddr: ${(err as Error).message}`);
      }
    }
  }
  checkPublicAddresses(c);
  if (c.rpcUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(c.rpcUrl);
    } catch {
      throw new ConfigError(`rpcUrl "${c.rpcUrl}" is not a valid URL`);
    }
    if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) {
      throw new ConfigError(`rpcUrl "${c.rpcUrl}" must be http(s) or ws(s)`);
    }
  }
  if (c.network !== undefined && (typeof c.network !== "string" || c.network === "")) {
    throw new ConfigError("network must be a profile file or a network name, such as local");
  }
  if (!["debug", "info", "warn", "error", "silent"].includes(c.logLevel)) {
    throw new ConfigError(`logLevel "${c.logLevel}" must be one of debug, info, warn, error, silent`);
  }
  if (typeof c.storage.quotaGB !== "number" || !(c.storage.quotaGB >= 0)) {
    throw new ConfigError("storage.quotaGB must be a number ≥ 0");
  }
  if (!Array.isArray(c.trustedProxies) || !c.trustedProxies.every(isProxyAddress)) {
    throw new ConfigError(
      'trustedProxies must be a list of IP addresses or IPv4 CIDR ranges, such as ["10.0.0.0/8"]',
    );
  }
  if (!Array.isArray(c.siteProofOrigins) || !c.siteProofOrigins.every((e) => typeof e === "string")) {
    throw new ConfigError('siteProofOrigins must be a list such as ["*=http://127.0.0.1:8080"]');
  }
  try {
    parseProofOrigins(c.siteProofOrigins);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (!Number.isSafeInteger(c.proxyEventQuota) || c.proxyEventQuota < 1) {
    throw new ConfigError("proxyEventQuota must be a whole number ≥ 1");
  }
  const retention = c.analyticsRetentionDays;
  if (!Number.isSafeInteger(retention) || retention < 1 || retention > 36_500) {
    throw new ConfigError(
      "analyticsRetentionDays must be a whole number of days from 1 to 36500 (raw events are not kept forever)",
    );
  }
  const cap = c.privacyReleaseCap;
  if (typeof cap !== "number" || !(cap >= 0.01 && cap <= 1000)) {
    throw new ConfigError("privacyReleaseCap must be an ε from 0.01 to 1000 (per person, for one release)");
  }
  if (!Array.isArray(c.deliveryWebhookAllow) || !c.deliveryWebhookAllow.every(isWebhookAllowEntry)) {
    throw new ConfigError(
      'deliveryWebhookAllow must be a list of host names, IP addresses or CIDR ranges, such as ["10.0.0.0/8"]',
    );
  }
  if (
    !Array.isArray(c.deliveryDirectoryAllow) ||
    !c.deliveryDirectoryAllow.every((d) => typeof d === "string" && isAbsolute(d) && !d.includes("\0"))
  ) {
    throw new ConfigError("deliveryDirectoryAllow must be a list of absolute directory paths");
  }
  try {
    if (c.mqttUrl !== undefined) parseMqttUrl(c.mqttUrl);
    checkMqttTopic(c.mqttTopic);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  checkConnectionLimits(c);
  return c;
}

/** `targetPeers` and `maxConnections`, when set. */
function checkConnectionLimits(c: NodeConfig): void {
  const max = c.maxConnections;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 2 || max > 100_000)) {
    throw new ConfigError("maxConnections must be a whole number from 2 to 100000");
  }
  const target = c.targetPeers;
  if (target !== undefined && (!Number.isSafeInteger(target) || target < 1 || target > (max ?? 100_000))) {
    throw new ConfigError(`targetPeers must be a whole number from 1 to maxConnections (${max ?? 100_000})`);
  }
}

/** `publicUrl`, `announce` and `relay`; normalizes `publicUrl` (no trailing slash). */
function checkPublicAddresses(c: NodeConfig): void {
  if (c.publicUrl !== undefined) {
    if (typeof c.publicUrl !== "string") throw new ConfigError("publicUrl must be an http(s) URL");
    try {
      c.publicUrl = normalizePublicUrl(c.publicUrl);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (!Array.isArray(c.announce) || c.announce.some((s) => typeof s !== "string")) {
    throw new ConfigError("announce must be a list of multiaddrs");
  }
  for (const addr of c.announce) {
    try {
      checkAnnounceAddress(addr);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (!["auto", "on", "off"].includes(c.relay)) {
    throw new ConfigError(`relay "${c.relay}" must be one of auto, on, off`);
  }
}

/** A DNS name, IPv4 address or (bracketed or bare) IPv6 address, without port. */
function isHostName(value: unknown): value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > 253) return false;
  if (/^\[?[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\]?$/.test(value)) return true; // IPv6
  return /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/.test(value);
}

function checkKeys(input: Record<string, unknown>, known: Record<string, unknown>, prefix: string): void {
  for (const [key, value] of Object.entries(input)) {
    if (!(key in known)) throw new ConfigError(`unknown config key "${prefix}${key}"`);
    if (isPlainObject(known[key])) {
      if (!isPlainObject(value)) throw new ConfigError(`config key "${prefix}${key}" must be an object`);
      checkKeys(value, known[key] as Record<string, unknown>, `${prefix}${key}.`);
    }
  }
}

function deepMerge(base: object, over: Record<string, unknown>, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base as Record<string, unknown> };
  for (const [key, value] of Object.entries(over)) {
    const b = out[key];
    out[key] = isPlainObject(b) && isPlainObject(value) ? deepMerge(b, value, source) : value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts.at(-1)!] = value;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((cur, p) => (cur as Record<string, unknown> | undefined)?.[p], obj);
}
