/**
 * Island: fetches a dataset's encrypted chunks onto this node and shows the
 * progress live. The button starts the fetch with `POST /api/v1/fetches`;
 * the island then polls `GET /api/v1/fetches/:cid` until it is complete or
 * failed. Server-rendered with the fetch this node already has, if any.
 */
import { useSignal } from "@preact/signals";
import type { FetchView } from "../../protocol/api/mod.ts";
import { requestJson, usePollJson } from "../island_fetch.ts";
import { ProgressBar } from "../components/progress_bar.tsx";

export interface FetchProgressProps {
  manifestCid: string;
  /** Chunks of the dataset, shown before the fetch knows its total. */
  chunkCount: number;
  /** This node's fetch when the page was rendered. */
  initial: FetchView | null;
  /** @default 400 */
  intervalMs?: number;
}

const statusLabel: Record<FetchView["status"], string> = {
  queued: "Queued",
  running: "Fetching",
  complete: "Complete",
  failed: "Failed",
};

export function FetchProgress({ manifestCid, chunkCount, initial, intervalMs = 400 }: FetchProgressProps) {
  const progress = useSignal<FetchView | null>(initial);
  const error = useSignal<string | null>(null);
  const starting = useSignal(false);
  const status = progress.value?.status;
  const active = status === "queued" || status === "running";

  usePollJson<FetchView>(active ? `/api/v1/fetches/${manifestCid}` : null, {
    intervalMs,
    onData: (body) => {
      progress.value = body;
      error.value = null;
      return body.status !== "complete" && body.status !== "failed";
    },
    onError: (err) => (error.value = err.message),
  });

  const start = async () => {
    starting.value = true;
    error.value = null;
    try {
      progress.value = await requestJson<FetchView>("/api/v1/fetches", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ manifestCid }),
      });
    } catch (err) {
      error.value = (err as Error).message;
    } finally {
      starting.value = false;
    }
  };

  const p = progress.value;
  const total = p && p.chunksTotal > 0 ? p.chunksTotal : chunkCount;
  const verified = p?.chunksVerified ?? 0;
  const percent = total > 0 ? Math.floor((verified / total) * 100) : 0;

  return (
    <section class="card fetch-card" aria-live="polite" data-testid="fetch">
      <header class="card-header">
        <h2>Fetch</h2>
        {p && (
          <span class={`status status-fetch-${p.status}`} data-testid="fetch-status">
            <span class="status-dot" aria-hidden="true" />
            {statusLabel[p.status]}
          </span>
        )}
      </header>
      <p class="muted">
        Downloads every encrypted chunk from the providers in parallel and checks each against its CID.
        Decrypting needs the dataset key, which a purchase delivers.
      </p>
      {p && (
        <div class="progress-block">
          <ProgressBar percent={percent} />
          <p class="progress-text">
            <span data-testid="fetch-chunks">{verified} / {total}</span> chunks verified ·{" "}
            {formatBytes(p.bytes)} · {p.providers.length} provider{p.providers.length === 1 ? "" : "s"}
          </p>
          {p.error && <p class="form-error">{p.error}</p>}
        </div>
      )}
      {error.value && <p class="form-error" role="alert">{error.value}</p>}
      {status !== "complete" && (
        <button
          type="button"
          class="button"
          data-testid="fetch-button"
          disabled={starting.value || active}
          onClick={start}
        >
          {active ? "Fetching…" : status === "failed" ? "Try again" : "Fetch dataset"}
        </button>
      )}
    </section>
  );
}

/** Bytes for people: `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1).replace(/\.0$/, "")} ${units[unit]}`;
}
