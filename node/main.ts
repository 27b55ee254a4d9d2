/**
 * The `kosmos` command: starts a node (the default), or runs one of its
 * subcommands. Process signals are handled here and nowhere else.
 *
 *     deno task start [--data-dir D] [--port P] [--bootstrap ADDR] [--rpc-url URL] …
 */
import "./polyfills.ts";
import { loadConfig } from "./config.ts";
import { createNode } from "./node.ts";
import { KosmosError } from "./errors.ts";
import { runFetch } from "./cli/fetch.ts";
import { runBuy } from "./cli/buy.ts";
import { runPublish } from "./cli/publish.ts";

const USAGE = `Usage: kosmos [start] [flags]
       kosmos publish FILE --title … --category … --price … --license … [--url URL]
       kosmos fetch MANIFEST_CID [--url URL]
       kosmos buy LISTING_ID [--url URL]

Starts a Kosmos node with its web UI; publish and fetch talk to a running node
(see kosmos publish --help, kosmos fetch --help).

Flags (environment variable, default):
  --data-dir DIR        KOSMOS_DATA_DIR     ~/.kosmos
  --host ADDR           KOSMOS_HOST         127.0.0.1
  --port N              KOSMOS_PORT         7464 (0: any free port)
  --listen MULTIADDR    KOSMOS_LISTEN       /ip4/127.0.0.1/tcp/0 and /ip4/127.0.0.1/tcp/0/ws (repeatable, comma-separated)
  --bootstrap MULTIADDR KOSMOS_BOOTSTRAP    none (repeatable, comma-separated, with /p2p/<peerId>)
  --rpc-url URL         KOSMOS_RPC_URL      none: start an embedded anvil
  --log-level LEVEL     KOSMOS_LOG_LEVEL    info (debug, info, warn, error, silent)
  --storage-quota-gb N  KOSMOS_STORAGE_QUOTA_GB  1
  --trusted-proxies IPS KOSMOS_TRUSTED_PROXIES  none (comma-separated; only they may set X-Forwarded-For)
  --config FILE         KOSMOS_CONFIG       <data-dir>/config.json when it exists
`;

async function main(args: string[]): Promise<number> {
  if (args[0] === "publish") return await runPublish(args.slice(1));
  if (args[0] === "fetch") return await runFetch(args.slice(1));
  if (args[0] === "buy") return await runBuy(args.slice(1));
  if (args[0] === "start") args = args.slice(1);
  if (args.includes("--help") || args.includes("-h") || args[0] === "help") {
    console.log(USAGE);
    return 0;
  }
  if (args[0] && !args[0].startsWith("-")) {
    throw new KosmosError(`unknown command "${args[0]}" (try --help)`);
  }
  const config = await loadConfig({ args, env: Deno.env.toObject() });
  const node = await createNode(config);
  await node.start();
  console.log(`Kosmos node ${node.peerId} · wallet ${node.address}`);
  console.log(`Kosmos UI: ${node.url}`);

  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`Stopping (${signal})…`);
    await node.stop();
    resolve();
  };
  Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
  await stopped;
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (err) {
    const message = err instanceof KosmosError
      ? err.message
      : `unexpected error: ${(err as Error)?.message ?? err}`;
    console.error(`kosmos: ${message}`);
    code = 1;
  }
  // libp2p leaves timers behind after stop(); exit explicitly.
  Deno.exit(code);
}
