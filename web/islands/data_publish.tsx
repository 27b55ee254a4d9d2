/**
 * Island: publish an anonymized dataset from this node's sources. The person ticks the kinds
 * (each shows the purposes it has a valid consent for), names the purpose, title, price, licence
 * and k; `POST /api/v1/publications?preview=1` answers which kinds would be included, which left
 * out and why, and the fee of the ownership record, signed only on "Publish"
 * (`POST /api/v1/publications`). The result shows its rows, the kinds left out, its privacy report,
 * its ownership record and a link to its listing. Follows the consent and source islands through
 * their `window` events.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { ConsentView } from "../../protocol/api/consents.ts";
import type { PublicationPreview, PublicationView, SourceView } from "../../protocol/api/sources.ts";
import type { SourceKind, SourceKindInfo } from "../../protocol/sources.ts";
import { LicenceField, PriceField } from "../components/sale_fields.tsx";
import { PrivacyReportFacts } from "../components/privacy_report.tsx";
import { CONSENTS_EVENT } from "./data_consents.tsx";
import { SOURCES_EVENT } from "./data_sources.tsx";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface DataPublishProps {
  kinds: SourceKindInfo[];
  sources: SourceView[];
  consents: ConsentView[];
}

/** Whether `text` is a token amount as the publish form takes it (`"2.5"`, up to 18 decimals). */
export function isTokenAmount(text: string): boolean {
  return /^\d{1,60}(\.\d{1,18})?$/.test(text);
}

function ExcludedList(
  { excluded, label }: { excluded: PublicationView["excluded"]; label: (k: SourceKind) => string },
) {
  if (excluded.length === 0) return null;
  return (
    <ul class="plain-list" data-testid="publication-excluded">
      {excluded.map((x) => (
        <li key={x.kind} data-kind={x.kind}>
          <strong>{label(x.kind)}</strong> left out: {x.reason}
        </li>
      ))}
    </ul>
  );
}

export function DataPublish(props: DataPublishProps) {
  const sources = useSignal(props.sources);
  const consents = useSignal(props.consents);
  const chosen = useSignal<SourceKind[]>([]);
  const purpose = useSignal("");
  const k = useSignal("5");
  const invalid = useSignal<string | null>(null);
  const result = useSignal<PublicationView | null>(null);
  const error = useSignal<string | null>(null);
  const fee = useFeeConfirm<PublicationView>();

  useEffect(() => {
    const onSources = (e: Event) => (sources.value = (e as CustomEvent<SourceView[]>).detail);
    const onConsents = (e: Event) => (consents.value = (e as CustomEvent<ConsentView[]>).detail);
    globalThis.addEventListener(SOURCES_EVENT, onSources);
    globalThis.addEventListener(CONSENTS_EVENT, onConsents);
    return () => {
      globalThis.removeEventListener(SOURCES_EVENT, onSources);
      globalThis.removeEventListener(CONSENTS_EVENT, onConsents);
    };
  }, []);

  const label = (kind: SourceKind) => props.kinds.find((i) => i.kind === kind)?.label ?? kind;
  const kinds = [...new Set(sources.value.map((s) => s.kind))];
  const valid = consents.value.filter((c) => c.state === "valid");
  const purposes = [...new Set(valid.filter((c) => chosen.value.includes(c.kind)).map((c) => c.purpose))];

  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const price = String(data.get("price") ?? "").trim();
    invalid.value = chosen.value.length === 0
      ? "Tick at least one kind of data."
      : purpose.value.trim() === ""
      ? "Name the purpose: only kinds with a valid consent for it are published."
      : !isTokenAmount(price)
      ? "The price is a token amount such as 2.5."
      : form.reportValidity()
      ? null
      : "Fill in the highlighted fields.";
    if (invalid.value) return;
    result.value = null;
    error.value = null;
    const description = String(data.get("description") ?? "").trim();
    const body = {
      kinds: chosen.value,
      purpose: purpose.value.trim(),
      title: String(data.get("title") ?? "").trim(),
      ...(description ? { description } : {}),
      price,
      licence: String(data.get("licence") ?? "").trim(),
      k: Number(k.value),
    };
    void fee.request({ url: "/api/v1/publications", body }, {
      onDone: (r) => (result.value = r),
      onError: (message) => (error.value = message),
    });
  };

  const s = fee.state.value;
  const preview = s.kind === "confirm" || s.kind === "sending"
    ? s.preview as unknown as PublicationPreview
    : null;
  const busy = fee.busy;
  const r = result.value;
  return (
    <div class="data-publish" data-testid="publish-sources">
      {kinds.length === 0
        ? (
          <p class="muted" data-testid="publish-no-sources">
            Import an export first: publications are made from sources.
          </p>
        )
        : (
          <form class="card" onSubmit={submit} noValidate data-testid="publish-sources-form">
            <h3>Publish an anonymized dataset</h3>
            <fieldset class="kind-choices" disabled={busy}>
              <legend>From</legend>
              {kinds.map((kind) => {
                const forKind = valid.filter((c) => c.kind === kind).map((c) => c.purpose);
                return (
                  <label key={kind} class="kind-choice">
                    <input
                      type="checkbox"
                      name="kinds"
                      value={kind}
                      checked={chosen.value.includes(kind)}
                      onChange={(e) =>
                        chosen.value = e.currentTarget.checked
                          ? [...chosen.value, kind]
                          : chosen.value.filter((x) => x !== kind)}
                      data-testid="publish-kind"
                    />{" "}
                    <strong>{label(kind)}</strong>{" "}
                    <span class="muted-inline">
                      {forKind.length === 0 ? "· no valid consent" : `· consent for ${forKind.join(", ")}`}
                    </span>
                  </label>
                );
              })}
            </fieldset>
            <div class="form-grid">
              <label class="field field-wide">
                <span>Purpose</span>
                <input
                  name="purpose"
                  list="publish-purposes"
                  required
                  maxLength={200}
                  value={purpose.value}
                  onInput={(e) => (purpose.value = e.currentTarget.value)}
                  disabled={busy}
                  data-testid="publish-purpose"
                />
                <datalist id="publish-purposes">
                  {purposes.map((p) => <option key={p} value={p} />)}
                </datalist>
              </label>
              <label class="field field-wide">
                <span>Title</span>
                <input name="title" required maxLength={200} disabled={busy} data-testid="publish-title" />
              </label>
              <label class="field field-wide">
                <span>Description</span>
                <textarea name="description" rows={2} maxLength={4000} disabled={busy} />
              </label>
              <PriceField busy={busy} />
              <LicenceField busy={busy} name="licence" />
              <label class="field">
                <span>k (smallest class released)</span>
                <input
                  type="number"
                  name="k"
                  min={2}
                  max={1000}
                  step={1}
                  required
                  value={k.value}
                  onInput={(e) => (k.value = e.currentTarget.value)}
                  disabled={busy}
                  data-testid="publish-k"
                />
              </label>
            </div>
            {invalid.value && (
              <p class="form-error" role="alert" data-testid="publish-invalid">{invalid.value}</p>
            )}
            <div class="form-actions">
              <button type="submit" class="button" disabled={busy} data-testid="publish-sources-button">
                Review and publish…
              </button>
            </div>
            <div aria-live="polite">
              {preview && (
                <div data-testid="publish-preview">
                  <p>
                    Would publish from{" "}
                    <strong>
                      {preview.kinds.length === 0 ? "nothing" : preview.kinds.map(label).join(", ")}
                    </strong>.
                  </p>
                  <ExcludedList excluded={preview.excluded} label={label} />
                </div>
              )}
              <FeeConfirm
                fee={fee}
                confirmLabel="Publish"
                what="Anonymize, publish and record your ownership of the publication on chain"
              />
              {error.value && (
                <p class="form-error" role="alert" data-testid="publish-sources-error">{error.value}</p>
              )}
            </div>
          </form>
        )}
      {r && (
        <section class="card" data-testid="publication-result" data-manifest-cid={r.manifestCid}>
          <h3>
            Published <a href={`/datasets/${encodeURIComponent(r.manifestCid)}`}>{r.title}</a>
          </h3>
          <p>
            <strong data-testid="publication-rows">{r.rows.toLocaleString("en-US")}</strong> rows from{" "}
            {r.kinds.map(label).join(", ")} for <em>{r.purpose}</em>; ownership record{" "}
            {r.ownershipTokenId === null ? "not recorded" : `#${r.ownershipTokenId}`}.
          </p>
          <ExcludedList excluded={r.excluded} label={label} />
          <PrivacyReportFacts report={r.privacy} released={r.rows} />
        </section>
      )}
    </div>
  );
}
