/**
 * Serves `/static/*`: the esbuild output under `/static/build/` (hashed names,
 * cached forever) and the hand-written files in `web/static/` (revalidated
 * with an ETag). Only plain file names are served; anything that could climb
 * out of the directory is a 404.
 */
import type { Context } from "hono";
import { pathToFileURL } from "node:url";
import { type ClientManifest, defaultBuildDir } from "./build.ts";
import { HttpError } from "./http_error.ts";

const staticDir = new URL("./static/", import.meta.url);

const contentTypes: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
  json: "application/json; charset=utf-8",
  html: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  ico: "image/x-icon",
  woff2: "font/woff2",
};

/** esbuild's `[name]-[hash]` with its 8-character base32 hash. */
const hashedName = /-[A-Z0-9]{8}\.(js|css)(\.map)?$/;

export interface StaticOptions {
  /** Resolves once the bundle is on disk. */
  getManifest: () => Promise<ClientManifest>;
  /** @default `web/static/build/` */
  buildDir?: string;
}

/** Handler for `GET /static/*`. */
export function createStaticHandler(options: StaticOptions) {
  const dir = options.buildDir ?? defaultBuildDir;
  const buildDir = pathToFileURL(dir.endsWith("/") ? dir : dir + "/");
  return async (c: Context): Promise<Response> => {
    const rest = c.req.path.slice("/static/".length);
    const segments = rest.split("/").map(decodeSegment);
    if (segments[0] === "build" && segments.length === 2) {
      await options.getManifest();
      const name = segments[1];
      const file = await readFile(new URL(name, buildDir), c.req.path);
      const cache = hashedName.test(name) ? "public, max-age=31536000, immutable" : "no-cache";
      return respond(c, name, file.bytes, { "Cache-Control": cache });
    }
    if (segments.length === 1 && segments[0] !== "build") {
      const name = segments[0];
      const file = await readFile(new URL(name, staticDir), c.req.path);
      const etag = `W/"${file.bytes.byteLength.toString(16)}-${file.mtime.toString(16)}"`;
      const headers = { "Cache-Control": "no-cache", ETag: etag };
      if (c.req.header("If-None-Match") === etag) return new Response(null, { status: 304, headers });
      return respond(c, name, file.bytes, headers);
    }
    throw notFound(c.req.path);
  };
}

function respond(c: Context, name: string, bytes: Uint8Array, headers: Record<string, string>): Response {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": contentTypes[ext] ?? "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
}

/** A single safe path segment, or "" (which no file has). */
function decodeSegment(segment: string): string {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return "";
  }
  return /^[\w][\w.-]*$/.test(name) && !name.includes("..") ? name : "";
}

async function readFile(url: URL, path: string): Promise<{ bytes: Uint8Array; mtime: number }> {
  try {
    const stat = await Deno.stat(url);
    if (!stat.isFile) throw notFound(path);
    return { bytes: await Deno.readFile(url), mtime: stat.mtime?.getTime() ?? 0 };
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof Deno.errors.NotFound) throw notFound(path);
    throw err;
  }
}

function notFound(path: string): HttpError {
  return new HttpError(404, "not_found", `No static file at ${path}`);
}
