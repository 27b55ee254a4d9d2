/**
 * Starts a local anvil (the npm `@foundry-rs/anvil-linux-amd64` binary) on a
 * free loopback port, for the embedded dev chain, devnet and chain tests.
 *
 * ```ts
 * await using anvil = await startAnvil();
 * console.log(anvil.rpcUrl); // http://127.0.0.1:40123
 * ```
 */
import { fileURLToPath } from "node:url";
import { StartError } from "../../errors.ts";
import { second } from "../../constants.ts";

/** Chain id of the embedded and devnet chains (anvil's default). */
export const DEV_CHAIN_ID = 31337;

export interface Anvil {
  rpcUrl: string;
  port: number;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartAnvilOptions {
  /** @default 0 (the OS picks a free port) */
  port?: number;
  /** Block time in seconds; 0 mines on every transaction. @default 0 */
  blockTime?: number;
  /** @default 31337 */
  chainId?: number;
  /** Directory for anvil's state dump, so a restart keeps the chain. @default none (in memory) */
  statePath?: string;
  /** Seconds between state dumps when `statePath` is set, so a killed node keeps its chain. @default 5 */
  stateInterval?: number;
  /** @default 30 seconds */
  timeout?: number;
  signal?: AbortSignal;
}

export function anvilBinary(): string {
  const url = new URL(
    "../../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
    import.meta.url,
  );
  return fileURLToPath(url);
}

export async function startAnvil(options: StartAnvilOptions = {}): Promise<Anvil> {
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port ?? 0),
    "--chain-id",
    String(options.chainId ?? DEV_CHAIN_ID),
    "--no-request-size-limit",
  ];
  if (options.blockTime) args.push("--block-time", String(options.blockTime));
  if (options.statePath) {
    args.push("--state", options.statePath, "--state-interval", String(options.stateInterval ?? 5));
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(anvilBinary(), {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
  } catch (cause) {
    throw new StartError(`Cannot start anvil: ${(cause as Error).message} (run \`deno install\`)`, { cause });
  }
  const timeout = AbortSignal.timeout(options.timeout ?? 30 * second);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let port = 0;
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (!port) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
      const m = seen.match(/Listening on 127\.0\.0\.1:(\d+)/);
      if (m) port = Number(m[1]);
      if (seen.length > 100_000) seen = seen.slice(-1000);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (!port) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    const err = (await new Response(child.stderr).text().catch(() => "")).trim().split("\n").at(-1);
    throw new StartError(`Cannot start anvil: ${err || (signal.aborted ? "timed out" : "exited")}`);
  }
  // Keep draining output so anvil never blocks on a full pipe.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* cancelled */ }
  })();
  child.stderr.pipeTo(new WritableStream()).catch(() => {});
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5 * second);
      try {
        await child.status;
        await drain;
      } finally {
        clearTimeout(timer);
      }
    })();
  return { rpcUrl: `http://127.0.0.1:${port}`, port, stop, [Symbol.asyncDispose]: stop };
}

/** Private keys of anvil's first dev accounts (its public, fixed test mnemonic). Dev chains only. */
export const DEV_ACCOUNT_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
] as const;
