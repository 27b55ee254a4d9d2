/**
 * Island: the earnings of this node's wallet (per pool sale and per mining epoch: amount, claimed or
 * not) with a Claim button on each claimable one. It first shows the fee estimated on the chain
 * (`POST /api/v1/earnings/claims?preview=1`, nothing signed), claims only on Confirm, and then marks
 * the row claimed with its transaction (or shows the node's error message). An unverifiable
 * distribution (its root does not match the chain's events) has no button.
 */
import { useSignal } from "@preact/signals";
import type { ClaimsView, EarningView } from "../../protocol/api/earnings.ts";
import { formatEther } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface EarningsClaimProps {
  earnings: EarningView[];
  /** @default "/api/v1/earnings/claims" */
  endpoint?: string;
}

export function EarningsClaim(
  { earnings: initial, endpoint = "/api/v1/earnings/claims" }: EarningsClaimProps,
) {
  const earnings = useSignal(initial);
  const target = useSignal<EarningView | null>(null);
  const error = useSignal<string | null>(null);
  const fee = useFeeConfirm<ClaimsView>();

  const claim = (e: EarningView) => {
    error.value = null;
    target.value = e;
    void fee.request({ url: endpoint, body: { distributionId: e.distributionId } }, {
      onDone: (result) => {
        const done = [...result.claimed, ...result.alreadyClaimed];
        earnings.value = earnings.value.map((row) => {
          const claim = done.find((c) => c.distributionId === row.distributionId);
          return claim
            ? {
              ...row,
              claimed: true,
              status: "claimed" as const,
              claimTxHash: claim.txHash ?? row.claimTxHash,
            }
            : row;
        });
      },
      onError: (message) => (error.value = message),
    });
  };

  const from = (e: EarningView) =>
    e.source === "pool" ? `Pool #${e.poolId} (listing #${e.listingId})` : `Epoch ${e.epoch}`;
  return (
    <section class="card" aria-live="polite">
      <h2>Earnings</h2>
      <div class="table-wrap">
        <table class="preview" data-testid="earnings">
          <thead>
            <tr>
              <th>From</th>
              <th>Distribution</th>
              <th>Amount</th>
              <th>Status</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {earnings.value.map((e) => (
              <tr key={e.distributionId} data-distribution-id={e.distributionId} data-status={e.status}>
                <td>{from(e)}</td>
                <td>#{e.distributionId}</td>
                <td>{formatEther(e.amount)} KOS</td>
                <td title={e.reason}>
                  {e.status === "claimed"
                    ? (e.claimTxHash ? <code title={e.claimTxHash}>claimed</code> : "claimed")
                    : e.status === "unverifiable"
                    ? "unverifiable"
                    : "claimable"}
                </td>
                <td>
                  {e.status === "claimable" && (
                    <button
                      type="button"
                      class="button"
                      data-testid="claim"
                      disabled={fee.busy}
                      onClick={() => claim(e)}
                    >
                      {fee.busy && target.value?.distributionId === e.distributionId ? "…" : "Claim"}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <FeeConfirm
        fee={fee}
        what={target.value &&
          `Claim ${formatEther(target.value.amount)} KOS of distribution #${target.value.distributionId}`}
      />
      {error.value && <p class="error" role="alert" data-testid="claim-status">{error.value}</p>}
    </section>
  );
}
