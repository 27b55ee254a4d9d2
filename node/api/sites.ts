/** Websites: analytics ingestion, and the sites this node registers with their proxies. */
import type { SiteProxyView, SitesApi, SiteView } from "../../protocol/api/sites.ts";
import { NotFoundError } from "../errors.ts";
import type { Ingest, ProxyStats } from "../services/ingest/mod.ts";
import type { OwnSite, Sites } from "../services/sites/mod.ts";

export function createSitesApi(c: { sites: Sites; ingest: Ingest }): SitesApi {
  const requireOwnSite = (domain: string) => {
    if (typeof domain !== "string" || !c.sites.getOwnSite(domain)) {
      throw new NotFoundError(
        `No site ${JSON.stringify(String(domain).slice(0, 80))} is registered on this node`,
      );
    }
  };
  return {
    recordEvent(payload, client) {
      return c.ingest.recordEvent(payload, client);
    },

    // deno-lint-ignore require-await
    async removeSite(domain) {
      c.sites.removeSite(domain);
      return { domain, removed: true };
    },

    async registerSite(domain, options = {}) {
      return toSiteView(await c.sites.registerSite(domain, options));
    },

    async checkSite(domain, options = {}) {
      return toSiteView(await c.sites.checkSite(domain, { fresh: true, signal: options.signal }));
    },

    // deno-lint-ignore require-await
    async listSites() {
      return c.sites.listOwnSites().map(toSiteView);
    },

    // deno-lint-ignore require-await
    async listSiteProxies(domain) {
      requireOwnSite(domain);
      return c.ingest.listProxies(domain).map(toSiteProxyView);
    },

    // deno-lint-ignore require-await
    async getSitePaths(domain) {
      requireOwnSite(domain);
      return c.ingest.paths.getPaths(domain);
    },

    // deno-lint-ignore require-await
    async setSitePaths(domain, paths) {
      requireOwnSite(domain);
      return c.ingest.paths.setPaths(domain, paths);
    },

    // deno-lint-ignore require-await
    async resolveSitePath(path) {
      return c.ingest.resolvePath(path);
    },

    // deno-lint-ignore require-await
    async setProxyBlocked(domain, peerId, blocked) {
      requireOwnSite(domain);
      if (blocked) c.ingest.blockProxy(domain, peerId);
      else c.ingest.unblockProxy(domain, peerId);
      return c.ingest.listProxies(domain).map(toSiteProxyView);
    },
  };
}

function toSiteView(own: OwnSite): SiteView {
  const view: SiteView = {
    domain: own.domain,
    owner: own.proof.owner,
    peerId: own.proof.peerId,
    encryptionKey: own.proof.encryptionKey,
    registeredAt: own.proof.timestamp,
    status: own.status,
    proofUrl: own.proofUrl,
    proof: own.proofJson,
  };
  if (own.checkedAt !== undefined) view.checkedAt = own.checkedAt;
  if (own.error !== undefined) view.proofError = own.error;
  if (own.heldBy) view.heldBy = own.heldBy;
  return view;
}

function toSiteProxyView(stats: ProxyStats): SiteProxyView {
  const view: SiteProxyView = {
    peerId: stats.proxy,
    events: stats.events,
    today: stats.today,
    batches: stats.batches,
    refused: stats.refused,
    blocked: stats.blocked,
  };
  if (stats.lastAt !== undefined) view.lastAt = stats.lastAt;
  return view;
}
