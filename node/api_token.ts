/**
 * The owner's API token: 32 random bytes, hex, in `<dataDir>/api-token`.
 * Created on first start with mode 0600 (written to a new file opened with
 * that mode, then renamed into place, so it is never readable by others, not
 * even briefly), reused on every restart, never logged. The node checks it on
 * every owner route (`web/auth.ts`); the CLI reads it from the same file or
 * from `KOSMOS_TOKEN`.
 *
 * ```ts
 * const token = await loadApiToken(dataDir); // "3f9c…" (64 hex digits)
 * ```
 */
import { join } from "node:path";
import { ConfigError, KosmosError } from "./errors.ts";

export const API_TOKEN_FILE = "api-token";

const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

/** Reads the token of the node in `dataDir`, creating it on first use. */
export async function loadApiToken(dataDir: string): Promise<string> {
  const path = join(dataDir, API_TOKEN_FILE);
  const existing = await readTokenFile(path);
  if (existing !== undefined) return existing;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  // The mode is given at creation (umask can only narrow it), so the file is never wider than 0600.
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(token + "\n"));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    // A link fails if another process created the token meanwhile; then that one wins.
    await Deno.link(tmp, path);
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw new ConfigError(`cannot create the API token ${path}: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  return (await readTokenFile(path))!;
}

/** The token in `path`, or undefined when there is no such file; a loose mode is tightened to 0600. */
async function readTokenFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError(`cannot read the API token ${path}: ${(err as Error).message}`, { cause: err });
  }
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
  const token = text.trim();
  if (!TOKEN_PATTERN.test(token)) {
    throw new ConfigError(`the API token ${path} is corrupt (delete it to make a new one)`);
  }
  return token;
}

/**
 * The token a client command uses: `KOSMOS_TOKEN`, else `<dataDir>/api-token`
 * (`--data-dir`, `KOSMOS_DATA_DIR`, default ~/.kosmos). Never creates one.
 */
export async function readClientToken(
  command: string,
  options: { dataDir: string; env: Record<string, string> },
): Promise<string> {
  const fromEnv = options.env.KOSMOS_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const path = join(options.dataDir, API_TOKEN_FILE);
  try {
    const token = (await Deno.readTextFile(path)).trim();
    if (token) return token;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new KosmosError(`${command}: cannot read the API token ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  throw new KosmosError(
    `${command}: no API token at ${path}; start the node once with this --data-dir, or set KOSMOS_TOKEN`,
  );
}
