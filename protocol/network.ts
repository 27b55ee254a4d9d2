/**
 * Networks: a network is one chain id, its RPC URL(s), the Kosmos contract
 * addresses on it, bootstrap peers and a protocol prefix, kept in one JSON
 * profile. Every gossip topic and libp2p protocol id of a node carries its
 * network's prefix (`/kosmos/chunks/1.0.0` becomes
 * `/kosmos/devnet-1a2b3c4d/chunks/1.0.0`), so nodes of different networks
 * never exchange catalogs. Peers tell each other their network over
 * {@link NETWORK_PROTOCOL}, the one id without a prefix.
 *
 * ```ts
 * const profile = parseNetworkProfile(JSON.parse(text), "devnet.json");
 * prefixProtocol(profile.protocolPrefix, "/kosmos/sale/1.0.0"); // "/kosmos/devnet-1a2b3c4d/sale/1.0.0"
 * const hello = decodeNetworkHello(bytes); // what a peer says about its network
 * ```
 */
import { type Address, getAddress, isAddress } from "viem";
import { multiaddr } from "@multiformats/multiaddr";

/** Peers ask each other's network here; the only protocol id that carries no network prefix. */
export const NETWORK_PROTOCOL = "/kosmos/network/1.0.0";
/** The prefix every protocol id is written with, and the one nodes use without a network profile. */
export const DEFAULT_PROTOCOL_PREFIX = "/kosmos";
/** Largest network hello, in bytes. */
export const MAX_NETWORK_HELLO_BYTES = 8 * 1024;

/** The contracts a network names, in deployment order. */
export const NETWORK_CONTRACT_NAMES = [
  "token",
  "registry",
  "escrow",
  "consent",
  "ownership",
  "rewards",
  "anchor",
  "pools",
  "mining",
] as const;
export type NetworkContracts = Record<(typeof NETWORK_CONTRACT_NAMES)[number], Address> & {
  /** The test-token faucet; dev networks only. */
  faucet?: Address;
};

/** A network profile, as `deno task contracts deploy` and `deno task devnet` write it. */
export interface NetworkProfile {
  /** A short name: lower-case letters, digits, `.`, `_`, `-`; at most 64 characters. */
  name: string;
  chainId: number;
  /** JSON-RPC URLs of the chain (http, https, ws, wss); the first is used. */
  rpcUrls: string[];
  contracts: NetworkContracts;
  /** Multiaddrs (with `/p2p/<peerId>`) of peers to join through. */
  bootstrap: string[];
  /** `/kosmos/<name>-<8 hex>`: what every topic and protocol id of the network starts with. */
  protocolPrefix: string;
  /** A development network: test ether and a faucet, anvil methods allowed. */
  dev: boolean;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PREFIX = /^\/kosmos(\/[a-z0-9][a-z0-9._-]{0,79})?$/;
const PROFILE_KEYS = ["name", "chainId", "rpcUrls", "contracts", "bootstrap", "protocolPrefix", "dev"];

/** Whether `name` is a valid network name. */
export function isNetworkName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name);
}

/** Validates a parsed profile; throws a `TypeError` naming the field and `source`. */
export function parseNetworkProfile(value: unknown, source = "network profile"): NetworkProfile {
  const fail = (field: string, problem: string): never => {
    throw new TypeError(`Invalid ${source}: "${field}" ${problem}`);
  };
  if (!isRecord(value)) throw new TypeError(`Invalid ${source}: expected a JSON object`);
  for (const key of Object.keys(value)) {
    if (!PROFILE_KEYS.includes(key)) fail(key, `is not a profile field (fields: ${PROFILE_KEYS.join(", ")})`);
  }
  for (const key of PROFILE_KEYS) if (!(key in value)) fail(key, "is missing");
  const v = value as Record<string, unknown>;
  if (!isNetworkName(v.name)) fail("name", "must be 1-64 lower-case letters, digits, '.', '_' or '-'");
  if (!Number.isSafeInteger(v.chainId) || (v.chainId as number) < 1) {
    fail("chainId", `must be a positive whole number, got ${JSON.stringify(v.chainId)}`);
  }
  if (!Array.isArray(v.rpcUrls) || v.rpcUrls.length === 0) fail("rpcUrls", "must list at least one URL");
  const rpcUrls = (v.rpcUrls as unknown[]).map((url, i) => checkRpcUrl(url, `rpcUrls[${i}]`, fail));
  const contracts = parseContracts(v.contracts, "contracts", fail);
  if (!Array.isArray(v.bootstrap)) fail("bootstrap", "must be a list of multiaddrs");
  const bootstrap = (v.bootstrap as unknown[]).map((addr, i) => {
    if (typeof addr !== "string") return fail(`bootstrap[${i}]`, "must be a multiaddr string");
    try {
      if (!multiaddr(addr).getComponents().some((c) => c.name === "p2p")) throw new Error("no /p2p/<peerId>");
    } catch (err) {
      fail(`bootstrap[${i}]`, `is not a multiaddr with /p2p/<peerId>: ${(err as Error).message}`);
    }
    return addr;
  });
  if (typeof v.protocolPrefix !== "string" || !PREFIX.test(v.protocolPrefix)) {
    fail(
      "protocolPrefix",
      `must look like "/kosmos/<name>-<8 hex>", got ${JSON.stringify(v.protocolPrefix)}`,
    );
  }
  if (typeof v.dev !== "boolean") fail("dev", "must be true or false");
  return {
    name: v.name as string,
    chainId: v.chainId as number,
    rpcUrls,
    contracts,
    bootstrap,
    protocolPrefix: v.protocolPrefix as string,
    dev: v.dev as boolean,
  };
}

/** `/kosmos/<name>-<first 8 hex digits of the registry>`: distinct for every deployment. */
export function networkPrefix(name: string, registry: Address): string {
  if (!isNetworkName(name)) throw new TypeError(`Cannot name a protocol prefix: bad network name "${name}"`);
  return `${DEFAULT_PROTOCOL_PREFIX}/${name}-${registry.slice(2, 10).toLowerCase()}`;
}

/**
 * `id` (written `/kosmos/…`) under `prefix`: `prefixProtocol("/kosmos/x-1", "/kosmos/sale/1.0.0")` is
 * `"/kosmos/x-1/sale/1.0.0"`. Ids that do not start with `/kosmos/` are returned unchanged.
 */
export function prefixProtocol(prefix: string, id: string): string {
  const base = `${DEFAULT_PROTOCOL_PREFIX}/`;
  if (prefix === DEFAULT_PROTOCOL_PREFIX || !id.startsWith(base) || id === NETWORK_PROTOCOL) return id;
  return `${prefix}/${id.slice(base.length)}`;
}

/** The inverse of {@link prefixProtocol}; `undefined` when `id` is not under `prefix`. */
export function unprefixProtocol(prefix: string, id: string): string | undefined {
  if (prefix === DEFAULT_PROTOCOL_PREFIX) return id;
  if (!id.startsWith(`${prefix}/`)) return undefined;
  return `${DEFAULT_PROTOCOL_PREFIX}/${id.slice(prefix.length + 1)}`;
}

/** What a node tells a peer about its network. */
export interface NetworkHello {
  v: 1;
  name: string;
  chainId: number;
  protocolPrefix: string;
  dev: boolean;
  /** `null` on a chain without Kosmos contracts. */
  contracts: NetworkContracts | null;
  /**
   * RPC URLs the asking peer may use to join. Only a dev network's loopback RPC, and only to a peer
   * connected over loopback: an embedded anvil listens on 127.0.0.1, so only local peers can reach it.
   */
  rpcUrls: string[];
}

/** Whether two hellos describe the same network (chain id, registry and protocol prefix). */
export function isSameNetwork(a: NetworkHello, b: NetworkHello): boolean {
  return a.chainId === b.chainId && a.protocolPrefix === b.protocolPrefix &&
    (a.contracts?.registry ?? null) === (b.contracts?.registry ?? null);
}

/** One line naming a network: `"local" (chain 31337, registry 0x5FbD…)`. */
export function describeNetwork(hello: Pick<NetworkHello, "name" | "chainId" | "contracts">): string {
  const registry = hello.contracts ? `registry ${hello.contracts.registry}` : "no Kosmos contracts";
  return `"${hello.name}" (chain ${hello.chainId}, ${registry})`;
}

export function encodeNetworkHello(hello: NetworkHello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(hello));
}

/** Decodes and validates a peer's hello; throws a `TypeError` naming the bad field. */
export function decodeNetworkHello(bytes: Uint8Array): NetworkHello {
  if (bytes.length > MAX_NETWORK_HELLO_BYTES) throw new TypeError("Invalid network hello: too large");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new TypeError("Invalid network hello: not JSON");
  }
  const fail = (field: string, problem: string): never => {
    throw new TypeError(`Invalid network hello: "${field}" ${problem}`);
  };
  if (!isRecord(value)) throw new TypeError("Invalid network hello: expected a JSON object");
  const keys = ["v", "name", "chainId", "protocolPrefix", "dev", "contracts", "rpcUrls"];
  for (const key of Object.keys(value)) if (!keys.includes(key)) fail(key, "is not a hello field");
  if (value.v !== 1) fail("v", "must be 1");
  if (!isNetworkName(value.name)) fail("name", "is not a network name");
  if (!Number.isSafeInteger(value.chainId) || (value.chainId as number) < 1) {
    fail("chainId", "is not a chain id");
  }
  if (typeof value.protocolPrefix !== "string" || !PREFIX.test(value.protocolPrefix)) {
    fail("protocolPrefix", "is not a protocol prefix");
  }
  if (typeof value.dev !== "boolean") fail("dev", "must be a boolean");
  const contracts = value.contracts === null ? null : parseContracts(value.contracts, "contracts", fail);
  if (!Array.isArray(value.rpcUrls) || value.rpcUrls.length > 4) fail("rpcUrls", "must list at most 4 URLs");
  const rpcUrls = (value.rpcUrls as unknown[]).map((url, i) => checkRpcUrl(url, `rpcUrls[${i}]`, fail));
  return {
    v: 1,
    name: value.name as string,
    chainId: value.chainId as number,
    protocolPrefix: value.protocolPrefix as string,
    dev: value.dev as boolean,
    contracts,
    rpcUrls,
  };
}

function parseContracts(
  value: unknown,
  field: string,
  fail: (field: string, problem: string) => never,
): NetworkContracts {
  if (!isRecord(value)) fail(field, `must be an object of addresses (${NETWORK_CONTRACT_NAMES.join(", ")})`);
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!(NETWORK_CONTRACT_NAMES as readonly string[]).includes(key) && key !== "faucet") {
      fail(`${field}.${key}`, "is not a contract");
    }
  }
  const out = {} as NetworkContracts;
  for (const name of NETWORK_CONTRACT_NAMES) {
    const address = v[name];
    if (typeof address !== "string" || !isAddress(address, { strict: false })) {
      fail(`${field}.${name}`, `must be an address, got ${JSON.stringify(address ?? null)}`);
    }
    out[name] = getAddress(address as string);
  }
  if (v.faucet !== undefined) {
    if (typeof v.faucet !== "string" || !isAddress(v.faucet, { strict: false })) {
      fail(`${field}.faucet`, `must be an address, got ${JSON.stringify(v.faucet)}`);
    }
    out.faucet = getAddress(v.faucet as string);
  }
  return out;
}

function checkRpcUrl(url: unknown, field: string, fail: (field: string, problem: string) => never): string {
  if (typeof url !== "string" || url.length > 2048) return fail(field, "must be a URL");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(field, `is not a URL: ${JSON.stringify(url)}`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) fail(field, "must be http(s) or ws(s)");
  return url;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
