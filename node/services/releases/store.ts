/**
 * The releases' tables: each site's privacy budget and every release asked
 * for, with ε kept as an integer number of millionths so sums never drift.
 * A budget counts ε per person (a release over D days spends its ε once);
 * budgets spent before that were counted per visitor-day, and are counted
 * again per person when the node upgrades ({@link getPersonBudgetMigration}).
 * A release keeps nothing exact about the data beyond what its CSV shows.
 *
 * ```ts
 * const store = new ReleaseStore(db, toMicroEpsilon(10));
 * store.open(); // migrations; a release left pending by a crash is marked failed
 * store.getBudget("example.com"); // { total: 10, spent: 0, remaining: 10 }
 * ```
 */
import type { Database } from "../db/mod.ts";
import { migrate, transaction } from "../db/mod.ts";
import type { ManifestCid } from "../../../protocol/ids.ts";
import type { ReleaseDimension } from "../analytics/mod.ts";
import { EPSILON_SCALE } from "../../../protocol/release_privacy.ts";

export { EPSILON_SCALE };
export const MIN_EPSILON = 0.01;
/** The lifetime budget of a site before budgets counted ε per person. */
export const VISITOR_DAY_BUDGET = 10;

export interface PrivacyBudget {
  total: number;
  spent: number;
  remaining: number;
}

export type ReleaseStatus = "pending" | "published" | "empty" | "failed";

/** A release as recorded: never the table itself, nor anything about it a buyer of the CSV could not see. */
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
  /** Rows published (0 when none was). */
  rows: number;
  title: string;
  price: string;
  licence: string;
  manifestCid: ManifestCid | null;
  createdAt: number;
  error: string | null;
}

/** What {@link ReleaseStore.charge} records of a release about to be published. */
export type ChargedRelease =
  & Pick<
    ReleaseRecord,
    | "id"
    | "site"
    | "from"
    | "to"
    | "dimension"
    | "k"
    | "threshold"
    | "delta"
    | "rows"
    | "title"
    | "price"
    | "licence"
    | "createdAt"
  >
  & { epsilonMicro: number };

/** The releases' migrations, in order (the first is what version 1 shipped, with its count of withheld rows). */
export const MIGRATIONS = [
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
  // The number of rows withheld is exact about the data (rows + withheld = the rows that occurred).
  `ALTER TABLE analytics_releases DROP COLUMN suppressed;
  UPDATE analytics_releases SET error = 'Every row had fewer visitors after noise than the threshold, so nothing ' ||
    'was published; the ε is spent' WHERE status = 'empty';`,
];

/**
 * Counts the budgets spent before the privacy unit was a person again per
 * person: a release over D days was charged ε but cost a person present on
 * every day D·ε, so a site's spent ε becomes Σ D·ε over its releases (every
 * one was charged, published or not), at most its total. A total left at the
 * old default of {@link VISITOR_DAY_BUDGET} becomes `totalMicro` (the node's
 * default now); one the owner configured otherwise stays. Budgets of other
 * scopes (`source:<kind>`) have no releases and are left alone. Its own
 * migration component, so it runs once, with the budget the node has then.
 */
export function getPersonBudgetMigration(totalMicro: number): string {
  if (!Number.isSafeInteger(totalMicro) || totalMicro < 1) {
    throw new RangeError(`Invalid budget of ${totalMicro} millionths of ε`);
  }
  const total = `CASE WHEN total_micro = ${
    VISITOR_DAY_BUDGET * EPSILON_SCALE
  } THEN ${totalMicro} ELSE total_micro END`;
  return `UPDATE analytics_privacy_budgets SET
    total_micro = ${total},
    spent_micro = MIN(${total}, (
      SELECT CAST(SUM(r.epsilon_micro * (julianday(r.date_to) - julianday(r.date_from) + 1)) AS INTEGER)
      FROM analytics_releases r WHERE r.site = analytics_privacy_budgets.site))
  WHERE site IN (SELECT site FROM analytics_releases)`;
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
  title: string;
  price: string;
  licence: string;
  manifest_cid: string | null;
  created_at: number;
  error: string | null;
}

export class ReleaseStore {
  readonly #db: Database;
  /** The budget a site gets with its first release. */
  readonly #budgetMicro: number;
  #opened = false;

  constructor(db: Database, budgetMicro: number) {
    this.#db = db;
    this.#budgetMicro = budgetMicro;
  }

  /** Runs the migrations once; a release charged before a crash never got published: says so (its ε stays spent). */
  open(): void {
    if (this.#opened) return;
    migrate(this.#db, "analytics_releases", MIGRATIONS);
    migrate(this.#db, "analytics_person_budgets", [getPersonBudgetMigration(this.#budgetMicro)]);
    this.#db.prepare(
      "UPDATE analytics_releases SET status = 'failed', error = ? WHERE status = 'pending'",
    ).run("The node stopped before publishing; the ε stays spent");
    this.#opened = true;
  }

  /** The site's budget; a site without releases has the whole default. */
  getBudget(site: string): PrivacyBudget {
    const row = this.#db.prepare(
      "SELECT total_micro, spent_micro FROM analytics_privacy_budgets WHERE site = ?",
    ).get(site) as { total_micro: number; spent_micro: number } | undefined;
    return toBudget(row?.total_micro ?? this.#budgetMicro, row?.spent_micro ?? 0);
  }

  /** The site's releases, newest first. */
  list(site: string): ReleaseRecord[] {
    const rows = this.#db.prepare(
      "SELECT * FROM analytics_releases WHERE site = ? ORDER BY created_at DESC, rowid DESC",
    ).all(site) as unknown as ReleaseRow[];
    return rows.map(toRecord);
  }

  get(id: string): ReleaseRecord {
    return toRecord(
      this.#db.prepare("SELECT * FROM analytics_releases WHERE id = ?").get(id) as unknown as ReleaseRow,
    );
  }

  /**
   * Spends ε and records the release as pending, in one transaction written
   * through to disk. `checkBudget` runs inside it and throws to charge nothing.
   */
  charge(release: ChargedRelease, checkBudget: () => void): void {
    const db = this.#db;
    const previous = (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    db.exec("PRAGMA synchronous = FULL");
    try {
      transaction(db, () => {
        checkBudget();
        db.prepare(
          `INSERT INTO analytics_privacy_budgets (site, total_micro, spent_micro) VALUES (?, ?, ?)
           ON CONFLICT (site) DO UPDATE SET spent_micro = spent_micro + excluded.spent_micro`,
        ).run(release.site, this.#budgetMicro, release.epsilonMicro);
        db.prepare(
          `INSERT INTO analytics_releases (id, site, status, date_from, date_to, dimension, epsilon_micro, k,
            threshold, delta, rows, title, price, licence, manifest_cid, created_at, error)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)`,
        ).run(
          release.id,
          release.site,
          release.from,
          release.to,
          release.dimension,
          release.epsilonMicro,
          release.k,
          release.threshold,
          release.delta,
          release.rows,
          release.title,
          release.price,
          release.licence,
          release.createdAt,
        );
      });
    } finally {
      db.exec(`PRAGMA synchronous = ${Number(previous)}`);
    }
  }

  finish(id: string, update: { status: ReleaseStatus; manifestCid?: string; error?: string }): void {
    this.#db.prepare("UPDATE analytics_releases SET status = ?, manifest_cid = ?, error = ? WHERE id = ?")
      .run(update.status, update.manifestCid ?? null, update.error ?? null, id);
  }
}

/**
 * The budget table alone, for scopes other than a site's releases: a contributor's sources spend ε
 * under `source:<kind>` (no domain holds a colon, so a scope never meets a site). The same rules as
 * a site's budget: ε in millionths, a scope's total fixed by its first charge, every charge one
 * transaction written through to disk before anything is released.
 *
 * ```ts
 * const budgets = new PrivacyBudgets(db, toMicroEpsilon(10));
 * budgets.open();
 * budgets.charge("source:bank", toMicroEpsilon(0.5), (budget) => {}); // { total: 10, spent: 0.5, … }
 * ```
 */
export class PrivacyBudgets {
  readonly #db: Database;
  readonly #totalMicro: number;
  #opened = false;

  constructor(db: Database, totalMicro: number) {
    this.#db = db;
    this.#totalMicro = totalMicro;
  }

  /** Runs the releases' migrations once (the table is theirs). */
  open(): void {
    if (this.#opened) return;
    migrate(this.#db, "analytics_releases", MIGRATIONS);
    this.#opened = true;
  }

  /** The scope's budget; a scope never charged has the whole default. */
  get(scope: string): PrivacyBudget {
    this.open();
    const row = this.#db.prepare(
      "SELECT total_micro, spent_micro FROM analytics_privacy_budgets WHERE site = ?",
    ).get(scope) as { total_micro: number; spent_micro: number } | undefined;
    return toBudget(row?.total_micro ?? this.#totalMicro, row?.spent_micro ?? 0);
  }

  /**
   * Spends `epsilonMicro` of the scope in one transaction written through to disk. `check` sees the
   * budget inside the transaction and throws to charge nothing. Returns the budget after the charge.
   */
  charge(scope: string, epsilonMicro: number, check: (budget: PrivacyBudget) => void): PrivacyBudget {
    if (!Number.isSafeInteger(epsilonMicro) || epsilonMicro < 1) {
      throw new RangeError(`Cannot charge ${epsilonMicro} millionths of ε: expected a positive integer`);
    }
    this.open();
    const db = this.#db;
    const previous = (db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    db.exec("PRAGMA synchronous = FULL");
    try {
      transaction(db, () => {
        check(this.get(scope));
        db.prepare(
          `INSERT INTO analytics_privacy_budgets (site, total_micro, spent_micro) VALUES (?, ?, ?)
           ON CONFLICT (site) DO UPDATE SET spent_micro = spent_micro + excluded.spent_micro`,
        ).run(scope, this.#totalMicro, epsilonMicro);
      });
    } finally {
      db.exec(`PRAGMA synchronous = ${Number(previous)}`);
    }
    return this.get(scope);
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
    title: r.title,
    price: r.price,
    licence: r.licence,
    manifestCid: r.manifest_cid as ManifestCid | null,
    createdAt: r.created_at,
    error: r.error,
  };
}
