/**
 * The HTTP API contract, datasets: publishing, the catalog's listings, and fetches.
 * Views are the JSON bodies the routes answer with; `DatasetsApi` is what the node implements.
 */

import * as v from "valibot";
import { toAddress } from "../ids.ts";
import {
  CATEGORIES,
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TITLE_LENGTH,
  type PrivacyReport,
} from "../manifest.ts";
import {
  isPlainObject,
  manifestCid,
  parsePrice,
  searchParams,
  strictBody,
  TOKEN_DECIMALS,
} from "./schema.ts";

/** The fields of `POST /api/v1/datasets` besides the file, already validated by the route. */
export interface PublishDatasetFields {
  title: string;
  /** @default "" */
  description?: string;
  /** One of the protocol's categories. */
  category: string;
  /** Price in token base units, as a decimal string. */
  price: string;
  /** Licence id, e.g. `"kosmos-research-1"` or `"CC-BY-4.0"`. */
  license: string;
  /** Gateway operator credited with 10 % of sales. @default this node's wallet */
  gateway?: string;
  /** The uploaded file's name; used to detect the format. */
  filename?: string;
  /** The uploaded file's media type; used to detect the format. */
  contentType?: string;
}

/** `201` answer of `POST /api/v1/datasets`. */
export interface PublishedDataset {
  /** v1 name: the manifest CID. */
  id: string;
  manifestCid: string;
}

/** `GET /api/v1/listings` query. */
export interface ListingsQuery {
  q?: string;
  category?: string;
  /** @default "relevance" with `q`, else "newest" */
  sort?: "newest" | "price" | "stake" | "relevance";
  /** @default 20 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

/** How well a dataset is replicated, as this node last counted. */
export interface ListingReplication {
  target: number;
  /** Live providers at the last count, this node included when it holds the dataset. */
  providers: string[];
  /** Whether this node holds the whole dataset. */
  local: boolean;
  status: "pending" | "replicated" | "under-replicated" | "fetching" | "unavailable" | "elsewhere";
  /** ms since the epoch of the last count; 0 before the first. */
  checkedAt: number;
}

/** A catalog listing. */
export interface ListingView {
  /** v1 name: the manifest CID. */
  id: string;
  manifestCid: string;
  title: string;
  description: string;
  category: string;
  /** Token base units, decimal string. */
  price: string;
  seller: `0x${string}`;
  gateway: `0x${string}`;
  byteLength: number;
  rowCount: number;
  chunkCount: number;
  schema: { name: string; type: string }[];
  /** A few rows, identifying columns masked. */
  preview: (string | number | boolean | null)[][];
  licence: string;
  /** Peer ids known to hold the chunks. */
  providers: string[];
  createdAt: number;
  announcedAt: number;
  /** Active registry stake on the manifest CID, token base units (decimal string). */
  stake: string;
  /** Open registry challenges against it. */
  challenges: number;
  /** Its active registry listing ids (decimal), oldest first; empty when not staked. */
  onChain: string[];
  /** This node's replication count for the dataset; `null` when it neither holds nor watches it. */
  replication: ListingReplication | null;
}

/** `GET /api/v1/listings` answer. */
export interface ListingsPage {
  listings: ListingView[];
  /** Matches ignoring `limit` and `offset`. */
  total: number;
}

/** Manifest facts beyond the announcement, when this node holds the manifest. */
export interface ManifestSummary {
  format: string;
  contentType: string;
  filename?: string;
  chunkSize: number;
  merkleRoot: string;
  dekCommit: string;
  timeRange?: { from?: number; to?: number };
  /** What the seller did to the rows before selling them (k, ε, suppressed rows, dropped and generalised fields). */
  privacy: PrivacyReport;
  /** References to the consent records the rows were shared under (`eip155:<chainId>:<contract>/<tokenId>`). */
  consent: string[];
}

/** `GET /api/v1/listings/:id` answer. */
export interface ListingDetail extends ListingView {
  /** `null` until this node holds the manifest. */
  manifest: ManifestSummary | null;
  /** This node's fetch of the dataset, if it started one. */
  fetch: FetchView | null;
}

/** Progress of a fetch, `GET /api/v1/fetches/:cid`. */
export interface FetchView {
  manifestCid: string;
  status: "queued" | "running" | "complete" | "failed";
  chunksVerified: number;
  chunksTotal: number;
  /** Ciphertext bytes verified and stored. */
  bytes: number;
  /** Peers that served verified chunks. */
  providers: string[];
  /** Why it failed, when it did. */
  error?: string;
}

export interface DatasetsApi {
  /**
   * Encrypts `stream` into the block store, signs and gossips its
   * announcement, and provides it in the DHT. Streams: memory stays bounded
   * whatever the size. Nothing is kept when it fails.
   */
  publishDataset(
    stream: ReadableStream<Uint8Array>,
    fields: PublishDatasetFields,
    options?: { signal?: AbortSignal },
  ): Promise<PublishedDataset>;
  listListings(query?: ListingsQuery, options?: { signal?: AbortSignal }): Promise<ListingsPage>;
  getListing(id: string, options?: { signal?: AbortSignal }): Promise<ListingDetail>;
  /** Starts (or returns) the fetch of a dataset by its manifest CID. */
  startFetch(manifestCid: string, options?: { signal?: AbortSignal }): Promise<FetchView>;
  /** Throws `NotFoundError` when this node never started fetching it. */
  getFetch(manifestCid: string, options?: { signal?: AbortSignal }): Promise<FetchView>;
}

/** `POST /api/v1/fetches` */
export const FetchBody = strictBody({ manifestCid }, { example: '{ "manifestCid": "bafy…" }' });

const LISTINGS_PARAMS = ["q", "category", "sort", "limit", "offset"];

const wholeNumber = (key: string) =>
  v.pipe(
    v.optional(v.string()),
    v.check(
      (value) => value === undefined || value === "" || /^\d{1,9}$/.test(value),
      `Query parameter "${key}" must be a whole number`,
    ),
    v.transform((value) => value === undefined || value === "" ? undefined : Number(value)),
  );
const nonEmpty = v.pipe(v.optional(v.string()), v.transform((value) => value || undefined));

/** The query of `GET /api/v1/listings`; the sort is checked by the catalog. */
export const ListingsParams = v.pipe(
  searchParams({
    q: nonEmpty,
    category: nonEmpty,
    sort: v.pipe(nonEmpty, v.transform((value) => value as ListingsQuery["sort"])),
    limit: wholeNumber("limit"),
    offset: wholeNumber("offset"),
  }, {
    unknown: (key) => `Unknown query parameter "${key.slice(0, 40)}"; use ${LISTINGS_PARAMS.join(", ")}`,
    once: true,
  }),
  v.transform((query): ListingsQuery => query),
);

/** The text fields of the upload form of `POST /api/v1/datasets`. */
export const DATASET_FIELDS = ["title", "description", "category", "price", "license", "gateway"] as const;
export type DatasetFieldName = typeof DATASET_FIELDS[number];

/**
 * The upload's text fields (as read, absent when not sent) → the publish fields. Every problem
 * is its own issue; a missing required field's issue has `expected: "required"`.
 */
export const PublishFields = v.pipe(
  v.custom<Partial<Record<DatasetFieldName, string>>>(isPlainObject),
  v.rawTransform<
    Partial<Record<DatasetFieldName, string>>,
    Omit<PublishDatasetFields, "filename" | "contentType">
  >(({ dataset, addIssue, NEVER }) => {
    const fields = dataset.value;
    let failed = false;
    const problem = (message: string, expected?: string) => {
      failed = true;
      addIssue({ message, expected });
    };
    const text = (name: DatasetFieldName, max: number, required: boolean): string | undefined => {
      const value = fields[name]?.trim();
      if (!value) {
        if (required) problem(`${name} is required`, "required");
        return undefined;
      }
      // deno-lint-ignore no-control-regex
      if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) {
        problem(`${name} must not contain control characters`);
      } else if (value.length > max) {
        problem(`${name} must be at most ${max} characters (got ${value.length})`);
      }
      return value;
    };
    const title = text("title", MAX_TITLE_LENGTH, true);
    if (title && /[\r\n\t]/.test(title)) problem("title must be one line");
    const description = text("description", MAX_DESCRIPTION_LENGTH, false);
    const category = text("category", 64, true);
    if (category && !(CATEGORIES as readonly string[]).includes(category)) {
      problem(`category must be one of ${CATEGORIES.join(", ")}`);
    }
    const license = text("license", MAX_LICENCE_ID_LENGTH, true);
    if (license && /\s/.test(license)) problem("license must be a licence id without spaces, e.g. CC-BY-4.0");
    const priceText = text("price", 100, true);
    let price: string | undefined;
    if (priceText) {
      price = parsePrice(priceText);
      if (price === undefined) {
        problem(`price must be a token amount such as 2.5, with at most ${TOKEN_DECIMALS} decimals`);
      }
    }
    const gatewayText = text("gateway", 42, false);
    let gateway: string | undefined;
    if (gatewayText) {
      try {
        gateway = toAddress(gatewayText);
      } catch {
        problem("gateway must be an EVM address (0x and 40 hex digits)");
      }
    }
    if (failed) return NEVER;
    return {
      title: title!,
      description: description ?? "",
      category: category!,
      price: price!,
      license: license!,
      gateway,
    };
  }),
);
