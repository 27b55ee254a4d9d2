/**
 * Fetching domain proofs (`protocol/sites.ts`, {@link siteProofUrl}) without
 * letting anyone turn the node into a crawler: each fetch is a GET of one
 * fixed path with a timeout and a size limit; redirects are followed only
 * within the same host (at most 3); at most `concurrency` fetches run at once
 * and a bounded queue waits for them; a domain is fetched once however many
 * ask at the same time; answers are cached for `ttl` and failures for
 * `failureTtl`, so announcing a domain again and again costs its site one
 * request per `failureTtl` at most.
 *
 * `origins` maps domains to loopback servers instead of `https://DOMAIN`
 * (config `siteProofOrigins`, empty by default): tests and local setups serve
 * proofs from `http://127.0.0.1:PORT`. Only loopback URLs are allowed there,
 * so the setting can point a node at nothing but the machine it runs on.
 *
 * ```ts
 * const proofs = new ProofFetcher({ origins: parseProofOrigins(["*=http://127.0.0.1:8080"]) });
 * const result = await proofs.get("example.com"); // { ok: true, proof } | { ok: false, reason }
 * ```
 */
import {
  MAX_SITE_PROOF_BYTES,
  parseSiteProof,
  SITE_PROOF_PATH,
  type SiteProof,
  siteProofUrl,
  verifySiteProof,
} from "../../../protocol/sites.ts";
import { minute, second } from "../../constants.ts";

/** What looking for a domain's proof found. */
export type ProofResult =
  | { ok: true; proof: SiteProof; url: string; fetchedAt: number }
  | { ok: false; reason: string; url: string; fetchedAt: number };

export interface ProofFetcherInit {
  /** Domain (or `*`) → loopback base URL to fetch its proof from instead. @default none */
  origins?: Map<string, string>;
  /** Longest one fetch may take, ms. @default 5 seconds */
  timeout?: number;
  /** How long a fetched proof is trusted before it is fetched again, ms. @default 1 hour */
  ttl?: number;
  /** How long a failed fetch is remembered before the domain is asked again, ms. @default 1 minute */
  failureTtl?: number;
  /** Fetches at once. @default 4 */
  concurrency?: number;
  /** Fetches waiting for a slot; beyond it a lookup fails at once, uncached. @default 256 */
  maxQueue?: number;
  /** Domains whose answers are cached. @default 10_000 */
  maxCached?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

const MAX_REDIRECTS = 3;

/**
 * Parses `siteProofOrigins` entries, `DOMAIN=URL` or `*=URL`, where URL is an
 * http(s) URL on a loopback host; throws a `TypeError` naming the bad entry.
 */
export function parseProofOrigins(entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const eq = typeof entry === "string" ? entry.indexOf("=") : -1;
    const domain = eq > 0 ? entry.slice(0, eq).trim().toLowerCase() : "";
    const base = eq > 0 ? entry.slice(eq + 1).trim() : "";
    let url: URL | undefined;
    try {
      url = new URL(base);
    } catch { /* reported below */ }
    if (
      !domain || !/^(\*|[a-z0-9.-]+)$/.test(domain) || !url || !["http:", "https:"].includes(url.protocol) ||
      !isLoopbackHost(url.hostname) || url.search !== "" || url.hash !== "" || url.username !== ""
    ) {
      throw new TypeError(
        `siteProofOrigins entry ${JSON.stringify(String(entry).slice(0, 100))} must be DOMAIN=URL or *=URL ` +
          "with an http(s) URL on a loopback host, such as *=http://127.0.0.1:8080",
      );
    }
    out.set(domain, base.replace(/\/+$/, ""));
  }
  return out;
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class ProofFetcher {
  #init: Required<Omit<ProofFetcherInit, "origins">> & { origins: Map<string, string> };
  #cache = new Map<string, { result: ProofResult; until: number }>();
  #inflight = new Map<string, Promise<ProofResult>>();
  #running = 0;
  #queue: (() => void)[] = [];

  constructor(init: ProofFetcherInit = {}) {
    this.#init = {
      origins: init.origins ?? new Map(),
      timeout: init.timeout ?? 5 * second,
      ttl: init.ttl ?? 60 * minute,
      failureTtl: init.failureTtl ?? minute,
      concurrency: init.concurrency ?? 4,
      maxQueue: init.maxQueue ?? 256,
      maxCached: init.maxCached ?? 10_000,
      now: init.now ?? Date.now,
    };
  }

  /** Where this node looks for the proof of `domain`. */
  urlOf(domain: string): string {
    const base = this.#init.origins.get(domain) ?? this.#init.origins.get("*");
    return base === undefined ? siteProofUrl(domain) : `${base}/${domain}${SITE_PROOF_PATH}`;
  }

  /**
   * The proof `domain` publishes, verified (signature, fields, domain), from
   * the cache while it is fresh. `fresh` skips the cache (the owner's
   * "check now"); a fetch of the same domain already under way is shared.
   */
  get(domain: string, options: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<ProofResult> {
    const now = this.#init.now();
    const cached = this.#cache.get(domain);
    if (cached && !options.fresh && cached.until > now) {
      return Promise.resolve(cached.result);
    }
    let run = this.#inflight.get(domain);
    if (!run) {
      run = this.#fetchQueued(domain, options.signal).finally(() => this.#inflight.delete(domain));
      this.#inflight.set(domain, run);
    }
    return run;
  }

  /**
   * Whether a lookup of `domain` now would cause no new fetch: its answer is cached, or a fetch of it is
   * under way and would be shared.
   */
  isCached(domain: string): boolean {
    return this.#inflight.has(domain) || (this.#cache.get(domain)?.until ?? 0) > this.#init.now();
  }

  async #fetchQueued(domain: string, signal?: AbortSignal): Promise<ProofResult> {
    const url = this.urlOf(domain);
    if (this.#running >= this.#init.concurrency) {
      if (this.#queue.length >= this.#init.maxQueue) {
        return { ok: false, reason: "too many proofs are being fetched; try again later", url, fetchedAt: 0 };
      }
      // The fetch that finishes hands its slot over: `#running` stays counted.
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else this.#running++;
    try {
      const result = await this.#fetch(domain, url, signal);
      if (signal?.aborted) return result; // the caller gave up: that says nothing about the domain
      if (this.#cache.size >= this.#init.maxCached) {
        this.#cache.delete(this.#cache.keys().next().value!);
      }
      this.#cache.delete(domain);
      this.#cache.set(domain, {
        result,
        until: result.fetchedAt + (result.ok ? this.#init.ttl : this.#init.failureTtl),
      });
      return result;
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }

  async #fetch(domain: string, url: string, outer?: AbortSignal): Promise<ProofResult> {
    const fetchedAt = this.#init.now();
    const fail = (reason: string): ProofResult => ({ ok: false, reason, url, fetchedAt });
    const signals = [AbortSignal.timeout(this.#init.timeout), outer].filter((s) => s !== undefined);
    const signal = AbortSignal.any(signals);
    let target = new URL(url);
    let response: Response | undefined;
    let text: string | undefined;
    try {
      for (let hop = 0;; hop++) {
        response = await fetch(target, {
          redirect: "manual",
          signal,
          headers: { Accept: "application/json" },
        });
        if (response.status < 300 || response.status >= 400) break;
        await response.body?.cancel();
        const location = response.headers.get("location");
        const next = location ? new URL(location, target) : undefined;
        if (!next || next.host !== target.host || hop + 1 >= MAX_REDIRECTS) {
          return fail(`${url} redirects ${next ? `to another host (${next.host})` : "without a location"}`);
        }
        if (next.protocol !== target.protocol && next.protocol !== "https:") {
          return fail(`${url} redirects from https to plain http`);
        }
        target = next;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return fail(`${url} answered ${response.status}`);
      }
      text = await readLimited(response, MAX_SITE_PROOF_BYTES);
    } catch (err) {
      await response?.body?.cancel().catch(() => {});
      if ((err as Error).name === "TimeoutError") return fail(`${url} did not answer in time`);
      if ((err as Error).name === "AbortError") return fail(`fetching ${url} was cancelled`);
      return fail(`${url} could not be fetched: ${String((err as Error).message).slice(0, 200)}`);
    }
    if (text === undefined) return fail(`${url} is larger than ${MAX_SITE_PROOF_BYTES} bytes`);
    try {
      const proof = await verifySiteProof(parseSiteProof(text), { domain, now: this.#init.now() });
      return { ok: true, proof, url, fetchedAt };
    } catch (err) {
      return fail(`${url}: ${(err as Error).message}`);
    }
  }
}

/** The body as text, or undefined when it is longer than `max` bytes. */
async function readLimited(response: Response, max: number): Promise<string | undefined> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
