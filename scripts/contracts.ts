/**
 * `deno task contracts <compile|check|deploy>`:
 *
 *     deno task contracts compile                 # contracts/src → protocol/contracts_generated.ts
 *     deno task contracts check                   # exit 1 when the generated file is stale
 *     deno task contracts deploy --rpc-url URL [--private-key-file F]   # prints the addresses as JSON
 *
 * Deploy reads the key from the file (or `KOSMOS_DEPLOYER_KEY`, or anvil's first dev key on chain
 * 31337), makes the deployer the arbiter, treasury and rewards reserve unless `--arbiter`,
 * `--treasury`, `--rewards-reserve` are given, and adds a faucet only with `--faucet ADDRESS`.
 */
import { parseArgs } from "node:util";
import { createPublicClient, createWalletClient, type Hex, http, isAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  compileContracts,
  hashContractsInput,
  readContractsInput,
  renderGeneratedModule,
} from "../contracts/compile.ts";
import { deployContracts } from "../node/services/chain/deploy.ts";
import { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID } from "../node/services/chain/anvil.ts";

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
    },
  });
  const rpcUrl = values["rpc-url"];
  if (!rpcUrl) {
    console.error("usage: deno task contracts deploy --rpc-url URL [--private-key-file FILE]");
    return 2;
  }
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  let key = values["private-key-file"]
    ? (await Deno.readTextFile(values["private-key-file"])).trim()
    : Deno.env.get("KOSMOS_DEPLOYER_KEY")?.trim();
  if (!key && chainId === DEV_CHAIN_ID) key = DEV_ACCOUNT_KEYS[0];
  if (!key) {
    console.error(
      "contracts: give --private-key-file (or KOSMOS_DEPLOYER_KEY) to deploy outside a dev chain",
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
  const addresses = await deployContracts(walletClient, publicClient, {
    arbiter: address("arbiter") ?? account.address,
    treasury: address("treasury") ?? account.address,
    rewardsReserve: address("rewards-reserve") ?? account.address,
    faucet: address("faucet"),
  });
  console.log(JSON.stringify({ chainId, ...addresses }));
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
      "usage: deno task contracts <compile|check|deploy> [--rpc-url URL] [--private-key-file FILE]",
    );
    Deno.exit(2);
}
