/**
 * Selling statistics: the site owner's node publishes a differentially
 * private table of a site's analytics (the bounded table of `analytics/bounded_table.ts`, noised by `noise.ts`) as a dataset, and
 * charges its ε to the site's privacy budget.
 *
 * The privacy unit is a person (`protocol/release_privacy.ts`, docs/privacy.md):
 * a release over D days is noised for the D visitor ids one person can be,
 * so the ε it asks for is a person's ε, charged once. One release may spend
 * at most `maxEpsilon` (1 by default), a site at most `budget` (3) in all.
 *
 * Order of a release: validate → check the cap and the budget → compute the bounded
 * table, noise and suppress in memory → charge the budget and record the
 * release (one durable transaction) → publish. A crash after the charge
 * leaves a spent ε and nothing released, never the reverse. A table in which
 * every row was suppressed is charged too (the noise was drawn and seen;
 * retrying until a row passes would otherwise leak), and not published.
 * Visitors whose browser sent Do-Not-Track or Global Privacy Control were
 * dropped at ingest and are in no table.
 *
 * ```ts
 * const releases = createReleases({ db, datasets, sites, log }, { budget: 3, maxEpsilon: 1 });
 * const { manifestCid, budget } = await releases.createRelease("example.com", {
 *   from: "2024-03-01", to: "2024-03-31", dimension: "page", epsilon: 1,
 *   title: "example.com pages, March", price: "1000000000000000000", licence: "CC-BY-4.0",
 * });
 * releases.listReleases("example.com"); // { budget: { total, spent, remaining }, releases: [...] }
 * releases.getPolicy(); // { maxEpsilon: 1, delta: 1e-6, maxDays: 366, dimensions: { none: { bounds, fixedGrid } … } }
 * ```
 */
import type { Database } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import type { ManifestCid } from "../../../protocol/ids.ts";
import type { Category, PrivacyReport } from "../../../protocol/manifest.ts";
import { defineService } from "../../service.ts";
import {
  type BoundedTable,
  checkDomain,
  computeBoundedTable,
  type ComputeBoundedTableOptions,
  type EventsReader,
  formatDay,
  getDefaultBounds,
  RELEASE_DIMENSIONS,
  type ReleaseDimension,
} from "../analytics/mod.ts";
import {
  type ContributionBounds,
  getCapMessage,
  MAX_RELEASE_DAYS,
  PRIVACY_UNIT,
} from "../../../protocol/release_privacy.ts";
import { addNoise, DEFAULT_DELTA, encodeReleaseCsv, type RandomSource } from "./noise.ts";
import { checkParams, type CreateReleaseParams, describe } from "./params.ts";
import { EPSILON_SCALE, MIN_EPSILON, type PrivacyBudget, type ReleaseRecord, ReleaseStore } from "./store.ts";

export { type CreateReleaseParams, DEFAULT_MIN_COUNT, MAX_K, MAX_RELEASE_DAYS } from "./params.ts";
export {
  EPSILON_SCALE,
  MIN_EPSILON,
  type PrivacyBudget,
  PrivacyBudgets,
  type ReleaseRecord,
  type ReleaseStatus,
  toMicroEpsilon,
} from "./store.ts";
export {
  addNoise,
  type AddNoiseOptions,
  createCryptoRandom,
  DEFAULT_DELTA,
  encodeReleaseCsv,
  getDiscreteLaplaceTail,
  getDiscreteLaplaceVariance,
  getOpenDomainThreshold,
  getSensitivity,
  type NoisyTable,
  type RandomSource,
  type Rational,
  sampleDiscreteLaplace,
  type Sensitivity,
  toRational,
} from "./noise.ts";

/** Total ε a site may release over its lifetime, per person. */
export const DEFAULT_PRIVACY_BUDGET = 3;
/** Most ε one release may spend, per person. */
export const DEFAULT_MAX_EPSILON = 1;
/** The category sold statistics are listed under. */
export const RELEASE_CATEGORY: Category = "analytics";

/** A release would spend more ε than the site has left. */
export class PrivacyBudgetError extends KosmosError {
  override name = "PrivacyBudgetError";
}

/** Every row of the table was suppressed: nothing to sell (the ε is spent). */
export class EmptyReleaseError extends KosmosError {
  override name = "EmptyReleaseError";
}

/** A release asked for more ε than one release may spend. */
export class ReleaseCapError extends KosmosError {
  override name = "ReleaseCapError";
}

/** What a release may ask for on this node, data-independent: the Sell statistics form estimates its cost from it. */
export interface ReleasePolicy {
  /** Most ε one release may spend, per person. */
  maxEpsilon: number;
  /** δ of open-domain releases. */
  delta: number;
  /** Longest range of one release, days. */
  maxDays: number;
  /** Per dimension (`none` for days alone): the bounds of one visitor id and whether the rows are a fixed grid. */
  dimensions: Record<ReleaseDimension | "none", { bounds: ContributionBounds; fixedGrid: boolean }>;
}

export interface ReleasesComponents {
  db: Database;
  /** The datasets service's publish path. */
  datasets: {
    publishDataset(
      stream: ReadableStream<Uint8Array>,
      options: {
        title: string;
        description?: string;
        category: Category;
        price: string;
        licence: string;
        filename?: string;
        contentType?: string;
        privacy?: PrivacyReport;
        signal?: AbortSignal;
      },
    ): Promise<{ id: ManifestCid; manifestCid: ManifestCid }>;
  };
  /** Which sites this node owns; only owned sites are sold. */
  sites: { ownsDomain(domain: string): boolean };
  log: Logger;
}

export interface ReleasesInit {
  /** ε per person each site may spend in total, set when the site's first release is asked for. @default 3 */
  budget?: number;
  /** Most ε per person one release may spend; a release asking more is refused before anything is read. @default 1 */
  maxEpsilon?: number;
  /** @default {@link DEFAULT_DELTA} */
  delta?: number;
  /** @default Date.now */
  now?: () => number;
  /** @default crypto.getRandomValues */
  random?: RandomSource;
  /**
   * Where the bounded table (which reads every event of the range) is
   * computed, off the event loop (its owner closes it). @default none: on
   * the caller's thread
   */
  reader?: EventsReader;
}

export interface CreateReleaseResult {
  release: ReleaseRecord;
  id: ManifestCid;
  manifestCid: ManifestCid;
  budget: PrivacyBudget;
}

/** Releases that migrate now, for unit tests and scripts; a node composes {@link releases} instead. */
export function createReleases(components: ReleasesComponents, init: ReleasesInit = {}): Releases {
  const created = new Releases(components, init);
  created.open();
  return created;
}

/**
 * The `releases` service: the events reader comes from `analytics`, the cap per release from
 * `config.privacyReleaseCap` unless `init` sets one; migrations run in `start()`.
 */
export function releases(init: Omit<ReleasesInit, "reader"> = {}) {
  return defineService(
    "releases",
    ["db", "datasets", "sites", "analytics", "config"],
    (
      c: ReleasesComponents & {
        analytics: { reader?: EventsReader };
        config: { privacyReleaseCap?: number };
      },
    ) =>
      new Releases({ db: c.db, datasets: c.datasets, sites: c.sites, log: c.log }, {
        ...init,
        maxEpsilon: init.maxEpsilon ?? c.config.privacyReleaseCap,
        reader: c.analytics.reader,
      }),
  );
}

export class Releases {
  readonly #c: ReleasesComponents;
  readonly #store: ReleaseStore;
  readonly #delta: number;
  readonly #maxEpsilonMicro: number;
  readonly #now: () => number;
  readonly #random?: RandomSource;
  readonly #reader?: EventsReader;

  constructor(components: ReleasesComponents, init: ReleasesInit = {}) {
    this.#c = components;
    const budget = init.budget ?? DEFAULT_PRIVACY_BUDGET;
    if (!Number.isFinite(budget) || budget < MIN_EPSILON || budget > 1000) {
      throw new RangeError(`Invalid privacy budget ${budget}: expected ε from ${MIN_EPSILON} to 1000`);
    }
    const maxEpsilon = init.maxEpsilon ?? DEFAULT_MAX_EPSILON;
    if (!Number.isFinite(maxEpsilon) || maxEpsilon < MIN_EPSILON || maxEpsilon > 1000) {
      throw new RangeError(`Invalid ε cap per release ${maxEpsilon}: expected ε from ${MIN_EPSILON} to 1000`);
    }
    this.#store = new ReleaseStore(components.db, Math.round(budget * EPSILON_SCALE));
    this.#maxEpsilonMicro = Math.round(maxEpsilon * EPSILON_SCALE);
    this.#delta = init.delta ?? DEFAULT_DELTA;
    this.#now = init.now ?? Date.now;
    this.#random = init.random;
    this.#reader = init.reader;
  }

  /** Runs the migrations (once; the first call of any method does it too). */
  start(): Promise<void> {
    this.open();
    return Promise.resolve();
  }

  /** Migrations, and a release charged before a crash marked failed (its ε stays spent). Runs once. */
  open(): void {
    this.#store.open();
  }

  /**
   * The bounded table, on the reader's worker when there is one (the budget is checked again when it is charged, so a release computed
   * meanwhile cannot overspend), else here.
   */
  async #boundedTable(site: string, options: ComputeBoundedTableOptions): Promise<BoundedTable> {
    if (this.#reader === undefined) return computeBoundedTable(this.#c.db, site, options);
    try {
      return await this.#reader.boundedTable(site, options);
    } catch (err) {
      if ((err as Error)?.name !== "EventsReaderError") throw err;
      this.#c.log.warn("failed to compute the table on the worker; computing it here", { error: err });
      return computeBoundedTable(this.#c.db, site, options);
    }
  }

  /** The site's budget; a site without releases has the whole default. Throws `TypeError` for a bad domain. */
  getBudget(site: string): PrivacyBudget {
    checkDomain(site);
    this.open();
    return this.#store.getBudget(site);
  }

  /** The cap per release, δ and the contribution bounds of each dimension: what a release's cost depends on. */
  getPolicy(): ReleasePolicy {
    const dimensions = Object.fromEntries(
      [null, ...RELEASE_DIMENSIONS].map((dimension) => [dimension ?? "none", {
        bounds: getDefaultBounds(dimension),
        // The rows of days alone and of devices are a grid fixed in advance (`analytics/bounded_table.ts`).
        fixedGrid: dimension === null || dimension === "device",
      }]),
    ) as ReleasePolicy["dimensions"];
    return {
      maxEpsilon: this.#maxEpsilonMicro / EPSILON_SCALE,
      delta: this.#delta,
      maxDays: MAX_RELEASE_DAYS,
      dimensions,
    };
  }

  /** The site's budget and its releases, newest first. Throws `NotFoundError` for a site this node does not own. */
  listReleases(site: string): { budget: PrivacyBudget; releases: ReleaseRecord[] } {
    this.#requireOwnSite(site);
    this.open();
    return { budget: this.getBudget(site), releases: this.#store.list(site) };
  }

  /**
   * Computes, charges and publishes one release. Throws, with nothing
   * charged: `TypeError` naming a bad field, `NotFoundError` for a site this
   * node does not own, {@link ReleaseCapError} when ε exceeds what one
   * release may spend, {@link PrivacyBudgetError} when ε exceeds what is
   * left. Throws with ε charged: {@link EmptyReleaseError} when every row was
   * suppressed, or the publish path's error.
   */
  async createRelease(site: string, params: CreateReleaseParams): Promise<CreateReleaseResult> {
    this.#requireOwnSite(site);
    this.open();
    const p = checkParams(params, { now: this.#now() });
    if (p.epsilonMicro > this.#maxEpsilonMicro) {
      throw new ReleaseCapError(
        getCapMessage(p.epsilonMicro / EPSILON_SCALE, this.#maxEpsilonMicro / EPSILON_SCALE),
        {
          details: {
            site,
            epsilon: p.epsilonMicro / EPSILON_SCALE,
            maxEpsilon: this.#maxEpsilonMicro / EPSILON_SCALE,
          },
        },
      );
    }
    this.#checkBudget(site, p.epsilonMicro);
    const table = addNoise(
      await this.#boundedTable(site, {
        from: formatDay(p.fromDay),
        to: formatDay(p.toDay),
        dimension: p.dimension,
        consentedOnly: p.consentedOnly,
      }),
      {
        epsilon: { numerator: p.epsilonMicro, denominator: EPSILON_SCALE },
        k: p.k,
        delta: this.#delta,
        random: this.#random,
      },
    );
    const id = crypto.randomUUID();
    this.#store.charge({
      id,
      site,
      from: table.from,
      to: table.to,
      dimension: table.dimension,
      epsilonMicro: p.epsilonMicro,
      k: p.k,
      threshold: table.threshold,
      delta: table.delta,
      rows: table.rows.length,
      title: p.title,
      price: p.price,
      licence: p.licence,
      createdAt: this.#now(),
    }, () => this.#checkBudget(site, p.epsilonMicro));
    const { log } = this.#c;
    log.info("charged a statistics release", {
      site,
      release: id,
      epsilon: p.epsilonMicro / EPSILON_SCALE,
      days: table.days,
      rows: table.rows.length,
    });
    if (table.rows.length === 0) {
      // No count of the rows withheld: it is exact about the data.
      const message = `Every row had fewer than ${table.threshold} visitors after noise, so nothing was ` +
        `published; the ε of ${p.epsilonMicro / EPSILON_SCALE} is spent. ` +
        "Try a longer range, no dimension, a smaller k or a larger ε";
      this.#store.finish(id, { status: "empty", error: message });
      throw new EmptyReleaseError(message, { details: { release: id } });
    }
    const bytes = new TextEncoder().encode(encodeReleaseCsv(table));
    let published;
    try {
      published = await this.#c.datasets.publishDataset(
        new ReadableStream({
          start(controller) {
            controller.enqueue(bytes);
            controller.close();
          },
        }),
        {
          title: p.title,
          description: describe(site, p, table),
          category: RELEASE_CATEGORY,
          price: p.price,
          licence: p.licence,
          filename: `${site}-${formatDay(p.fromDay)}-${formatDay(p.toDay)}${
            p.dimension ? `-${p.dimension}` : ""
          }.csv`,
          contentType: "text/csv",
          privacy: {
            k: p.k,
            epsilon: p.epsilonMicro / EPSILON_SCALE,
            unit: PRIVACY_UNIT,
            days: table.days,
            delta: table.delta,
          },
          signal: params.signal,
        },
      );
    } catch (err) {
      this.#store.finish(id, {
        status: "failed",
        error: `Publishing failed: ${(err as Error).message}`.slice(0, 500),
      });
      log.warn("failed to publish a statistics release", { site, release: id, error: err });
      throw err;
    }
    this.#store.finish(id, { status: "published", manifestCid: published.manifestCid });
    log.info("published a statistics release", { site, release: id, manifestCid: published.manifestCid });
    return {
      release: this.#store.get(id),
      id: published.id,
      manifestCid: published.manifestCid,
      budget: this.getBudget(site),
    };
  }

  #requireOwnSite(site: string): void {
    checkDomain(site);
    if (!this.#c.sites.ownsDomain(site)) {
      throw new NotFoundError(
        `This node does not own a site "${site}": only a site's owner can sell its statistics`,
      );
    }
  }

  #checkBudget(site: string, epsilonMicro: number): void {
    const budget = this.getBudget(site);
    const remainingMicro = Math.round(budget.remaining * EPSILON_SCALE);
    if (epsilonMicro > remainingMicro) {
      throw new PrivacyBudgetError(
        `Cannot release statistics of "${site}" with ε = ${epsilonMicro / EPSILON_SCALE}: ` +
          `only ${budget.remaining} of its privacy budget of ${budget.total} is left`,
        { details: { site, ...budget } },
      );
    }
  }
}
