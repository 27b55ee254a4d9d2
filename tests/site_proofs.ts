/**
 * A local web server standing in for the websites of site tests: it serves
 * each domain's proof at `/<domain>/.well-known/kosmos-site.json` on
 * 127.0.0.1, and nodes started with `siteProofOrigins: server.origins` fetch
 * proofs from it instead of `https://DOMAIN` (nothing leaves the machine).
 *
 * ```ts
 * await using proofs = await startProofServer();
 * await using net = await startNetwork(2, { siteProofOrigins: proofs.origins });
 * await registerVerifiedSite(net.nodes[1], proofs, "shop.example"); // registered, published, verified
 * ```
 */
import type { KosmosNode } from "../node/node.ts";
import type { SiteView } from "../protocol/api/mod.ts";
import { SITE_PROOF_PATH } from "../protocol/sites.ts";

export interface ProofServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The `siteProofOrigins` config that sends every domain's proof lookup here. */
  origins: string[];
  /** Serves `body` as the proof of `domain` from now on. */
  publish(domain: string, body: string): void;
  /** Serves 404 for `domain` from now on. */
  unpublish(domain: string): void;
  /** How many times `domain`'s proof was asked for. */
  requests(domain: string): number;
  stop(): Promise<void>;
}

export function startProofServer(): Promise<ProofServer> {
  const published = new Map<string, string>();
  const counts = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    const domain = path.endsWith(SITE_PROOF_PATH) ? path.slice(1, -SITE_PROOF_PATH.length) : "";
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
    const body = published.get(domain);
    return body === undefined
      ? new Response("not found", { status: 404 })
      : new Response(body, { headers: { "Content-Type": "application/json" } });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const stop = async () => {
    await server.shutdown();
  };
  return Promise.resolve({
    url,
    origins: [`*=${url}`],
    publish: (domain, body) => void published.set(domain, body),
    unpublish: (domain) => void published.delete(domain),
    requests: (domain) => counts.get(domain) ?? 0,
    stop,
    [Symbol.asyncDispose]: stop,
  });
}

/** Registers `domain` on `node`, publishes the proof it answers with, and checks it: the site is verified. */
export async function registerVerifiedSite(
  node: KosmosNode,
  server: ProofServer,
  domain: string,
): Promise<SiteView> {
  const pending = await node.facade.registerSite(domain);
  server.publish(pending.domain, pending.proof);
  const site = await node.facade.checkSite(pending.domain);
  if (site.status !== "verified") {
    throw new Error(`site "${domain}" did not verify: ${site.proofError ?? "no reason given"}`);
  }
  return site;
}
