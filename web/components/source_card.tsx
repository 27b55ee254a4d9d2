/**
 * One imported source on My data: its service, file, rows and time span, and on demand a preview
 * of what would leave the node if it were published (`GET /api/v1/sources/:id/preview`: the
 * released columns and first rows after anonymization, with the privacy report). "Delete" asks
 * once more, then removes its rows from the node (`DELETE /api/v1/sources/:id`). Browser-safe.
 */
import { useSignal } from "@preact/signals";
import type { ConsentView } from "../../protocol/api/consents.ts";
import type { PublicationView, SourcePreview, SourceView } from "../../protocol/api/sources.ts";
import type { SourceKindInfo } from "../../protocol/sources.ts";
import { formatDay, formatEther } from "../format.ts";
import { requestJson } from "../island_fetch.ts";
import { PrivacyReportFacts } from "./privacy_report.tsx";

/** What a source card says of a publication that holds rows of its kind. */
export type PublicationSummary = Pick<PublicationView, "id" | "manifestCid" | "title" | "kinds" | "sales">;

export interface SourceCardProps {
  source: SourceView;
  info: SourceKindInfo | undefined;
  /** The consents granted for the source's kind. */
  consents: ConsentView[];
  /** The publications that hold rows of the source's kind. */
  publications: PublicationSummary[];
  onDeleted: (id: string) => unknown;
}

/** Sends a request whose success has no body (`204`); rejects with the node's error message. */
export async function sendEmpty(url: string, method: "DELETE" | "POST"): Promise<void> {
  const response = await fetch(url, { method, headers: { accept: "application/json" } });
  if (response.ok) return void await response.body?.cancel();
  const body = await response.json().catch(() => null);
  throw new Error(body?.error?.message ?? `The node answered ${response.status}`);
}

/** A preview cell: time fields of the kind as UTC dates, the rest as is. */
function formatCell(value: string | number | null, timeField: boolean): string {
  if (value === null) return "—";
  if (timeField && typeof value === "number") return formatDay(value);
  return String(value);
}

export function SourceCard({ source: s, info, consents, publications, onDeleted }: SourceCardProps) {
  const preview = useSignal<
    { kind: "closed" } | { kind: "loading" } | { kind: "open"; preview: SourcePreview } | {
      kind: "error";
      message: string;
    }
  >({ kind: "closed" });
  const deleting = useSignal<"idle" | "asking" | "sending">("idle");
  const error = useSignal<string | null>(null);
  const headingId = `source-${s.id}`;

  const togglePreview = async () => {
    if (preview.value.kind === "open" || preview.value.kind === "loading") {
      preview.value = { kind: "closed" };
      return;
    }
    preview.value = { kind: "loading" };
    try {
      const answer = await requestJson<SourcePreview>(`/api/v1/sources/${encodeURIComponent(s.id)}/preview`);
      preview.value = { kind: "open", preview: answer };
    } catch (err) {
      preview.value = { kind: "error", message: (err as Error).message };
    }
  };

  const remove = async () => {
    deleting.value = "sending";
    error.value = null;
    try {
      await sendEmpty(`/api/v1/sources/${encodeURIComponent(s.id)}`, "DELETE");
      await onDeleted(s.id);
    } catch (err) {
      deleting.value = "idle";
      error.value = (err as Error).message;
    }
  };

  const timeFields = new Set((info?.fields ?? []).filter((f) => f.type === "time").map((f) => f.name));
  const p = preview.value;
  return (
    <section class="card source-card" aria-labelledby={headingId} data-testid="source" data-source-id={s.id}>
      <header class="card-header">
        <h3 id={headingId}>
          {info?.label ?? s.kind} <span class="muted-inline">· {s.filename}</span>
        </h3>
        <span class="chip">{s.kind}</span>
      </header>
      <ul class="listing-stats dataset-stats">
        <li>
          <strong data-testid="source-rows">{s.rows.toLocaleString("en-US")}</strong>
          <span>rows</span>
        </li>
        <li>
          <strong>{s.from === null ? "—" : formatDay(s.from).slice(0, 10)}</strong>
          <span>first</span>
        </li>
        <li>
          <strong>{s.to === null ? "—" : formatDay(s.to).slice(0, 10)}</strong>
          <span>last</span>
        </li>
        <li>
          <strong>{formatDay(s.importedAt).slice(0, 10)}</strong>
          <span>imported</span>
        </li>
      </ul>
      {s.mapping && (
        <p class="muted" data-testid="source-mapping">
          Read with columns: date <code>{s.mapping.date}</code> ({s.mapping.dateFormat}), {s.mapping.amount
            ? (
              <>
                amount <code>{s.mapping.amount}</code>
              </>
            )
            : (
              <>
                debit <code>{s.mapping.debit}</code> / credit <code>{s.mapping.credit}</code>
              </>
            )}, decimal <code>{s.mapping.decimal}</code>
        </p>
      )}
      <dl class="facts">
        <dt>Consents</dt>
        <dd data-testid="source-consents">
          {consents.length === 0
            ? "none: nothing of it can be published"
            : (
              <ul class="plain-list disclosure-fields">
                {consents.map((c) => (
                  <li key={c.id} data-token-id={c.tokenId} data-state={c.state}>
                    <span class={`status status-consent-${c.state}`}>
                      <span class="status-dot" aria-hidden="true" />
                      {c.state}
                    </span>{" "}
                    #{c.tokenId} for <em>{c.purpose}</em>
                  </li>
                ))}
              </ul>
            )}
        </dd>
        <dt>Publications</dt>
        <dd data-testid="source-publications">
          {publications.length === 0 ? "none yet" : (
            <ul class="plain-list disclosure-fields">
              {publications.map((p) => (
                <li key={p.id} data-manifest-cid={p.manifestCid}>
                  <a href={`/datasets/${encodeURIComponent(p.manifestCid)}`}>{p.title}</a>: {p.sales.count}
                  {" "}
                  sale{p.sales.count === 1 ? "" : "s"}, {formatEther(p.sales.revenue)} KOS
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      <div class="fee-confirm-actions source-actions">
        <button
          type="button"
          class="button button-secondary"
          aria-expanded={p.kind === "open"}
          aria-controls={`${headingId}-preview`}
          onClick={() =>
            void togglePreview()}
          data-testid="source-preview-toggle"
        >
          {p.kind === "open" ? "Hide the preview" : "Preview what would be shared"}
        </button>
        {deleting.value === "idle"
          ? (
            <button
              type="button"
              class="button button-secondary"
              onClick={() => (deleting.value = "asking")}
              data-testid="source-delete"
            >
              Delete
            </button>
          )
          : (
            <span role="group" aria-label="Confirm the deletion">
              <span class="muted-inline">
                Delete its {s.rows.toLocaleString("en-US")} rows from this node?
              </span>{" "}
              <button
                type="button"
                class="button button-secondary"
                disabled={deleting.value === "sending"}
                onClick={() => (deleting.value = "idle")}
              >
                Keep
              </button>{" "}
              <button
                type="button"
                class="button"
                disabled={deleting.value === "sending"}
                onClick={() => void remove()}
                data-testid="source-delete-confirm"
              >
                Delete
              </button>
            </span>
          )}
      </div>
      <div id={`${headingId}-preview`} aria-live="polite">
        {p.kind === "loading" && <p class="muted">Anonymizing a preview…</p>}
        {p.kind === "error" && (
          <p class="form-error" role="alert" data-testid="source-preview-error">{p.message}</p>
        )}
        {p.kind === "open" && (
          <div class="source-preview" data-testid="source-preview">
            <p class="muted">
              After anonymization, {p.preview.released.toLocaleString("en-US")} of{" "}
              {s.rows.toLocaleString("en-US")} rows would leave this node, with these columns only:
            </p>
            {p.preview.rows.length === 0
              ? <p class="empty">No row would be released.</p>
              : (
                <div class="table-wrap compact">
                  <table class="preview" data-testid="source-preview-table">
                    <thead>
                      <tr>{p.preview.columns.map((c) => <th key={c}>{c}</th>)}</tr>
                    </thead>
                    <tbody>
                      {p.preview.rows.slice(0, 10).map((row, r) => (
                        <tr key={r}>
                          {p.preview.columns.map((c, i) => (
                            <td key={c}>{formatCell(row[i], timeFields.has(c))}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            <PrivacyReportFacts report={p.preview.privacy} released={p.preview.released} />
          </div>
        )}
      </div>
      {error.value && <p class="form-error" role="alert" data-testid="source-error">{error.value}</p>}
    </section>
  );
}
