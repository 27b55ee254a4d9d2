/**
 * Island: the Publish form. Sends the fields and then the file as
 * `multipart/form-data` to `POST /api/v1/datasets` with XMLHttpRequest, whose
 * upload events drive the progress bar; the node encrypts the file while it
 * arrives, then signs and announces the listing. Then, in the same flow, it
 * lists the dataset: the stake's fee estimated on the chain
 * (`POST /api/v1/stakes?preview=1`, nothing signed) with "Stake and list" and
 * "Cancel". Ends with a link to the dataset page. Without JavaScript the same
 * form posts to the same route (publishing only).
 */
import { useSignal } from "@preact/signals";
import type { PublishedDataset } from "../../protocol/api/mod.ts";
import { LicenceField, PriceField } from "../components/sale_fields.tsx";
import { ProgressBar } from "../components/progress_bar.tsx";
import { formatBytes } from "./fetch_progress.tsx";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface PublishFormProps {
  categories: string[];
  /** @default "/api/v1/datasets" */
  endpoint?: string;
}

type Phase =
  | { kind: "idle" }
  | { kind: "uploading"; loaded: number; total: number }
  | { kind: "processing"; total: number }
  | { kind: "done"; result: PublishedDataset; title: string }
  | { kind: "failed"; message: string };

export function PublishForm({ categories, endpoint = "/api/v1/datasets" }: PublishFormProps) {
  const phase = useSignal<Phase>({ kind: "idle" });
  const fileName = useSignal<string>("");
  const fileSize = useSignal<number>(0);
  const busy = phase.value.kind === "uploading" || phase.value.kind === "processing";
  /** KOS to stake once published ("0": publish only); not a field of the upload. */
  const stake = useSignal("100");
  const fee = useFeeConfirm<{ listingId: string; txHash: string }>();
  const listing = useSignal<
    { kind: "listed"; listingId: string; txHash: string } | { kind: "error"; message: string } | null
  >(
    null,
  );

  /** Publish then list in one flow: previews the stake's fee at once; Confirm signs it. */
  const list = (manifestCid: string, amount: string) => {
    listing.value = null;
    void fee.request({ url: "/api/v1/stakes", body: { manifestCid, amount } }, {
      onDone: (r) => (listing.value = { kind: "listed", listingId: r.listingId, txHash: r.txHash }),
      onError: (message) => (listing.value = { kind: "error", message }),
    });
  };

  const submit = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!form.reportValidity()) return;
    // FormData follows the order of the inputs: every field, then the file last, as the node requires.
    const data = new FormData(form);
    const title = String(data.get("title") ?? "");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) phase.value = { kind: "uploading", loaded: e.loaded, total: e.total };
    });
    xhr.upload.addEventListener("load", () => {
      const total = phase.value.kind === "uploading" ? phase.value.total : fileSize.value;
      phase.value = { kind: "processing", total };
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status === 201 && body?.id) {
        phase.value = { kind: "done", result: body, title };
        if (Number(stake.value) > 0) list(body.manifestCid, stake.value);
      } else {
        phase.value = {
          kind: "failed",
          message: body?.error?.message ?? `The node answered ${xhr.status} ${xhr.statusText}`,
        };
      }
    });
    xhr.addEventListener("error", () => {
      phase.value = { kind: "failed", message: "The upload failed: the node cannot be reached" };
    });
    phase.value = { kind: "uploading", loaded: 0, total: fileSize.value };
    xhr.send(data);
  };

  const onFile = (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    fileName.value = file?.name ?? "";
    fileSize.value = file?.size ?? 0;
  };

  const p = phase.value;
  if (p.kind === "done") {
    return (
      <section class="card publish-done" data-testid="publish-done">
        <span class="done-mark" aria-hidden="true">✓</span>
        <h2>Published</h2>
        <p>
          <strong>{p.title}</strong> is encrypted, stored on this node and announced to the network.
        </p>
        <p class="muted">
          Manifest CID <code class="break" data-testid="published-cid">{p.result.manifestCid}</code>
        </p>
        <FeeConfirm
          fee={fee}
          confirmLabel="Stake and list"
          what={`List it: stake ${stake.value} KOS in the registry, so buyers can buy it`}
        />
        {fee.state.value.kind === "cancelled" && (
          <p class="muted" data-testid="publish-unlisted">
            Not listed: nothing was signed. Stake from the dataset page to let buyers buy it.
          </p>
        )}
        {listing.value?.kind === "listed" && (
          <p class="muted" data-testid="publish-listed">
            Listed as #{listing.value.listingId} in transaction{" "}
            <code class="break">{listing.value.txHash}</code>
          </p>
        )}
        {listing.value?.kind === "error" && (
          <p class="error" role="alert" data-testid="publish-listed">Not listed: {listing.value.message}</p>
        )}
        <p class="actions">
          <a class="button" href={`/datasets/${p.result.id}`} data-testid="published-link">
            View the dataset
          </a>
          <a class="button button-secondary" href="/publish">Publish another</a>
        </p>
      </section>
    );
  }

  const percent = p.kind === "uploading" && p.total > 0
    ? Math.min(100, Math.floor((p.loaded / p.total) * 100))
    : p.kind === "processing"
    ? 100
    : 0;

  return (
    <form
      class="card publish-form"
      method="post"
      action={endpoint}
      enctype="multipart/form-data"
      onSubmit={submit}
      data-testid="publish-form"
    >
      <div class="form-grid">
        <label class="field field-wide">
          <span>Title</span>
          <input
            name="title"
            required
            maxLength={200}
            placeholder="Air quality, Berlin, 2025"
            disabled={busy}
          />
        </label>
        <label class="field field-wide">
          <span>Description</span>
          <textarea
            name="description"
            rows={3}
            maxLength={4000}
            placeholder="What the data holds, how it was collected, what it is good for."
            disabled={busy}
          />
        </label>
        <label class="field">
          <span>Category</span>
          <select name="category" required disabled={busy}>
            <option value="">Choose…</option>
            {categories.map((c) => <option key={c} value={c}>{capitalize(c)}</option>)}
          </select>
        </label>
        <PriceField busy={busy} />
        <LicenceField busy={busy} name="license" />
        <label class="field">
          <span>Stake to list</span>
          <input
            type="text"
            inputMode="decimal"
            pattern="\d{1,9}(\.\d{1,18})?"
            title="KOS to stake in the registry once published; 0 publishes without listing"
            value={stake.value}
            onInput={(e) => (stake.value = e.currentTarget.value)}
            disabled={busy}
            data-testid="publish-stake"
          />
          <span class="unit">KOS</span>
        </label>
        <label class="field field-wide">
          <span>Gateway (optional)</span>
          <input
            name="gateway"
            maxLength={42}
            pattern="0x[0-9a-fA-F]{40}"
            title="A wallet address: 0x and 40 hex digits"
            placeholder="0x… the gateway operator that brought you this data (10 % of sales); empty: this node"
            autoComplete="off"
            spellcheck={false}
            disabled={busy}
            data-testid="gateway-input"
          />
        </label>
        <label class="field field-wide dropzone">
          <span>File</span>
          <input
            type="file"
            name="file"
            required
            accept=".csv,.ndjson,.jsonl,.json,text/csv,application/json,application/x-ndjson"
            onChange={onFile}
            disabled={busy}
            data-testid="file-input"
          />
          <span class="dropzone-hint">
            {fileName.value
              ? `${fileName.value} · ${formatBytes(fileSize.value)}`
              : "CSV, NDJSON or JSON. It is encrypted on this node as it uploads; only the preview is public."}
          </span>
        </label>
      </div>
      {p.kind !== "idle" && p.kind !== "failed" && (
        <div class="progress-block" aria-live="polite">
          <ProgressBar percent={percent} />
          <p class="progress-text">
            <span data-testid="upload-percent">{percent} %</span> · {p.kind === "uploading"
              ? `${formatBytes(p.loaded)} of ${formatBytes(p.total)} uploaded`
              : "Uploaded; encrypting and announcing…"}
          </p>
        </div>
      )}
      {p.kind === "failed" && <p class="form-error" role="alert" data-testid="publish-error">{p.message}</p>}
      <div class="form-actions">
        <button type="submit" class="button" disabled={busy} data-testid="publish-button">
          {busy ? "Publishing…" : "Publish dataset"}
        </button>
      </div>
    </form>
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
