/**
 * The HTTP API contract, websites: analytics ingestion and the sites this node registers.
 * Views are the JSON bodies the routes answer with; `SitesApi` is what the node implements.
 */

import * as v from "valibot";
import type { EventClient, EventPayload, RecordEventResult } from "../analytics.ts";
import { parseEventPayload } from "../event_payload.ts";
import { parsed, strictBody } from "./schema.ts";

export type { EventClient, EventDropReason, EventPayload, RecordEventResult } from "../analytics.ts";

/** A website registered for analytics (`GET /api/v1/sites`). */
export interface SiteView {
  domain: string;
  /** The owner's wallet. */
  owner: string;
  /** The owner's node, where events are delivered. */
  peerId: string;
  /** X25519 public key (`0x` + 64 hex digits) to which proxies seal events. */
  encryptionKey: string;
  /** When the registration was signed, ms since the epoch. */
  registeredAt: number;
  /** "verified": the domain publishes this node's proof and the site is announced; "pending": not yet. */
  status: "pending" | "verified";
  /** Where the owner publishes the proof: `https://DOMAIN/.well-known/kosmos-site.json`. */
  proofUrl: string;
  /** The exact JSON document to publish there. */
  proof: string;
  /** When the node last looked for the proof, ms since the epoch. */
  checkedAt?: number;
  /** Why the last look did not find it. */
  proofError?: string;
  /** The node that holds the domain now, when it is another one. */
  heldBy?: { owner: string; peerId: string };
}

/** One analytics proxy of a site, as its owner's node counts it. */
export interface SiteProxyView {
  /** The proxy's peer id (it signed the batches). */
  peerId: string;
  /** Events it delivered (all days kept). */
  events: number;
  /** Events it delivered today (UTC), counted against its daily quota. */
  today: number;
  batches: number;
  /** Its batches this node refused. */
  refused: number;
  blocked: boolean;
  /** Last delivery or refusal, ms since the epoch. */
  lastAt?: number;
}

/**
 * A site's first-party paths (`GET|PUT /api/v1/sites/:domain/paths`): the
 * node serves the tracker at `scriptPath` and takes events at `eventPath`,
 * as at `/js/kosmos.js` and `/api/event`. Absent: not set.
 */
export interface SitePathsView {
  scriptPath?: string;
  eventPath?: string;
}

export interface SitesApi {
  /**
   * Analytics ingestion (`POST /api/event`): checks one validated event and
   * queues it for its site's owner, or says why it was dropped. Never throws
   * for bad client input.
   */
  recordEvent(
    payload: EventPayload,
    client: EventClient,
    options?: { signal?: AbortSignal },
  ): Promise<RecordEventResult>;
  /**
   * Registers a website of this node's owner: answers with the proof to
   * publish at the domain; the site is announced once the domain serves it.
   * Throws `TypeError` for a bad domain.
   */
  registerSite(domain: string, options?: { signal?: AbortSignal }): Promise<SiteView>;
  /** Looks for a registered site's proof at its domain now. Throws `NotFoundError` when not registered here. */
  checkSite(domain: string, options?: { signal?: AbortSignal }): Promise<SiteView>;
  /** Sites this node registered, pending and verified. */
  listSites(options?: { signal?: AbortSignal }): Promise<SiteView[]>;
  /**
   * Drops a registration of this node: no event of the site is taken any more.
   * Throws `NotFoundError` when not registered here.
   */
  removeSite(domain: string, options?: { signal?: AbortSignal }): Promise<{ domain: string; removed: true }>;
  /** The proxies that delivered events of one of this node's sites. Throws `NotFoundError` for other sites. */
  listSiteProxies(domain: string, options?: { signal?: AbortSignal }): Promise<SiteProxyView[]>;
  /** One of this node's sites' first-party paths. Throws `NotFoundError` for other sites. */
  getSitePaths(domain: string, options?: { signal?: AbortSignal }): Promise<SitePathsView>;
  /**
   * Sets (both absent: clears) a site's first-party paths. Throws `TypeError`
   * for a bad path or one in use, `NotFoundError` for other sites.
   */
  setSitePaths(
    domain: string,
    paths: SitePathsView,
    options?: { signal?: AbortSignal },
  ): Promise<SitePathsView>;
  /** What a request path serves (`script` or `event`) when it is a site's first-party path. */
  resolveSitePath(path: string): Promise<{ kind: "script" | "event"; site: string } | undefined>;
  /**
   * Refuses (`blocked: true`) or takes again a proxy's batches for one of this
   * node's sites. Throws `TypeError` for a bad peer id, `NotFoundError` for other sites.
   */
  setProxyBlocked(
    domain: string,
    peerId: string,
    blocked: boolean,
    options?: { signal?: AbortSignal },
  ): Promise<SiteProxyView[]>;
}

/** `POST /api/v1/sites` */
export const RegisterSiteBody = strictBody(
  { domain: v.string('Field "domain" must be a string such as "example.com"') },
  { example: '{ "domain": "example.com" }' },
);

/** `PUT /api/v1/sites/:domain/paths` */
export const SitePathsBody = strictBody(
  {
    scriptPath: v.optional(v.string('Field "scriptPath" must be a path such as "/js/stats.js"')),
    eventPath: v.optional(v.string('Field "eventPath" must be a path such as "/x/collect"')),
  },
  { example: '{ "scriptPath": "/js/stats.js", "eventPath": "/x/collect" }' },
);

/** The body of `POST /api/event`; the message names the first bad field (`parseEventPayload`'s). */
export const EventPayloadBody = parsed(parseEventPayload);
