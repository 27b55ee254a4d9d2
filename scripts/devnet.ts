/**
 * `deno task devnet [--nodes N] [--base-port P] [--log-level L]`: a local
 * network on loopback. One anvil shared by N nodes (default 3); the first node
 * is every other node's bootstrap peer. The Kosmos contracts are deployed once
 * (anvil's first dev account is deployer, treasury, arbiter and faucet), their
 * addresses written into every node's data dir, and every node's wallet is
 * funded with ether and 10,000 tokens. Prints
 * each node's UI URL as it comes up; Ctrl-C stops everything it started.
 *
 * `--base-port 0` lets the OS pick every HTTP port (used by the tests).
 */
import { DEV_CHAIN_ID, startAnvil } from "../node/services/chain/anvil.ts";
import { getContractsPath, writeContractsFile } from "../node/services/chain/contracts.ts";
import { setUpDevChain } from "../node/services/chain/dev_chain.ts";

interface DevnetOptions {
  nodes: number;
  basePort: number;
  logLevel: string;
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
    else fail(`unknown flag ${flag} (flags: --nodes N, --base-port P, --log-level L)`);
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
  rpcUrl: string,
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
    "--rpc-url",
    rpcUrl,
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
  const root = await Deno.makeTempDir({ prefix: "kosmos-devnet-" });
  const anvil = await startAnvil();
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
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  const { promise: interrupted, resolve } = Promise.withResolvers<string>();
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));

  console.log(`devnet: anvil at ${anvil.rpcUrl} (chain 31337)`);
  try {
    const dev = await setUpDevChain(anvil.rpcUrl);
    console.log(`devnet: contracts deployed (registry ${dev.contracts.registry}, arbiter ${dev.deployer})`);
    let bootstrap: string[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const port = options.basePort === 0 ? 0 : options.basePort + i;
      await writeContractsFile(getContractsPath(`${root}/node-${i}`), {
        chainId: DEV_CHAIN_ID,
        contracts: dev.contracts,
      });
      const node = await Promise.race([
        startNode(i, `${root}/node-${i}`, port, anvil.rpcUrl, bootstrap, options.logLevel),
        interrupted.then(() => null),
      ]);
      if (!node) break;
      nodes.push(node);
      const info = await (await fetch(`${node.url}/api/v1/node`, {
        headers: { Authorization: `Bearer ${node.token}` },
      })).json();
      if (i === 0) bootstrap = [info.listen[0]];
      await dev.fund(info.address);
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

if (import.meta.main) Deno.exit(await run(parseArgs(Deno.args)));
