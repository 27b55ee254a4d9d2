/**
 * Shared helpers for tests that cross services: temp dirs, polling for a
 * condition with a timeout (instead of sleeping), a quiet logger, reading
 * back every file under a data dir, a sample CSV, and calling a node's API as
 * its owner (with its API token).
 */
import { createLogger } from "../node/log.ts";

/** A logger that drops everything below warn, unless KOSMOS_TEST_LOG=debug. */
export function testLogger() {
  const level = (Deno.env.get("TEST_LOG_LEVEL") ?? "error") as "debug" | "info" | "warn" | "error";
  return createLogger({ level });
}

/** Resolves once `check()` returns a truthy value; rejects with `what` after `timeout` ms. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: { timeout?: number; interval?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeout ?? 10_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, options.interval ?? 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** A temp dir removed by `await using`. */
export async function tempDir(prefix = "kosmos-test-"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** The contents of every file under `dir`, recursively. */
export async function readFilesUnder(dir: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await readFilesUnder(path));
    else if (entry.isFile) out.push(await Deno.readFile(path));
  }
  return out;
}

/** A CSV of readings (`id,ts,value`) of at least `bytes` bytes, the same for every call. */
export function makeCsv(bytes: number): Uint8Array<ArrayBuffer> {
  const lines = ["id,ts,value"];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `${i},${1_700_000_000_000 + i * 1000},${(i * 7919) % 100_000}`;
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** Anything that knows a node's API token: an in-process node, a child process, or the token itself. */
export type TokenHolder = { apiToken: string } | { token: string } | string;

/** `init` with the owner's `Authorization: Bearer` header added. */
export function asOwner(holder: TokenHolder, init: RequestInit = {}): RequestInit {
  const token = typeof holder === "string" ? holder : "apiToken" in holder ? holder.apiToken : holder.token;
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${token}`);
  return { ...init, headers };
}

/** `fetch(node.url + path)` as the node's owner. */
export function ownerFetch(
  node: { url: string } & ({ apiToken: string } | { token: string }),
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(new URL(path, node.url), asOwner(node, init));
}

/** What tests call on an app made with `createApp`. */
export interface RequestableApp {
  request(input: string | Request, init?: RequestInit): Response | Promise<Response>;
}

/** `app` whose `request()` sends the owner's token (for apps made with `createApp`). */
export function ownerApp(app: RequestableApp, holder: TokenHolder): RequestableApp {
  return {
    request: (input, init) =>
      typeof input === "string" ? app.request(input, asOwner(holder, init)) : app.request(
        new Request(input, asOwner(holder, { ...init, headers: init?.headers ?? input.headers })),
      ),
  };
}
