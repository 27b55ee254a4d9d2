/**
 * `deno task build`: bundles the web client (islands and stylesheet) into
 * `web/static/build/` with esbuild, whether or not the current bundle is
 * fresh, and prints the manifest as one JSON line.
 */
import { buildClient } from "../web/build.ts";

const started = performance.now();
const manifest = await buildClient();
console.log(JSON.stringify({ ...manifest, ms: Math.round(performance.now() - started) }));
