/** The releases' tables as an older node left them, for the migration tests. */
import { type Database, migrate } from "../db/mod.ts";
import { MIGRATIONS } from "./store.ts";

/**
 * Budgets and releases as a node before person-level accounting left them: `busy` spent 1.5 of the
 * old default 10 (30 days at ε 1 and one day at 0.5: 30.5 per person), light.example 0.3 of a configured
 * 20 (3 days at 0.2 and an empty release of 2 days at 0.1: 0.8 per person), and a source scope 2 of 10.
 */
export function writeVisitorDayReleases(db: Database, busy = "busy.example"): void {
  migrate(db, "analytics_releases", MIGRATIONS.slice(0, 1));
  const budget = db.prepare(
    "INSERT INTO analytics_privacy_budgets (site, total_micro, spent_micro) VALUES (?, ?, ?)",
  );
  const release = db.prepare(
    `INSERT INTO analytics_releases (id, site, status, date_from, date_to, dimension, epsilon_micro, k, threshold,
      delta, rows, suppressed, title, price, licence, manifest_cid, created_at, error)
     VALUES (?, ?, ?, ?, ?, NULL, ?, 10, 10, 0, ?, ?, 'T', '0', 'CC0-1.0', NULL, 1, ?)`,
  );
  // Spent 1.5 of the old default 10: a 30-day release at ε 1 and a 1-day one at 0.5 → 30.5 per person.
  budget.run(busy, 10_000_000, 1_500_000);
  release.run("a", busy, "published", "2024-03-01", "2024-03-30", 1_000_000, 30, 0, null);
  release.run("b", busy, "published", "2024-04-01", "2024-04-01", 500_000, 1, 2, null);
  // Configured 20 and spent 0.6: a 3-day release at 0.2 (published) and a 2-day empty one at 0.1 → 0.8.
  budget.run("light.example", 20_000_000, 300_000);
  release.run("c", "light.example", "published", "2024-03-10", "2024-03-12", 200_000, 3, 0, null);
  release.run(
    "d",
    "light.example",
    "empty",
    "2024-03-10",
    "2024-03-11",
    100_000,
    0,
    41,
    "Every one of the 41 rows had fewer than 10 visitors after noise, so nothing was published",
  );
  // A contributor's source scope shares the table and has no releases.
  budget.run("source:bank", 10_000_000, 2_000_000);
}
