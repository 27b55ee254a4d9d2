/**
 * `deno task devnet [--nodes N] [--base-port P] [--data-dir DIR] [--log-level L]`:
 * a local network on loopback. One anvil shared by N nodes (default 3); the
 * first node is every other node's bootstrap peer. The Kosmos contracts are
 * deployed once by anvil's first dev account, with node 0's wallet as arbiter
 * and treasury and the supply in a faucet, and described in the network profile `<dir>/network.json` (network
 * `devnet`), which every node is started with (`--network`), and every node's
 * wallet is funded with ether and 10,000 tokens. Prints each node's UI URL as
 * it comes up; Ctrl-C stops everything it started.
 *
 * Ports: anvil takes 8545 and the nodes 7464, 7465, … (`--base-port`) when
 * they are free, and free ports the OS picks otherwise; the devnet prints what
 * it took. `--base-port 0` lets the OS pick every HTTP port (used by the tests).
 *
 * `--data-dir DIR` keeps the devnet for a restart: anvil's state
 * (`DIR/anvil-state.json`, dumped every 5 s and on exit), the profile and the
 * nodes' data dirs (`DIR/node-<i>`). Without it, everything lives in a temp
 * dir removed at exit. Other nodes join a running devnet with
 * `deno task start --network DIR/network.json`.
 */
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { join } from "node:path";
import { DEV_ACCOUNT_KEYS, DEV_CHAIN_ID, startAnvil } from "../node/services/chain/anvil.ts";
import { dripFaucet } from "../node/services/chain/actions/faucet.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";
import { toViemChain } from "../node/services/chain/viem_chain.ts";
import { loadIdentity } from "../node/services/identity/mod.ts";
import { loadNetwork, type NetworkProfile, writeNetworkProfile } from "../node/network.ts";
import { networkPrefix } from "../protocol/network.ts";
import { hasContractCode } from "../node/services/chain/contracts.ts";
import { kosmosTokenAbi } from "../protocol/contracts_generated.ts";

interface DevnetOptions {
  nodes: number;
  basePort: number;
  logLevel: string;
  /** @default undefined: a temp dir removed at exit */
  dataDir?: string;
}

/** Anvil's usual port, taken when free. */
const ANVIL_PORT = 8545;

/** `port` when nothing listens on it on 127.0.0.1, else 0 (the OS picks a free one). */
export function freePortOr0(port: number): number {
  if (port === 0) return 0;
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return port;
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) return 0;
    throw err;
  }
}

function parseArgs(args: string[]): DevnetOptions {
  const options: DevnetOptions = { nodes: 3, basePort: 7464, logLevel: "warn" };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = inline ?? args[++i];
    if (value === undefined) fail(`flag ${flag} needs a value`);
    if (flag === "--nodes") options.nodes = toInt(flag, value, 1, 64);
    else if (flag === "--base-port") options.basePort = toInt(flag, value, 0, 65535);
    else if (flag === "--log-level") options.logLevel = value;
    else if (flag === "--data-dir") options.dataDir = value;
    else fail(`unknown flag ${flag} (flags: --nodes N, --base-port P, --data-dir DIR, --log-level L)`);
  }
  return options;
}

function toInt(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(`${flag} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function fail(message: string): never {
  console.error(`devnet: ${message}`);
  Deno.exit(2);
}

interface RunningNode {
  child: Deno.ChildProcess;
  url: string;
  /** The one-time login link the node printed. */
  loginLink: string;
  /** The owner's API token, from the node's data dir. */
  token: string;
}

const main = new URL("../node/main.ts", import.meta.url).pathname;

async function startNode(
  index: number,
  dataDir: string,
  port: number,
  profilePath: string,
  bootstrap: string[],
  logLevel: string,
): Promise<RunningNode> {
  const args = [
    "run",
    "-A",
    main,
    "--data-dir",
    dataDir,
    "--port",
    String(port),
    "--network",
    profilePath,
    "--log-level",
    logLevel,
  ];
  for (const addr of bootstrap) args.push("--bootstrap", addr);
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  const prefix = new TextEncoder().encode(`[node ${index}] `);
  // Forward the node's log lines with a prefix.
  (async () => {
    for await (const line of child.stderr.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines())) {
      await Deno.stderr.write(new Uint8Array([...prefix, ...new TextEncoder().encode(line + "\n")]));
    }
  })().catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines()).getReader();
  let url = "";
  while (true) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`node ${index} exited before it was up (see its log above)`);
    url ||= value.match(/^Kosmos UI: (\S+)/)?.[1] ?? "";
    const login = value.match(/^Log in .*: (http\S+)$/);
    if (url && login) {
      (async () => {
        while (!(await lines.read()).done) { /* drain */ }
      })().catch(() => {});
      const token = (await Deno.readTextFile(`${dataDir}/api-token`)).trim();
      return { child, url, loginLink: login[1], token };
    }
  }
}

function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (buffer) controller.enqueue(buffer);
    },
  });
}

async function run(options: DevnetOptions): Promise<number> {
  const keep = options.dataDir !== undefined;
  const root = options.dataDir ?? await Deno.makeTempDir({ prefix: "kosmos-devnet-" });
  await Deno.mkdir(root, { recursive: true });
  const anvilPort = freePortOr0(ANVIL_PORT);
  const state = keep ? { statePath: join(root, "anvil-state.json"), stateInterval: 5 } : {};
  // The port can be taken between the check and anvil's bind: then the OS picks one.
  const anvil = await startAnvil({ port: anvilPort, ...state }).catch((err) => {
    if (anvilPort === 0 || !/Address already in use/.test(String(err))) throw err;
    return startAnvil({ port: 0, ...state });
  });
  if (anvil.port !== ANVIL_PORT) console.log(`devnet: port ${ANVIL_PORT} is busy; anvil took ${anvil.port}`);
  const nodes: RunningNode[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const node of nodes) {
      try {
        node.child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await Promise.all(nodes.map((n) => n.child.status));
    await anvil.stop();
    if (!keep) await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  const { promise: interrupted, resolve } = Promise.withResolvers<string>();
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));

  console.log(`devnet: anvil at ${anvil.rpcUrl} (chain 31337)`);
  try {
    const profilePath = join(root, "network.json");
    const kept = keep ? await loadKeptProfile(profilePath, anvil.rpcUrl) : undefined;
    // Node 0 is the arbiter and treasury: its wallet key is made now, before the contracts name it.
    const roles = (await loadIdentity(join(root, "node-0"))).account.address;
    const dev = kept ? undefined : await setUpDevChain(anvil.rpcUrl, { arbiter: roles, treasury: roles });
    const profile: NetworkProfile = kept ?? {
      name: "devnet",
      chainId: DEV_CHAIN_ID,
      rpcUrls: [anvil.rpcUrl],
      contracts: { ...dev!.contracts },
      bootstrap: [],
      protocolPrefix: networkPrefix("devnet", dev!.contracts.registry),
      dev: true,
    };
    profile.rpcUrls = [anvil.rpcUrl];
    await writeNetworkProfile(profilePath, profile);
    const fund = dev
      ? (to: `0x${string}`) => dev.fund(to)
      : (to: `0x${string}`) => dripAsDeployer(profile, to);
    console.log(`devnet: contracts ${kept ? "kept" : "deployed"} (registry ${profile.contracts.registry})`);
    console.log(
      `devnet: node 0 (wallet ${roles}) is the arbiter and treasury: its Arbitration page resolves challenges`,
    );
    console.log(
      `devnet: network profile ${profilePath} (join with: deno task start --network ${profilePath})`,
    );
    let bootstrap: string[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const wanted = options.basePort === 0 ? 0 : options.basePort + i;
      const port = freePortOr0(wanted);
      if (port !== wanted) console.log(`devnet: port ${wanted} is busy; node ${i} takes a free port`);
      const node = await Promise.race([
        startNode(i, join(root, `node-${i}`), port, profilePath, bootstrap, options.logLevel),
        interrupted.then(() => null),
      ]);
      if (!node) break;
      nodes.push(node);
      const info = await (await fetch(`${node.url}/api/v1/node`, {
        headers: { Authorization: `Bearer ${node.token}` },
      })).json();
      if (i === 0) {
        bootstrap = [info.listen[0]];
        await writeNetworkProfile(profilePath, { ...profile, bootstrap });
      }
      if (await tokenBalance(anvil.rpcUrl, profile, info.address) === 0n) await fund(info.address);
      console.log(
        `devnet: node ${i} UI ${node.url} (data dir ${root}/node-${i}) · log in: ${node.loginLink}`,
      );
    }
    if (nodes.length === options.nodes) console.log(`devnet: ${nodes.length} nodes up; Ctrl-C stops them`);
    const exited = nodes.map((n, i) => n.child.status.then((s) => `node ${i} exited with code ${s.code}`));
    const reason = await Promise.race([interrupted, ...exited]);
    console.log(`devnet: stopping (${reason})…`);
    return reason.startsWith("SIG") ? 0 : 1;
  } catch (err) {
    console.error(`devnet: ${(err as Error).message}`);
    return 1;
  } finally {
    await stopAll();
  }
}

/** The profile of a kept devnet, when its contracts survived in anvil's state. */
async function loadKeptProfile(path: string, rpcUrl: string): Promise<NetworkProfile | undefined> {
  let choice;
  try {
    choice = await loadNetwork(path, { dataDir: "" });
  } catch {
    return undefined;
  }
  if (choice.kind !== "profile") return undefined;
  const client = createPublicClient({ transport: http(rpcUrl) });
  // deno-lint-ignore no-explicit-any
  if (!await hasContractCode(client as any, choice.profile.contracts)) {
    console.log(`devnet: the contracts of ${path} are gone from the chain; deploying again`);
    return undefined;
  }
  return choice.profile;
}

const DEPLOYER = privateKeyToAccount(DEV_ACCOUNT_KEYS[0]);

/** One faucet drip to `to` on a kept devnet, sent by anvil's first dev account. */
async function dripAsDeployer(profile: NetworkProfile, to: `0x${string}`): Promise<void> {
  const chain = toViemChain(profile.chainId, profile.rpcUrls, "Kosmos devnet");
  const transport = http(profile.rpcUrls[0]);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 200 });
  const walletClient = createWalletClient({ chain, transport, account: DEPLOYER, pollingInterval: 200 });
  await dripFaucet({ publicClient, walletClient, contracts: profile.contracts, timeout: 30_000 }, { to });
}

async function tokenBalance(
  rpcUrl: string,
  profile: NetworkProfile,
  address: `0x${string}`,
): Promise<bigint> {
  const client = createPublicClient({ transport: http(rpcUrl) });
  return await client.readContract({
    address: profile.contracts.token,
    abi: kosmosTokenAbi,
    functionName: "balanceOf",
    args: [address],
  });
}

if (import.meta.main) Deno.exit(await run(parseArgs(Deno.args)));
