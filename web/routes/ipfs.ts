/**
 * The IPFS trustless gateway of a public node (specs.ipfs.tech/http-gateways/trustless-gateway), a
 * public route (`auth.ts`), so any IPFS client can fetch, verify and mirror the blocks this node
 * holds (encrypted chunks and public manifests; `node/api/ipfs.ts`):
 *
 * - `GET|HEAD /ipfs/{cid}` with `Accept: application/vnd.ipld.raw` or `?format=raw` → the block's
 *   bytes (`application/vnd.ipld.raw`), immutable and cacheable for a year, `Etag: "<cid>.raw"`.
 * - the same with `Accept: application/vnd.ipld.car` or `?format=car` → a CARv1
 *   (`version=1; order=dfs; dups=n`) of the block, and with `dag-scope=all` (the default) the blocks
 *   it links to that this node holds, depth first; a missing child ends the stream, as the spec says.
 *
 * No deserialized responses: a request naming other types is 406, one naming none (no `Accept`, or
 * only wildcards) 400; paths below the CID are 400. An invalid CID is 400 before anything is read,
 * a block the node does not hold 404 (412 under `Cache-Control: only-if-cached`), too many requests
 * from one caller 429. On a node without `--public-url` every `/ipfs/` path is 404.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { CID } from "multiformats/cid";
import type { IpfsApi } from "../../protocol/api/mod.ts";
import {
  CAR_TYPE,
  encodeCarBlock,
  encodeCarHeader,
  getBlockLinks,
  IDENTITY_CODE,
  parseGatewayCid,
  RAW_BLOCK_TYPE,
} from "../../protocol/ipfs_gateway.ts";
import { HttpError } from "../http_error.ts";
import { defineRoute } from "../router.ts";

/** How long a block may be cached: content addressed, so forever in practice (the spec's value). */
const IMMUTABLE = "public, max-age=29030400, immutable";
/** Deepest DAG walked for a CAR (a manifest links its chunks: depth 1). */
const MAX_CAR_DEPTH = 8;
/** Formats a path gateway knows but a trustless gateway does not serve (`?format=`). */
const DESERIALIZED_FORMATS = new Set(["dag-json", "dag-cbor", "json", "cbor", "tar", "ipns-record"]);

export interface IpfsRoutesOptions {
  /** Whether this node is a public gateway (it has a `--public-url`); otherwise every path is 404. */
  enabled: boolean;
}

type Scope = "block" | "entity" | "all";
type Format = { kind: "raw" } | { kind: "car"; scope: Scope };
type Env = { Bindings: { remoteAddr?: { hostname?: string } } };

export function createIpfsRoutes(facade: IpfsApi, options: IpfsRoutesOptions): Hono<Env> {
  const app = new Hono<Env>();
  defineRoute(app, "/ipfs/*", {
    GET: async (c) => {
      if (!options.enabled) {
        throw new HttpError(
          404,
          "not_found",
          "This node is not a public IPFS gateway (it has no --public-url)",
        );
      }
      const [text, ...below] = c.req.path.slice("/ipfs/".length).split("/");
      const cid = parseGatewayCid(text);
      if (below.some((part) => part !== "")) {
        throw new HttpError(
          400,
          "bad_request",
          "This trustless gateway answers blocks by CID alone (/ipfs/{cid}); it resolves no paths",
        );
      }
      const format = chooseFormat(c);
      const etag = format.kind === "raw" ? `"${cid}.raw"` : `"${cid}.car.dfs.n.${format.scope}"`;
      const headers: Record<string, string> = {
        "Cache-Control": IMMUTABLE,
        "Etag": etag,
        "X-Ipfs-Path": `/ipfs/${cid}`,
        "X-Ipfs-Roots": cid.toString(),
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept",
        "Access-Control-Allow-Origin": "*",
      };
      if (c.req.query("format") === undefined) {
        headers["Content-Location"] = `/ipfs/${cid}?format=${format.kind}`;
      }
      // Immutable: a client holding this response needs nothing more.
      if (matchesEtag(c.req.header("If-None-Match"), etag)) return c.body(null, 304, headers);
      const caller = {
        remoteAddress: c.env?.remoteAddr?.hostname ?? "unknown",
        forwardedFor: c.req.header("X-Forwarded-For"),
      };
      const signal = c.req.raw.signal;
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await facade.getIpfsBlock(cid.toString(), { caller, signal });
      } catch (err) {
        if (
          (err as Error).name === "NotFoundError" &&
          /only-if-cached/i.test(c.req.header("Cache-Control") ?? "")
        ) {
          throw new HttpError(412, "precondition_failed", `This gateway does not hold ${cid}`);
        }
        throw err;
      }
      if (format.kind === "raw") {
        return c.body(bytes, 200, {
          ...headers,
          "Content-Type": RAW_BLOCK_TYPE,
          "Content-Length": String(bytes.byteLength),
          "Content-Disposition": `attachment; filename="${cid}.bin"`,
        });
      }
      const links = format.scope === "all" ? linksOf(cid, bytes) : [];
      const blocks = walkCar(facade, cid, bytes, links, { caller, signal });
      const body = ReadableStream.from(blocks);
      return c.body(body, 200, {
        ...headers,
        "Content-Type": `${CAR_TYPE}; version=1; order=dfs; dups=n`,
        "Content-Disposition": `attachment; filename="${cid}.car"`,
      });
    },
  }, { errors: { badInput: 400 } });
  return app;
}

/** The CAR's header, the root and then every linked block held here, depth first, each once. */
async function* walkCar(
  facade: IpfsApi,
  root: CID,
  rootBytes: Uint8Array,
  rootLinks: CID[],
  options: { caller: { remoteAddress: string; forwardedFor?: string }; signal: AbortSignal },
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  yield encodeCarHeader([root]);
  // Identity blocks are their CIDs: never written into a CAR.
  if (root.multihash.code !== IDENTITY_CODE) yield encodeCarBlock(root, rootBytes);
  const seen = new Set([root.toString()]);
  const stack: { links: CID[]; at: number }[] = [{ links: rootLinks, at: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.at >= top.links.length) {
      stack.pop();
      continue;
    }
    const cid = top.links[top.at++];
    const key = cid.toString();
    if (seen.has(key) || cid.multihash.code === IDENTITY_CODE) continue;
    seen.add(key);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await getWithBackoff(facade, key, options);
    } catch {
      return; // a missing child ends the stream (an incomplete CAR, which clients check)
    }
    yield encodeCarBlock(cid, bytes);
    if (stack.length < MAX_CAR_DEPTH) stack.push({ links: linksOf(cid, bytes), at: 0 });
  }
}

/** The links of a block; a DAG-CBOR block that does not decode links to nothing. */
function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  try {
    return getBlockLinks(cid, bytes);
  } catch {
    return [];
  }
}

/** A child block; a rate limit slows the stream down instead of cutting it. */
async function getWithBackoff(
  facade: IpfsApi,
  cid: string,
  options: { caller: { remoteAddress: string; forwardedFor?: string }; signal: AbortSignal },
): Promise<Uint8Array<ArrayBuffer>> {
  while (true) {
    try {
      return await facade.getIpfsBlock(cid, options);
    } catch (err) {
      const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
      if (typeof retryAfter !== "number") throw err;
      await sleep(retryAfter * 1000, options.signal);
    }
  }
}

/** The response type a request asks for: `?format=` first, then `Accept` by its q values. */
function chooseFormat(c: Context): Format {
  const scope = parseScope(c);
  const format = c.req.query("format");
  if (format !== undefined) {
    if (format === "raw") return { kind: "raw" };
    if (format === "car") {
      checkCarQuery(c);
      return { kind: "car", scope };
    }
    if (DESERIALIZED_FORMATS.has(format)) {
      throw new HttpError(
        406,
        "not_acceptable",
        `This trustless gateway serves format=raw and format=car only, not ${format}`,
      );
    }
    throw new HttpError(
      400,
      "bad_request",
      `Unknown format ${JSON.stringify(format.slice(0, 40))}: use raw or car`,
    );
  }
  const accept = (c.req.header("Accept") ?? "").trim();
  const ranges = parseAccept(accept);
  for (const range of ranges) {
    if (range.type === RAW_BLOCK_TYPE) return { kind: "raw" };
    if (range.type === CAR_TYPE && isServedCar(range.params)) {
      checkCarQuery(c);
      return { kind: "car", scope };
    }
  }
  if (ranges.every((r) => r.type === "*/*" || r.type === "application/*")) {
    throw new HttpError(
      400,
      "bad_request",
      `This trustless gateway needs the response type: send Accept: ${RAW_BLOCK_TYPE} (or ${CAR_TYPE}), or add ?format=raw`,
    );
  }
  throw new HttpError(
    406,
    "not_acceptable",
    `This trustless gateway serves ${RAW_BLOCK_TYPE} and ${CAR_TYPE} (version=1, order=dfs, dups=n) only`,
  );
}

/** `dag-scope` (CAR only; `entity-bytes` implies `entity`, which for a block is the block). */
function parseScope(c: Context): Scope {
  const scope = c.req.query("dag-scope");
  const bytes = c.req.query("entity-bytes");
  if (bytes !== undefined && !/^-?\d{1,20}:(-?\d{1,20}|\*)$/.test(bytes)) {
    throw new HttpError(400, "bad_request", "entity-bytes must be FROM:TO (integers, TO may be *)");
  }
  if (scope === undefined) return bytes !== undefined ? "entity" : "all";
  if (scope === "block" || scope === "entity" || scope === "all") return scope;
  throw new HttpError(400, "bad_request", "dag-scope must be block, entity or all");
}

/** CAR variants from the query (they take precedence over `Accept`'s parameters). */
function checkCarQuery(c: Context): void {
  const wanted = {
    version: c.req.query("car-version"),
    order: c.req.query("car-order"),
    dups: c.req.query("car-dups"),
  };
  if (!isServedCar(Object.fromEntries(Object.entries(wanted).filter(([, v]) => v !== undefined)) as Params)) {
    throw new HttpError(
      406,
      "not_acceptable",
      "This gateway writes CARs with version=1, order=dfs, dups=n only",
    );
  }
}

type Params = Record<string, string>;

function isServedCar(params: Params): boolean {
  return (params.version ?? "1") === "1" && ["dfs", "unk"].includes(params.order ?? "dfs") &&
    (params.dups ?? "n") === "n";
}

/** Media ranges of an `Accept` header, best first (q = 0 dropped; at most 20 read). */
function parseAccept(header: string): { type: string; params: Params }[] {
  if (header === "") return [];
  const ranges = header.split(",").slice(0, 20).map((part, index) => {
    const [type, ...rest] = part.split(";").map((s) => s.trim());
    const params: Params = {};
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq > 0) {
        params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
      }
    }
    const q = params.q === undefined ? 1 : Number(params.q);
    delete params.q;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0, index };
  });
  return ranges.filter((r) => r.q > 0 && r.type !== "").sort((a, b) => b.q - a.q || a.index - b.index);
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

/** Waits `ms`, or rejects when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
