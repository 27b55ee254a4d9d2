/**
 * Island: the withdrawable payouts of this node's wallet with a Withdraw
 * button. It first shows the fee estimated on the chain
 * (`POST /api/v1/wallet/withdraw?preview=1`, nothing signed), withdraws only
 * on Confirm, and shows the transaction (done with the amount, or the node's
 * error message).
 */
import { useSignal } from "@preact/signals";
import { formatEther } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface WalletWithdrawProps {
  /** Withdrawable payouts in token base units, decimal string. */
  payouts: string;
  /** @default "/api/v1/wallet/withdraw" */
  endpoint?: string;
}

type State =
  | { kind: "idle" }
  | { kind: "done"; amount: string; txHash: string }
  | { kind: "error"; message: string };

export function WalletWithdraw(
  { payouts: initial, endpoint = "/api/v1/wallet/withdraw" }: WalletWithdrawProps,
) {
  const payouts = useSignal(initial);
  const state = useSignal<State>({ kind: "idle" });

  const fee = useFeeConfirm<{ amount: string; txHash: string }>();

  /** Previews the withdrawal (fee estimated, nothing signed); Confirm sends it. */
  const withdraw = () => {
    state.value = { kind: "idle" };
    void fee.request({ url: endpoint }, {
      onDone: (body) => {
        payouts.value = "0";
        state.value = { kind: "done", amount: body.amount, txHash: body.txHash };
      },
      onError: (message) => (state.value = { kind: "error", message }),
    });
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
        disabled={fee.busy || payouts.value === "0"}
        onClick={withdraw}
      >
        {fee.state.value.kind === "estimating" ? "Estimating…" : "Withdraw"}
      </button>
      <FeeConfirm fee={fee} what={`Withdraw ${formatEther(payouts.value)} KOS of payouts to this wallet`} />
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
