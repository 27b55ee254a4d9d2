/**
 * The layout rules of `docs/add-a-service.md`, checked on the source tree:
 * which folder may import which, and how long a hand-written file may grow.
 * Test files (`*_test.ts`) may reach across folders to set things up; the
 * length rule holds for them too.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname!, "..");
const SOURCE = /\.(ts|tsx|css)$/;
const SKIP_DIRS = new Set(["node_modules", "web/static/build"]);
const GENERATED = new Set(["protocol/contracts_generated.ts"]);
const MAX_LINES = 500;

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && !SKIP_DIRS.has(path) && !entry.name.startsWith(".")) {
      files.push(...await listFiles(path));
    } else if (entry.isFile && SOURCE.test(entry.name) && !GENERATED.has(path)) {
      files.push(path);
    }
  }
  return files;
}

const files = (await Promise.all(["node", "web", "protocol", "tests", "scripts"].map(listFiles))).flat()
  .sort();

/** The repo-relative paths a file imports by relative specifier. */
async function importsOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, path));
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/g),
    ...text.matchAll(/(?:^|\n)\s*import\s+"([^"]+)"/g),
    ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  return specifiers
    .filter((s) => s.startsWith("./") || s.startsWith("../"))
    .map((s) => relative(ROOT, resolve(ROOT, dirname(path), s)));
}

function isTest(path: string): boolean {
  return /_test\.tsx?$/.test(path);
}

Deno.test("protocol/ imports nothing of ours outside protocol/", async () => {
  const bad: string[] = [];
  for (const path of files.filter((f) => f.startsWith("protocol/") && !isTest(f))) {
    for (const target of await importsOf(path)) {
      if (!target.startsWith("protocol/")) bad.push(`${path} → ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("web/ never imports node/", async () => {
  const bad: string[] = [];
  for (const path of files.filter((f) => f.startsWith("web/") && !isTest(f))) {
    for (const target of await importsOf(path)) {
      if (target.startsWith("node/")) bad.push(`${path} → ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("services import no web/, no protocol/api/, no config, and other services only through mod.ts", async () => {
  const bad: string[] = [];
  for (const path of files.filter((f) => f.startsWith("node/services/") && !isTest(f))) {
    const own = path.split("/")[2];
    for (const target of await importsOf(path)) {
      const other = target.match(/^node\/services\/([^/]+)\/(.+)$/);
      if (
        target.startsWith("web/") || target.startsWith("protocol/api/") || target === "node/config.ts" ||
        (other && other[1] !== own && other[2] !== "mod.ts")
      ) bad.push(`${path} → ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test(`a hand-written file over ${MAX_LINES} lines says why it is one piece`, async () => {
  const bad: string[] = [];
  for (const path of files) {
    const text = await Deno.readTextFile(join(ROOT, path));
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines <= MAX_LINES) continue;
    const opening = text.match(/^\s*\/\*[\s\S]*?\*\//)?.[0] ?? "";
    if (!/^\s*\*?\s*One piece:/m.test(opening)) bad.push(`${path} (${lines} lines)`);
  }
  assert.deepEqual(bad, []);
});
