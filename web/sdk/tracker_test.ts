/**
 * The tracker as served: built by `web/build.ts`, under 1 KB gzipped, and a
 * classic script (no `import`/`export`), which a site can load from any node.
 */
import assert from "node:assert/strict";
import { defaultBuildDir, ensureClientBuild } from "../build.ts";

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return (await new Response(stream).arrayBuffer()).byteLength;
}

Deno.test("the built tracker is at most 1024 bytes gzipped", async () => {
  const manifest = await ensureClientBuild();
  const bytes = await Deno.readFile(`${defaultBuildDir}${manifest.tracker}`);
  const size = await gzipSize(bytes);
  assert.ok(size > 200, `the tracker is suspiciously small (${size} B): was it built?`);
  assert.ok(size <= 1024, `the tracker is ${size} bytes gzipped; the budget is 1024`);
});

Deno.test("the built tracker is a classic script that reads data-domain and posts to /api/event", async () => {
  const manifest = await ensureClientBuild();
  const text = await Deno.readTextFile(`${defaultBuildDir}${manifest.tracker}`);
  assert.doesNotMatch(text, /^\s*(import|export)\s/m);
  assert.match(text, /\/api\/event/);
  assert.match(text, /globalPrivacyControl/);
  assert.match(text, /sendBeacon/);
});
