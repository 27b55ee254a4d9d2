/**
 * The import form of My data: the kind of export (each with the file names its service gives it),
 * the file, and an upload whose progress bar follows XMLHttpRequest's upload events
 * (`POST /api/v1/sources/:kind/imports`, multipart `file`). A bank statement goes through one more
 * step: the node detects its columns (`POST /api/v1/sources/bank/layout`), the person confirms or
 * changes them in {@link BankMappingEditor}, and the import carries the `mapping`. Browser-safe.
 */
import { useSignal } from "@preact/signals";
import type { BankLayoutView, ImportResult } from "../../protocol/api/sources.ts";
import type { BankMapping, SourceKind, SourceKindInfo } from "../../protocol/sources.ts";
import { BankMappingEditor, splitCsvHead } from "./bank_mapping.tsx";
import { ProgressBar } from "./progress_bar.tsx";
import { formatBytes } from "../islands/fetch_progress.tsx";

export interface SourceImportProps {
  kinds: SourceKindInfo[];
  onImported: (result: ImportResult, filename: string) => unknown;
}

type Phase =
  | { kind: "idle" }
  | { kind: "uploading"; what: "layout" | "import"; loaded: number; total: number }
  | { kind: "processing"; what: "layout" | "import" }
  | { kind: "mapping"; layout: BankLayoutView; mapping: BankMapping; detected: BankLayoutView }
  | { kind: "done"; result: ImportResult; filename: string }
  | { kind: "failed"; message: string };

/** Sends `data` with XMLHttpRequest (whose upload events report progress); resolves with status and JSON body. */
export function postMultipart(
  url: string,
  data: FormData,
  onProgress: (loaded: number, total: number) => void,
  onUploaded: () => void,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded, e.total));
    xhr.upload.addEventListener("load", onUploaded);
    xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response }));
    xhr.addEventListener("error", () => reject(new Error("The upload failed: the node cannot be reached")));
    xhr.send(data);
  });
}

function errorOf(status: number, body: unknown): string {
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? message : `The node answered ${status}`;
}

export function SourceImport({ kinds, onImported }: SourceImportProps) {
  const kind = useSignal<SourceKind | "">("");
  const file = useSignal<File | null>(null);
  const phase = useSignal<Phase>({ kind: "idle" });
  const p = phase.value;
  const busy = p.kind === "uploading" || p.kind === "processing";
  const info = kinds.find((k) => k.kind === kind.value);

  const upload = async (url: string, data: FormData, what: "layout" | "import") => {
    phase.value = { kind: "uploading", what, loaded: 0, total: file.value?.size ?? 0 };
    const answer = await postMultipart(
      url,
      data,
      (loaded, total) => (phase.value = { kind: "uploading", what, loaded, total }),
      () => (phase.value = { kind: "processing", what }),
    );
    if (answer.status < 200 || answer.status > 299) throw new Error(errorOf(answer.status, answer.body));
    return answer.body;
  };

  const run = async (step: () => Promise<void>) => {
    try {
      await step();
    } catch (err) {
      phase.value = { kind: "failed", message: (err as Error).message };
    }
  };

  const importFile = (mapping?: BankMapping) =>
    run(async () => {
      const chosen = file.value!;
      const data = new FormData();
      if (mapping) data.append("mapping", JSON.stringify(mapping));
      data.append("file", chosen, chosen.name);
      const result = await upload(
        `/api/v1/sources/${encodeURIComponent(kind.value)}/imports`,
        data,
        "import",
      ) as ImportResult;
      phase.value = { kind: "done", result, filename: chosen.name };
      await onImported(result, chosen.name);
    });

  const submit = (e: Event) => {
    e.preventDefault();
    if (!(e.currentTarget as HTMLFormElement).reportValidity() || !file.value || kind.value === "") return;
    if (kind.value !== "bank") return void importFile();
    void run(async () => {
      const data = new FormData();
      data.append("file", file.value!, file.value!.name);
      const layout = await upload("/api/v1/sources/bank/layout", data, "layout") as BankLayoutView;
      phase.value = { kind: "mapping", layout, mapping: layout.mapping, detected: layout };
    });
  };

  /** Splits the file's first lines again with another delimiter (the columns change with it). */
  const changeDelimiter = async (delimiter: BankMapping["delimiter"]) => {
    const current = phase.value;
    if (current.kind !== "mapping" || !file.value) return;
    // The header is the first record with the most fields: statements may open with account lines.
    const records = splitCsvHead(await file.value.slice(0, 65536).text(), delimiter, 40);
    const width = Math.max(0, ...records.map((r) => r.length));
    const start = records.findIndex((r) => r.length === width);
    const [header = [], ...sample] = records.slice(Math.max(0, start), start + 6);
    const keep = (name?: string) => name !== undefined && header.includes(name) ? name : undefined;
    // Columns keep their choice when the new head has it, else take the detected one when it has that.
    const mapping: BankMapping = { ...current.mapping, delimiter };
    for (const key of ["date", "amount", "debit", "credit", "description", "balance", "currency"] as const) {
      const name = keep(current.mapping[key]) ?? keep(current.detected.mapping[key]);
      if (name === undefined) delete mapping[key];
      else mapping[key] = name;
    }
    phase.value = { ...current, layout: { mapping, header, sample }, mapping };
  };

  const percent = p.kind === "uploading" && p.total > 0
    ? Math.min(100, Math.floor((p.loaded / p.total) * 100))
    : p.kind === "processing" || p.kind === "done"
    ? 100
    : 0;
  return (
    <form class="card source-import" onSubmit={submit} data-testid="source-import">
      <h3>Import an export</h3>
      <div class="form-grid">
        <label class="field">
          <span>Service</span>
          <select
            name="kind"
            required
            value={kind.value}
            disabled={busy || p.kind === "mapping"}
            onChange={(e) => {
              kind.value = e.currentTarget.value as SourceKind | "";
              phase.value = { kind: "idle" };
            }}
            data-testid="import-kind"
          >
            <option value="">Choose…</option>
            {kinds.map((k) => <option key={k.kind} value={k.kind}>{k.label} ({k.files})</option>)}
          </select>
        </label>
        <label class="field dropzone" style={{ gridColumn: "span 2" }}>
          <span>Export file</span>
          <input
            type="file"
            name="file"
            required
            disabled={busy || p.kind === "mapping"}
            onChange={(e) => {
              file.value = e.currentTarget.files?.[0] ?? null;
              phase.value = { kind: "idle" };
            }}
            data-testid="import-file"
          />
          <span class="dropzone-hint" data-testid="import-files-hint">
            {info
              ? `${info.label} names it ${info.files}. It stays on this node; nothing is shared until you consent.`
              : "Choose the service first: each names its export files differently."}
          </span>
        </label>
      </div>
      {p.kind === "mapping" && (
        <BankMappingEditor
          layout={p.layout}
          mapping={p.mapping}
          busy={busy}
          onChange={(mapping) => (phase.value = { ...p, mapping })}
          onDelimiter={(d) => void changeDelimiter(d)}
        />
      )}
      <div aria-live="polite">
        {(p.kind === "uploading" || p.kind === "processing") && (
          <div class="progress-block" data-testid="import-progress">
            <ProgressBar percent={percent} />
            <p class="progress-text">
              <span data-testid="import-percent">{percent} %</span> · {p.kind === "uploading"
                ? `${formatBytes(p.loaded)} of ${formatBytes(p.total)} uploaded`
                : p.what === "layout"
                ? "Uploaded; detecting the columns…"
                : "Uploaded; reading the rows…"}
            </p>
          </div>
        )}
        {p.kind === "done" && (
          <p class="muted" data-testid="import-done" data-source-id={p.result.id}>
            Imported <strong>{p.result.rows.toLocaleString("en-US")}</strong> rows from {p.filename}.
          </p>
        )}
        {p.kind === "failed" && <p class="form-error" role="alert" data-testid="import-error">{p.message}</p>}
      </div>
      <div class="form-actions">
        {p.kind === "mapping"
          ? (
            <>
              <button
                type="button"
                class="button button-secondary"
                onClick={() => (phase.value = { kind: "idle" })}
                data-testid="mapping-cancel"
              >
                Cancel
              </button>{" "}
              <button
                type="button"
                class="button"
                onClick={() => void importFile(p.mapping)}
                data-testid="mapping-import"
              >
                Import with these columns
              </button>
            </>
          )
          : (
            <button type="submit" class="button" disabled={busy} data-testid="import-button">
              {busy ? "Importing…" : kind.value === "bank" ? "Detect the columns…" : "Import"}
            </button>
          )}
      </div>
    </form>
  );
}
