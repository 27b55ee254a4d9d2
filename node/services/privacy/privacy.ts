/**
 * The `privacy` service: anonymization of a source's rows, and differentially private aggregates of
 * them charged to the source's ε budget (scope `source:<kind>` in the releases' budget table).
 *
 * Order of an aggregate: validate → check the budget → count and noise in memory → charge the
 * budget (one durable transaction, checked again inside it) → return the table. A crash after the
 * charge leaves a spent ε and nothing released, never the reverse.
 */
import type { Database } from "../db/mod.ts";
import type { Logger } from "../../log.ts";
import type { SourceKind, SourceRow } from "../../../protocol/sources.ts";
import {
  EPSILON_SCALE,
  MIN_EPSILON,
  type PrivacyBudget,
  PrivacyBudgetError,
  PrivacyBudgets,
  type RandomSource,
  toMicroEpsilon,
} from "../releases/mod.ts";
import {
  analyse,
  anonymize,
  type AnonymizedTable,
  type AnonymizeOptions,
  checkKind,
  checkOptions,
} from "./anonymize.ts";
import { noisyCounts } from "./dp.ts";

/** Total ε the aggregates of one source kind may spend. */
export const DEFAULT_SOURCE_BUDGET = 10;

export interface PrivacyComponents {
  db: Database;
  log: Logger;
}

export interface PrivacyInit {
  /** ε each source kind may spend in total, fixed by its first charge. @default 10 */
  budget?: number;
  /** δ of the open-domain threshold of aggregates. @default 1e-6 */
  delta?: number;
  /** @default crypto.getRandomValues */
  random?: RandomSource;
}

export interface AggregateOptions {
  /** ε this aggregate spends (at most 6 decimals, from 0.01). */
  epsilon: number;
  /** @default 5 */
  k?: number;
}

/** The budget scope of a source kind. */
export function budgetScope(kind: SourceKind): string {
  return `source:${kind}`;
}

export class Privacy {
  readonly #log: Logger;
  readonly #budgets: PrivacyBudgets;
  readonly #delta?: number;
  readonly #random?: RandomSource;

  constructor(components: PrivacyComponents, init: PrivacyInit = {}) {
    this.#log = components.log;
    const budget = init.budget ?? DEFAULT_SOURCE_BUDGET;
    if (typeof budget !== "number" || !(budget >= MIN_EPSILON && budget <= 1000)) {
      throw new RangeError(`Invalid privacy budget ${budget}: expected ε from ${MIN_EPSILON} to 1000`);
    }
    if (init.delta !== undefined && !(init.delta > 0 && init.delta < 1)) {
      throw new RangeError(`Invalid delta ${init.delta}: expected 0 < δ < 1`);
    }
    this.#budgets = new PrivacyBudgets(components.db, Math.round(budget * EPSILON_SCALE));
    this.#delta = init.delta;
    this.#random = init.random;
  }

  /** Runs the budget table's migrations (once; any method does it too). */
  start(): Promise<void> {
    this.#budgets.open();
    return Promise.resolve();
  }

  /** The kind's ε budget; a kind never aggregated has the whole default. */
  getBudget(kind: SourceKind): PrivacyBudget {
    return this.#budgets.get(budgetScope(checkKind(kind)));
  }

  /** {@link anonymize}: identifiers dropped, quasi-identifiers generalised, classes smaller than k suppressed. */
  anonymize(
    kind: SourceKind,
    rows: () => Iterable<SourceRow>,
    options: AnonymizeOptions = {},
  ): AnonymizedTable {
    return anonymize(kind, rows, options);
  }

  /**
   * Noisy counts of the kind's equivalence classes (the generalisation `anonymize` chooses for k),
   * ε charged to `source:<kind>` before the table is returned. Throws, with nothing charged:
   * `TypeError` naming a bad argument or row, `PrivacyBudgetError` when ε exceeds what is left.
   */
  aggregate(kind: SourceKind, rows: () => Iterable<SourceRow>, options: AggregateOptions): AnonymizedTable {
    checkKind(kind);
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Invalid options: expected { epsilon }");
    }
    const epsilonMicro = toMicroEpsilon(options.epsilon);
    checkOptions({ k: options.k });
    const scope = budgetScope(kind);
    const check = (budget: PrivacyBudget) => {
      if (epsilonMicro > Math.round(budget.remaining * EPSILON_SCALE)) {
        throw new PrivacyBudgetError(
          `Cannot release aggregates of "${kind}" with ε = ${epsilonMicro / EPSILON_SCALE}: ` +
            `only ${budget.remaining} of its privacy budget of ${budget.total} is left`,
          { details: { kind, ...budget } },
        );
      }
    };
    check(this.#budgets.get(scope));
    const table = noisyCounts(analyse(kind, rows, { k: options.k }), {
      epsilonMicro,
      delta: this.#delta,
      random: this.#random,
    });
    const budget = this.#budgets.charge(scope, epsilonMicro, check);
    this.#log.info("charged a source aggregate", {
      kind,
      epsilon: epsilonMicro / EPSILON_SCALE,
      remaining: budget.remaining,
      classes: table.released,
      suppressed: table.report.suppressed,
    });
    return table;
  }
}
