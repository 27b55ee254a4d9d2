/**
 * A Kosmos node as a child process, as a person starts it (`node/main.ts`),
 * for tests that kill it, restart it or check what it prints.
 *
 * ```ts
 * const { child, url, address } = await startKosmosProcess(["--data-dir", dir, "--port", "0"]);
 * child.kill("SIGKILL");
 * ```
 */

const main = new URL("../node/main.ts", import.meta.url).pathname;

export interface KosmosProcess {
  child: Deno.ChildProcess;
  /** The UI and API, as the node printed it. */
  url: string;
  /** The node's wallet, as it printed it. */
  address: `0x${string}`;
  /** The one-time login link it printed. */
  loginLink: string;
  /** The owner's API token, from `--data-dir`'s `api-token`. */
  token: string;
  /** What it printed on stdout until it was up. */
  output: string;
}

/** Starts the node with `args`; resolves once it has printed its wallet and UI URL. */
export async function startKosmosProcess(args: string[]): Promise<KosmosProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/Kosmos UI: (\S+)/.test(out) || !/^Log in .*: (http\S+)\n/m.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`kosmos exited before it was up:\n${out}`);
    out += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  const dataDir = args[args.indexOf("--data-dir") + 1];
  return {
    child,
    url: out.match(/Kosmos UI: (\S+)/)![1],
    address: out.match(/wallet (0x[0-9a-fA-F]{40})/)![1] as `0x${string}`,
    loginLink: out.match(/^Log in .*: (http\S+)\n/m)![1],
    token: args.includes("--data-dir") ? (await Deno.readTextFile(`${dataDir}/api-token`)).trim() : "",
    output: out,
  };
}

/** Stops a node started with {@link startKosmosProcess} (SIGTERM, SIGKILL after 10 s); nothing when undefined. */
export async function stopKosmosProcess(p: KosmosProcess | undefined): Promise<void> {
  if (!p) return;
  try {
    p.child.kill("SIGTERM");
  } catch { /* exited */ }
  const timer = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch { /* exited */ }
  }, 10_000);
  await p.child.status;
  clearTimeout(timer);
}
