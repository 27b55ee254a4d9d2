/**
 * The HTTP API contract of consent: a person grants consent to share one kind of source for one
 * purpose until a time, as a record on the consent contract held by their wallet, and revokes it
 * with one transaction. Granting is direct (the node's wallet signs and pays) or gasless (the
 * person's wallet signs the EIP-712 `Grant` of `GET /api/v1/consents/grant-message`, the node relays
 * it and pays). Both signing routes take `?preview=1`.
 */

import * as v from "valibot";
import { getAddress, isAddress, isHex } from "viem";
import { SOURCE_KINDS, type SourceKind } from "../sources.ts";
import type { FeePreview, FeeView } from "./fees.ts";
import { searchParams, strictBody } from "./schema.ts";

export type ConsentState = "valid" | "revoked" | "expired";

export interface ConsentView {
  /** The consent record's token id (decimal); also its id in the API. */
  id: string;
  tokenId: string;
  kind: SourceKind;
  purpose: string;
  /** The wallet holding the record. */
  contributor: `0x${string}`;
  /** ms since the epoch. */
  grantedAt: number;
  expiresAt: number;
  /** ms since the epoch, or `null`. */
  revokedAt: number | null;
  /** As the consent contract answers now. */
  state: ConsentState;
  /** Whether it was relayed from the person's signature (gasless). */
  gasless: boolean;
  txHash: `0x${string}`;
  revokeTxHash: `0x${string}` | null;
}

/** `POST /api/v1/consents`. */
export interface GrantConsentFields {
  kind: SourceKind;
  purpose: string;
  /** ms since the epoch, in the future (at most 5 years ahead). */
  expiresAt: number;
  /**
   * Gasless: the person's signature of the `Grant` of `GET /api/v1/consents/grant-message` (asked with
   * the same kind, purpose, expiresAt and deadline); the node checks it and relays it. `deadline` is in
   * unix seconds, as signed.
   */
  signed?: { contributor: `0x${string}`; deadline: number; signature: `0x${string}` };
}

/** `201` of `POST /api/v1/consents`. */
export type GrantedConsent = ConsentView & { fee?: FeeView };

/** `DELETE /api/v1/consents/:id`. */
export type RevokedConsent = ConsentView & { fee?: FeeView };

/** `GET /api/v1/consents/grant-message?kind&purpose&expiresAt&contributor&deadline`: EIP-712 typed data to sign. */
export interface GrantMessageView {
  domain: { name: string; version: string; chainId: number; verifyingContract: `0x${string}` };
  types: Record<string, { name: string; type: string }[]>;
  primaryType: "Grant";
  /** Numbers as decimal strings. */
  message: {
    contributor: `0x${string}`;
    source: `0x${string}`;
    purpose: `0x${string}`;
    expiry: string;
    nonce: string;
    deadline: string;
  };
}

export interface ConsentsApi {
  grantConsent(fields: GrantConsentFields, options?: { signal?: AbortSignal }): Promise<GrantedConsent>;
  previewGrantConsent(fields: GrantConsentFields, options?: { signal?: AbortSignal }): Promise<FeePreview>;
  revokeConsent(id: string, options?: { signal?: AbortSignal }): Promise<RevokedConsent>;
  previewRevokeConsent(id: string, options?: { signal?: AbortSignal }): Promise<FeePreview>;
  listConsents(options?: { signal?: AbortSignal }): Promise<{ consents: ConsentView[] }>;
  /** `deadline` in unix seconds (as signed); `expiresAt` in ms, as in a grant. */
  getGrantMessage(
    query: {
      kind: SourceKind;
      purpose: string;
      expiresAt: number;
      contributor: `0x${string}`;
      deadline: number;
    },
    options?: { signal?: AbortSignal },
  ): Promise<GrantMessageView>;
}

const kind = v.picklist(SOURCE_KINDS, `"kind" must be one of ${SOURCE_KINDS.join(", ")}`);

/** Control, format, surrogate, private-use and unassigned characters. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/u;

const purpose = v.pipe(
  v.string(`"purpose" must be a string, such as "music research"`),
  v.check((p) => [...p].length >= 3 && [...p].length <= 200, `"purpose" must be 3 to 200 characters`),
  v.check((p) => !UNPRINTABLE.test(p), `"purpose" must be printable text on one line`),
  v.check((p) => p.trim() === p, `"purpose" must not start or end with a space`),
);

const wholeNumber = (name: string, what: string) =>
  v.pipe(
    v.number(`"${name}" must be a number: ${what}`),
    v.check((n) => Number.isSafeInteger(n) && n >= 0, `"${name}" must be a whole number: ${what}`),
  );

const address = (name: string) =>
  v.pipe(
    v.custom<`0x${string}`>(
      (value) => typeof value === "string" && isAddress(value, { strict: false }),
      `"${name}" must be a 0x-prefixed 20-byte address`,
    ),
    v.transform((value) => getAddress(value)),
  );

/** `POST /api/v1/consents` (and `?preview=1`). */
export const GrantConsentBody = v.pipe(
  strictBody({
    kind,
    purpose,
    expiresAt: wholeNumber("expiresAt", "ms since the epoch"),
    signed: v.optional(
      strictBody({
        contributor: address("signed.contributor"),
        deadline: wholeNumber("signed.deadline", "unix seconds"),
        signature: v.custom<`0x${string}`>(
          (value) =>
            typeof value === "string" && isHex(value, { strict: true }) && value.length <= 2 + 2 * 256,
          `"signed.signature" must be a 0x-prefixed hex signature`,
        ),
      }, { example: '{ "contributor": "0x…", "deadline": 1767225600, "signature": "0x…" }' }),
    ),
  }, {
    example: '{ "kind": "spotify", "purpose": "music research", "expiresAt": 1767225600000 }',
  }),
  v.transform((body): GrantConsentFields => body),
);

const digits = (name: string, what: string) =>
  v.pipe(
    v.string(`Query parameter "${name}" is required: ${what}`),
    v.check((s) => /^\d{1,16}$/.test(s), `Query parameter "${name}" must be a whole number: ${what}`),
    v.transform(Number),
  );

/** `GET /api/v1/consents/grant-message?kind&purpose&expiresAt&contributor&deadline` */
export const GrantMessageParams = v.pipe(
  searchParams({
    kind: v.picklist(SOURCE_KINDS, `Query parameter "kind" must be one of ${SOURCE_KINDS.join(", ")}`),
    purpose: v.pipe(v.string('Query parameter "purpose" is required'), purpose),
    expiresAt: digits("expiresAt", "ms since the epoch"),
    contributor: v.pipe(v.string('Query parameter "contributor" is required'), address("contributor")),
    deadline: digits("deadline", "unix seconds"),
  }, {
    unknown: (key) =>
      `Unknown query parameter "${key.slice(0, 40)}"; use kind, purpose, expiresAt, contributor, deadline`,
    once: true,
  }),
  v.transform((q) => q as Parameters<ConsentsApi["getGrantMessage"]>[0]),
);

/** `:id` of `DELETE /api/v1/consents/:id`: a consent record's token id (a positive decimal integer). */
export const ConsentIdParam = v.pipe(
  v.string(),
  v.check(
    (id) => /^[1-9]\d{0,76}$/.test(id),
    (issue) =>
      `The consent id must be its token id (a positive whole number), got ${
        JSON.stringify(issue.input)?.slice(0, 40)
      }`,
  ),
);
