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
import { join } from "node:path";
import { homedir } from "node:os";
import { ConfigError } from "./errors.ts";
import { DEFAULT_HTTP_PORT } from "./constants.ts";
import type { LogLevel } from "./log.ts";
import { isProxyAddress } from "./services/ingest/client_ip.ts";

export interface NodeConfig {
  /** Where keys, the database, blocks and chain state live. @default "~/.kosmos" */
  dataDir: string;
  /** HTTP (API and web UI) bind address. @default "127.0.0.1" */
  host: string;
  /** HTTP port; 0 lets the OS choose. @default 7464 */
  port: number;
  /** libp2p listen multiaddrs. @default TCP and WebSocket on 127.0.0.1, OS-chosen ports */
  listen: string[];
  /** Multiaddrs (with `/p2p/<peerId>`) of peers to join through. @default [] */
  bootstrap: string[];
  /** EVM JSON-RPC URL. @default undefined: start an embedded anvil on a free loopback port */
  rpcUrl?: string;
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
}

export const defaultConfig = (): NodeConfig => ({
  dataDir: join(homedir(), ".kosmos"),
  host: "127.0.0.1",
  port: DEFAULT_HTTP_PORT,
  listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
  bootstrap: [],
  rpcUrl: undefined,
  logLevel: "info",
  storage: { quotaGB: 1 },
  trustedProxies: [],
});

/** Flag name → config key; flags take `--name value` or `--name=value`. */
const flags: Record<string, { key: string; kind: "string" | "number" | "list" }> = {
  "data-dir": { key: "dataDir", kind: "string" },
  host: { key: "host", kind: "string" },
  port: { key: "port", kind: "number" },
  listen: { key: "listen", kind: "list" },
  bootstrap: { key: "bootstrap", kind: "list" },
  "rpc-url": { key: "rpcUrl", kind: "string" },
  "log-level": { key: "logLevel", kind: "string" },
  "storage-quota-gb": { key: "storage.quotaGB", kind: "number" },
  "trusted-proxies": { key: "trustedProxies", kind: "list" },
};

const envVars: Record<string, { key: string; kind: "string" | "number" | "list" }> = {
  KOSMOS_DATA_DIR: flags["data-dir"],
  KOSMOS_HOST: flags.host,
  KOSMOS_PORT: flags.port,
  KOSMOS_LISTEN: flags.listen,
  KOSMOS_BOOTSTRAP: flags.bootstrap,
  KOSMOS_RPC_URL: flags["rpc-url"],
  KOSMOS_LOG_LEVEL: flags["log-level"],
  KOSMOS_STORAGE_QUOTA_GB: flags["storage-quota-gb"],
  KOSMOS_TRUSTED_PROXIES: flags["trusted-proxies"],
  KOSMOS_CONFIG: { key: "$config", kind: "string" },
};

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
    if (!name.startsWith("KOSMOS_")) continue;
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
  checkKeys(input, { ...known, rpcUrl: "" }, "");
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
  return c;
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
