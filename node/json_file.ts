/**
 * JSON files a node keeps under its data dir: read one (undefined when there is
 * none), write one atomically (temp file, then rename), creating its directory.
 *
 * ```ts
 * await writeJsonFile(path, { chainId: 31337 });
 * const value = await readJsonFile(path); // unknown, or undefined when missing
 * ```
 */
import { dirname } from "node:path";

/** The parsed contents of `path`, or undefined when there is no such file. Throws `SyntaxError` on bad JSON. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return JSON.parse(text);
}

/** Writes `value` to `path` as indented JSON, atomically (temp file, then rename), creating the directory. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(tmp, path);
}
