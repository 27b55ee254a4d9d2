/**
 * Finds the Debian servers the stream tests start on loopback ports — Mosquitto
 * (an MQTT broker) and PostgreSQL — installing them with apt when they are
 * missing and we are root. Each `ensure…` returns the binaries' paths, or
 * undefined when they cannot be had.
 */

/** The broker binary. */
export function findMosquitto(): string | undefined {
  return firstFile([Deno.env.get("MOSQUITTO_PATH"), "/usr/sbin/mosquitto", "/usr/bin/mosquitto"]);
}

/** `initdb` and `postgres` of the newest PostgreSQL installed (Debian keeps them under /usr/lib/postgresql/N/bin). */
export function findPostgres(): { initdb: string; postgres: string } | undefined {
  const dirs: string[] = [];
  const fromEnv = Deno.env.get("POSTGRES_BIN_DIR");
  if (fromEnv) dirs.push(fromEnv);
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => e.name).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch { /* not installed */ }
  dirs.push("/usr/local/bin", "/usr/bin");
  for (const dir of dirs) {
    const initdb = firstFile([`${dir}/initdb`]);
    const postgres = firstFile([`${dir}/postgres`]);
    if (initdb && postgres) return { initdb, postgres };
  }
  return undefined;
}

export async function ensureMosquitto(): Promise<string | undefined> {
  return findMosquitto() ?? (await aptInstall(["mosquitto"]) ? findMosquitto() : undefined);
}

export async function ensurePostgres(): Promise<{ initdb: string; postgres: string } | undefined> {
  return findPostgres() ?? (await aptInstall(["postgresql"]) ? findPostgres() : undefined);
}

function firstFile(paths: (string | undefined)[]): string | undefined {
  for (const path of paths) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * `apt-get install` as root on Linux, one install at a time on this machine (parallel test files may
 * ask at once: a lock file serialises them, and a second asker finds the package already there).
 */
async function aptInstall(packages: string[]): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid?.() !== 0) return false;
  using lock = await Deno.open("/tmp/kosmos-apt.lock", { create: true, write: true });
  await lock.lock(true);
  try {
    const installed = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f=${Status}", ...packages],
      stdout: "piped",
      stderr: "null",
    }).output().then(
      (r) => r.success && !new TextDecoder().decode(r.stdout).includes("not-installed"),
      () => false,
    );
    if (installed) return true;
    console.error(`test: installing ${packages.join(" ")} with apt-get (once per machine)…`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    for (
      const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", ...packages]]
    ) {
      const ok = await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "inherit" })
        .output().then((r) => r.success, () => false);
      if (!ok) return false;
    }
    return true;
  } finally {
    await lock.unlock();
  }
}
