/**
 * The HTTP API contract of pools (data unions): an operator creates a pool (terms on chain and announced),
 * contributors join it with a consent valid on chain for its kind and purpose, the operator publishes
 * versions (each a dataset of the members' anonymized rows, listed, staked and registered on chain), and
 * each sale of a version is split among its contributors by the operator's node.
 *
 * - `GET /api/v1/pools`, `GET /api/v1/pools/:id` → `PoolView`
 * - `POST /api/v1/pools { kind, purpose, title, description?, price, licence, k?, operatorFeeBps }` → 201
 * - `POST /api/v1/pools/:id/join { consentId }` → 200, `POST /api/v1/pools/:id/leave` → 200
 * - `POST /api/v1/pools/:id/versions { stake? }` (operator) → 201 `PoolVersionView`
 *
 * The signing routes (create, versions) take `?preview=1`.
 */
import * as v from "valibot";
import { SOURCE_KINDS, type SourceKind } from "../sources.ts";
import type { FeePreview, FeeView } from "./fees.ts";
import { priceField, strictBody, tokenAmount } from "./schema.ts";

export interface PoolVersionView {
  /** The registry listing of the version (decimal). */
  listingId: string;
  manifestCid: string;
  /** Members whose rows are in it, with the rows each released (after suppression). */
  contributors: { address: `0x${string}`; rows: number }[];
  /** Members left out, and why (refused, silent, consent no longer valid…). */
  excluded: { address: `0x${string}`; reason: string }[];
  rows: number;
  /** The `registerVersion` transaction. */
  txHash: `0x${string}`;
  /** ms since the epoch. */
  createdAt: number;
}

export interface PoolView {
  /** The `KosmosPools` pool id (decimal). */
  id: string;
  kind: SourceKind;
  purpose: string;
  title: string;
  description: string;
  /** Token base units per version sold (decimal). */
  price: string;
  licence: string;
  k: number;
  operatorFeeBps: number;
  operator: `0x${string}`;
  /** The operator's node. */
  peerId: string;
  termsHash: `0x${string}`;
  /** ms since the epoch. */
  createdAt: number;
  /** This node operates the pool, is a member, or neither. */
  role: "operator" | "member" | null;
  /** Members (shown to the operator only). */
  members: { address: `0x${string}`; consentId: string; joinedAt: number }[];
  /** This node's membership, when it is a member. */
  membership: { consentId: string; joinedAt: number } | null;
  /** Versions published (shown to the operator only), newest first. */
  versions: PoolVersionView[];
}

/** `POST /api/v1/pools`: `price` in base units once parsed (sent as a token amount, such as `"2.5"`). */
export interface CreatePoolFields {
  kind: SourceKind;
  purpose: string;
  title: string;
  description?: string;
  price: string;
  licence: string;
  k?: number;
  operatorFeeBps: number;
}

export type CreatedPool = PoolView & { fee?: FeeView };
export type PublishedPoolVersion = PoolVersionView & { fee?: FeeView };

/**
 * `?preview=1` of `POST /api/v1/pools/:id/versions`: the members there are now, and the fee of the
 * version's listing and stake (the registration's gas is known only once the listing exists).
 */
export interface PoolVersionPreview extends FeePreview {
  members: number;
}

export interface PoolsApi {
  listPools(options?: { signal?: AbortSignal }): Promise<{ pools: PoolView[] }>;
  getPool(id: string, options?: { signal?: AbortSignal }): Promise<PoolView>;
  createPool(fields: CreatePoolFields, options?: { signal?: AbortSignal }): Promise<CreatedPool>;
  previewCreatePool(fields: CreatePoolFields, options?: { signal?: AbortSignal }): Promise<FeePreview>;
  joinPool(id: string, body: { consentId: string }, options?: { signal?: AbortSignal }): Promise<PoolView>;
  leavePool(id: string, options?: { signal?: AbortSignal }): Promise<PoolView & { notified: boolean }>;
  publishPoolVersion(
    id: string,
    body: { stake?: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<PublishedPoolVersion>;
  previewPublishPoolVersion(
    id: string,
    body: { stake?: bigint },
    options?: { signal?: AbortSignal },
  ): Promise<PoolVersionPreview>;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const text = (name: string) => v.string(`"${name}" must be a string`);
const POOL_FIELDS = ["kind", "purpose", "title", "description", "price", "licence", "k", "operatorFeeBps"];

/** `POST /api/v1/pools` (and `?preview=1`). */
export const CreatePoolBody = v.pipe(
  strictBody({
    kind: v.picklist(SOURCE_KINDS, `"kind" must be one of ${SOURCE_KINDS.join(", ")}`),
    purpose: v.pipe(
      text("purpose"),
      v.check((p) => !CONTROL.test(p), `"purpose" must be one line`),
      v.check((p) => p.trim() === p, `"purpose" must not start or end with a space`),
      v.check((p) => p.length >= 3 && p.length <= 200, `"purpose" must be 3 to 200 characters`),
    ),
    title: v.pipe(
      text("title"),
      v.check(
        (t) => !CONTROL.test(t) && t.trim().length >= 1 && t.length <= 200,
        `"title" must be one line of 1 to 200 characters`,
      ),
    ),
    description: v.optional(
      v.pipe(text("description"), v.maxLength(4000, `"description" must be at most 4000 characters`)),
    ),
    price: priceField("price"),
    licence: v.pipe(
      text("licence"),
      v.check(
        (l) => /^\S{1,64}$/.test(l),
        `"licence" must be a licence id without spaces, such as "CC-BY-4.0"`,
      ),
    ),
    k: v.optional(
      v.pipe(
        v.number(`"k" must be a whole number from 2 to 1000`),
        v.integer(`"k" must be a whole number from 2 to 1000`),
        v.minValue(2, `"k" must be a whole number from 2 to 1000`),
        v.maxValue(1000, `"k" must be a whole number from 2 to 1000`),
      ),
    ),
    operatorFeeBps: v.pipe(
      v.number(`"operatorFeeBps" must be a whole number of basis points from 0 to 5000`),
      v.integer(`"operatorFeeBps" must be a whole number of basis points from 0 to 5000`),
      v.minValue(0, `"operatorFeeBps" must be a whole number of basis points from 0 to 5000`),
      v.maxValue(5000, `"operatorFeeBps" must be a whole number of basis points from 0 to 5000`),
    ),
  }, {
    example:
      '{ "kind": "spotify", "purpose": "music research", "title": "…", "price": "2.5", "licence": "CC-BY-4.0", "k": 5, "operatorFeeBps": 1000 }',
    unknown: (key) => `Unknown field "${key.slice(0, 40)}"; send only ${POOL_FIELDS.join(", ")}`,
  }),
  v.transform((body) => body as CreatePoolFields),
);

/** `POST /api/v1/pools/:id/join`. */
export const JoinPoolBody = strictBody({
  consentId: v.pipe(
    v.string(`"consentId" must be a consent's token id as a string, such as "7"`),
    v.check((id) => /^[1-9]\d{0,76}$/.test(id), `"consentId" must be a consent's token id, such as "7"`),
  ),
}, { example: '{ "consentId": "7" }' });

/** `POST /api/v1/pools/:id/versions` (an empty body or `{}` stakes the registry's minimum). */
export const PublishPoolVersionBody = strictBody({
  stake: v.optional(tokenAmount("stake")),
}, { example: '{ "stake": "100" }' });

/** `:id` of the pool routes: a positive decimal integer. */
export const PoolIdParam = v.pipe(
  v.string(),
  v.check(
    (id) => /^[1-9]\d{0,76}$/.test(id),
    (issue) =>
      `The pool id must be a positive whole number, got ${JSON.stringify(issue.input)?.slice(0, 40)}`,
  ),
);
