/**
 * The Earnings section of the wallet page: the sums, the table of earnings (its `children`, the
 * `earnings_claim` island) when there are any, and the mining schedule (current epoch, reward per
 * epoch, next halving, allocation left).
 */
import type { ComponentChildren } from "preact";
import type { EarningsView } from "../../protocol/api/earnings.ts";
import { formatDay, formatEther } from "../format.ts";
import { EmptyState } from "./empty_state.tsx";

export interface EarningsSectionProps {
  earnings: EarningsView;
  children: ComponentChildren;
}

export function EarningsSection({ earnings, children }: EarningsSectionProps) {
  const s = earnings.schedule;
  const count = earnings.pools.length + earnings.epochs.length;
  return (
    <>
      <div class="grid" data-testid="earnings-section">
        <section class="card stat">
          <h2>Earnings</h2>
          <p class="stat-value" data-testid="earnings-claimable">
            {formatEther(earnings.claimable)} <span class="unit">KOS</span>
          </p>
          <p class="muted">
            Claimable now, of {formatEther(earnings.total)}{" "}
            KOS earned from pools and mining. Every amount is recomputed from the chain's events before it is
            claimed.
          </p>
        </section>
        {s && (
          <section class="card" data-testid="mining-schedule">
            <h2>Mining</h2>
            <dl class="facts">
              <dt>Current epoch</dt>
              <dd>{s.currentEpoch === null ? `starts ${formatDay(s.start)}` : s.currentEpoch}</dd>
              <dt>Reward per epoch</dt>
              <dd>{formatEther(s.currentReward)} KOS</dd>
              <dt>Next halving</dt>
              <dd>epoch {s.nextHalvingEpoch}, {formatDay(s.nextHalvingAt)}</dd>
              <dt>Allocation left</dt>
              <dd>{formatEther(s.allocationLeft)} of {formatEther(s.allocation)} KOS</dd>
            </dl>
          </section>
        )}
      </div>
      {count === 0
        ? (
          <EmptyState icon="wallet" title="No earnings yet">
            Join a pool with a consent for its purpose: each sale of its versions and each mining epoch in
            which they sell pays you a share of it, claimable here.
          </EmptyState>
        )
        : children}
    </>
  );
}
