import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../db/mod.ts";
import { loadIdentity } from "../identity/mod.ts";
import { createLogger } from "../../log.ts";
import { TOTAL_SUPPLY } from "./deploy.ts";
import { DEV_REWARDS_RESERVE } from "./dev_chain.ts";
import {
  ChainUnavailableError,
  createChain,
  getContractsPath,
  getTokenBalance,
  readContractsFile,
} from "./mod.ts";
import { startTestChain } from "./testing.ts";
import {
  kosmosMiningAbi,
  kosmosOwnershipAbi,
  kosmosPoolsAbi,
} from "../../../protocol/contracts_generated.ts";

const log = createLogger({ level: "error" }).forComponent("kosmos:chain");
/** One faucet drip: the starting balance of a node on its embedded chain. */
const DRIP = 10_000n * 10n ** 18n;

/** Asserts that the node holds one drip and the faucet, rewards reserve and mining hold the rest of the supply. */
async function assertStartingBalance(chain: ReturnType<typeof createChain>) {
  const client = chain.client;
  const [mine, faucet, reserve, mining] = await Promise.all([
    getTokenBalance(client),
    getTokenBalance(client, { address: client.contracts.faucet! }),
    getTokenBalance(client, { address: DEV_REWARDS_RESERVE }),
    getTokenBalance(client, { address: client.contracts.mining }),
  ]);
  assert.equal(mine, DRIP, "one drip from the faucet, not the supply");
  assert.ok(mining > 0n, "the mining contract holds its allocation");
  assert.equal(mine + faucet + reserve + mining, TOTAL_SUPPLY);
}

async function withChain<T>(
  dataDir: string,
  rpcUrl: string | undefined,
  fn: (chain: ReturnType<typeof createChain>) => Promise<T>,
) {
  const identity = await loadIdentity(dataDir);
  const db = openDatabase(join(dataDir, "kosmos.db"));
  const chain = createChain({ identity, db, log }, { dataDir, rpcUrl });
  try {
    await chain.start();
    return await fn(chain);
  } finally {
    await chain.stop();
    db.close();
  }
}

Deno.test("ChainService on its embedded chain deploys the contracts with a faucet, takes one drip as its starting balance, and reuses them after a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-chain-" });
  try {
    const first = await withChain(dataDir, undefined, async (chain) => {
      assert.ok(chain.embedded);
      assert.ok(chain.contracts?.faucet);
      await assertStartingBalance(chain);
      assert.ok(await chain.getBalance() > 0n, "funded with test ether");
      assert.equal(await chain.isArbiter(), true);
      await chain.indexer.sync();
      return chain.contracts;
    });
    assert.deepEqual(await readContractsFile(getContractsPath(dataDir)), {
      chainId: 31337,
      contracts: first,
    });
    await withChain(dataDir, undefined, async (chain) => {
      assert.deepEqual(chain.contracts, first, "the deployment is reused");
      await assertStartingBalance(chain);
    });
    await Deno.remove(join(dataDir, "chain", "anvil-state.json"));
    await withChain(dataDir, undefined, async (chain) => {
      assert.ok(chain.contracts, "a chain without the code gets a new deployment");
      await assertStartingBalance(chain);
      assert.equal(chain.indexer.listEvents().length, 0);
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("ChainService on a shared chain uses the contracts file, and runs without contracts when there is none", async () => {
  await using shared = await startTestChain();
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-chain-" });
  try {
    await withChain(dataDir, shared.anvil.rpcUrl, async (chain) => {
      assert.equal(chain.embedded, false);
      assert.equal(chain.contracts, undefined);
      assert.equal(await chain.isArbiter(), false);
      assert.throws(() => chain.client, ChainUnavailableError);
    });
    await Deno.mkdir(join(dataDir, "chain"), { recursive: true });
    await Deno.writeTextFile(
      getContractsPath(dataDir),
      JSON.stringify({ chainId: 31337, contracts: shared.contracts }),
    );
    await withChain(dataDir, shared.anvil.rpcUrl, async (chain) => {
      assert.deepEqual(chain.contracts, shared.contracts);
      assert.equal(await getTokenBalance(chain.client), 0n);
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("ChainService adds the ownership, pools and mining contracts to a saved deployment from before they existed, on its own chain only", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "kosmos-chain-" });
  await using shared = await startTestChain();
  const sharedDir = await Deno.makeTempDir({ prefix: "kosmos-chain-" });
  try {
    const first = await withChain(dataDir, undefined, (chain) => Promise.resolve(chain.contracts!));
    const { ownership: _, pools: _p, mining: _m, ...older } = first;
    const path = getContractsPath(dataDir);
    await Deno.writeTextFile(path, JSON.stringify({ chainId: 31337, contracts: older }));
    const upgraded = await withChain(dataDir, undefined, async (chain) => {
      const contracts = chain.contracts!;
      assert.deepEqual(
        { ...contracts, ownership: first.ownership, pools: first.pools, mining: first.mining },
        first,
        "the other contracts are kept",
      );
      assert.notEqual(contracts.ownership, first.ownership, "a new ownership contract");
      assert.notEqual(contracts.pools, first.pools, "a new pools contract");
      assert.notEqual(contracts.mining, first.mining, "a new mining contract");
      const [miningToken, allocation, distributor, epochLength, held] = await Promise.all(
        (["token", "allocation", "distributor", "epochLength"] as const).map((functionName) =>
          chain.publicClient.readContract({ address: contracts.mining, abi: kosmosMiningAbi, functionName })
        ).concat(getTokenBalance(chain.client, { address: contracts.mining })),
      );
      assert.equal(miningToken, first.token);
      assert.ok((allocation as bigint) > 0n);
      assert.equal(held, allocation, "funded with its allocation before it was deployed");
      assert.equal(distributor, chain.walletClient.account.address, "this node publishes the epochs");
      assert.equal(epochLength, 60n);
      const poolsEscrow = await chain.publicClient.readContract({
        address: contracts.pools,
        abi: kosmosPoolsAbi,
        functionName: "escrow",
      });
      assert.equal(poolsEscrow, first.escrow);
      const consent = await chain.publicClient.readContract({
        address: contracts.ownership,
        abi: kosmosOwnershipAbi,
        functionName: "consent",
      });
      assert.equal(consent, first.consent, "over the saved consent contract");
      return contracts;
    });
    assert.deepEqual(await readContractsFile(path), { chainId: 31337, contracts: upgraded });
    // A shared chain's file without it: the node cannot choose the network's contract alone.
    const { ownership: __, ...sharedOlder } = shared.contracts;
    await Deno.mkdir(join(sharedDir, "chain"), { recursive: true });
    await Deno.writeTextFile(
      getContractsPath(sharedDir),
      JSON.stringify({ chainId: 31337, contracts: sharedOlder }),
    );
    await assert.rejects(
      withChain(sharedDir, shared.anvil.rpcUrl, () => Promise.resolve()),
      /names no ownership contract/,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(sharedDir, { recursive: true });
  }
});
