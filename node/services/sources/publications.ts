/**
 * Publishing an anonymized dataset from the node's sources. A publication names the kinds to
 * draw from and the purpose they are shared for; only kinds whose consent for that purpose is
 * valid on chain at this moment (`consent.validFor`) and that have rows are kept, the others
 * are listed in `excluded` with the reason. Each kept kind is anonymized over all its imports
 * (k-anonymity, or noisy counts with ε), the tables are combined (a leading `source` column),
 * and the CSV is published through the datasets service with the privacy report and the
 * consent records (`eip155:<chainId>:<consent contract>/<tokenId>`) in its manifest. Then the
 * node's wallet records its ownership of the manifest on chain; the publication stands if that
 * transaction fails (`ownershipTokenId: null`, logged).
 *
 * ```ts
 * const publications = new Publications({ store, datasets, privacy, consent, chain, log });
 * const p = await publications.publish({ kinds: ["spotify"], purpose: "music research",
 *   title: "Listening, 2024", price: "1000000000000000000", licence: "CC-BY-4.0" });
 * ```
 */
import { KosmosError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { MAX_LICENCE_ID_LENGTH, MAX_TITLE_LENGTH, MAX_UINT256 } from "../../../protocol/manifest.ts";
import { SOURCE_KIND_INFO, SOURCE_KINDS, type SourceKind } from "../../../protocol/sources.ts";
import type { ChainService, FeeEstimate } from "../chain/mod.ts";
import type { ConsentRecord, Consents } from "../consent/mod.ts";
import type { Datasets } from "../datasets/mod.ts";
import {
  type AnonymizedTable,
  combineTables,
  DEFAULT_K,
  encodeTableCsv,
  type Privacy,
  PrivacyBudgetError,
} from "../privacy/mod.ts";
import type { PublicationRecord, SourceStore } from "./store.ts";

/** What to publish; `price` in token base units (decimal). */
export interface PublishSourcesFields {
  kinds: SourceKind[];
  /** The purpose the consents were granted for, exactly as granted. */
  purpose: string;
  title: string;
  /** @default "" */
  description?: string;
  price: string;
  licence: string;
  /** @default 5 */
  k?: number;
  /** When given, each kind becomes a table of noisy counts, charged to its ε budget. */
  epsilon?: number;
}

export type Excluded = { kind: SourceKind; reason: string }[];

/** A preview: what would be published and the ownership record's fee; nothing signed or charged. */
export interface PublishPreview {
  kinds: SourceKind[];
  excluded: Excluded;
  consentIds: bigint[];
  fee: FeeEstimate;
}

/** No kind asked for has both a valid consent for the purpose and rows: nothing was published. */
export class NothingToPublishError extends KosmosError {
  override name = "NothingToPublishError";
}

/** Anonymization suppressed every row of every kind: nothing was published. */
export class EmptyPublicationError extends KosmosError {
  override name = "EmptyPublicationError";
}

export interface PublicationsComponents {
  store: SourceStore;
  datasets: Datasets;
  privacy: Privacy;
  consent: Consents;
  chain: ChainService;
  log: Logger;
}

export const MIN_K = 2;
export const MAX_K = 1000;
export const MIN_PURPOSE_LENGTH = 3;
export const MAX_PURPOSE_LENGTH = 200;

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export class Publications {
  readonly #c: PublicationsComponents;

  constructor(components: PublicationsComponents) {
    this.#c = components;
  }

  /**
   * Publishes the kinds of `fields` that have a valid consent and rows, anonymized. Throws
   * `TypeError`/`RangeError` for a bad field, {@link NothingToPublishError} when no kind is
   * left, {@link EmptyPublicationError} when anonymization releases no row, or the publish
   * path's errors; nothing is published then.
   */
  async publish(
    fields: PublishSourcesFields,
    options: { signal?: AbortSignal } = {},
  ): Promise<PublicationRecord> {
    const f = checkPublishFields(fields);
    const { store, datasets, privacy, consent, chain, log } = this.#c;
    const selected = await this.#select(f, options.signal);
    this.#checkBudgets(f, selected.included);
    const excluded = [...selected.excluded];
    const kept: { kind: SourceKind; consents: ConsentRecord[]; table: AnonymizedTable }[] = [];
    for (const { kind, consents } of selected.included) {
      // The imports of now: one finished or deleted while this runs changes nothing or fails it.
      const ids = store.idsOfKind(kind);
      const rows = () => store.rowsOf(ids);
      const table = f.epsilon === undefined
        ? privacy.anonymize(kind, rows, { k: f.k })
        : privacy.aggregate(kind, rows, { epsilon: f.epsilon, k: f.k });
      if (table.released === 0) excluded.push({ kind, reason: `every row was suppressed at k = ${f.k}` });
      else kept.push({ kind, consents, table });
    }
    if (kept.length === 0) {
      throw new EmptyPublicationError(
        `Nothing to publish: anonymization at k = ${f.k} suppressed every row (${describe(excluded)})`,
        { details: { excluded } },
      );
    }
    options.signal?.throwIfAborted();
    const table = combineTables(kept.map((k) => k.table));
    const consentIds = uniqueIds(kept.flatMap((k) => k.consents));
    const { chainId } = chain;
    const consentAddress = chain.client.contracts.consent;
    const kinds = kept.map((k) => k.kind);
    const published = await datasets.publishDataset(encodeTableCsv(table), {
      title: f.title,
      description: f.description,
      category: kinds.length === 1 ? SOURCE_KIND_INFO[kinds[0]].category : "other",
      price: f.price,
      licence: f.licence,
      filename: "publication.csv",
      contentType: "text/csv",
      privacy: table.report,
      consent: consentIds.map((id) => `eip155:${chainId}:${consentAddress}/${id}`),
      signal: options.signal,
    });
    let ownershipTokenId: string | null = null;
    try {
      const recorded = await consent.recordOwnership(published.manifestCid, consentIds, {
        signal: options.signal,
      });
      ownershipTokenId = recorded.tokenId.toString();
    } catch (err) {
      log.warn("failed to record the ownership of a publication", {
        manifestCid: published.manifestCid,
        error: err,
      });
    }
    const record: PublicationRecord = {
      id: crypto.randomUUID(),
      manifestCid: published.manifestCid,
      title: f.title,
      purpose: f.purpose,
      kinds,
      excluded,
      consentIds: consentIds.map(String),
      rows: table.released,
      privacy: table.report,
      ownershipTokenId,
      createdAt: Date.now(),
    };
    store.addPublication(record);
    log.info("published sources", {
      manifestCid: record.manifestCid,
      kinds,
      rows: record.rows,
      excluded: excluded.map((e) => e.kind),
    });
    return record;
  }

  /** Validates and checks consents as {@link publish} does, and estimates the ownership record's fee. */
  async previewPublish(
    fields: PublishSourcesFields,
    options: { signal?: AbortSignal } = {},
  ): Promise<PublishPreview> {
    const f = checkPublishFields(fields);
    const { included, excluded } = await this.#select(f, options.signal);
    this.#checkBudgets(f, included);
    const consentIds = uniqueIds(included.flatMap((i) => i.consents));
    const { fee } = await this.#c.consent.previewRecordOwnership(consentIds, { signal: options.signal });
    return { kinds: included.map((i) => i.kind), excluded, consentIds, fee };
  }

  listPublications(): PublicationRecord[] {
    return this.#c.store.listPublications();
  }

  /** With ε, every kind's budget must cover it before any is charged: `PrivacyBudgetError` otherwise. */
  #checkBudgets(f: { epsilon?: number }, included: { kind: SourceKind }[]): void {
    if (f.epsilon === undefined) return;
    for (const { kind } of included) {
      const budget = this.#c.privacy.getBudget(kind);
      if (f.epsilon > budget.remaining) {
        throw new PrivacyBudgetError(
          `Cannot publish "${kind}" with ε = ${f.epsilon}: only ${budget.remaining} of its privacy budget of ` +
            `${budget.total} is left (nothing was charged)`,
          { details: { kind, ...budget } },
        );
      }
    }
  }

  /** The kinds with a valid consent now and rows, and the others with why. */
  async #select(f: Required<Pick<PublishSourcesFields, "kinds" | "purpose">>, signal?: AbortSignal) {
    const included: { kind: SourceKind; consents: ConsentRecord[] }[] = [];
    const excluded: Excluded = [];
    for (const kind of f.kinds) {
      const consents = await this.#c.consent.validFor(kind, f.purpose, { signal });
      if (consents.length === 0) {
        excluded.push({ kind, reason: `no valid consent for the purpose "${f.purpose}"` });
      } else if (!this.#c.store.hasRows(kind)) {
        excluded.push({ kind, reason: "no imported rows" });
      } else {
        included.push({ kind, consents });
      }
    }
    if (included.length === 0) {
      throw new NothingToPublishError(`Nothing to publish: ${describe(excluded)}`, { details: { excluded } });
    }
    return { included, excluded };
  }
}

function describe(excluded: Excluded): string {
  return excluded.map((e) => `${e.kind}: ${e.reason}`).join("; ");
}

function uniqueIds(consents: ConsentRecord[]): bigint[] {
  return [...new Set(consents.map((c) => c.tokenId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `fields` checked, with defaults; throws `TypeError`/`RangeError` naming the first bad field. */
export function checkPublishFields(
  fields: PublishSourcesFields,
): Required<Omit<PublishSourcesFields, "epsilon">> & { epsilon?: number } {
  const kinds = fields.kinds;
  if (!Array.isArray(kinds) || kinds.length === 0) {
    throw new TypeError("kinds must name at least one source kind");
  }
  for (const [i, kind] of kinds.entries()) {
    if (!(SOURCE_KINDS as readonly unknown[]).includes(kind)) {
      throw new TypeError(
        `${JSON.stringify(String(kind).slice(0, 40))} is not a source kind; the kinds are ${
          SOURCE_KINDS.join(", ")
        }`,
      );
    }
    if (kinds.indexOf(kind) !== i) throw new TypeError(`kinds names "${kind}" twice`);
  }
  const purpose = fields.purpose;
  if (typeof purpose !== "string" || CONTROL.test(purpose)) {
    throw new TypeError("purpose must be text on one line");
  }
  if (purpose.trim().length < MIN_PURPOSE_LENGTH || purpose.length > MAX_PURPOSE_LENGTH) {
    throw new RangeError(
      `purpose must be ${MIN_PURPOSE_LENGTH} to ${MAX_PURPOSE_LENGTH} characters (got ${purpose.length})`,
    );
  }
  const title = typeof fields.title === "string" ? fields.title.trim() : "";
  if (!title || CONTROL.test(title) || title.length > MAX_TITLE_LENGTH) {
    throw new TypeError(`title must be one line of 1 to ${MAX_TITLE_LENGTH} characters`);
  }
  const description = fields.description ?? "";
  if (typeof description !== "string") throw new TypeError("description must be text");
  if (
    typeof fields.price !== "string" || !/^\d{1,78}$/.test(fields.price) || BigInt(fields.price) > MAX_UINT256
  ) {
    throw new TypeError("price must be a whole number of token base units");
  }
  const licence = fields.licence;
  if (
    typeof licence !== "string" || !licence || /\s/.test(licence) || licence.length > MAX_LICENCE_ID_LENGTH
  ) {
    throw new TypeError("licence must be a licence id without spaces, e.g. CC-BY-4.0");
  }
  const k = fields.k ?? DEFAULT_K;
  if (!Number.isInteger(k) || k < MIN_K || k > MAX_K) {
    throw new RangeError(`k must be a whole number from ${MIN_K} to ${MAX_K} (got ${k})`);
  }
  const epsilon = fields.epsilon;
  if (epsilon !== undefined && !(typeof epsilon === "number" && Number.isFinite(epsilon) && epsilon > 0)) {
    throw new RangeError("epsilon must be a number greater than 0");
  }
  return {
    kinds: [...kinds],
    purpose,
    title,
    description,
    price: fields.price,
    licence,
    k,
    ...(epsilon !== undefined && { epsilon }),
  };
}
