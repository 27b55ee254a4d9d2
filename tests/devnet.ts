/**
 * `deno task devnet` as a child process, for tests: start it with some
 * arguments, read what it printed until it was up, find its nodes and stop it
 * with Ctrl-C (SIGINT).
 *
 * ```ts
 * const devnet = await startDevnet(["--nodes", "3", "--base-port", "0"], /3 nodes up/);
 * const nodes = await devnetNodes(devnet.out); // [{ url, dir, token }, …]
 * assert.equal(await devnet.stop(), 0);
 * ```
 */

export interface Devnet {
  /** What the devnet printed on stdout until it was up. */
  out: string;
  /** Sends SIGINT (once) and resolves with the exit code. */
  stop(): Promise<number>;
}

/** A node the devnet printed: its UI, its data dir and the owner's API token from there. */
export interface DevnetNode {
  url: string;
  dir: string;
  token: string;
}

/** Runs `scripts/devnet.ts` with `args` until it prints `until`; stops it again if it exits or fails before. */
export async function startDevnet(args: string[], until: RegExp): Promise<Devnet> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../scripts/devnet.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // What it says on stderr, kept (the last 4,000 characters) to explain an early exit.
  let errors = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errors = (errors + chunk).slice(-4000)) }),
  ).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let stopped: Promise<number> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGINT");
      } catch { /* exited */ }
      const code = (await child.status).code;
      await reader.cancel().catch(() => {});
      return code;
    })();
  try {
    while (!until.test(out)) {
      const { value, done } = await reader.read();
      if (done) {
        await stderrDone;
        throw new Error(`devnet exited early (${(await child.status).code}):\n${out}\nstderr:\n${errors}`);
      }
      out += value;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { out, stop };
}

/** The nodes in the devnet's output (`node N UI <url> (data dir <dir>)`), with their owners' tokens. */
export async function devnetNodes(out: string): Promise<DevnetNode[]> {
  return await Promise.all(
    [...out.matchAll(/node \d UI (http:\/\/127\.0\.0\.1:\d+) \(data dir (\S+)\)/g)].map(async (m) => ({
      url: m[1],
      dir: m[2],
      token: (await Deno.readTextFile(`${m[2]}/api-token`)).trim(),
    })),
  );
}
