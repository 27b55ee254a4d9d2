/**
 * Real servers for stream tests, started on 127.0.0.1 on free ports, each in its own temp dir:
 * a Mosquitto broker and a PostgreSQL server (the Debian packages, installed with apt when missing and
 * root; see scripts/servers.ts). `stop()` ends the process and removes the temp dir; `{ port }` picks the port
 * (to restart a server where a client expects it).
 *
 * ```ts
 * const broker = await startMosquitto(); // broker.url = "mqtt://127.0.0.1:PORT"
 * const db = await startPostgres();      // db.url = "postgres://postgres@127.0.0.1:PORT/postgres"
 * try { … } finally { await db.stop(); await broker.stop(); }
 * ```
 */
import { ensureMosquitto, ensurePostgres } from "../scripts/servers.ts";

export interface TestServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const isRoot = () => Deno.uid?.() === 0;

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once something accepts TCP connections on the port; throws when `exited` resolves first or after `ms`. */
async function waitForPort(port: number, exited: () => string | undefined, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(why);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${ms} ms`);
}

/** Collects a child's stderr (the last 8 KiB) so a failed start says why. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string } {
  let text = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk, { stream: true })).slice(-8192);
  })().catch(() => {});
  return { text: () => text };
}

async function endChild(child: Deno.ChildProcess, kill: () => void): Promise<void> {
  try {
    kill();
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  try {
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts Mosquitto (anonymous, no persistence) on a free loopback port. */
export async function startMosquitto(options: { port?: number } = {}): Promise<TestServer> {
  const bin = await ensureMosquitto();
  if (!bin) throw new Error("mosquitto is not installed and cannot be installed here (apt-get as root)");
  const dir = await Deno.makeTempDir({ prefix: "kosmos-mosquitto-" });
  for (let attempt = 0;; attempt++) {
    const port = options.port ?? freePort();
    const conf = `${dir}/mosquitto.conf`;
    await Deno.writeTextFile(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        "allow_anonymous true",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "max_queued_messages 100000",
        ...(isRoot() ? ["user root"] : []),
        "",
      ].join("\n"),
    );
    const child = new Deno.Command(bin, {
      args: ["-c", conf],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    })
      .spawn();
    const err = collect(child.stderr);
    let exit: string | undefined;
    child.status.then((s) => exit = `mosquitto exited (${s.code}): ${err.text()}`);
    try {
      await waitForPort(port, () => exit);
    } catch (e) {
      await endChild(child, () => child.kill("SIGTERM"));
      if (attempt < 2 && exit && !options.port) continue; // the port was taken between freePort() and bind
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
    return {
      url: `mqtt://127.0.0.1:${port}`,
      port,
      stop: async () => {
        await endChild(child, () => child.kill("SIGTERM"));
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  }
}

/** Runs `argv` as the `postgres` system user when we are root (postgres refuses root), else as ourselves. */
function asPostgresUser(argv: string[]): { cmd: string; args: string[] } {
  return isRoot()
    ? { cmd: "runuser", args: ["-u", "postgres", "--", ...argv] }
    : { cmd: argv[0], args: argv.slice(1) };
}

async function chownToPostgres(path: string): Promise<void> {
  if (!isRoot()) return;
  const out = await new Deno.Command("id", { args: ["-u", "postgres"], stdout: "piped", stderr: "null" })
    .output();
  const gid = await new Deno.Command("id", { args: ["-g", "postgres"], stdout: "piped", stderr: "null" })
    .output();
  if (!out.success || !gid.success) throw new Error("no `postgres` system user to run PostgreSQL as");
  const dec = new TextDecoder();
  await Deno.chown(path, Number(dec.decode(out.stdout).trim()), Number(dec.decode(gid.stdout).trim()));
}

/**
 * Starts PostgreSQL (trust auth for the `postgres` role, fsync off) on a free loopback port with its socket in
 * the temp dir. `url` names the `postgres` database.
 */
export async function startPostgres(options: { port?: number } = {}): Promise<TestServer> {
  const bins = await ensurePostgres();
  if (!bins) throw new Error("postgresql is not installed and cannot be installed here (apt-get as root)");
  const dir = await Deno.makeTempDir({ prefix: "kosmos-postgres-" });
  await Deno.chmod(dir, 0o700);
  await chownToPostgres(dir);
  const data = `${dir}/data`;
  const init = asPostgresUser([
    bins.initdb,
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  const initOut = await new Deno.Command(init.cmd, {
    args: init.args,
    stdout: "piped",
    stderr: "piped",
    cwd: dir,
  })
    .output();
  if (!initOut.success) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`initdb failed: ${new TextDecoder().decode(initOut.stderr)}`);
  }
  for (let attempt = 0;; attempt++) {
    const port = options.port ?? freePort();
    const run = asPostgresUser([
      bins.postgres,
      "-D",
      data,
      "-k",
      dir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ]);
    const child = new Deno.Command(run.cmd, {
      args: run.args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      cwd: dir,
    })
      .spawn();
    const err = collect(child.stderr);
    let exit: string | undefined;
    child.status.then((s) => exit = `postgres exited (${s.code}): ${err.text()}`);
    // Fast shutdown: SIGINT to the postmaster itself (runuser stays in between and would only relay SIGTERM,
    // which asks postgres to wait for its clients to leave).
    const stopServer = async () => {
      await endChild(child, () => {
        const pid = postmasterPid(data);
        if (pid) Deno.kill(pid, "SIGINT");
        else child.kill("SIGTERM");
      });
    };
    try {
      await waitForPort(port, () => exit);
      await waitForLog(err, /ready to accept connections/, () => exit);
    } catch (e) {
      await stopServer();
      if (attempt < 2 && exit && !options.port && /already in use|could not bind/i.test(exit)) continue;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      stop: async () => {
        await stopServer();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  }
}

function postmasterPid(data: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(`${data}/postmaster.pid`).split("\n")[0]);
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForLog(
  log: { text: () => string },
  pattern: RegExp,
  exited: () => string | undefined,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(log.text())) {
    const why = exited();
    if (why) throw new Error(why);
    if (Date.now() > deadline) throw new Error(`server did not log ${pattern} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
