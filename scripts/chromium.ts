/**
 * Finds Debian's Chromium for browser tests, installing it with apt when it
 * is missing and we are root. Returns its path, or undefined when it cannot be had.
 */
const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("CHROMIUM_PATH");
  for (const path of fromEnv ? [fromEnv, ...candidates] : candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

export async function ensureChromium(): Promise<string | undefined> {
  const found = findChromium();
  if (found) return found;
  if (Deno.uid?.() !== 0) return undefined;
  console.error("test: installing Chromium with apt-get (once per machine)…");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "chromium"]]) {
    const { success } = await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "inherit" })
      .output();
    if (!success) return undefined;
  }
  return findChromium();
}
