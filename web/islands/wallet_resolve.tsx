/**
 * Island: the arbiter's buttons for one challenged listing. "Keep" resolves
 * the challenges as invalid (the listing stays, its owner gets part of the
 * challenge stakes); "Remove" upholds them (the stake goes to the challengers
 * and the treasury). Posts `POST /api/v1/challenges/:listingId/resolve`.
 */
import { useSignal } from "@preact/signals";

export interface WalletResolveProps {
  listingId: string;
  /** False until the challenged stake reaches the registry's threshold or the review period is over. */
  ready: boolean;
}

type State =
  | { kind: "idle" }
  | { kind: "pending"; valid: boolean }
  | { kind: "done"; valid: boolean }
  | { kind: "error"; message: string };

export function WalletResolve({ listingId, ready }: WalletResolveProps) {
  const state = useSignal<State>({ kind: "idle" });

  const resolve = async (valid: boolean) => {
    state.value = { kind: "pending", valid };
    try {
      const response = await fetch(`/api/v1/challenges/${encodeURIComponent(listingId)}/resolve`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ valid }),
      });
      const body = await response.json().catch(() => ({}));
      state.value = response.ok
        ? { kind: "done", valid }
        : { kind: "error", message: body?.error?.message ?? `The node answered ${response.status}` };
    } catch (err) {
      state.value = { kind: "error", message: `Cannot reach the node: ${(err as Error).message}` };
    }
  };

  const s = state.value;
  if (s.kind === "done") {
    return (
      <p data-testid="resolve-status" data-state="done">
        {s.valid ? "Resolved: the listing stays." : "Resolved: the listing was removed."}
      </p>
    );
  }
  const busy = s.kind === "pending";
  return (
    <div class="resolve-actions">
      <button
        type="button"
        class="button button-secondary"
        data-testid="resolve-keep"
        disabled={!ready || busy}
        onClick={() => resolve(true)}
      >
        {busy && s.valid ? "Resolving…" : "Keep listing"}
      </button>{" "}
      <button
        type="button"
        class="button"
        data-testid="resolve-remove"
        disabled={!ready || busy}
        onClick={() => resolve(false)}
      >
        {busy && !s.valid ? "Resolving…" : "Remove listing"}
      </button>
      {!ready && <p class="muted">Waiting for more challenges before it can be resolved.</p>}
      {s.kind === "error" && <p class="error" role="alert" data-testid="resolve-status">{s.message}</p>}
    </div>
  );
}
