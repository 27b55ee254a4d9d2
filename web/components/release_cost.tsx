/**
 * What a statistics release will cost before it is published: the days it
 * covers, the ε charged per person, the budget left after it and how noisy a
 * daily visitor count will be. Computed from the form's values alone with the
 * same arithmetic the node noises with (`estimateRelease` in
 * `protocol/release_privacy.ts`); no data is read. Browser-safe: the Sell
 * statistics island renders it as the owner edits the form.
 */
import type { PrivacyBudgetView, ReleasePolicyView, ReleaseView } from "../../protocol/api/mod.ts";
import {
  estimateRelease,
  getCapMessage,
  getReleaseDays,
  NOISE_CONFIDENCE,
  type ReleaseEstimate,
} from "../../protocol/release_privacy.ts";

/** The form's values that decide the cost. */
export interface ReleaseDraft {
  from: string;
  to: string;
  /** As typed; `NaN` when it is not a number. */
  epsilon: number;
  k: number;
  /** `""` for days alone. */
  dimension: string;
}

/** The estimate of a draft, or why there is none: the message the form refuses it with. */
export type DraftCost =
  | { ok: true; estimate: ReleaseEstimate; remainingAfter: number }
  | { ok: false; field: "range" | "epsilon" | "k"; message: string };

/** Checks a draft against the node's policy and the budget left, and estimates its cost. */
export function getDraftCost(
  draft: ReleaseDraft,
  policy: ReleasePolicyView,
  budget: PrivacyBudgetView,
): DraftCost {
  let days: number;
  try {
    days = getReleaseDays(draft.from, draft.to);
  } catch {
    return { ok: false, field: "range", message: `Choose a range of 1 to ${policy.maxDays} days.` };
  }
  if (!(days <= policy.maxDays)) {
    return { ok: false, field: "range", message: `At most ${policy.maxDays} days per release.` };
  }
  const { epsilon, k } = draft;
  if (!(epsilon > 0)) return { ok: false, field: "epsilon", message: "Enter ε, e.g. 0.5." };
  if (epsilon > policy.maxEpsilon) {
    return { ok: false, field: "epsilon", message: getCapMessage(epsilon, policy.maxEpsilon) };
  }
  if (epsilon > budget.remaining) {
    return {
      ok: false,
      field: "epsilon",
      message: `Only ε = ${formatEpsilon(budget.remaining)} of the budget of ${
        formatEpsilon(budget.total)
      } is left.`,
    };
  }
  if (!Number.isSafeInteger(k) || k < 2) {
    return { ok: false, field: "k", message: "k is a whole number, 2 or more." };
  }
  const rules = policy.dimensions[draft.dimension || "none"];
  if (!rules) return { ok: false, field: "range", message: "Choose what to break the days down by." };
  const estimate = estimateRelease({
    days,
    epsilon,
    k,
    dimension: draft.dimension || null,
    bounds: rules.bounds,
    fixedGrid: rules.fixedGrid,
    delta: policy.delta,
  });
  return { ok: true, estimate, remainingAfter: Math.max(0, budget.remaining - epsilon) };
}

export function ReleaseCost({ cost, total }: { cost: DraftCost; total: number }) {
  if (!cost.ok) {
    return (
      <p class="form-error" data-testid="release-cost-error" data-field={cost.field}>
        {cost.message}
      </p>
    );
  }
  const e = cost.estimate;
  return (
    <dl class="facts" data-testid="release-cost" data-days={e.days} data-margin={e.visitorsMargin}>
      <dt>Covers</dt>
      <dd data-testid="release-cost-days">
        {e.days} day{e.days === 1 ? "" : "s"}: a person present on all of them counts as one
      </dd>
      <dt>Charged</dt>
      <dd data-testid="release-cost-epsilon">
        ε = <strong>{formatEpsilon(e.epsilon)}</strong> per person, once for the whole range
      </dd>
      <dt>Budget after</dt>
      <dd data-testid="release-cost-remaining">
        {formatEpsilon(cost.remainingAfter)} of {formatEpsilon(total)} left
      </dd>
      <dt>Noise</dt>
      <dd data-testid="release-cost-noise">
        a daily visitor count is within ±{e.visitorsMargin.toLocaleString("en-US")} of the truth{" "}
        {Math.round(NOISE_CONFIDENCE * 100)} % of the time; rows under {e.threshold.toLocaleString("en-US")}
        {" "}
        visitors after noise are withheld
      </dd>
    </dl>
  );
}

/**
 * Whether the budget was counted again per person when the node upgraded: a release now spends exactly
 * its ε, so more spent than the releases' ε adds up to means older releases were charged D × ε.
 */
export function wasRecounted(budget: PrivacyBudgetView, releases: Pick<ReleaseView, "epsilon">[]): boolean {
  const asked = releases.reduce((sum, r) => sum + Math.round(r.epsilon * 1e6), 0);
  return Math.round(budget.spent * 1e6) > asked;
}

/** ε as people read it: at most 6 decimals, no trailing zeros. */
export function formatEpsilon(value: number): string {
  return String(Math.round(value * 1e6) / 1e6);
}
