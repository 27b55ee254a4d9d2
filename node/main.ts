/**
 * The `kosmos` command: starts a node (the default), or runs one of its
 * subcommands. Process signals are handled here and nowhere else.
 *
 *     deno task start [--data-dir D] [--port P] [--bootstrap ADDR] [--network FILE|NAME] [--rpc-url URL] …
 */
import "./polyfills.ts";
import { loadConfig } from "./config.ts";
import { describeNodeNetwork } from "./network.ts";
import { createNode } from "./node.ts";
import { KosmosError } from "./errors.ts";
import { COMMANDS, listCommands } from "./cli/commands.ts";
import { UsageError } from "./cli/args.ts";

const USAGE = `Usage: kosmos [start] [flags]
${listCommands()}

Starts a Kosmos node with its web UI and prints a one-time login link for it;
the other commands talk to a running node with the token in <data-dir>/api-token
or KOSMOS_TOKEN, take --url URL, --data-dir DIR and --json (one JSON document on
stdout), and explain themselves with --help (kosmos stake --help). Commands that
make the node sign a transaction show the estimated fee and ask first; --yes
accepts it (needed without a terminal). Exit codes: 1 a failed action, 2 bad usage.

Flags (environment variable, default):
  --data-dir DIR        KOSMOS_DATA_DIR     ~/.kosmos
  --host ADDR           KOSMOS_HOST         127.0.0.1
  --port N              KOSMOS_PORT         7464 (0: any free port)
  --public-name NAME    KOSMOS_PUBLIC_NAME  none: only 127.0.0.1, localhost, ::1 (repeatable, comma-separated;
                                            the names a LAN, proxy or gateway reaches the node by)
  --listen MULTIADDR    KOSMOS_LISTEN       /ip4/127.0.0.1/tcp/0 and /ip4/127.0.0.1/tcp/0/ws (repeatable, comma-separated)
  --bootstrap MULTIADDR KOSMOS_BOOTSTRAP    none (repeatable, comma-separated, with /p2p/<peerId>)
  --public-url URL      KOSMOS_PUBLIC_URL   none: the address a page was opened on (the URL others reach this
                                            node's API by; analytics snippets point at it)
  --announce MULTIADDR  KOSMOS_ANNOUNCE     none: the listen addresses (advertised multiaddrs, repeatable,
                                            comma-separated; makes the node a public node)
  --relay MODE          KOSMOS_RELAY        auto: relay for nodes behind NAT when public (on, off, auto)
  --network FILE|NAME   KOSMOS_NETWORK      none: the network of a local --bootstrap peer, else "local" (an
                                            embedded anvil); NAME is <data-dir>/networks/NAME.json
  --rpc-url URL         KOSMOS_RPC_URL      none: start an embedded anvil (with --network: the chain's RPC)
  --log-level LEVEL     KOSMOS_LOG_LEVEL    info (debug, info, warn, error, silent)
  --storage-quota-gb N  KOSMOS_STORAGE_QUOTA_GB  1
  --trusted-proxies IPS KOSMOS_TRUSTED_PROXIES  none (comma-separated; only they may set X-Forwarded-For)
  --proxy-event-quota N KOSMOS_PROXY_EVENT_QUOTA  1000000 (events a day one proxy may send for each of your sites)
  --analytics-retention-days N KOSMOS_ANALYTICS_RETENTION_DAYS  180 (days of raw analytics events kept; the
                                            dashboard's daily rollups stay; 1 to 36500)
  --privacy-release-cap E KOSMOS_PRIVACY_RELEASE_CAP  1 (most ε per person one release of a site's
                                            statistics may spend; docs/privacy.md)
  --delivery-webhook-allow HOSTS  KOSMOS_DELIVERY_WEBHOOK_ALLOW  none (hosts, IPs or CIDRs that webhook
                                            deliveries may reach although they are loopback or private)
  --delivery-directory-allow DIRS KOSMOS_DELIVERY_DIRECTORY_ALLOW  none (absolute directories that directory
                                            deliveries may write to besides <data-dir>/deliveries)
  --site-proof-origins LIST KOSMOS_SITE_PROOF_ORIGINS  none (DOMAIN=URL or *=URL on a loopback host: where
                                            this node reads domain proofs instead; for tests and local setups)
  --mqtt-url URL        KOSMOS_MQTT_URL     none (mqtt://user:pass@host:port: the broker a gateway reads sensor
                                            readings from, as a client)
  --mqtt-topic FILTER   KOSMOS_MQTT_TOPIC   kosmos/readings/# (the topic filter read, QoS 1)
  --config FILE         KOSMOS_CONFIG       <data-dir>/config.json when it exists
`;

async function main(args: string[]): Promise<number> {
  const command = Object.hasOwn(COMMANDS, args[0] ?? "") ? COMMANDS[args[0]] : undefined;
  if (command) return await command.run(args.slice(1));
  if (args[0] === "start") args = args.slice(1);
  if (args.includes("--help") || args.includes("-h") || args[0] === "help") {
    console.log(USAGE);
    return 0;
  }
  if (args[0] && !args[0].startsWith("-")) {
    throw new UsageError(`unknown command "${args[0]}" (try --help)`);
  }
  const config = await loadConfig({ args, env: Deno.env.toObject() });
  const node = await createNode(config);
  await node.start();
  console.log(`Kosmos node ${node.peerId} · wallet ${node.address}`);
  console.log(`Kosmos UI: ${node.url}`);
  console.log(describeNodeNetwork(node));
  // Like Jupyter: the link goes to the terminal, never to the log; it holds a one-time code, not the token.
  console.log(`Log in (the link works once, within 10 minutes): ${node.createLoginLink()}`);
  console.log(`The CLI and scripts use the API token in ${node.config.dataDir}/api-token`);

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
    // A bad command line (UsageError) or an unconfirmed fee carries exit code 2.
    const exitCode = (err as { exitCode?: unknown })?.exitCode;
    code = err instanceof KosmosError && typeof exitCode === "number" ? exitCode : 1;
  }
  // libp2p leaves timers behind after stop(); exit explicitly.
  Deno.exit(code);
}
