/**
 * Checks that a network's contracts are the Kosmos contracts on the chain a
 * node connects to: code at every address, and the links between them (the
 * registry's, escrow's and rewards' token, the escrow's registry, the ownership's consent, the
 * pools' and mining's token, escrow, registry and rewards) as the profile names them.
 *
 * ```ts
 * await checkNetworkContracts(publicClient, profile.contracts); // throws StartError naming the mismatch
 * ```
 */
import type { Address, PublicClient } from "viem";
import {
  kosmosEscrowAbi,
  kosmosMiningAbi,
  kosmosOwnershipAbi,
  kosmosPoolsAbi,
  kosmosRegistryAbi,
  kosmosRewardsAbi,
} from "../../../protocol/contracts_generated.ts";
import { NETWORK_CONTRACT_NAMES, type NetworkContracts } from "../../../protocol/network.ts";
import { StartError } from "../../errors.ts";

export async function checkNetworkContracts(
  publicClient: Pick<PublicClient, "getCode" | "readContract">,
  contracts: NetworkContracts,
): Promise<void> {
  const codes = await Promise.all(
    NETWORK_CONTRACT_NAMES.map((name) => publicClient.getCode({ address: contracts[name] })),
  );
  const missing = NETWORK_CONTRACT_NAMES.filter((_, i) => !codes[i] || codes[i] === "0x");
  if (missing.length > 0) {
    throw new StartError(
      `the network's contracts are not on this chain: no code at ${
        missing.map((n) => `${n} ${contracts[n]}`).join(", ")
      }`,
    );
  }
  const read = (
    address: Address,
    abi:
      | typeof kosmosEscrowAbi
      | typeof kosmosRegistryAbi
      | typeof kosmosRewardsAbi
      | typeof kosmosOwnershipAbi
      | typeof kosmosPoolsAbi
      | typeof kosmosMiningAbi,
    fn: string,
  ) =>
    // deno-lint-ignore no-explicit-any
    publicClient.readContract({ address, abi, functionName: fn } as any) as Promise<Address>;
  const links: [string, Promise<Address>, Address][] = [
    ["registry.token()", read(contracts.registry, kosmosRegistryAbi, "token"), contracts.token],
    ["escrow.token()", read(contracts.escrow, kosmosEscrowAbi, "token"), contracts.token],
    ["escrow.registry()", read(contracts.escrow, kosmosEscrowAbi, "registry"), contracts.registry],
    ["rewards.token()", read(contracts.rewards, kosmosRewardsAbi, "token"), contracts.token],
    ["ownership.consent()", read(contracts.ownership, kosmosOwnershipAbi, "consent"), contracts.consent],
    ["pools.token()", read(contracts.pools, kosmosPoolsAbi, "token"), contracts.token],
    ["pools.registry()", read(contracts.pools, kosmosPoolsAbi, "registry"), contracts.registry],
    ["pools.escrow()", read(contracts.pools, kosmosPoolsAbi, "escrow"), contracts.escrow],
    ["pools.rewards()", read(contracts.pools, kosmosPoolsAbi, "rewards"), contracts.rewards],
    ["mining.token()", read(contracts.mining, kosmosMiningAbi, "token"), contracts.token],
    ["mining.rewards()", read(contracts.mining, kosmosMiningAbi, "rewards"), contracts.rewards],
  ];
  // Read in parallel, reported in order: the first mismatch stops the check, the later reads settle unheard.
  for (const [, actual] of links) actual.catch(() => {});
  for (const [what, actual, expected] of links) {
    let value: Address;
    try {
      value = await actual;
    } catch (cause) {
      throw new StartError(
        `the network's contracts do not answer ${what}: ${(cause as Error).message.split("\n")[0]}`,
        {
          cause,
        },
      );
    }
    if (value.toLowerCase() !== expected.toLowerCase()) {
      throw new StartError(
        `the network's contracts do not match: ${what} is ${value}, the profile says ${expected}`,
      );
    }
  }
}
