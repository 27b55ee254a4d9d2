/**
 * Island: the withdrawable payouts of this node's wallet with a Withdraw
 * button. Posts `POST /api/v1/wallet/withdraw` and shows the state of the
 * transaction (sending, done with the amount, or the node's error message).
 */
import { useSignal } from "@preact/signals";
import { formatEther } from "../format.ts";

export interface WalletWithdrawProps {
  /** Withdrawable payouts in token base units, decimal string. */
  payouts: string;
  /** @default "/api/v1/wallet/withdraw" */
  endpoint?: string;
}

type State =
  | { kind: "idle" }
  | { kind: "pending" }
  | { kind: "done"; amount: string; txHash: string }
  | { kind: "error"; message: string };

export function WalletWithdraw(
  { payouts: initial, endpoint = "/api/v1/wallet/withdraw" }: WalletWithdrawProps,
) {
  const payouts = useSignal(initial);
  const state = useSignal<State>({ kind: "idle" });

  const withdraw = async () => {
    state.value = { kind: "pending" };
    try {
      const response = await fetch(endpoint, { method: "POST", headers: { accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        state.value = {
          kind: "error",
          message: body?.error?.message ?? `The node answered ${response.status}`,
        };
        return;
      }
      payouts.value = "0";
      state.value = { kind: "done", amount: body.amount, txHash: body.txHash };
    } catch (err) {
      state.value = { kind: "error", message: `Cannot reach the node: ${(err as Error).message}` };
    }
  };

  const s = state.value;
  return (
    <section class="card stat" aria-live="polite">
      <h2>Withdrawable payouts</h2>
      <p class="stat-value" data-testid="payouts">
        {formatEther(payouts.value)} <span class="unit">KOS</span>
      </p>
      <p class="muted">Your share of completed sales, held by the escrow until you withdraw it.</p>
      <button
        type="button"
        class="button"
        data-testid="withdraw"
        disabled={s.kind === "pending" || payouts.value === "0"}
        onClick={withdraw}
      >
        {s.kind === "pending" ? "Withdrawing…" : "Withdraw"}
      </button>
      {s.kind === "done" && (
        <p class="muted" data-testid="withdraw-status" data-state="done">
          Withdrew {formatEther(s.amount)} KOS in transaction <code class="break">{s.txHash}</code>
        </p>
      )}
      {s.kind === "error" && (
        <p class="error" role="alert" data-testid="withdraw-status" data-state="error">{s.message}</p>
      )}
    </section>
  );
}
