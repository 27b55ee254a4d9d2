/**
 * Island: the consents of My data. The grant form (kind, purpose with suggestions, expiry day)
 * first shows what the person agrees to ({@link ConsentDisclosure}: what is collected and how it is
 * coarsened, for what, until when, how sales pay them) together with the transaction's fee
 * (`POST /api/v1/consents?preview=1`, nothing signed); "Grant consent" mints the record
 * (`POST /api/v1/consents`). Each consent is listed with its state as the consent contract answers
 * (valid, revoked, expired), token id, expiry and transaction; "Revoke" is one click and the fee
 * confirmation (`DELETE /api/v1/consents/:id`). Every change is announced to the publish island as a
 * `kosmos:consents` event on `window`.
 */
import { useSignal } from "@preact/signals";
import type { ConsentView, GrantedConsent, RevokedConsent } from "../../protocol/api/consents.ts";
import type { SourceKind, SourceKindInfo } from "../../protocol/sources.ts";
import { ConsentDisclosure } from "../components/consent_disclosure.tsx";
import { formatDay } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface DataConsentsProps {
  kinds: SourceKindInfo[];
  consents: ConsentView[];
  /** This node's wallet: it holds the records and sales pay it. */
  wallet: string;
  /** Why the consents could not be read, when they could not. */
  error?: string | null;
}

/** Purposes people commonly consent to; the field takes any text. */
export const PURPOSE_SUGGESTIONS = [
  "Academic research",
  "Public health research",
  "Market research",
  "Training statistical models",
  "Urban mobility planning",
  "Product improvement",
];

/** The name of the `window` event carrying the current consents after a grant or a revoke. */
export const CONSENTS_EVENT = "kosmos:consents";

/** `yyyy-mm-dd` of `ms` (UTC). */
function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The end (23:59:59 UTC) of a `yyyy-mm-dd` day, or `null` when it is not one. */
export function endOfDay(day: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const ms = Date.parse(`${day}T23:59:59.000Z`);
  return Number.isFinite(ms) ? ms : null;
}

const YEAR = 365 * 24 * 3600 * 1000;

export function DataConsents(props: DataConsentsProps) {
  const consents = useSignal(props.consents);
  const kind = useSignal<SourceKind | "">("");
  const purpose = useSignal("");
  const until = useSignal(isoDay(Date.now() + YEAR));
  const invalid = useSignal<string | null>(null);
  const review = useSignal<{ kind: SourceKind; purpose: string; expiresAt: number } | null>(null);
  const revoking = useSignal<ConsentView | null>(null);
  const status = useSignal<{ state: "done" | "error"; message: string } | null>(null);
  const grant = useFeeConfirm<GrantedConsent>();
  const revoke = useFeeConfirm<RevokedConsent>();
  const busy = grant.busy || revoke.busy;

  const publish = (next: ConsentView[]) => {
    consents.value = next;
    globalThis.dispatchEvent(new CustomEvent(CONSENTS_EVENT, { detail: next }));
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const expiresAt = endOfDay(until.value);
    const text = purpose.value.trim();
    invalid.value = kind.value === ""
      ? "Choose the kind of data to share."
      : text === ""
      ? "Say what the data may be used for."
      : expiresAt === null || expiresAt <= Date.now()
      ? "Choose a day in the future."
      : expiresAt > Date.now() + 5 * YEAR
      ? "Consent lasts at most 5 years: choose an earlier day."
      : null;
    if (invalid.value || kind.value === "" || expiresAt === null) return;
    status.value = null;
    revoke.cancel();
    revoking.value = null;
    const fields = { kind: kind.value, purpose: text, expiresAt };
    review.value = fields;
    void grant.request({ url: "/api/v1/consents", body: fields }, {
      onDone: (c) => {
        review.value = null;
        purpose.value = "";
        const { fee: _fee, ...view } = c;
        publish([view, ...consents.value.filter((x) => x.id !== view.id)]);
        status.value = { state: "done", message: `Consent #${c.tokenId} granted in transaction ${c.txHash}` };
      },
      onError: (message) => {
        review.value = null;
        status.value = { state: "error", message };
      },
    });
  };

  const startRevoke = (c: ConsentView) => {
    status.value = null;
    grant.cancel();
    review.value = null;
    revoking.value = c;
    void revoke.request({ url: `/api/v1/consents/${encodeURIComponent(c.id)}`, method: "DELETE" }, {
      onDone: (r) => {
        revoking.value = null;
        const { fee: _fee, ...view } = r;
        publish(consents.value.map((x) => x.id === view.id ? view : x));
        status.value = {
          state: "done",
          message: `Consent #${r.tokenId} revoked in transaction ${r.revokeTxHash ?? ""}`,
        };
      },
      onError: (message) => {
        revoking.value = null;
        status.value = { state: "error", message };
      },
    });
  };

  const info = review.value && props.kinds.find((k) => k.kind === review.value!.kind);
  const labelOf = (k: SourceKind) => props.kinds.find((i) => i.kind === k)?.label ?? k;
  const cancelled = grant.state.value.kind === "cancelled" && review.value !== null;
  return (
    <div class="data-consents" data-testid="consents">
      <form class="card consent-form" onSubmit={submit} noValidate data-testid="consent-form">
        <h3>Grant consent</h3>
        <div class="form-grid">
          <label class="field">
            <span>Data</span>
            <select
              name="kind"
              value={kind.value}
              disabled={busy}
              onChange={(e) => (kind.value = e.currentTarget.value as SourceKind | "")}
              data-testid="consent-kind"
            >
              <option value="">Choose…</option>
              {props.kinds.map((k) => <option key={k.kind} value={k.kind}>{k.label}</option>)}
            </select>
          </label>
          <label class="field">
            <span>Purpose</span>
            <input
              name="purpose"
              list="consent-purposes"
              maxLength={200}
              placeholder="Academic research"
              autoComplete="off"
              value={purpose.value}
              disabled={busy}
              onInput={(e) => (purpose.value = e.currentTarget.value)}
              data-testid="consent-purpose"
            />
            <datalist id="consent-purposes">
              {PURPOSE_SUGGESTIONS.map((p) => <option key={p} value={p} />)}
            </datalist>
          </label>
          <label class="field">
            <span>Until</span>
            <input
              type="date"
              name="until"
              min={isoDay(Date.now() + 24 * 3600 * 1000)}
              max={isoDay(Date.now() + 5 * YEAR)}
              value={until.value}
              disabled={busy}
              onInput={(e) => (until.value = e.currentTarget.value)}
              data-testid="consent-until"
            />
          </label>
        </div>
        {invalid.value && <p class="form-error" role="alert" data-testid="consent-invalid">{invalid.value}
        </p>}
        <div class="form-actions">
          <button type="submit" class="button" disabled={busy} data-testid="consent-review">
            Review and grant…
          </button>
        </div>
        <div aria-live="polite">
          {review.value && info && grant.state.value.kind !== "cancelled" && (
            <ConsentDisclosure
              info={info}
              purpose={review.value.purpose}
              expiresAt={review.value.expiresAt}
              wallet={props.wallet}
            />
          )}
          <FeeConfirm
            fee={grant}
            confirmLabel="Grant consent"
            what={review.value
              ? `Mint a consent record on chain: ${labelOf(review.value.kind)} for "${review.value.purpose}"`
              : ""}
          />
          {cancelled && <p class="muted" data-testid="consent-cancelled">Not granted: nothing was signed.</p>}
        </div>
      </form>

      <div class="card">
        {props.error && <p class="form-error" role="alert" data-testid="consents-error">{props.error}</p>}
        {consents.value.length === 0
          ? <p class="muted" data-testid="no-consents">No consent granted yet: nothing can be published.</p>
          : (
            <ul class="plain-list consent-list">
              {consents.value.map((c) => (
                <li
                  key={c.id}
                  class="consent-row"
                  data-testid="consent"
                  data-token-id={c.tokenId}
                  data-state={c.state}
                >
                  <div>
                    <span class={`status status-consent-${c.state}`} data-testid="consent-state">
                      <span class="status-dot" aria-hidden="true" />
                      {c.state}
                    </span>{" "}
                    <strong>{labelOf(c.kind)}</strong> for <em>{c.purpose}</em>
                    <span class="muted-inline">
                      · #{c.tokenId} · {c.state === "revoked" && c.revokedAt !== null
                        ? `revoked ${formatDay(c.revokedAt)}`
                        : `until ${formatDay(c.expiresAt)}`}
                      {c.gasless && " · gasless"}
                    </span>
                    <br />
                    <span class="muted">
                      granted in <code class="break" data-testid="consent-tx">{c.txHash}</code>
                      {c.revokeTxHash && (
                        <>
                          , revoked in{" "}
                          <code class="break" data-testid="consent-revoke-tx">{c.revokeTxHash}</code>
                        </>
                      )}
                    </span>
                  </div>
                  {c.state === "valid" && (
                    <button
                      type="button"
                      class="button button-secondary"
                      disabled={busy}
                      onClick={() => startRevoke(c)}
                      aria-label={`Revoke consent #${c.tokenId}`}
                      data-testid="consent-revoke"
                    >
                      Revoke
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
        <div aria-live="polite">
          <FeeConfirm
            fee={revoke}
            confirmLabel="Revoke"
            what={revoking.value
              ? `Revoke consent #${revoking.value.tokenId} (${
                labelOf(revoking.value.kind)
              } for "${revoking.value.purpose}")`
              : ""}
          />
          {status.value?.state === "done" && (
            <p class="muted" data-testid="consent-status" data-state="done">{status.value.message}</p>
          )}
          {status.value?.state === "error" && (
            <p class="form-error" role="alert" data-testid="consent-status" data-state="error">
              {status.value.message}
            </p>
          )}
        </div>
      </div>
    </div>
  );
}
