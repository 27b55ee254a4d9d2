/**
 * `deno task contracts <compile|check|deploy>`:
 *
 *     deno task contracts compile                 # contracts/src → protocol/contracts_generated.ts
 *     deno task contracts check                   # exit 1 when the generated file is stale
 *     deno task contracts deploy --rpc-url URL [--key-file F] [--out PROFILE.json] [--name NAME]
 *
 * Deploy reads the key from the file (`--key-file`, or `--private-key-file`; or `KOSMOS_DEPLOYER_KEY`,
 * or anvil's first dev key on chain 31337), makes the deployer the arbiter, treasury and rewards
 * reserve unless `--arbiter`, `--treasury`, `--rewards-reserve` are given. On a dev chain (31337) the
 * treasury's allocation goes to a faucet contract (`POST /api/v1/faucet`) unless `--faucet ADDRESS`
 * names an account for a faucet allocation instead. It prints the addresses as JSON and, with `--out`, writes the network profile
 * (`--name`, default `chain-<id>`; `--bootstrap ADDR`, repeatable) that nodes start with
 * (`--network PROFILE.json`, or `--network NAME` once it is in `<data-dir>/networks/NAME.json`).
 * The mining contract takes half of the rewards allocation (`--mining-amount TOKENS`) and pays it out by
 * a schedule: `--epoch-length SECONDS` (default 1 day; 60 on a dev chain), `--halving-epochs N` (365),
 * `--initial-reward TOKENS` (the most that fits), published by `--mining-distributor` (the arbiter).
 */
import { parseArgs } from "node:util";
import { createPublicClient, createWalletClient, type Hex, http, isAddress, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  compileContracts,
  hashContractsInput,
  readContractsInput,
  renderGeneratedModule,
} from "../contracts/compile.ts";
import { deployContracts } from "../node/services/chain/deploy.ts";
import { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID } from "../node/services/chain/anvil.ts";
import { DEV_FAUCET_ETH, DEV_MINING } from "../node/services/chain/dev_chain.ts";
import { type NetworkProfile, writeNetworkProfile } from "../node/network.ts";
import { isNetworkName, networkPrefix } from "../protocol/network.ts";

const root = new URL("../", import.meta.url);
const generatedPath = new URL("protocol/contracts_generated.ts", root);

async function runCompile() {
  const input = await readContractsInput(root);
  const started = performance.now();
  const { contracts, warnings } = compileContracts(input);
  for (const warning of warnings) console.error(warning);
  await Deno.writeTextFile(generatedPath, renderGeneratedModule(contracts, hashContractsInput(input)));
  console.error(
    `contracts: compiled ${Object.keys(contracts).length} contracts in ${
      Math.round(performance.now() - started)
    } ms → protocol/contracts_generated.ts`,
  );
}

async function runCheck(): Promise<number> {
  const expected = hashContractsInput(await readContractsInput(root));
  const text = await Deno.readTextFile(generatedPath).catch(() => "");
  const actual = text.match(/export const contractsInputHash = "([0-9a-f]+)"/)?.[1];
  if (actual !== expected) {
    console.error(
      "contracts: protocol/contracts_generated.ts is stale (contracts/src, solc or its settings changed); run `deno task contracts compile`",
    );
    return 1;
  }
  console.error("contracts: protocol/contracts_generated.ts is up to date");
  return 0;
}

async function runDeploy(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "rpc-url": { type: "string" },
      "private-key-file": { type: "string" },
      arbiter: { type: "string" },
      treasury: { type: "string" },
      "rewards-reserve": { type: "string" },
      faucet: { type: "string" },
      "key-file": { type: "string" },
      out: { type: "string" },
      name: { type: "string" },
      bootstrap: { type: "string", multiple: true },
      "mining-amount": { type: "string" },
      "epoch-length": { type: "string" },
      "halving-epochs": { type: "string" },
      "initial-reward": { type: "string" },
      "mining-distributor": { type: "string" },
    },
  });
  const name = values.name ?? undefined;
  if (name !== undefined && !isNetworkName(name)) {
    console.error("contracts: --name must be 1-64 lower-case letters, digits, '.', '_' or '-'");
    return 2;
  }
  const rpcUrl = values["rpc-url"];
  if (!rpcUrl) {
    console.error(
      "usage: deno task contracts deploy --rpc-url URL [--key-file FILE] [--out PROFILE.json] [--name NAME]",
    );
    return 2;
  }
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  const keyFile = values["key-file"] ?? values["private-key-file"];
  let key = keyFile ? (await Deno.readTextFile(keyFile)).trim() : Deno.env.get("KOSMOS_DEPLOYER_KEY")?.trim();
  if (!key && chainId === DEV_CHAIN_ID) key = DEV_ACCOUNT_KEYS[0];
  if (!key) {
    console.error(
      "contracts: give --key-file (or KOSMOS_DEPLOYER_KEY) to deploy outside a dev chain",
    );
    return 2;
  }
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
    console.error("contracts: the private key must be 32 bytes of hex");
    return 2;
  }
  const account = privateKeyToAccount((key.startsWith("0x") ? key : `0x${key}`) as Hex);
  const chain = {
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  };
  const walletClient = createWalletClient({ account, chain, transport });
  const address = (name: string) => {
    const v = values[name as keyof typeof values] as string | undefined;
    if (v !== undefined && !isAddress(v)) {
      throw new TypeError(`Cannot deploy: --${name} "${v}" is not an address`);
    }
    return v as Hex | undefined;
  };
  const devFaucet = chainId === DEV_CHAIN_ID && values.faucet === undefined;
  const integer = (name: "epoch-length" | "halving-epochs") => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (!/^[1-9][0-9]{0,15}$/.test(v)) {
      throw new RangeError(`Cannot deploy: --${name} "${v}" is not a positive integer`);
    }
    return Number(v);
  };
  const tokens = (name: "mining-amount" | "initial-reward") => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (!/^[0-9]{1,12}(\.[0-9]{1,18})?$/.test(v)) {
      throw new RangeError(`Cannot deploy: --${name} "${v}" is not a token amount`);
    }
    return parseUnits(v, 18);
  };
  const addresses = await deployContracts(walletClient, publicClient, {
    arbiter: address("arbiter") ?? account.address,
    treasury: address("treasury") ?? account.address,
    rewardsReserve: address("rewards-reserve") ?? account.address,
    faucet: address("faucet"),
    // A dev chain gets a faucet contract holding the treasury's allocation, with test ether from anvil.
    ...(devFaucet && { faucetContract: {} }),
    miningAmount: tokens("mining-amount"),
    mining: {
      distributor: address("mining-distributor"),
      epochLength: integer("epoch-length") ?? (chainId === DEV_CHAIN_ID ? DEV_MINING.epochLength : undefined),
      halvingEpochs: integer("halving-epochs"),
      initialReward: tokens("initial-reward"),
    },
  });
  if (devFaucet) {
    await publicClient.request({
      method: "anvil_setBalance" as never,
      params: [addresses.faucet, `0x${DEV_FAUCET_ETH.toString(16)}`] as never,
    });
  }
  console.log(JSON.stringify({ chainId, ...addresses }));
  if (values.out) {
    const networkName = name ?? `chain-${chainId}`;
    const profile: NetworkProfile = {
      name: networkName,
      chainId,
      rpcUrls: [rpcUrl],
      contracts: addresses,
      bootstrap: values.bootstrap ?? [],
      protocolPrefix: networkPrefix(networkName, addresses.registry),
      dev: chainId === DEV_CHAIN_ID,
    };
    try {
      await writeNetworkProfile(values.out, profile);
    } catch (err) {
      console.error(`contracts: cannot write the network profile: ${(err as Error).message}`);
      return 1;
    }
    console.error(
      `contracts: wrote network "${networkName}" to ${values.out} (start nodes with --network ${values.out})`,
    );
  }
  return 0;
}

const [command, ...rest] = Deno.args;
switch (command) {
  case "compile":
    await runCompile();
    break;
  case "check":
    Deno.exit(await runCheck());
    break;
  case "deploy":
    Deno.exit(await runDeploy(rest));
    break;
  default:
    console.error(
      "usage: deno task contracts <compile|check|deploy> [--rpc-url URL] [--key-file FILE] [--out PROFILE.json]",
    );
    Deno.exit(2);
}
