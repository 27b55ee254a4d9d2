/**
 * Island: "Sell statistics" on a site's dashboard. Shows the site's privacy
 * budget (ε per person, spent and left) and its past releases, and a form
 * that posts `POST /api/v1/sites/:domain/releases` as JSON. While the owner
 * edits it, the form shows what the release will cost a person (days, ε,
 * budget after, noise of a daily count; `web/components/release_cost.tsx`)
 * and refuses an ε above the node's cap per release with the node's own
 * message. On success the new release joins the list and the budget drops;
 * otherwise the node's message shows (a bad field or a budget too small
 * costs nothing; a table whose every row was suppressed spends its ε).
 */
import { useSignal } from "@preact/signals";
import type {
  CreatedRelease,
  PrivacyBudgetView,
  ReleasePolicyView,
  ReleaseView,
} from "../../protocol/api/mod.ts";
import { LicenceField, PriceField } from "../components/sale_fields.tsx";
import {
  formatEpsilon,
  getDraftCost,
  ReleaseCost,
  type ReleaseDraft,
  wasRecounted,
} from "../components/release_cost.tsx";
import { formatEther } from "../format.ts";

export interface SellStatisticsProps {
  domain: string;
  budget: PrivacyBudgetView;
  /** Newest first. */
  releases: ReleaseView[];
  /** The node's cap per release, δ and bounds: what the cost shown before publishing depends on. */
  policy: ReleasePolicyView;
  /** Default range, `YYYY-MM-DD`. */
  from: string;
  to: string;
  /** The latest day a release may end on (today, UTC). */
  today: string;
  dimensions: { id: string; label: string }[];
}

type State =
  | { kind: "idle" }
  | { kind: "pending" }
  | { kind: "done"; result: CreatedRelease }
  | { kind: "error"; message: string };

/** The smallest ε a release may spend. */
const MIN_EPSILON = 0.01;

export function SellStatistics(props: SellStatisticsProps) {
  const state = useSignal<State>({ kind: "idle" });
  const budget = useSignal(props.budget);
  const releases = useSignal(props.releases);
  const draft = useSignal<ReleaseDraft>({
    from: props.from,
    to: props.to,
    epsilon: defaultEpsilon(props),
    k: 10,
    dimension: "",
  });
  const busy = state.value.kind === "pending";
  const cost = getDraftCost(draft.value, props.policy, budget.value);

  // Every edit re-estimates the cost; an ε the node would refuse is refused here with its message.
  const edit = (event: Event) => {
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    draft.value = {
      from: text("from"),
      to: text("to"),
      epsilon: text("epsilon") === "" ? Number.NaN : Number(text("epsilon")),
      k: Number(text("k")),
      dimension: text("dimension"),
    };
    const next = getDraftCost(draft.value, props.policy, budget.value);
    const epsilon = form.elements.namedItem("epsilon") as HTMLInputElement | null;
    epsilon?.setCustomValidity(!next.ok && next.field === "epsilon" ? next.message : "");
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    edit(event);
    if (!form.reportValidity()) return;
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    const body: Record<string, unknown> = {
      from: text("from"),
      to: text("to"),
      epsilon: Number(text("epsilon")),
      k: Number(text("k")),
      title: text("title"),
      price: text("price"),
      licence: text("licence"),
    };
    if (text("dimension")) body.dimension = text("dimension");
    if (text("description")) body.description = text("description");
    if (data.get("consentedOnly") === "on") body.consentedOnly = true;
    state.value = { kind: "pending" };
    try {
      const response = await fetch(`/api/v1/sites/${encodeURIComponent(props.domain)}/releases`, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const result = await response.json().catch(() => ({}));
      if (response.status !== 201) {
        state.value = {
          kind: "error",
          message: result?.error?.message ?? `The node answered ${response.status}`,
        };
        // An empty table still spent its ε: read the budget and the list again.
        if (response.status === 422) await refresh();
        return;
      }
      budget.value = result.budget;
      releases.value = [result.release, ...releases.value];
      state.value = { kind: "done", result };
    } catch (err) {
      state.value = { kind: "error", message: `Cannot reach the node: ${(err as Error).message}` };
    }
  };

  const refresh = async () => {
    const response = await fetch(`/api/v1/sites/${encodeURIComponent(props.domain)}/releases`, {
      headers: { accept: "application/json" },
    });
    if (!response.ok) return;
    const listed = await response.json();
    budget.value = listed.budget;
    releases.value = listed.releases;
  };

  const s = state.value;
  const b = budget.value;
  const spentPct = b.total > 0 ? Math.min(100, (b.spent / b.total) * 100) : 100;
  return (
    <div aria-live="polite">
      <header class="card-header">
        <h2>Sell statistics</h2>
        <span class="muted-inline" data-testid="privacy-budget">
          Privacy budget: ε {formatEpsilon(b.spent)} spent of {formatEpsilon(b.total)},{" "}
          <strong data-testid="privacy-budget-remaining">{formatEpsilon(b.remaining)}</strong> left
        </span>
      </header>
      <div
        class="progress"
        role="progressbar"
        aria-label="Privacy budget spent"
        aria-valuemin={0}
        aria-valuemax={b.total}
        aria-valuenow={b.spent}
      >
        <span class="progress-bar" style={{ width: `${spentPct}%` }} />
      </div>
      <p class="muted">
        Sell visitors, visits and pageviews per day as a dataset. Only aggregates leave this node: each
        visitor counts at most a few times a day, every count gets differential-privacy noise, and rows with
        fewer than k visitors after noise are withheld. ε protects a person: a release over 30 days at ε = 1
        lets anyone present on all 30 days change the odds of any guess about them by at most e^1, and spends
        1 from the budget of {props.domain}, for good. One release may spend at most ε ={" "}
        {formatEpsilon(props.policy.maxEpsilon)}. Visitors with Do-Not-Track or Global Privacy Control are
        never counted.
      </p>
      <Releases releases={releases.value} />
      {b.remaining < MIN_EPSILON
        ? (
          <p class="form-error" data-testid="release-exhausted">
            The privacy budget of {props.domain} is spent: no more statistics can be sold.
            {wasRecounted(b, releases.value) &&
              " Releases made before budgets counted people were counted again: one over D days spends D × its" +
                " ε, because a person visiting every day was D visitor ids, each protected by that ε."}
          </p>
        )
        : (
          <form class="release-form" onSubmit={submit} onInput={edit} data-testid="release-form">
            <div class="form-grid">
              <label class="field field-wide">
                <span>Title</span>
                <input
                  name="title"
                  required
                  maxLength={200}
                  placeholder={`${props.domain} visits`}
                  disabled={busy}
                />
              </label>
              <DayField label="From" name="from" value={props.from} max={props.today} busy={busy} />
              <DayField label="To" name="to" value={props.to} max={props.today} busy={busy} />
              <label class="field">
                <span>Per day and</span>
                <select name="dimension" disabled={busy}>
                  <option value="">nothing else</option>
                  {props.dimensions.map((d) => <option key={d.id} value={d.id}>{d.label}</option>)}
                </select>
              </label>
              <label class="field">
                <span>ε per person (privacy loss)</span>
                <input
                  type="number"
                  name="epsilon"
                  required
                  min={MIN_EPSILON}
                  max={Math.min(b.remaining, props.policy.maxEpsilon)}
                  step={0.01}
                  defaultValue={String(defaultEpsilon(props))}
                  title="Per person, for the whole range: smaller is more private and noisier"
                  disabled={busy}
                />
              </label>
              <label class="field">
                <span>Minimum visitors per row (k)</span>
                <input
                  type="number"
                  name="k"
                  required
                  min={2}
                  max={10000}
                  step={1}
                  defaultValue="10"
                  disabled={busy}
                />
              </label>
              <PriceField busy={busy} />
              <LicenceField busy={busy} name="licence" />
              <label class="field field-wide">
                <span>
                  <input
                    type="checkbox"
                    name="consentedOnly"
                    disabled={busy}
                    data-testid="release-consented-only"
                  />{" "}
                  Only visitors who agreed (<code>kosmos.consent(true)</code> on the site)
                </span>
              </label>
              <label class="field field-wide">
                <span>Description</span>
                <textarea
                  name="description"
                  rows={2}
                  maxLength={3000}
                  placeholder="What buyers can learn from it. The method (noise, bounds, suppression) is added for you."
                  disabled={busy}
                />
              </label>
            </div>
            <ReleaseCost cost={cost} total={b.total} />
            {s.kind === "error" && <p class="form-error" data-testid="release-error">{s.message}</p>}
            {s.kind === "done" && (
              <p class="muted" data-testid="release-done">
                Published {s.result.release.rows} rows for ε = {formatEpsilon(s.result.release.epsilon)}{" "}
                per person; {formatEpsilon(s.result.budget.remaining)} of{" "}
                {formatEpsilon(s.result.budget.total)} left.{" "}
                <a href={`/datasets/${s.result.id}`}>View the dataset</a>
              </p>
            )}
            <div class="form-actions">
              <button type="submit" class="button" disabled={busy}>
                {busy ? "Publishing…" : "Charge ε and publish"}
              </button>
            </div>
          </form>
        )}
    </div>
  );
}

/** A required day (`YYYY-MM-DD`) of the released range, at most `max`. */
function DayField(
  { label, name, value, max, busy }: {
    label: string;
    name: "from" | "to";
    value: string;
    max: string;
    busy: boolean;
  },
) {
  return (
    <label class="field">
      <span>{label}</span>
      <input type="date" name={name} required defaultValue={value} max={max} disabled={busy} />
    </label>
  );
}

function Releases({ releases }: { releases: ReleaseView[] }) {
  if (releases.length === 0) return <p class="empty" data-testid="releases-empty">No statistics sold yet.</p>;
  return (
    <div class="table-wrap">
      <table class="preview" data-testid="releases">
        <thead>
          <tr>
            <th>Released (UTC)</th>
            <th>Title</th>
            <th>Range</th>
            <th>Per day and</th>
            <th class="num">ε per person</th>
            <th class="num">k</th>
            <th class="num">Rows</th>
            <th class="num">Price</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {releases.map((r) => (
            <tr key={r.id} data-status={r.status}>
              <td>{new Date(r.createdAt).toISOString().slice(0, 16).replace("T", " ")}</td>
              <td title={r.title}>
                {r.manifestCid ? <a href={`/datasets/${r.manifestCid}`}>{r.title}</a> : r.title}
              </td>
              <td>{r.from} → {r.to}</td>
              <td>{r.dimension ? r.dimension.replace("_", " ") : "—"}</td>
              <td class="num">{formatEpsilon(r.epsilon)}</td>
              <td
                class="num"
                title={r.threshold > r.k ? `Rows needed ${r.threshold} visitors after noise` : undefined}
              >
                {r.k}
              </td>
              <td class="num">{r.rows}</td>
              <td class="num">{formatEther(r.price)} KOS</td>
              <td title={r.error ?? undefined}>{r.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** ε the form starts with: 1, or less when the cap or the budget left is smaller. */
function defaultEpsilon(props: SellStatisticsProps): number {
  return Math.min(1, props.budget.remaining, props.policy.maxEpsilon);
}
