/**
 * The extension service's class: pairing codes, extension tokens, and the two things a token may
 * do (read the consent status, send visits). See `mod.ts`.
 */
import { KosmosError, NotFoundError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { TokenBuckets } from "../../token_buckets.ts";
import type { BrowsingVisit } from "../../../protocol/browsing.ts";
import type { Consents } from "../consent/mod.ts";
import type { Database } from "../db/mod.ts";
import { rateLimitKey } from "../ingest/mod.ts";
import type { SourceRecord, Sources } from "../sources/mod.ts";
import {
  createExtensionToken,
  createPairingCode,
  digest,
  isExtensionTokenShape,
  normalizePairingCode,
} from "./codes.ts";
import { ExtensionStore, type ExtensionTokenRecord } from "./store.ts";

/** The file name of the one browsing source the extension's visits make. */
const EXTENSION_SOURCE = "extension";

export interface ExtensionComponents {
  db: Database;
  consent: Consents;
  sources: Sources;
  log: Logger;
}

export interface ExtensionInit {
  /** How long a pairing code works, ms. @default 10 minutes */
  codeTtlMs?: number;
  /** Codes pending at once; a new one drops the oldest. @default 3 */
  maxPendingCodes?: number;
  /** Pairing attempts one client may make: a burst, then one per `pairEvery` seconds. @default 5, 60 */
  pairBurst?: number;
  pairEvery?: number;
  /** Pairing attempts of all clients together: a burst, then one per `pairAllEvery` seconds. @default 20, 10 */
  pairAllBurst?: number;
  pairAllEvery?: number;
  /** Sends of visits one token may make: a burst, then one per `sendEvery` seconds. @default 10, 30 */
  sendBurst?: number;
  sendEvery?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/** A bearer that is not a paired extension's token (unknown, revoked, or the owner's token). */
export class ExtensionTokenError extends KosmosError {
  override name = "ExtensionTokenError";
}

/** A pairing code that is unknown, used already or expired. */
export class PairingCodeError extends KosmosError {
  override name = "PairingCodeError";
}

/** Too many pairing attempts or sends; `retryAfter` in seconds. */
export class ExtensionRateLimitError extends KosmosError {
  override name = "ExtensionRateLimitError";
  constructor(message: string, readonly retryAfter: number) {
    super(message, { details: { retryAfter } });
  }
}

/** Visits sent while this node's wallet holds no valid consent for the `browsing` kind. */
export class ConsentRequiredError extends KosmosError {
  override name = "ConsentRequiredError";
}

type Options = { signal?: AbortSignal };

export class Extension {
  readonly #c: ExtensionComponents;
  readonly #store: ExtensionStore;
  readonly #now: () => number;
  readonly #codeTtl: number;
  readonly #maxPending: number;
  readonly #pairPerClient: TokenBuckets;
  readonly #pairAll: TokenBuckets;
  readonly #sends: TokenBuckets;

  constructor(components: ExtensionComponents, init: ExtensionInit = {}) {
    this.#c = components;
    this.#store = new ExtensionStore(components.db);
    this.#now = init.now ?? Date.now;
    this.#codeTtl = init.codeTtlMs ?? 10 * 60_000;
    this.#maxPending = init.maxPendingCodes ?? 3;
    const now = this.#now;
    this.#pairPerClient = new TokenBuckets({
      rate: 1 / (init.pairEvery ?? 60),
      burst: init.pairBurst ?? 5,
      maxKeys: 10_000,
      now,
    });
    this.#pairAll = new TokenBuckets({
      rate: 1 / (init.pairAllEvery ?? 10),
      burst: init.pairAllBurst ?? 20,
      now,
    });
    this.#sends = new TokenBuckets({ rate: 1 / (init.sendEvery ?? 30), burst: init.sendBurst ?? 10, now });
  }

  start(): Promise<void> {
    this.#store.open();
    return Promise.resolve();
  }

  /** A one-time code for the owner to type into the extension, valid for 10 minutes. */
  createPairing(): { code: string; expiresAt: number } {
    const code = createPairingCode();
    const now = this.#now();
    const expiresAt = now + this.#codeTtl;
    this.#store.addPairing(digest(normalizePairingCode(code)!), now, expiresAt, this.#maxPending);
    this.#c.log.info("created an extension pairing code", { expiresAt });
    return { code, expiresAt };
  }

  /** Pairing codes pending now. */
  pendingPairings(): number {
    return this.#store.countPairings(this.#now());
  }

  /**
   * Trades a pending code for a new extension token (the code is used up). Rate limited per
   * `caller` (an IP address; an IPv6 client by its /64) and for everyone together.
   */
  pair(typed: string, options: { caller: string }): { id: string; token: string } {
    const caller = rateLimitKey(options.caller);
    if (!this.#pairPerClient.take(caller)) {
      throw new ExtensionRateLimitError(
        "Too many pairing attempts from you; wait and type the code again",
        this.#pairPerClient.retryAfter(caller),
      );
    }
    if (!this.#pairAll.take("all")) {
      throw new ExtensionRateLimitError(
        "Too many pairing attempts; try again later",
        this.#pairAll.retryAfter("all"),
      );
    }
    const code = normalizePairingCode(typed);
    const token = createExtensionToken();
    const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    if (code === null || !this.#store.redeemPairing(digest(code), this.#now(), { id, hash: digest(token) })) {
      throw new PairingCodeError(
        "This pairing code is not valid: it was used already, has expired, or is mistyped. Show a new one on My data",
      );
    }
    this.#c.log.info("paired a browser extension", { id });
    return { id, token };
  }

  /** The extension `token` belongs to; {@link ExtensionTokenError} for anything else. */
  authenticate(token: string): ExtensionTokenRecord {
    const record = isExtensionTokenShape(token)
      ? this.#store.useToken(digest(token), this.#now())
      : undefined;
    if (!record) {
      throw new ExtensionTokenError(
        "This is not the token of a paired Kosmos extension (it may have been revoked); pair the extension again",
      );
    }
    return record;
  }

  /** Whether this node's wallet holds a consent for the `browsing` kind valid on chain now. */
  async hasConsent(options: Options = {}): Promise<boolean> {
    return (await this.#c.consent.validForKind("browsing", options)).length > 0;
  }

  /** What the extension `token` may know: that it is paired, and whether it may send. */
  async status(token: string, options: Options = {}): Promise<{ paired: true; consent: boolean }> {
    this.authenticate(token);
    return { paired: true, consent: await this.hasConsent(options) };
  }

  /**
   * Stores `visits` as a new `browsing` source (durable when this resolves), if `token` is a paired
   * extension's and this node holds a valid consent for the kind; else {@link ConsentRequiredError}.
   */
  async receiveVisits(
    token: string,
    visits: readonly BrowsingVisit[],
    options: Options = {},
  ): Promise<SourceRecord> {
    const { id } = this.authenticate(token);
    if (!this.#sends.take(id)) {
      throw new ExtensionRateLimitError("The extension sends too often; wait", this.#sends.retryAfter(id));
    }
    if (!await this.hasConsent(options)) {
      throw new ConsentRequiredError(
        "This node holds no valid consent for the browsing log: grant one on My data before the extension sends",
      );
    }
    // Every send joins the one source the extension's visits make, so My data lists one browsing log.
    const current = this.#c.sources.list().find((s) =>
      s.kind === "browsing" && s.filename === EXTENSION_SOURCE
    );
    const source = current
      ? this.#c.sources.appendRows(current.id, visits.map(({ visitedAt, domain }) => ({ visitedAt, domain })))
      : await this.#c.sources.importFile(
        "browsing",
        ReadableStream.from([new TextEncoder().encode(JSON.stringify(visits))]),
        { filename: EXTENSION_SOURCE, signal: options.signal },
      );
    this.#c.log.info("received visits from the browser extension", { token: id, rows: source.rows });
    return source;
  }

  listTokens(): ExtensionTokenRecord[] {
    return this.#store.listTokens();
  }

  /** Revokes an extension token: it stops working at once. */
  revokeToken(id: string): void {
    if (!this.#store.deleteToken(id)) throw new NotFoundError(`No paired extension "${id.slice(0, 40)}"`);
    this.#c.log.info("revoked an extension token", { id });
  }
}
