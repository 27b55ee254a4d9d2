/**
 * `deno task extension`: bundles the Kosmos browser extension (Manifest V3, `web/extension/`) with
 * esbuild into `web/extension/dist/` (or DIR), ready for "Load unpacked" in Chromium: the service
 * worker, the popup and the options page, with the manifest, pages and stylesheet beside them.
 * Prints one JSON line with the files written.
 *
 * ```ts
 * const { dir } = await buildExtension(); // web/extension/dist
 * ```
 */
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The extension's sources. */
export const extensionDir: string = fileURLToPath(new URL("../web/extension/", import.meta.url));
/** Where the build goes by default; gitignored. */
export const defaultExtensionDist: string = join(extensionDir, "dist");

const STATIC_FILES = ["manifest.json", "popup.html", "options.html", "extension.css"];

/** Bundles the extension into `outDir` (emptied first). */
export async function buildExtension(
  outDir: string = defaultExtensionDist,
): Promise<{ dir: string; files: string[] }> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(outDir, { recursive: true });
  try {
    await esbuild.build({
      absWorkingDir: extensionDir,
      entryPoints: { background: "background.ts", popup: "popup.ts", options: "options.ts" },
      outdir: outDir,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: false,
      logLevel: "silent",
    });
  } finally {
    // esbuild keeps a child process alive otherwise, and Deno would not exit.
    await esbuild.stop();
  }
  for (const name of STATIC_FILES) await Deno.copyFile(join(extensionDir, name), join(outDir, name));
  const files = [...STATIC_FILES, "background.js", "popup.js", "options.js"].sort();
  return { dir: outDir, files };
}

if (import.meta.main) {
  const started = performance.now();
  const result = await buildExtension(Deno.args[0]);
  console.log(JSON.stringify({ ...result, ms: Math.round(performance.now() - started) }));
}
