/**
 * Island: this wallet's registry stakes of one listing, each with its
 * withdrawal step. "Request withdrawal" posts
 * `POST /api/v1/stakes/:listingId/withdrawal` (the registry starts the delay);
 * once requested, "Withdraw stake" posts the same route, which withdraws the
 * stake when the delay is over (the node's error says why not before). Both
 * go through the fee confirmation: the fee is shown, the node signs on
 * Confirm.
 */
import { useSignal } from "@preact/signals";
import type { StakeView } from "../../protocol/api/chain.ts";
import { formatDay, formatEther } from "../format.ts";
import { FeeConfirm, useFeeConfirm } from "./confirm_fee.tsx";

export interface StakeWithdrawProps {
  stakes: StakeView[];
}

interface WithdrawResult {
  status: "requested" | "withdrawn";
  withdrawableAt?: number;
  amount?: string;
  txHash: string;
}

export function StakeWithdraw(props: StakeWithdrawProps) {
  const stakes = useSignal(props.stakes);
  const acting = useSignal<string | null>(null);
  const result = useSignal<{ message: string; txHash: string } | null>(null);
  const error = useSignal<string | null>(null);
  const fee = useFeeConfirm<WithdrawResult>();

  const start = (stake: StakeView) => {
    acting.value = stake.listingId;
    result.value = null;
    error.value = null;
    void fee.request({ url: `/api/v1/stakes/${encodeURIComponent(stake.listingId)}/withdrawal` }, {
      onDone: (r) => {
        if (r.status === "requested") {
          stakes.value = stakes.value.map((s) =>
            s.listingId === stake.listingId ? { ...s, withdrawableAt: r.withdrawableAt ?? null } : s
          );
          result.value = {
            message: `Withdrawal of listing #${stake.listingId} requested, possible from ${
              formatDay((r.withdrawableAt ?? 0) * 1000)
            }`,
            txHash: r.txHash,
          };
        } else {
          stakes.value = stakes.value.filter((s) => s.listingId !== stake.listingId);
          result.value = {
            message: `Withdrew ${formatEther(r.amount ?? "0")} KOS from listing #${stake.listingId}`,
            txHash: r.txHash,
          };
        }
      },
      onError: (message) => error.value = message,
    });
  };

  const current = stakes.value.find((s) => s.listingId === acting.value);
  return (
    <div class="stake-withdraw" aria-live="polite" data-testid="stake-withdraw">
      {stakes.value.length === 0
        ? <p class="muted">No registry stake of this wallet on this listing.</p>
        : (
          <ul class="plain-list">
            {stakes.value.map((s) => (
              <li key={s.listingId} data-listing-id={s.listingId} data-testid="stake-row">
                <span>
                  Listing #{s.listingId}: <strong>{formatEther(s.stake)} KOS</strong>
                  {s.withdrawableAt !== null && (
                    <span class="muted-inline" data-testid="withdrawal-state">
                      · withdrawal requested, possible from {formatDay(s.withdrawableAt * 1000)}
                    </span>
                  )}
                </span>{" "}
                <button
                  type="button"
                  class="button button-secondary"
                  data-testid={s.withdrawableAt === null ? "request-withdrawal" : "withdraw-stake"}
                  disabled={fee.busy}
                  onClick={() =>
                    start(s)}
                >
                  {s.withdrawableAt === null ? "Request withdrawal" : "Withdraw stake"}
                </button>
              </li>
            ))}
          </ul>
        )}
      <FeeConfirm
        fee={fee}
        what={current?.withdrawableAt === null
          ? `Request the withdrawal of the ${
            formatEther(current.stake)
          } KOS staked on listing #${current.listingId}`
          : `Withdraw the ${formatEther(current?.stake ?? "0")} KOS staked on listing #${acting.value}`}
      />
      {result.value && (
        <p class="muted" data-testid="withdraw-stake-status" data-state="done">
          {result.value.message} in transaction <code class="break">{result.value.txHash}</code>
        </p>
      )}
      {error.value && (
        <p class="error" role="alert" data-testid="withdraw-stake-status" data-state="error">{error.value}</p>
      )}
    </div>
  );
}
