/**
 * The HTTP API contract of the contributor's side: importing exports of the services a person uses
 * (`POST /api/v1/sources/:kind/imports`, multipart, field `file`; a bank statement may carry a
 * confirmed column `mapping`), listing them, previewing what would be shared after anonymization,
 * and publishing an anonymized dataset from the sources whose consent is valid
 * (`POST /api/v1/publications`, `?preview=1` estimates the ownership record's fee).
 */

import * as v from "valibot";
import {
  BANK_DATE_FORMATS,
  type BankMapping,
  SOURCE_KINDS,
  type SourceKind,
  type SourceKindInfo,
} from "../sources.ts";
import type { PrivacyReport } from "../manifest.ts";
import type { FeePreview, FeeView } from "./fees.ts";
import type { MySalesSummary } from "./my_data.ts";
import { PublishFields } from "./datasets.ts";
import { searchParams, strictBody } from "./schema.ts";

/** One import of one export file. */
export interface SourceView {
  id: string;
  kind: SourceKind;
  filename: string;
  rows: number;
  /** ms since the epoch. */
  importedAt: number;
  /** Earliest and latest time in its rows (ms), `null` without rows. */
  from: number | null;
  to: number | null;
  /** Bank statements: the column mapping the rows were read with. */
  mapping?: BankMapping;
}

/** `201` of `POST /api/v1/sources/:kind/imports`. */
export interface ImportResult {
  id: string;
  kind: SourceKind;
  rows: number;
  mapping?: BankMapping;
}

/** `GET /api/v1/sources`. */
export interface SourcesView {
  /** Every kind the node imports, with its fields and their privacy roles. */
  kinds: SourceKindInfo[];
  sources: SourceView[];
}

/** `POST /api/v1/sources/bank/layout` (multipart, field `file`): the detected columns. */
export interface BankLayoutView {
  mapping: BankMapping;
  header: string[];
  /** The first data rows, as read with the detected delimiter. */
  sample: string[][];
}

/** `GET /api/v1/sources/:id/preview?k=5`: what would leave the node, after anonymization. */
export interface SourcePreview {
  id: string;
  kind: SourceKind;
  columns: string[];
  /** At most 50 rows. */
  rows: (string | number | null)[][];
  /** Rows it would release and the privacy report of releasing them. */
  released: number;
  privacy: PrivacyReport;
}

/** `POST /api/v1/publications`. */
export interface PublicationFields {
  /** Kinds to publish from; a kind without a valid consent for `purpose` is left out (see `excluded`). */
  kinds: SourceKind[];
  purpose: string;
  title: string;
  description?: string;
  /** Token base units, decimal string (or tokens with a unit, as the publish form accepts). */
  price: string;
  licence: string;
  /** @default 5 */
  k?: number;
  /** When given, the publication is a table of noisy counts per class, charged to each kind's ε budget. */
  epsilon?: number;
}

/** `201` of `POST /api/v1/publications`. */
export interface PublicationView {
  id: string;
  manifestCid: string;
  title: string;
  purpose: string;
  /** Kinds whose rows it contains. */
  kinds: SourceKind[];
  /** Kinds asked for and left out, and why (no valid consent, no rows). */
  excluded: { kind: SourceKind; reason: string }[];
  /** The consent records its rows were published under (token ids, decimal). */
  consentIds: string[];
  rows: number;
  privacy: PrivacyReport;
  /** The ownership record this node's wallet holds (token id, decimal); `null` if recording failed. */
  ownershipTokenId: string | null;
  createdAt: number;
  sales: MySalesSummary;
  fee?: FeeView;
}

/** `GET /api/v1/publications`. */
export interface PublicationsView {
  publications: PublicationView[];
}

export type PublicationPreview = FeePreview & { kinds: SourceKind[]; excluded: PublicationView["excluded"] };

export interface SourcesApi {
  importSource(
    kind: SourceKind,
    file: { stream: ReadableStream<Uint8Array>; filename: string },
    options?: { mapping?: BankMapping; signal?: AbortSignal },
  ): Promise<ImportResult>;
  listSources(options?: { signal?: AbortSignal }): Promise<SourcesView>;
  detectBankLayout(
    stream: ReadableStream<Uint8Array>,
    /** `filename`: the statement's name, for the messages. */
    options?: { filename?: string; signal?: AbortSignal },
  ): Promise<BankLayoutView>;
  previewSource(id: string, options?: { k?: number; signal?: AbortSignal }): Promise<SourcePreview>;
  deleteSource(id: string, options?: { signal?: AbortSignal }): Promise<void>;
  createPublication(fields: PublicationFields, options?: { signal?: AbortSignal }): Promise<PublicationView>;
  previewPublication(
    fields: PublicationFields,
    options?: { signal?: AbortSignal },
  ): Promise<PublicationPreview>;
  listPublications(options?: { signal?: AbortSignal }): Promise<PublicationsView>;
}

const MAX_COLUMN_NAME = 200;
const column = (name: string) =>
  v.optional(
    v.pipe(
      v.string(`mapping.${name} must be a column name of the file`),
      v.minLength(1, `mapping.${name} must be a column name of the file`),
      v.maxLength(MAX_COLUMN_NAME, `mapping.${name} must be at most ${MAX_COLUMN_NAME} characters`),
    ),
  );

/** The `mapping` field of a bank statement import: JSON of a {@link BankMapping}. */
export const BankMappingBody = v.pipe(
  strictBody({
    date: v.pipe(
      v.string("mapping.date must be the column name of the booking date"),
      v.minLength(1, "mapping.date must be the column name of the booking date"),
      v.maxLength(MAX_COLUMN_NAME, `mapping.date must be at most ${MAX_COLUMN_NAME} characters`),
    ),
    dateFormat: v.picklist(
      BANK_DATE_FORMATS,
      `mapping.dateFormat must be one of ${BANK_DATE_FORMATS.join(", ")}`,
    ),
    amount: column("amount"),
    debit: column("debit"),
    credit: column("credit"),
    description: column("description"),
    balance: column("balance"),
    currency: column("currency"),
    decimal: v.picklist([".", ","], 'mapping.decimal must be "." or ","'),
    delimiter: v.picklist([",", ";", "\t"], 'mapping.delimiter must be ",", ";" or "\\t"'),
  }, {
    example:
      '{ "date": "Date", "dateFormat": "DD.MM.YYYY", "amount": "Amount", "decimal": ",", "delimiter": ";" }',
    unknown: (key) =>
      `Unknown mapping field "${
        key.slice(0, 40)
      }"; send date, dateFormat, amount or debit and credit, description, balance, currency, decimal, delimiter`,
  }),
  v.check(
    (m) => m.amount !== undefined || (m.debit !== undefined && m.credit !== undefined),
    "mapping needs an amount column, or both a debit and a credit column",
  ),
  v.transform((m): BankMapping => m),
);

/** Parses the text of a `mapping` form field; the messages are the schema's. */
export const BankMappingText = v.pipe(
  v.string(),
  v.rawTransform<string, unknown>(({ dataset, addIssue, NEVER }) => {
    try {
      return JSON.parse(dataset.value);
    } catch {
      addIssue({ message: "mapping must be JSON of the column mapping" });
      return NEVER;
    }
  }),
  BankMappingBody,
);

/** `GET /api/v1/sources/:id/preview?k=5` */
export const SourcePreviewParams = searchParams({
  k: v.pipe(
    v.optional(v.string()),
    v.check(
      (value) =>
        value === undefined || /^\d{1,4}$/.test(value) && Number(value) >= 2 && Number(value) <= 1000,
      'Query parameter "k" must be a whole number from 2 to 1000',
    ),
    v.transform((value) => value === undefined ? undefined : Number(value)),
  ),
}, { unknown: (key) => `Unknown query parameter "${key.slice(0, 40)}"; use k`, once: true });

const PUBLICATION_FIELDS = ["kinds", "purpose", "title", "description", "price", "licence", "k", "epsilon"];
const text = (name: string) => v.string(`"${name}" must be a string`);

/** `POST /api/v1/publications` (and `?preview=1`): the price as a token amount, such as `"2.5"`. */
export const PublicationBody = v.pipe(
  strictBody({
    kinds: v.pipe(
      v.array(
        v.picklist(SOURCE_KINDS, `"kinds" must list source kinds: ${SOURCE_KINDS.join(", ")}`),
        `"kinds" must be a list of source kinds, such as ["spotify", "uber"]`,
      ),
      v.minLength(1, `"kinds" must name at least one source kind`),
      v.check((kinds) => new Set(kinds).size === kinds.length, `"kinds" must not name a kind twice`),
    ),
    purpose: v.pipe(
      text("purpose"),
      // deno-lint-ignore no-control-regex
      v.check((p) => !/[\u0000-\u001f\u007f]/.test(p), `"purpose" must be one line`),
      v.check((p) => p.trim().length >= 3 && p.length <= 200, `"purpose" must be 3 to 200 characters`),
    ),
    title: text("title"),
    description: v.optional(text("description")),
    price: text("price"),
    licence: text("licence"),
    k: v.optional(
      v.pipe(
        v.number(`"k" must be a whole number from 2 to 1000`),
        v.integer(`"k" must be a whole number from 2 to 1000`),
        v.minValue(2, `"k" must be a whole number from 2 to 1000`),
        v.maxValue(1000, `"k" must be a whole number from 2 to 1000`),
      ),
    ),
    epsilon: v.optional(
      v.pipe(
        v.number(`"epsilon" must be a number greater than 0`),
        v.finite(`"epsilon" must be a number greater than 0`),
        v.gtValue(0, `"epsilon" must be a number greater than 0`),
      ),
    ),
  }, {
    example:
      '{ "kinds": ["spotify"], "purpose": "music research", "title": "…", "price": "2.5", "licence": "CC-BY-4.0" }',
    unknown: (key) => `Unknown field "${key.slice(0, 40)}"; send only ${PUBLICATION_FIELDS.join(", ")}`,
  }),
  // Title, description, price and licence as a dataset upload checks them.
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const body = dataset.value;
    const checked = v.safeParse(PublishFields, {
      title: body.title,
      description: body.description,
      category: "other",
      price: body.price,
      license: body.licence,
    });
    if (!checked.success) {
      for (const issue of checked.issues) {
        addIssue({ message: issue.message.replace(/\blicense\b/g, "licence") });
      }
      return NEVER;
    }
    const { title, description, price, license } = checked.output;
    return { ...body, title, description, price, licence: license } as PublicationFields;
  }),
);
