/**
 * The HTTP API contract of the browser extension. The owner shows a pairing code on My data
 * (`POST /api/v1/extension/pairings`); the person types it into the extension, which trades it for
 * its own token (`POST /api/v1/extension/pair`, public and rate limited). That token can do two
 * things only: read whether this node holds a valid consent for the `browsing` kind
 * (`GET /api/v1/extension/status`) and, once it does, send the visits it recorded
 * (`POST /api/v1/extension/visits`), which become a `browsing` source on My data. The owner lists
 * and revokes extension tokens (`GET /api/v1/extension/tokens`, `DELETE /api/v1/extension/tokens/:id`).
 */
import * as v from "valibot";
import { type BrowsingVisit, browsingVisitProblem, MAX_VISITS_PER_SEND } from "../browsing.ts";
import { strictBody } from "./schema.ts";

/** `201` of `POST /api/v1/extension/pairings`: a one-time code to type into the extension. */
export interface PairingView {
  /** 8 characters, shown as `ABCD-EFGH`; dashes, spaces and case are ignored when typed. */
  code: string;
  /** ms since the epoch; the code works once, until then. */
  expiresAt: number;
}

/** `201` of `POST /api/v1/extension/pair`: the extension's token (`Authorization: Bearer`). */
export interface ExtensionPairedView {
  token: string;
}

/** `GET /api/v1/extension/status`, asked with the extension's token. */
export interface ExtensionStatusView {
  paired: true;
  /** Whether this node's wallet holds a consent for the `browsing` kind valid on chain now. */
  consent: boolean;
}

/** `201` of `POST /api/v1/extension/visits`: the browsing source the visits joined (one for every send). */
export interface VisitsReceivedView {
  sourceId: string;
  /** Rows of that source now, this send's included. */
  rows: number;
}

/** One paired extension as the owner sees it (never its token). */
export interface ExtensionTokenView {
  id: string;
  /** ms since the epoch. */
  createdAt: number;
  /** When it last called the node, or `null`. */
  lastUsedAt: number | null;
}

export interface ExtensionApi {
  createExtensionPairing(options?: { signal?: AbortSignal }): Promise<PairingView>;
  /** `caller` is the client's address, which the rate limit counts by. */
  pairExtension(
    code: string,
    options: { caller: string; signal?: AbortSignal },
  ): Promise<ExtensionPairedView>;
  /** Rejects with `ExtensionTokenError` unless `token` is a paired extension's (reads nothing else). */
  verifyExtensionToken(token: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** `token` is the bearer the request sent (`ExtensionTokenError` when it is none of ours). */
  getExtensionStatus(token: string, options?: { signal?: AbortSignal }): Promise<ExtensionStatusView>;
  postExtensionVisits(
    token: string,
    visits: BrowsingVisit[],
    options?: { signal?: AbortSignal },
  ): Promise<VisitsReceivedView>;
  listExtensionTokens(options?: { signal?: AbortSignal }): Promise<{ tokens: ExtensionTokenView[] }>;
  revokeExtensionToken(id: string, options?: { signal?: AbortSignal }): Promise<void>;
}

/** `POST /api/v1/extension/pair`. */
export const PairBody = strictBody({
  code: v.pipe(
    v.string(`"code" must be the pairing code My data shows, such as "ABCD-EFGH"`),
    v.maxLength(32, `"code" must be the 8-character pairing code My data shows`),
  ),
}, { example: '{ "code": "ABCD-EFGH" }' });

/** `POST /api/v1/extension/visits`: an array of 1 to 5000 visits. */
export const VisitsBody = v.pipe(
  v.array(
    v.unknown(),
    `Expected a JSON array of visits like [{ "domain": "example.org", "visitedAt": 1714567200000 }]`,
  ),
  v.check((a) => a.length > 0, "Send at least one visit"),
  v.check(
    (a) => a.length <= MAX_VISITS_PER_SEND,
    `Send at most ${MAX_VISITS_PER_SEND} visits at once`,
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const now = Date.now();
    const at = dataset.value.findIndex((visit) => browsingVisitProblem(visit, now) !== null);
    if (at >= 0) {
      addIssue({ message: `Visit ${at + 1}: ${browsingVisitProblem(dataset.value[at], now)}` });
    }
  }),
  v.transform((a) => a as BrowsingVisit[]),
);

/** `:id` of `DELETE /api/v1/extension/tokens/:id`. */
export const ExtensionTokenIdParam = v.pipe(
  v.string(),
  v.check(
    (id) => /^[0-9a-f]{32}$/.test(id),
    (issue) => `No extension token ${JSON.stringify(issue.input)?.slice(0, 40)}: ids are 32 hex digits`,
  ),
);
