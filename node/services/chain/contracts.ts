/**
 * Where the node finds the Kosmos contracts on its chain:
 * `<dataDir>/chain/contracts.json` (`{ chainId, contracts: { token, … } }`),
 * written by the node itself when it deploys to its embedded dev chain, or by
 * `deno task devnet` for every node of a shared chain. A file is used only when
 * its chain id matches and code exists at every address.
 *
 * ```ts
 * const path = getContractsPath(dataDir);
 * await writeContractsFile(path, { chainId: 31337, contracts });
 * const file = await readContractsFile(path); // undefined when missing
 * ```
 */
import { type Address, getAddress, isAddress } from "viem";
import { join } from "node:path";
import { readJsonFile, writeJsonFile } from "../../json_file.ts";
import type { ChainPublicClient, ContractAddresses } from "./client.ts";

/** The names of the contracts every network has, in deployment order (dev networks add `faucet`). */
export const CONTRACT_NAMES = [
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

/** Contracts added after networks were first deployed: a saved file may lack them. */
export const LATER_CONTRACT_NAMES: readonly (typeof CONTRACT_NAMES)[number][] = [
  "ownership",
  "pools",
  "mining",
];

/** The contents of `contracts.json`. */
export interface ContractsFile {
  chainId: number;
  contracts: ContractAddresses;
}

/** A `contracts.json` as read: a file written before a contract existed lacks its address. */
export interface SavedContractsFile {
  chainId: number;
  contracts: Omit<ContractAddresses, "ownership" | "pools" | "mining"> & {
    ownership?: Address;
    pools?: Address;
    mining?: Address;
  };
}

/** `<dataDir>/chain/contracts.json` */
export function getContractsPath(dataDir: string): string {
  return join(dataDir, "chain", "contracts.json");
}

/** Reads and validates a contracts file; `undefined` when there is none. Throws `TypeError` when malformed. */
export async function readContractsFile(path: string): Promise<SavedContractsFile | undefined> {
  const value = await readJsonFile(path);
  return value === undefined ? undefined : parseContractsFile(value, path);
}

/** Validates the parsed contents of a contracts file. */
export function parseContractsFile(value: unknown, source = "contracts file"): SavedContractsFile {
  const v = value as { chainId?: unknown; contracts?: Record<string, unknown> };
  if (!v || typeof v !== "object" || !Number.isSafeInteger(v.chainId) || !v.contracts) {
    throw new TypeError(`Invalid ${source}: expected { chainId, contracts: { token, registry, … } }`);
  }
  const contracts = {} as Record<(typeof CONTRACT_NAMES)[number], Address>;
  for (const name of CONTRACT_NAMES) {
    const address = v.contracts[name];
    if (address === undefined && LATER_CONTRACT_NAMES.includes(name)) continue;
    if (typeof address !== "string" || !isAddress(address, { strict: false })) {
      throw new TypeError(`Invalid ${source}: contracts.${name} is not an address`);
    }
    contracts[name] = getAddress(address);
  }
  // Optional: only dev networks have a faucet.
  const faucet = v.contracts.faucet;
  if (faucet !== undefined) {
    if (typeof faucet !== "string" || !isAddress(faucet, { strict: false })) {
      throw new TypeError(`Invalid ${source}: contracts.faucet is not an address`);
    }
    return { chainId: v.chainId as number, contracts: { ...contracts, faucet: getAddress(faucet) } };
  }
  return { chainId: v.chainId as number, contracts };
}

/** Writes a contracts file atomically (temp file, then rename). */
export async function writeContractsFile(path: string, file: ContractsFile): Promise<void> {
  await writeJsonFile(path, file);
}

/** Whether code exists at every address of `contracts`. */
export async function hasContractCode(
  publicClient: ChainPublicClient,
  contracts: SavedContractsFile["contracts"],
): Promise<boolean> {
  const addresses = CONTRACT_NAMES.flatMap((name) => contracts[name] ?? []);
  if (contracts.faucet) addresses.push(contracts.faucet);
  const codes = await Promise.all(addresses.map((address) => publicClient.getCode({ address })));
  return codes.every((code) => code !== undefined && code !== "0x");
}
