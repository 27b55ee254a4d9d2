/**
 * Implements the web layer's {@link KosmosFacade} over the node's services.
 * Each method is a thin adapter: validation of domain input happens in the
 * services, HTTP concerns in `web/`.
 */
import { CID } from "multiformats/cid";
import type {
  FetchView,
  KosmosFacade,
  ListingDetail,
  ListingView,
  ManifestSummary,
  NodeInfo,
  ReleaseView,
  SiteProxyView,
  SiteView,
} from "../web/facade.ts";
import { toManifestCid } from "../protocol/ids.ts";
import type { Category } from "../protocol/manifest.ts";
import type { NodeComponents } from "./node.ts";
import { VERSION } from "./constants.ts";
import { createChainFacade } from "./services/chain/facade.ts";
import { createMarketFacade } from "./services/market/facade.ts";
import { createConnectorsFacade } from "./services/connectors/facade.ts";
import { NotFoundError } from "./errors.ts";
import { getManifest } from "./services/blocks/mod.ts";
import type { Listing, ListingQuery } from "./services/catalog/mod.ts";
import type { FetchProgress } from "./services/transfer/mod.ts";
import type { OwnSite } from "./services/sites/mod.ts";
import type { ProxyStats } from "./services/ingest/mod.ts";
import type { ReleaseDimension, ReleaseRecord } from "./services/analytics/mod.ts";

export function createFacade(c: NodeComponents): KosmosFacade {
  const requireOwnSite = (domain: string) => {
    if (typeof domain !== "string" || !c.sites.getOwnSite(domain)) {
      throw new NotFoundError(
        `No site ${JSON.stringify(String(domain).slice(0, 80))} is registered on this node`,
      );
    }
  };
  return {
    ...createChainFacade(c),
    ...createMarketFacade(c),
    ...createConnectorsFacade(c),

    async getNodeInfo(options = {}): Promise<NodeInfo> {
      const balance = await c.chain.getBalance(options);
      return {
        peerId: c.identity.peerId.toString(),
        address: c.identity.account.address,
        listen: c.p2p.listenAddresses(),
        peers: c.p2p.peers(),
        version: VERSION,
        chain: { chainId: c.chain.chainId, rpcUrl: c.chain.rpcUrl, balance: balance.toString() },
      };
    },

    async publishDataset(stream, fields, options = {}) {
      const { id, manifestCid } = await c.datasets.publishDataset(stream, {
        title: fields.title,
        description: fields.description,
        category: fields.category as Category,
        price: fields.price,
        licence: fields.license,
        gateway: fields.gateway,
        filename: fields.filename,
        contentType: fields.contentType,
        signal: options.signal,
      });
      return { id, manifestCid };
    },

    // deno-lint-ignore require-await
    async listListings(query = {}) {
      const { listings, total } = c.catalog.listListings(query as ListingQuery);
      return { listings: listings.map(toListingView), total };
    },

    async getListing(id) {
      const listing = toListingView(c.catalog.getListing(id));
      const cid = CID.parse(listing.manifestCid);
      const manifest = (await c.blocks.has(cid)) ? toManifestSummary(await getManifest(c.blocks, cid)) : null;
      const progress = c.fetches.getFetch(listing.manifestCid);
      return { ...listing, manifest, fetch: progress ? toFetchView(progress) : null } satisfies ListingDetail;
    },

    // deno-lint-ignore require-await
    async startFetch(manifestCid) {
      const cid = toManifestCid(manifestCid);
      let providers: string[] = [];
      try {
        providers = c.catalog.getListing(cid).providers;
      } catch (err) {
        if ((err as Error).name !== "NotFoundError") throw err;
      }
      return toFetchView(c.fetches.startFetch(cid, { providers }));
    },

    recordEvent(payload, client) {
      return c.ingest.recordEvent(payload, client);
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
    async setProxyBlocked(domain, peerId, blocked) {
      requireOwnSite(domain);
      if (blocked) c.ingest.blockProxy(domain, peerId);
      else c.ingest.unblockProxy(domain, peerId);
      return c.ingest.listProxies(domain).map(toSiteProxyView);
    },

    queryStats(query, options) {
      return c.analytics.queryStats(query, options);
    },

    // deno-lint-ignore require-await
    async getRealtimeVisitors(domain) {
      return c.analytics.getRealtimeVisitors(domain);
    },

    // deno-lint-ignore require-await
    async listAnalyticsSites() {
      return c.analytics.listSites();
    },

    async createRelease(domain, input, options = {}) {
      const { release, id, manifestCid, budget } = await c.releases.createRelease(domain, {
        ...input,
        dimension: input.dimension as ReleaseDimension | null | undefined,
        signal: options.signal,
      });
      return { id, manifestCid, release: toReleaseView(release), budget };
    },

    // deno-lint-ignore require-await
    async listReleases(domain) {
      const { budget, releases } = c.releases.listReleases(domain);
      return { budget, releases: releases.map(toReleaseView) };
    },

    // deno-lint-ignore require-await
    async getFetch(manifestCid) {
      const cid = toManifestCid(manifestCid);
      const progress = c.fetches.getFetch(cid);
      if (!progress) {
        throw new NotFoundError(`This node has not fetched "${cid}"; start with POST /api/v1/fetches`);
      }
      return toFetchView(progress);
    },
  };

  function toListingView(listing: Listing): ListingView {
    const state = c.replication.getReplication(listing.manifestCid);
    return {
      ...listing,
      replication: state
        ? {
          target: state.target,
          providers: state.providers,
          local: state.local,
          status: state.status,
          checkedAt: state.checkedAt,
        }
        : null,
    };
  }
}

/** A release as the web layer shows it: everything but the site, which the route already names. */
function toReleaseView({ site: _site, ...view }: ReleaseRecord): ReleaseView {
  return view;
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

function toManifestSummary(manifest: Awaited<ReturnType<typeof getManifest>>): ManifestSummary {
  const summary: ManifestSummary = {
    format: manifest.format,
    contentType: manifest.contentType,
    chunkSize: manifest.chunkSize,
    merkleRoot: manifest.merkleRoot,
    dekCommit: manifest.dekCommit,
    privacy: manifest.privacy,
  };
  if (manifest.filename !== undefined) summary.filename = manifest.filename;
  if (manifest.timeRange !== undefined) summary.timeRange = manifest.timeRange;
  return summary;
}

function toFetchView(progress: FetchProgress): FetchView {
  const view: FetchView = {
    manifestCid: progress.manifestCid,
    status: progress.status,
    chunksVerified: progress.chunksVerified,
    chunksTotal: progress.chunksTotal,
    bytes: progress.bytes,
    providers: progress.providers,
  };
  if (progress.error !== undefined) view.error = progress.error;
  return view;
}
