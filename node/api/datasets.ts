/** Datasets: publishing, the catalog's listings (with this node's replication count), fetches. */
import { CID } from "multiformats/cid";
import type {
  DatasetsApi,
  FetchView,
  ListingDetail,
  ListingReplication,
  ListingView,
  ManifestSummary,
} from "../../protocol/api/datasets.ts";
import { toManifestCid } from "../../protocol/ids.ts";
import type { Category } from "../../protocol/manifest.ts";
import { NotFoundError } from "../errors.ts";
import { type BlockStore, getManifest } from "../services/blocks/mod.ts";
import type { Catalog, Listing, ListingQuery } from "../services/catalog/mod.ts";
import type { Datasets } from "../services/datasets/mod.ts";
import type { Fetches, FetchProgress } from "../services/fetches/mod.ts";
import type { Replication } from "../services/replication/mod.ts";

/** How this node replicates `manifestCid`, as the API shows it; null where it does not track it. */
export function toReplicationView(replication: Replication, manifestCid: string): ListingReplication | null {
  const state = replication.getReplication(manifestCid);
  return state
    ? {
      target: state.target,
      providers: state.providers,
      local: state.local,
      status: state.status,
      checkedAt: state.checkedAt,
    }
    : null;
}

export interface DatasetsApiComponents {
  blocks: BlockStore;
  catalog: Catalog;
  datasets: Datasets;
  fetches: Fetches;
  replication: Replication;
}

export function createDatasetsApi(c: DatasetsApiComponents): DatasetsApi {
  function toListingView(listing: Listing): ListingView {
    return { ...listing, replication: toReplicationView(c.replication, listing.manifestCid) };
  }

  return {
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
      return toFetchView(c.fetches.startFetch(cid, { providers: c.catalog.getProviders(cid) }));
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
}

function toManifestSummary(manifest: Awaited<ReturnType<typeof getManifest>>): ManifestSummary {
  const summary: ManifestSummary = {
    format: manifest.format,
    contentType: manifest.contentType,
    chunkSize: manifest.chunkSize,
    merkleRoot: manifest.merkleRoot,
    dekCommit: manifest.dekCommit,
    privacy: manifest.privacy,
    consent: manifest.consent,
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
