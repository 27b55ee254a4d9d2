/**
 * The `kosmos` client commands as a person runs them, for tests: a real
 * process without a terminal, pointed at an in-process node, and readers of
 * the contracts' state to check what the commands did on the chain.
 *
 * ```ts
 * const out = await kosmos(node, ["wallet", "--json"]);
 * assert.equal(out.code, 0, out.stderr);
 * const wallet = out.json();
 * ```
 */
import assert from "node:assert/strict";
import type { Address } from "viem";
import type { KosmosNode } from "../node/node.ts";
import { kosmosEscrowAbi, kosmosRegistryAbi, kosmosTokenAbi } from "../protocol/contracts_generated.ts";

const main = new URL("../node/main.ts", import.meta.url).pathname;

export interface KosmosRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as the one JSON document `--json` prints; fails the test otherwise. */
  json<T = Record<string, unknown>>(): T;
}

/** Where a command finds a running node: its URL and its data dir (for the owner's token). */
export type CliTarget = Pick<KosmosNode, "url"> & { config: Pick<KosmosNode["config"], "dataDir"> };

/** Runs `kosmos ARGS --url <node> --data-dir <node's>` without a terminal. */
export async function kosmos(node: CliTarget, args: string[]): Promise<KosmosRun> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args, "--url", node.url, "--data-dir", node.config.dataDir],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  return {
    code,
    stdout: out,
    stderr: err,
    json<T>() {
      assert.equal(out.trim().split("\n").length, 1, `one line of JSON on stdout, got:\n${out}\n${err}`);
      return JSON.parse(out) as T;
    },
  };
}

/** Runs `kosmos ARGS` and returns its `--json` document; the command must succeed. */
export async function kosmosJson<T = Record<string, unknown>>(node: CliTarget, args: string[]): Promise<T> {
  const run = await kosmos(node, [...args, "--json"]);
  assert.equal(run.code, 0, `kosmos ${args.join(" ")} failed:\n${run.stderr}`);
  return run.json<T>();
}

/** The registry's record of a listing, read from the chain. */
export async function readRegistryListing(node: KosmosNode, listingId: bigint) {
  const { publicClient, contracts } = node.components.chain.client;
  return await publicClient.readContract({
    address: contracts.registry,
    abi: kosmosRegistryAbi,
    functionName: "getListing",
    args: [listingId],
  });
}

/** A token balance, read from the chain. */
export async function readTokenBalance(node: KosmosNode, account: Address): Promise<bigint> {
  const { publicClient, contracts } = node.components.chain.client;
  return await publicClient.readContract({
    address: contracts.token,
    abi: kosmosTokenAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** The chain's clock: the latest block's timestamp, unix seconds. */
export async function readChainTime(node: KosmosNode): Promise<number> {
  const block = await node.components.chain.client.publicClient.getBlock();
  return Number(block.timestamp);
}

/** Payouts the escrow holds for `account`, read from the chain. */
export async function readEscrowBalance(node: KosmosNode, account: Address): Promise<bigint> {
  const { publicClient, contracts } = node.components.chain.client;
  return await publicClient.readContract({
    address: contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** Whether the escrow lets `delegate` sell registry listing `listingId`, read from the chain. */
export async function readIsDelegate(
  node: KosmosNode,
  listingId: bigint,
  delegate: Address,
): Promise<boolean> {
  const { publicClient, contracts } = node.components.chain.client;
  return await publicClient.readContract({
    address: contracts.escrow,
    abi: kosmosEscrowAbi,
    functionName: "isDelegate",
    args: [listingId, delegate],
  });
}
