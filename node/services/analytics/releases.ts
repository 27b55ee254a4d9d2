/**
 * Selling statistics: the site owner's node publishes a differentially
 * private table of a site's analytics (see `release.ts`) as a dataset, and
 * charges its ε to the site's privacy budget.
 *
 * Order of a release: validate → check the budget → compute the bounded
 * table, noise and suppress in memory → charge the budget and record the
 * release (one durable transaction) → publish. A crash after the charge
 * leaves a spent ε and nothing released, never the reverse. A table in which
 * every row was suppressed is charged too (the noise was drawn and seen;
 * retrying until a row passes would otherwise leak), and not published.
 * Visitors whose browser sent Do-Not-Track or Global Privacy Control were
 * dropped at ingest and are in no table.
 *
 * ```ts
 * const releases = createReleases({ db, datasets, isOwnedSite, log }, { budget: 10 });
 * const { manifestCid, budget } = await releases.createRelease("example.com", {
 *   from: "2024-03-01", to: "2024-03-31", dimension: "page", epsilon: 1,
 *   title: "example.com pages, March", price: "1000000000000000000", licence: "CC-BY-4.0",
 * });
 * releases.listReleases("example.com"); // { budget: { total, spent, remaining }, releases: [...] }
 * ```
 */
import type { Database } from "../db/mod.ts";
import { migrate, transaction } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import { KosmosError, NotFoundError } from "../../errors.ts";
import { day } from "../../constants.ts";
import type { ManifestCid } from "../../../protocol/ids.ts";
import type { Category, PrivacyReport } from "../../../protocol/manifest.ts";
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENCE_ID_LENGTH,
  MAX_TITLE_LENGTH,
  MAX_UINT256,
} from "../../../protocol/manifest.ts";
import { checkDomain } from "./store.ts";
import type { RandomSource } from "./noise.ts";
import type { EventsReader } from "./reader.ts";
import {
  addNoise,
  type BoundedTable,
  computeBoundedTable,
  type ComputeBoundedTableOptions,
  DEFAULT_DELTA,
  encodeReleaseCsv,
  type NoisyTable,
  parseDay,
  RELEASE_DIMENSIONS,
  type ReleaseDimension,
} from "./release.ts";

/** Total ε a site may release over its lifetime. */
export const DEFAULT_PRIVACY_BUDGET = 10;
/** Rows with fewer (noisy) visitors are suppressed. */
export const DEFAULT_MIN_COUNT = 10;
export const MIN_EPSILON = 0.01;
/** ε is kept as an integer number of millionths, so sums never drift. */
export const EPSILON_SCALE = 1_000_000;
/** Longest date range of one release, days. */
export const MAX_RELEASE_DAYS = 366;
export const MAX_K = 10_000;
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
  /** Whether this node owns `domain`; only owned sites are sold. */
  isOwnedSite(domain: string): boolean;
  log: Logger;
}

export interface ReleasesInit {
  /** ε each site may spend in total, set when the site's first release is asked for. @default 10 */
  budget?: number;
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

/** What the owner asks for. */
export interface CreateReleaseParams {
  /** First day, `YYYY-MM-DD` (UTC). */
  from: string;
  /** Last day included, `YYYY-MM-DD` (UTC), not after today. */
  to: string;
  /** @default none: one row per day */
  dimension?: ReleaseDimension | null;
  /** At least 0.01, at most 6 decimals. */
  epsilon: number;
  /** @default 10 */
  k?: number;
  title: string;
  /** Put before the generated description of the method. @default "" */
  description?: string;
  /** Token base units, decimal string. */
  price: string;
  /** Licence id, e.g. `"CC-BY-4.0"`. */
  licence: string;
  signal?: AbortSignal;
}

export interface PrivacyBudget {
  total: number;
  spent: number;
  remaining: number;
}

export type ReleaseStatus = "pending" | "published" | "empty" | "failed";

/** A release as recorded: never the table itself. */
export interface ReleaseRecord {
  id: string;
  site: string;
  status: ReleaseStatus;
  from: string;
  to: string;
  dimension: ReleaseDimension | null;
  epsilon: number;
  k: number;
  /** Least noisy visitor count of a released row (k, raised for open dimensions). */
  threshold: number;
  delta: number;
  rows: number;
  suppressed: number;
  title: string;
  price: string;
  licence: string;
  manifestCid: ManifestCid | null;
  createdAt: number;
  error: string | null;
}

export interface CreateReleaseResult {
  release: ReleaseRecord;
  id: ManifestCid;
  manifestCid: ManifestCid;
  budget: PrivacyBudget;
}

const MIGRATIONS = [
  `CREATE TABLE analytics_privacy_budgets (
    site TEXT PRIMARY KEY,
    total_micro INTEGER NOT NULL,
    spent_micro INTEGER NOT NULL DEFAULT 0 CHECK (spent_micro <= total_micro)
  ) WITHOUT ROWID;
  CREATE TABLE analytics_releases (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    status TEXT NOT NULL,
    date_from TEXT NOT NULL,
    date_to TEXT NOT NULL,
    dimension TEXT,
    epsilon_micro INTEGER NOT NULL,
    k INTEGER NOT NULL,
    threshold INTEGER NOT NULL,
    delta REAL NOT NULL,
    rows INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    title TEXT NOT NULL,
    price TEXT NOT NULL,
    licence TEXT NOT NULL,
    manifest_cid TEXT,
    created_at INTEGER NOT NULL,
    error TEXT
  );
  CREATE INDEX analytics_releases_by_site ON analytics_releases (site, created_at);`,
];

export function createReleases(components: ReleasesComponents, init: ReleasesInit = {}): Releases {
  return new Releases(components, init);
}

interface ReleaseRow {
  id: string;
  site: string;
  status: ReleaseStatus;
  date_from: string;
  date_to: string;
  dimension: string | null;
  epsilon_micro: number;
  k: number;
  threshold: number;
  delta: number;
  rows: number;
  suppressed: number;
  title: string;
  price: string;
  licence: string;
  manifest_cid: string | null;
  created_at: number;
  error: string | null;
}

interface CheckedParams {
  fromDay: number;
  toDay: number;
  dimension: ReleaseDimension | null;
  epsilonMicro: number;
  k: number;
  title: string;
  description: string;
  price: string;
  licence: string;
}

export class Releases {
  readonly #c: ReleasesComponents;
  readonly #budgetMicro: number;
  readonly #delta: number;
  readonly #now: () => number;
  readonly #random?: RandomSource;
  readonly #reader?: EventsReader;

  constructor(components: ReleasesComponents, init: ReleasesInit = {}) {
    this.#c = components;
    const budget = init.budget ?? DEFAULT_PRIVACY_BUDGET;
    if (!Number.isFinite(budget) || budget < MIN_EPSILON || budget > 1000) {
      throw new RangeError(`Invalid privacy budget ${budget}: expected ε from ${MIN_EPSILON} to 1000`);
    }
    this.#budgetMicro = Math.round(budget * EPSILON_SCALE);
    this.#delta = init.delta ?? DEFAULT_DELTA;
    this.#now = init.now ?? Date.now;
    this.#random = init.random;
    this.#reader = init.reader;
    migrate(components.db, "analytics_releases", MIGRATIONS);
    // A release charged before a crash never got published: say so (its ε stays spent).
    components.db.prepare(
      "UPDATE analytics_releases SET status = 'failed', error = ? WHERE status = 'pending'",
    ).run("The node stopped before publishing; the ε stays spent");
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
    const row = this.#c.db.prepare(
      "SELECT total_micro, spent_micro FROM analytics_privacy_budgets WHERE site = ?",
    ).get(site) as { total_micro: number; spent_micro: number } | undefined;
    return toBudget(row?.total_micro ?? this.#budgetMicro, row?.spent_micro ?? 0);
  }

  /** The site's budget and its releases, newest first. Throws `NotFoundError` for a site this node does not own. */
  listReleases(site: string): { budget: PrivacyBudget; releases: ReleaseRecord[] } {
    this.#requireOwnSite(site);
    const rows = this.#c.db.prepare(
      "SELECT * FROM analytics_releases WHERE site = ? ORDER BY created_at DESC, rowid DESC",
    ).all(site) as unknown as ReleaseRow[];
    return { budget: this.getBudget(site), releases: rows.map(toRecord) };
  }

  /**
   * Computes, charges and publishes one release. Throws, with nothing
   * charged: `TypeError` naming a bad field, `NotFoundError` for a site this
   * node does not own, {@link PrivacyBudgetError} when ε exceeds what is
   * left. Throws with ε charged: {@link EmptyReleaseError} when every row was
   * suppressed, or the publish path's error.
   */
  async createRelease(site: string, params: CreateReleaseParams): Promise<CreateReleaseResult> {
    this.#requireOwnSite(site);
    const p = this.#checkParams(params);
    this.#checkBudget(site, p.epsilonMicro);
    const table = addNoise(
      await this.#boundedTable(site, {
        from: formatDay(p.fromDay),
        to: formatDay(p.toDay),
        dimension: p.dimension,
      }),
      {
        epsilon: { numerator: p.epsilonMicro, denominator: EPSILON_SCALE },
        k: p.k,
        delta: this.#delta,
        random: this.#random,
      },
    );
    const id = crypto.randomUUID();
    this.#charge(site, id, p, table);
    const { log } = this.#c;
    log.info("charged a statistics release", {
      site,
      release: id,
      epsilon: p.epsilonMicro / EPSILON_SCALE,
      rows: table.rows.length,
      suppressed: table.suppressed,
    });
    if (table.rows.length === 0) {
      const message =
        `Every one of the ${table.suppressed} rows had fewer than ${table.threshold} visitors after noise, ` +
        `so nothing was published; the ε of ${p.epsilonMicro / EPSILON_SCALE} is spent. ` +
        "Try a longer range, no dimension, a smaller k or a larger ε";
      this.#finish(id, { status: "empty", error: message });
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
          privacy: { k: p.k, epsilon: p.epsilonMicro / EPSILON_SCALE },
          signal: params.signal,
        },
      );
    } catch (err) {
      this.#finish(id, {
        status: "failed",
        error: `Publishing failed: ${(err as Error).message}`.slice(0, 500),
      });
      log.warn("failed to publish a statistics release", { site, release: id, error: err });
      throw err;
    }
    this.#finish(id, { status: "published", manifestCid: published.manifestCid });
    log.info("published a statistics release", { site, release: id, manifestCid: published.manifestCid });
    return {
      release: this.#getRecord(id),
      id: published.id,
      manifestCid: published.manifestCid,
      budget: this.getBudget(site),
    };
  }

  #requireOwnSite(site: string): void {
    checkDomain(site);
    if (!this.#c.isOwnedSite(site)) {
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

  /** Spends ε and records the release as pending, in one transaction written through to disk. */
  #charge(site: string, id: string, p: CheckedParams, table: NoisyTable): void {
    const { db } = this.#c;
    const previous = (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    db.exec("PRAGMA synchronous = FULL");
    try {
      transaction(db, () => {
        this.#checkBudget(site, p.epsilonMicro);
        db.prepare(
          `INSERT INTO analytics_privacy_budgets (site, total_micro, spent_micro) VALUES (?, ?, ?)
           ON CONFLICT (site) DO UPDATE SET spent_micro = spent_micro + excluded.spent_micro`,
        ).run(site, this.#budgetMicro, p.epsilonMicro);
        db.prepare(
          `INSERT INTO analytics_releases (id, site, status, date_from, date_to, dimension, epsilon_micro, k,
            threshold, delta, rows, suppressed, title, price, licence, manifest_cid, created_at, error)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)`,
        ).run(
          id,
          site,
          table.from,
          table.to,
          table.dimension,
          p.epsilonMicro,
          p.k,
          table.threshold,
          table.delta,
          table.rows.length,
          table.suppressed,
          p.title,
          p.price,
          p.licence,
          this.#now(),
        );
      });
    } finally {
      db.exec(`PRAGMA synchronous = ${Number(previous)}`);
    }
  }

  #finish(id: string, update: { status: ReleaseStatus; manifestCid?: string; error?: string }): void {
    this.#c.db.prepare("UPDATE analytics_releases SET status = ?, manifest_cid = ?, error = ? WHERE id = ?")
      .run(update.status, update.manifestCid ?? null, update.error ?? null, id);
  }

  #getRecord(id: string): ReleaseRecord {
    return toRecord(
      this.#c.db.prepare("SELECT * FROM analytics_releases WHERE id = ?").get(id) as unknown as ReleaseRow,
    );
  }

  #checkParams(params: CreateReleaseParams): CheckedParams {
    if (typeof params !== "object" || params === null) {
      throw new TypeError(
        "Invalid release: expected an object with from, to, epsilon, title, price and licence",
      );
    }
    const fromDay = parseDay(params.from, "from");
    const toDay = parseDay(params.to, "to");
    const today = Math.floor(this.#now() / day);
    if (toDay < fromDay) throw new TypeError(`Invalid "to": ${params.to} is before "from" ${params.from}`);
    if (toDay > today) {
      throw new TypeError(`Invalid "to": ${params.to} is in the future (today is ${formatDay(today)} UTC)`);
    }
    if (toDay - fromDay + 1 > MAX_RELEASE_DAYS) {
      throw new TypeError(`Invalid range: at most ${MAX_RELEASE_DAYS} days per release`);
    }
    const dimension = params.dimension ?? null;
    if (dimension !== null && !(RELEASE_DIMENSIONS as readonly string[]).includes(dimension)) {
      throw new TypeError(`Invalid "dimension": expected one of ${RELEASE_DIMENSIONS.join(", ")}, or none`);
    }
    const epsilonMicro = toMicroEpsilon(params.epsilon);
    const k = params.k ?? DEFAULT_MIN_COUNT;
    if (!Number.isSafeInteger(k) || k < 2 || k > MAX_K) {
      throw new TypeError(`Invalid "k": expected an integer from 2 to ${MAX_K}`);
    }
    const title = checkText(params.title, "title", MAX_TITLE_LENGTH, { required: true, oneLine: true });
    const description = checkText(params.description ?? "", "description", MAX_DESCRIPTION_LENGTH - 1000, {
      required: false,
      oneLine: false,
    });
    if (
      typeof params.price !== "string" || !/^(0|[1-9]\d{0,77})$/.test(params.price) ||
      BigInt(params.price) > MAX_UINT256
    ) {
      throw new TypeError('Invalid "price": expected a decimal string of token base units');
    }
    const licence = checkText(params.licence, "licence", MAX_LICENCE_ID_LENGTH, {
      required: true,
      oneLine: true,
    });
    if (/\s/.test(licence)) {
      throw new TypeError('Invalid "licence": a licence id has no spaces, e.g. CC-BY-4.0');
    }
    return {
      fromDay,
      toDay,
      dimension: dimension as ReleaseDimension | null,
      epsilonMicro,
      k,
      title,
      description,
      price: params.price,
      licence,
    };
  }
}

/** ε as an integer number of millionths; throws `TypeError` unless ε ≥ 0.01 with at most 6 decimals. */
export function toMicroEpsilon(epsilon: unknown): number {
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon)) {
    throw new TypeError('Invalid "epsilon": expected a number such as 0.5');
  }
  const micro = Math.round(epsilon * EPSILON_SCALE);
  // A 7th decimal moves the scaled value by at least 0.1; float error stays far below 0.001.
  if (Math.abs(epsilon * EPSILON_SCALE - micro) > 1e-3) {
    throw new TypeError('Invalid "epsilon": at most 6 decimals');
  }
  if (micro < MIN_EPSILON * EPSILON_SCALE || micro > 1000 * EPSILON_SCALE) {
    throw new TypeError(`Invalid "epsilon": expected a value from ${MIN_EPSILON} to 1000`);
  }
  return micro;
}

function checkText(
  value: unknown,
  field: string,
  max: number,
  { required, oneLine }: { required: boolean; oneLine: boolean },
): string {
  if (typeof value !== "string") throw new TypeError(`Invalid "${field}": expected a string`);
  const text = value.trim();
  if (required && text === "") throw new TypeError(`Invalid "${field}": must not be empty`);
  if (text.length > max) throw new TypeError(`Invalid "${field}": at most ${max} characters`);
  // deno-lint-ignore no-control-regex
  const control = oneLine ? /[\u0000-\u001f\u007f]/ : /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
  if (control.test(text)) {
    throw new TypeError(`Invalid "${field}": ${oneLine ? "one line without" : "no"} control characters`);
  }
  return text;
}

function formatDay(dayNumber: number): string {
  return new Date(dayNumber * day).toISOString().slice(0, 10);
}

function toBudget(totalMicro: number, spentMicro: number): PrivacyBudget {
  return {
    total: totalMicro / EPSILON_SCALE,
    spent: spentMicro / EPSILON_SCALE,
    remaining: Math.max(0, totalMicro - spentMicro) / EPSILON_SCALE,
  };
}

function toRecord(r: ReleaseRow): ReleaseRecord {
  return {
    id: r.id,
    site: r.site,
    status: r.status,
    from: r.date_from,
    to: r.date_to,
    dimension: r.dimension as ReleaseDimension | null,
    epsilon: r.epsilon_micro / EPSILON_SCALE,
    k: r.k,
    threshold: r.threshold,
    delta: r.delta,
    rows: r.rows,
    suppressed: r.suppressed,
    title: r.title,
    price: r.price,
    licence: r.licence,
    manifestCid: r.manifest_cid as ManifestCid | null,
    createdAt: r.created_at,
    error: r.error,
  };
}

/** What a buyer reads about the method, after the owner's own words. */
function describe(site: string, p: CheckedParams, table: NoisyTable): string {
  const by = p.dimension ? `per day and ${p.dimension.replace("_", " ")}` : "per day";
  const b = table.bounds;
  const method = [
    `Aggregated website statistics of ${site} from ${table.from} to ${table.to}, ${by}: visitors, visits and pageviews.`,
    `Differential privacy: discrete Laplace noise with ε = ${p.epsilonMicro / EPSILON_SCALE}` +
    ` split equally over the three counts${table.delta > 0 ? ` and δ = ${table.delta}` : ""}.`,
    `Each visitor id (one visitor on one day) contributes at most ${b.maxVisits} visits, ${b.maxPageviews} pageviews` +
    ` and ${b.maxCells} row${b.maxCells === 1 ? "" : "s"}; the excess was dropped.`,
    `Rows with fewer than ${table.threshold} visitors after noise were suppressed (minimum count k = ${p.k}).`,
    "Visitors with Do-Not-Track or Global Privacy Control are not counted. No visitor ids or raw events.",
  ].join(" ");
  return p.description ? `${p.description}\n\n${method}` : method;
}
