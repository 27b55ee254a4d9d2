/**
 * Bundles the browser side of the UI with esbuild: `web/client.ts` (the
 * island boot, which imports every island lazily so each becomes its own
 * chunk) and `web/static/style.css`. Output file names carry a content hash,
 * so `/static/build/*` can be cached forever; `manifest.json` says which file
 * is which.
 *
 * `ensureClientBuild()` is what the app calls at start: it reuses the bundle on
 * disk when it is newer than every source under `web/` (a few stat calls) and
 * rebuilds otherwise. `deno task build` forces a build with `buildClient()`.
 *
 * ```ts
 * const manifest = await ensureClientBuild();
 * manifest.entry; // "client-4PLQX7KZ.js"
 * ```
 */
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

/** The web sources (this directory). */
export const webDir: string = fileURLToPath(new URL(".", import.meta.url));
/** Where bundles go by default; gitignored. */
export const defaultBuildDir: string = fileURLToPath(new URL("./static/build/", import.meta.url));

const manifestName = "manifest.json";

/** What a build produced; file names are relative to the build directory. */
export interface ClientManifest {
  /** The island boot script, loaded with `<script type="module">`. */
  entry: string;
  /** The stylesheet. */
  style: string;
  /** Island name (file name without extension) → the chunk that holds it. */
  islands: Record<string, string>;
  /** Static imports of each output, for `<link rel="modulepreload">`. */
  imports: Record<string, string[]>;
  /** The website tracker (`sdk/tracker.ts`, a minified classic script), served at `/js/kosmos.js`. */
  tracker: string;
}

export interface BuildOptions {
  /** @default `web/static/build/` */
  outDir?: string;
}

/** Bundles the client and stylesheet into `outDir` and returns the manifest. Always builds. */
export async function buildClient(options: BuildOptions = {}): Promise<ClientManifest> {
  const outDir = options.outDir ?? defaultBuildDir;
  try {
    const result = await esbuild.build({
      absWorkingDir: webDir,
      entryPoints: { client: "client.ts", style: "static/style.css" },
      outdir: outDir,
      bundle: true,
      splitting: true,
      format: "esm",
      minify: true,
      platform: "browser",
      target: "es2022",
      jsx: "automatic",
      jsxImportSource: "preact",
      entryNames: "[name]-[hash]",
      chunkNames: "chunk-[hash]",
      assetNames: "[name]-[hash]",
      sourcemap: "linked",
      metafile: true,
      write: false,
      logLevel: "silent",
    });
    const tracker = await esbuild.build({
      absWorkingDir: webDir,
      entryPoints: { kosmos: "sdk/tracker.ts" },
      outdir: outDir,
      bundle: true,
      format: "iife",
      minify: true,
      platform: "browser",
      target: "es2019",
      entryNames: "[name]-[hash]",
      write: false,
      logLevel: "silent",
    });
    const trackerFile = tracker.outputFiles[0];
    const manifest = {
      ...describeOutputs(result.metafile, outDir),
      tracker: relativeTo(outDir, trackerFile.path),
    };
    await Deno.mkdir(outDir, { recursive: true });
    const written = new Set<string>([manifestName]);
    for (const file of [...result.outputFiles, trackerFile]) {
      await writeAtomically(file.path, file.contents);
      written.add(relativeTo(outDir, file.path));
    }
    await writeAtomically(
      joinPath(outDir, manifestName),
      new TextEncoder().encode(JSON.stringify(manifest, null, 2)),
    );
    await removeStaleFiles(outDir, written);
    return manifest;
  } finally {
    // esbuild keeps a child process alive otherwise, and Deno would not exit.
    await esbuild.stop();
  }
}

const pending = new Map<string, Promise<ClientManifest>>();

/**
 * Returns the manifest of an up-to-date bundle, building it first when it is
 * missing or older than the sources. Concurrent callers in one process share
 * one build; a failed build is retried on the next call.
 */
export function ensureClientBuild(options: BuildOptions = {}): Promise<ClientManifest> {
  const outDir = options.outDir ?? defaultBuildDir;
  let promise = pending.get(outDir);
  if (!promise) {
    promise = readFreshManifest(outDir).then((manifest) => manifest ?? buildClient({ outDir }));
    promise.catch(() => pending.delete(outDir));
    pending.set(outDir, promise);
  }
  return promise;
}

/** The manifest on disk, or undefined when it is missing, unreadable or older than a source. */
export async function readFreshManifest(
  outDir: string = defaultBuildDir,
): Promise<ClientManifest | undefined> {
  let builtAt: number;
  let manifest: ClientManifest;
  try {
    const path = joinPath(outDir, manifestName);
    builtAt = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    manifest = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
  const newest = await findNewestSourceTime();
  if (newest > builtAt) return undefined;
  const files = [manifest.entry, manifest.style, manifest.tracker, ...Object.values(manifest.islands ?? {})];
  for (const file of files) {
    if (typeof file !== "string") return undefined;
    try {
      await Deno.stat(joinPath(outDir, file));
    } catch {
      return undefined;
    }
  }
  return manifest;
}

/** Latest modification time of anything the bundle is made from. */
async function findNewestSourceTime(): Promise<number> {
  let newest = 0;
  const visit = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = joinPath(dir, entry.name);
      if (entry.isDirectory) {
        if (path !== trimSlash(defaultBuildDir) && entry.name !== "node_modules") await visit(path);
      } else if (/\.(tsx?|css)$/.test(entry.name) && !/_test\.tsx?$/.test(entry.name)) {
        newest = Math.max(newest, (await Deno.stat(path)).mtime?.getTime() ?? 0);
      }
    }
  };
  await visit(trimSlash(webDir));
  try {
    // New npm versions in the import map change the bundle too.
    newest = Math.max(newest, (await Deno.stat(joinPath(webDir, "../deno.json"))).mtime?.getTime() ?? 0);
  } catch { /* no workspace file: only web/ matters */ }
  return newest;
}

function describeOutputs(metafile: esbuild.Metafile, outDir: string): ClientManifest {
  let entry = "";
  let style = "";
  const islands: Record<string, string> = {};
  const imports: Record<string, string[]> = {};
  for (const [output, meta] of Object.entries(metafile.outputs)) {
    if (output.endsWith(".map")) continue;
    const file = relativeTo(outDir, joinPath(webDir, output));
    const source = meta.entryPoint ?? "";
    if (source === "client.ts") entry = file;
    else if (source === "static/style.css") style = file;
    else if (source.startsWith("islands/")) islands[source.slice(8).replace(/\.tsx?$/, "")] = file;
    if (file.endsWith(".js")) {
      imports[file] = meta.imports
        .filter((i) => i.kind === "import-statement")
        .map((i) => relativeTo(outDir, joinPath(webDir, i.path)));
    }
  }
  if (!entry || !style) {
    throw new Error("Cannot describe the client build: esbuild produced no entry or stylesheet");
  }
  return { entry, style, islands, imports, tracker: "" };
}

async function writeAtomically(path: string, contents: Uint8Array): Promise<void> {
  // Test processes run in parallel and may build at the same time: a reader
  // must never see half a file, so write aside and rename into place.
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(temp, contents);
  await Deno.rename(temp, path);
}

async function removeStaleFiles(outDir: string, keep: Set<string>): Promise<void> {
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isFile || keep.has(entry.name) || entry.name.endsWith(".tmp")) continue;
    await Deno.remove(joinPath(outDir, entry.name)).catch(() => {/* another build removed it */});
  }
}

function joinPath(dir: string, name: string): string {
  const parts = `${trimSlash(dir)}/${name}`.split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "..") out.pop();
    else if (part !== ".") out.push(part);
  }
  return out.join("/");
}

function relativeTo(dir: string, path: string): string {
  const prefix = trimSlash(dir) + "/";
  if (!path.startsWith(prefix)) throw new Error(`Cannot place build output "${path}" outside "${dir}"`);
  return path.slice(prefix.length);
}

function trimSlash(path: string): string {
  return path.endsWith("/") ? path.slice(0, -1) : path;
}
