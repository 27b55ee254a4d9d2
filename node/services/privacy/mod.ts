/**
 * Anonymization before anything a contributor imported leaves the node.
 *
 * - {@link anonymize}: direct identifiers (role `identifier` in `SOURCE_KIND_INFO`) are dropped;
 *   quasi-identifiers are generalised along their hierarchy (times to the hour, day or month;
 *   places to grid cells of 0.1°, 1° or 10°; numbers to 1-2-5 ranges chosen from the data) at the
 *   least coarse level vector whose suppression of the equivalence classes smaller than k removes
 *   at most 5 % of the rows (else the coarsest, suppressing what it must). `null` is a value of its
 *   own. Two passes over the rows; memory holds class counts, never rows. See `anonymize.ts`, and
 *   `generalise.ts` for the levels and how their values are written.
 * - {@link combineTables} unions the tables of several kinds under a leading `source` column;
 *   {@link encodeTableCsv} streams a table as RFC 4180 CSV.
 * - The `privacy` service ({@link Privacy}): the same, plus differentially private counts of the
 *   equivalence classes (`aggregate`), noised by the analytics releases' exact discrete Laplace
 *   sampler, each charging its ε to the kind's budget, scope `source:<kind>`.
 *
 * Tables: none of its own; ε budgets live in the releases' `analytics_privacy_budgets` (migrated by
 * `start()`), a source kind's row keyed `source:<kind>`. No protocols, no events. Every table's
 * `report` is the manifest's `PrivacyReport` (`k`, `suppressed` — rows, or classes for an aggregate —,
 * `dropped`, `generalised` field → level, `epsilon` for aggregates).
 *
 * ```ts
 * const table = anonymize("uber", () => sources.rows(id), { k: 5 });
 * table.report; // { k: 5, suppressed: 4, dropped: ["pickupAddress", "dropoffAddress"],
 *               //   generalised: { requestedAt: "day", city: "none", pickup: "region 1°", … } }
 * const both = combineTables([table, anonymize("bank", () => sources.rows(bankId))]);
 * await datasets.publishDataset(encodeTableCsv(both), { …, privacy: both.report });
 *
 * const counts = privacy.aggregate("bank", () => sources.rows(bankId), { epsilon: 0.5 });
 * privacy.getBudget("bank"); // { total: 10, spent: 0.5, remaining: 9.5 }
 * ```
 */
import { defineService } from "../../service.ts";
import { Privacy, type PrivacyComponents, type PrivacyInit } from "./privacy.ts";

export {
  anonymize,
  type AnonymizedReport,
  type AnonymizedTable,
  type AnonymizeOptions,
  DEFAULT_K,
  DEFAULT_MAX_SUPPRESSED_SHARE,
  MAX_K,
  MIN_K,
} from "./anonymize.ts";
export { combineTables, csvField, encodeTableCsv, SOURCE_COLUMN } from "./table.ts";
export { generaliseQuasi, MAX_RANGE_LEVELS, parseLevel, type Released } from "./generalise.ts";
export { COUNT_COLUMN, countThreshold, noiseCount } from "./dp.ts";
export { SourceChangedError } from "./errors.ts";
export { type PrivacyBudget, PrivacyBudgetError } from "../releases/mod.ts";
export {
  type AggregateOptions,
  budgetScope,
  DEFAULT_SOURCE_BUDGET,
  Privacy,
  type PrivacyComponents,
  type PrivacyInit,
} from "./privacy.ts";

/** A privacy service that migrates now, for tests and scripts; a node composes {@link privacy} instead. */
export function createPrivacy(components: PrivacyComponents, init: PrivacyInit = {}): Privacy {
  const created = new Privacy(components, init);
  void created.start();
  return created;
}

/** The `privacy` component: migrations run in `start()`. */
export function privacy(init: PrivacyInit = {}) {
  return defineService("privacy", ["db"], (c: PrivacyComponents) => new Privacy(c, init));
}
