/**
 * The viem `Chain` for an EVM chain the node reaches over JSON-RPC (ether as
 * its native currency), as its clients and the devnet's deployer use it.
 *
 * ```ts
 * const chain = toViemChain(31337, [rpcUrl]); // "Kosmos dev chain"
 * ```
 */
import { type Chain, defineChain } from "viem";
import { DEV_CHAIN_ID } from "./anvil.ts";

/** A viem chain with id `id` at `rpcUrls`; `name` defaults to "Kosmos dev chain" on the dev chain id, else "chain <id>". */
export function toViemChain(id: number, rpcUrls: string[], name?: string): Chain {
  return defineChain({
    id,
    name: name ?? (id === DEV_CHAIN_ID ? "Kosmos dev chain" : `chain ${id}`),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: rpcUrls } },
  });
}
