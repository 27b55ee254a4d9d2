/**
 * Island: the arbiter's buttons for one challenged listing. "Keep" resolves
 * the challenges as invalid (the listing stays, its owner gets part of the
 * challenge stakes); "Remove" upholds them (the stake goes to the challengers
 * and the treasury). Posts `POST /api/v1/challenges/:listingId/resolve`,
 * first with `?preview=1` to show the fee (nothing signed), then on Confirm.
 */
import { useSignal } from "@preact/signals";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

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

  const fee = useFeeConfirm();

  /** Previews the ruling (fee estimated, nothing signed); Confirm sends it. */
  const resolve = (valid: boolean) => {
    state.value = { kind: "pending", valid };
    void fee.request(
      { url: `/api/v1/challenges/${encodeURIComponent(listingId)}/resolve`, body: { valid } },
      {
        onDone: () => (state.value = { kind: "done", valid }),
        onError: (message) => (state.value = { kind: "error", message }),
      },
    );
  };

  const s = state.value;
  if (s.kind === "done") {
    return (
      <p data-testid="resolve-status" data-state="done">
        {s.valid ? "Resolved: the listing stays." : "Resolved: the listing was removed."}
      </p>
    );
  }
  const busy = fee.busy;
  return (
    <div class="resolve-actions">
      <button
        type="button"
        class="button button-secondary"
        data-testid="resolve-keep"
        disabled={!ready || busy}
        onClick={() => resolve(true)}
      >
        {busy && s.kind === "pending" && s.valid ? "Resolving…" : "Keep listing"}
      </button>{" "}
      <button
        type="button"
        class="button"
        data-testid="resolve-remove"
        disabled={!ready || busy}
        onClick={() => resolve(false)}
      >
        {busy && s.kind === "pending" && !s.valid ? "Resolving…" : "Remove listing"}
      </button>
      {s.kind === "pending" && (
        <FeeConfirm
          fee={fee}
          what={s.valid
            ? `Keep listing #${listingId}: the challenges are invalid`
            : `Remove listing #${listingId}: its stake goes to the challengers and the treasury`}
        />
      )}
      {!ready && <p class="muted">Waiting for more challenges before it can be resolved.</p>}
      {s.kind === "error" && <p class="error" role="alert" data-testid="resolve-status">{s.message}</p>}
    </div>
  );
}
