/**
 * `kosmos node` — the running node's identity, addresses, peers and chain
 * (`GET /api/v1/node`); `kosmos chain` — its chain and the Kosmos contracts
 * (`GET /api/v1/chain`).
 */
import type { ChainInfo, NodeInfo } from "../../protocol/api/mod.ts";
import { callApi, type CommandIo, COMMON_FLAGS_USAGE, formatEth, output, runCommand } from "./command.ts";

export const NODE_USAGE = `Usage: kosmos node [--json]

Shows the running node: peer id, wallet, the addresses other nodes dial,
connected peers, and its chain.

Flags:
${COMMON_FLAGS_USAGE}
`;

export const CHAIN_USAGE = `Usage: kosmos chain [--json]

Shows the node's chain (id, RPC URL, latest block) and the addresses of the
Kosmos contracts on it.

Flags:
${COMMON_FLAGS_USAGE}
`;

/** Runs `kosmos node`. */
export function runNodeInfo(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "node", usage: NODE_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const info = await callApi<NodeInfo>(cmd, "/api/v1/node", { what: "read the node" });
    output(cmd, info, () => [
      `Kosmos node ${info.peerId} (version ${info.version})`,
      `wallet  ${info.address}, ${formatEth(info.chain.balance)} on chain ${info.chain.chainId}`,
      `peers   ${info.peers.length} connected`,
      ...info.listen.map((addr) => `listen  ${addr}`),
    ]);
  });
}

/** Runs `kosmos chain`. */
export function runChain(args: string[], io: CommandIo = {}): Promise<number> {
  return runCommand({ name: "chain", usage: CHAIN_USAGE, operands: [0, 0] }, args, io, async (cmd) => {
    const chain = await callApi<ChainInfo>(cmd, "/api/v1/chain", { what: "read the chain" });
    output(cmd, chain, () => [
      `chain ${chain.chainId} at ${chain.rpcUrl}, block ${chain.block}`,
      ...(chain.contracts
        ? Object.entries(chain.contracts).map(([name, address]) => `  ${name.padEnd(9)} ${address}`)
        : ["  no Kosmos contracts on this chain"]),
    ]);
  });
}
