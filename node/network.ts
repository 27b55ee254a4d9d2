/**
 * Selecting a network with `--network FILE|NAME`: a path (anything with a `/`
 * or ending in `.json`) is read as a profile; a name is looked up in
 * `<dataDir>/networks/NAME.json`; the built-in `local` is the node's embedded
 * chain (an anvil it starts itself, its own contracts, a dev network).
 *
 * ```ts
 * const choice = await loadNetwork("devnet", { dataDir });
 * if (choice.kind === "profile") console.log(choice.profile.rpcUrls[0]);
 * await writeNetworkProfile(join(dataDir, "networks", "mine.json"), profile);
 * ```
 */
import { join } from "node:path";
import { ConfigError } from "./errors.ts";
import { writeJsonFile } from "./json_file.ts";
import { isNetworkName, type NetworkProfile, parseNetworkProfile } from "../protocol/network.ts";

export type { NetworkContracts, NetworkProfile } from "../protocol/network.ts";
export { parseNetworkProfile } from "../protocol/network.ts";

/** The built-in network: the embedded chain. */
export const LOCAL_NETWORK = "local";

/** What `--network` selected. */
export type NetworkChoice =
  | { kind: "local" }
  | { kind: "profile"; profile: NetworkProfile; /** the file it was read from */ path: string };

/** `<dataDir>/networks/NAME.json` */
export function getNetworkPath(dataDir: string, name: string): string {
  return join(dataDir, "networks", `${name}.json`);
}

/**
 * Resolves `--network FILE|NAME`. Throws {@link ConfigError} naming the
 * problem (unknown name, unreadable file, invalid field).
 */
export async function loadNetwork(spec: string, options: { dataDir: string }): Promise<NetworkChoice> {
  const isPath = spec.includes("/") || spec.endsWith(".json");
  if (!isPath) {
    if (spec === LOCAL_NETWORK) return { kind: "local" };
    if (!isNetworkName(spec)) {
      throw new ConfigError(
        `network "${spec}" is not a network name (lower-case letters, digits, '.', '_', '-') or a .json file`,
      );
    }
  }
  const path = isPath ? spec : getNetworkPath(options.dataDir, spec);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!isPath && err instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `unknown network "${spec}": no ${path} (built-in networks: ${LOCAL_NETWORK}; a profile file works too)`,
      );
    }
    throw new ConfigError(`cannot read network profile ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`network profile ${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return { kind: "profile", profile: parseNetworkProfile(value, `network profile ${path}`), path };
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Validates and writes a profile atomically (temp file, then rename), creating its directory. */
export async function writeNetworkProfile(path: string, profile: NetworkProfile): Promise<void> {
  await writeJsonFile(path, parseNetworkProfile(profile, "network profile"));
}

/**
 * The line a starting node prints about its network and how another node joins it:
 * `Network "local" (chain 31337, registry 0x…) · other nodes join with --bootstrap /ip4/…/p2p/…`.
 */
export function describeNodeNetwork(node: {
  components: {
    network: { readonly name: string; readonly profile?: NetworkProfile };
    chain: { readonly chainId: number; readonly contracts?: { registry: `0x${string}` } };
    p2p: { listenAddresses(): string[] };
  };
}): string {
  const { network, chain, p2p } = node.components;
  const registry = chain.contracts ? `registry ${chain.contracts.registry}` : "no Kosmos contracts";
  const addr = p2p.listenAddresses()[0];
  const join = addr ? ` · other nodes join with --bootstrap ${addr}` : "";
  return `Network "${network.name}" (chain ${chain.chainId}, ${registry})${join}`;
}
